"""Edits and block toggles on ResNet-152 counted in instructions: bench_gui's edit and toggle
benchmarks run in a child under `valgrind --tool=callgrind` (offscreen), once with one
operation and once with 1 + N; the difference over N is what one operation costs, from the
mouse's change to every readout repainted. Instruction counts are deterministic to a fraction
of a percent: they show a change of a few per cent that this shared machine's timings (which
drift by half between minutes) cannot.

    python benchmarks/count_gui.py [--kinds edit toggle] [--n 10] [--json]

`edit`: bench_gui's edit of a CONV's out_channels in ResNet-152 (grouped, as it opens), every
readout repainted; `toggle`: a pair, its stage 3 (36 blocks) expanded in place then collapsed,
the canvas repainted each time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from count_start import instructions  # noqa: E402

_CHILD = r"""
import sys, tempfile
from pathlib import Path
sys.path.insert(0, {bench!r})
import bench_gui as bg
from PySide6.QtWidgets import QApplication
from designer.app import _apply_look, qt_environment
qt_environment()
app = QApplication([])
_apply_look(app)
window = bg._window(Path(tempfile.mkdtemp()))
kind, n = {kind!r}, {n}
if kind == "edit":
    bg.bench_edit(window, bg.RESNET152, n, False)
else:
    bg.bench_toggle(window, n)
"""


def count(kind: str, n: int, env: dict, out: Path) -> int:
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent), kind=kind, n=n)
    return instructions(code, f"{kind}.{n}", env, out, timeout=3600)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", choices=("edit", "toggle"),
                    default=["edit", "toggle"])
    ap.add_argument("--n", type=int, default=10, help="operations counted (after the first)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            # the child's own warm-up is 2 operations (bench_gui's); 1 and 1 + n counted
            one = count(kind, 1, env, Path(tmp))
            more = count(kind, 1 + args.n, env, Path(tmp))
            results[kind] = {"per_operation": (more - one) / args.n, "n": args.n}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        names = {"edit": "edit → every readout repainted, ResNet-152",
                 "toggle": "expand + collapse a ResNet-152 stage (36 blocks), canvas repainted"}
        for kind, r in results.items():
            print(f"{names[kind]}: {r['per_operation'] / 1e6:.1f} M instructions "
                  f"(mean of {r['n']})")
    return results


if __name__ == "__main__":
    main()
