"""Start-up counted in instructions: bench_gui's start-up children run under
`valgrind --tool=callgrind` (offscreen), each ending the process at the end of the frame it
measures. Instruction counts are deterministic to a fraction of a percent, so they separate what
a shared machine's timings cannot.

    python benchmarks/count_start.py [--kinds bare bare_cached shown filled floor filled_floor]
                                     [--json]

Kinds: `bare` (QMainWindow shown), `bare_cached` (the same, PySide6 imported as the app imports
it: shiboken's support modules and their regular expressions from the app's start-up cache),
`shown` (the app's shell painted), `filled` (the app's window filled: every panel painted with
the design), `floor` (the shell's Qt widgets, empty), and `filled_floor` (every Qt class the
filled window makes, made, then that empty window). Each
child is bench_gui's, with the clock's note at the end of the frame followed by `os._exit(0)`:
callgrind counts from the process's start to there. Bytecode is cached in a temporary folder
(one uncounted run of each kind first), as it is for a user, and so is what the app keeps for
its next start beside it (qt_start's start-up cache: one uncounted run of the app to its filled
window first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gui as bg  # noqa: E402

# after the hook's body: the end of the measured frame ends the process (callgrind writes its
# counts)
_EXIT_AT_FRAME = r"""
import os as _os
_note_first = _note

def _note(into):
    _note_first(into)
    if into is {which}:
        _os._exit(0)
"""

_KINDS = {  # kind: (child code, the list whose note ends it)
    "bare": (bg._CHILD_BARE, "_painted"),
    "bare_cached": (bg._CHILD_BARE_CACHED, "_painted"),
    "shown": (bg._CHILD_APP, "_painted"),
    "filled": (bg._CHILD_APP, "_filled"),
    "floor": (bg._CHILD_FLOOR, "_painted"),
    "filled_floor": (bg._CHILD_FILLED_FLOOR, "_painted"),
}


def _code(kind: str, made: dict) -> str:
    code, which = _KINDS[kind]
    assert code.startswith(bg._CHILD_HOOK)
    rest = code[len(bg._CHILD_HOOK):]
    return (bg.child_hook(_EXIT_AT_FRAME.format(which=which)) + rest).format(
        root=str(bg.ROOT), made=made)


def _made(env: dict) -> dict:
    """The Qt classes PySide6 had made when the app's window was filled (the app child's
    report, run once without valgrind)."""
    code = bg._CHILD_APP.format(root=str(bg.ROOT), made={}) + bg._CHILD_REPORT
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(bg.ROOT),
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads([ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1])["made"]


def count(kind: str, made: dict, env: dict, out: Path) -> int:
    return instructions(_code(kind, made), kind, env, out)


def instructions(code: str, name: str, env: dict, out: Path, timeout: int = 1800) -> int:
    """Instructions of `python -c code` to its end under callgrind, after one uncounted run
    that caches its bytecode; the callgrind file is out/callgrind.{name}.out."""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=str(bg.ROOT),
                   capture_output=True, timeout=timeout, check=True)  # bytecode cached
    target = out / f"callgrind.{name}.out"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={target}",
                    sys.executable, "-c", code], env=env, cwd=str(bg.ROOT),
                   capture_output=True, timeout=timeout, check=True)
    text = target.read_text(errors="replace")
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if found is None:
        raise SystemExit(f"{name}: no instruction count in {target}")
    return int(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", choices=tuple(_KINDS), default=list(_KINDS))
    ap.add_argument("--keep", type=Path, help="keep the callgrind files in this folder")
    ap.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(Path(home) / "config"),
                   XDG_DATA_HOME=str(Path(home) / "data"),
                   PYTHONPYCACHEPREFIX=str(Path(home) / "pycache"))
        out = args.keep or Path(home)
        out.mkdir(parents=True, exist_ok=True)
        # (also the start-up's first, uncounted: what the app keeps for its next start, the
        # generated code and Fusion's palette (designer/ui/qt_start.py), is written once its
        # window is filled, as for a user after the first start)
        made = _made(env)
        counts = {kind: count(kind, made, env, out) for kind in args.kinds}
    if args.json:
        print(json.dumps(counts, indent=2))
        return 0
    bare = counts.get("bare")
    for kind, n in counts.items():
        ratio = f"  {n / bare:.2f}× bare" if bare else ""
        print(f"{kind:13s} {n / 1e6:8.0f} M instructions{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
