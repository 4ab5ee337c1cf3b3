"""`python -m designer summary FILE`: the per-layer table, the training memory and the design
hints of a design (report_text.py renders them; --json for machines).

Exit codes: 0 shown, 2 the file or an option cannot be used. Imports neither torch nor Qt.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..model.analysis import DTYPE_BYTES, OPTIMIZER_STATE
from .common import error


def add_parser(sub: Any) -> None:
    s = sub.add_parser("summary", help="per-layer table and training memory of a design",
                       description="The per-layer table (output volume, parameters, MACs, "
                                   "receptive field, issues), the memory of one training step "
                                   "and the design hints of a design.")
    s.add_argument("file", help="a .convnet.json design")
    s.add_argument("--batch", type=int, default=None, help="batch size (default: the file's, or 1)")
    s.add_argument("--dtype", choices=list(DTYPE_BYTES), default=None)
    s.add_argument("--optimizer", choices=list(OPTIMIZER_STATE), default=None)
    s.add_argument("--budget", default=None,
                   help="memory budget, e.g. 12GB (GB = GiB = 1024³ bytes)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--no-hints", action="store_true",
                   help="leave out the design hints (the notes' rules of thumb)")


def run(args: argparse.Namespace) -> int:
    from ..model.analysis import analyze
    from ..model.design_file import DesignFileError, load
    from ..model.units import parse_size
    from .report_text import design_hints, hints_json, render_text, to_json

    try:
        design = load(args.file)
    except DesignFileError as e:
        return error(str(e))
    saved = design.analysis
    batch = args.batch if args.batch is not None else saved.get("batch", 1)
    if batch < 1:
        return error(f"--batch must be ≥ 1, got {batch}")
    budget = saved.get("budget")
    if args.budget is not None:
        try:
            budget = parse_size(args.budget)
        except ValueError as e:
            return error(f"--budget: {e}")
    report = analyze(design.network, batch=batch,
                     dtype=args.dtype or saved.get("dtype", "fp32"),
                     optimizer=args.optimizer or saved.get("optimizer", "sgd"), budget=budget)
    hints, ignored = (None, 0) if args.no_hints else design_hints(design, report)
    if args.json:
        data = to_json(design.network, report)
        if hints is not None:
            data["hints"] = hints_json(hints)
        json.dump(data, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(design.network, report, hints, ignored))
    return 0
