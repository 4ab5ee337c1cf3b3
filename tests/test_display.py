"""The window's start says what is missing instead of Qt's abort: no display, or the system
libraries of Qt's xcb platform (designer/display.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer.display import XCB_LIBRARIES, display_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def libs(tmp_path):
    """A library folder with libxcb and every library the xcb platform needs."""
    for name in ("libxcb.so.1", *XCB_LIBRARIES):
        (tmp_path / name).touch()
    return tmp_path


@pytest.mark.parametrize("env, fine", [
    ({}, False),  # an SSH session, a server
    ({"DISPLAY": ":0"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, True),  # headless on purpose
    ({"QT_QPA_PLATFORM": "xcb"}, False),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, True),
])
def test_no_display_is_named(libs, env, fine):
    problem = display_problem(env, "linux", (str(libs),))
    assert (problem is None) == fine
    if not fine:
        assert "No display" in problem and "QT_QPA_PLATFORM=offscreen" in problem


def test_missing_xcb_libraries_are_named_with_the_install_line(libs):
    (libs / "libxcb-cursor.so.0").unlink()
    problem = display_problem({"DISPLAY": ":0"}, "linux", (str(libs),))
    assert "libxcb-cursor.so.0" in problem and "apt-get install -y libxcb-cursor0" in problem
    # Wayland does not need them; another system is not checked
    assert display_problem({"WAYLAND_DISPLAY": "w"}, "linux", (str(libs),)) is None
    assert display_problem({}, "darwin", (str(libs),)) is None
    assert display_problem({}, "win32", (str(libs),)) is None


def test_an_unknown_library_layout_is_left_to_qt(tmp_path):
    assert display_problem({"DISPLAY": ":0"}, "linux", (str(tmp_path),)) is None


def test_the_window_without_a_display_says_so_and_exits_2():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "designer"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    if not sys.platform.startswith("linux"):
        pytest.skip("the check is for X11 / Wayland systems")
    assert done.returncode == 2, done.stderr
    assert "No display" in done.stderr and "summary|train|export" in done.stderr


def test_the_readme_names_the_libraries_the_check_asks_for():
    """README's install paragraph gives the same apt and dnf lines as the message the window
    prints, so a user reading either installs every library Qt's xcb platform needs."""
    from designer.display import APT, DNF

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"`{APT}`" in readme
    assert f"`{DNF}`" in readme
    assert "Qt 6.5" in readme
