"""Whether the window can open here, asked before Qt is: without a display, or on Linux without
the system libraries Qt's xcb platform needs (Qt 6.5+: libxcb-cursor0 and friends), Qt prints its
own text and aborts the process (exit 134). This says what is missing and what to do instead.

Standard library only, and cheap (a few file checks): it runs on every start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# the libraries Qt's xcb platform plugin loads beyond libxcb itself, and their Debian packages
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                "/usr/lib", "/lib/x86_64-linux-gnu", "/lib64", "/lib")
APT = "sudo apt-get install -y " + " ".join(XCB_LIBRARIES.values())
DNF = "sudo dnf install -y xcb-util-cursor xcb-util-wm xcb-util-image xcb-util-keysyms " \
      "xcb-util-renderutil libxkbcommon-x11"
HEADLESS = ("To use ConvNet Designer without a window: python -m designer summary|train|export "
            "FILE (see --help); to run the window off-screen (tests, screenshots): "
            "QT_QPA_PLATFORM=offscreen.")


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    library_dirs: tuple[str, ...] = LIBRARY_DIRS) -> str | None:
    """What stops the window from opening here, in a few sentences; None where nothing seems
    to. Only Linux and the BSDs are checked (X11 / Wayland); elsewhere Qt finds its own way."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen and chosen not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, vnc, eglfs, ...: the user chose; Qt will say if it fails
    x11, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if not x11 and not wayland:
        return ("No display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the window cannot "
                "open (an SSH session without X forwarding, or a server). " + HEADLESS)
    if chosen.startswith("wayland") or (wayland and chosen != "xcb"):
        return None  # Qt tries Wayland first where it runs
    missing = missing_xcb_libraries(library_dirs)
    if missing:
        return (f"Qt's X11 (xcb) platform needs system libraries that are missing: "
                f"{', '.join(missing)}. Install them with\n  {APT}\n(Fedora: {DNF}).\n"
                + HEADLESS)
    return None


def missing_xcb_libraries(library_dirs: tuple[str, ...] = LIBRARY_DIRS) -> list[str]:
    """The xcb libraries absent from the folder that holds libxcb.so.1; [] where no such folder
    is found (an unusual layout: Qt is left to judge)."""
    for folder in library_dirs:
        base = Path(folder)
        if (base / "libxcb.so.1").exists():
            return [name for name in XCB_LIBRARIES if not (base / name).exists()]
    return []
