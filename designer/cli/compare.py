"""`python -m designer compare A B`: two designs side by side, aligned layer by layer
(designer.model.compare computes and formats every cell).

Exit codes: 0 shown, 2 a file or an option cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .common import error


def add_parser(sub: Any) -> None:
    from ..model.analysis import DTYPE_BYTES, OPTIMIZER_STATE

    c = sub.add_parser("compare", help="two designs side by side, aligned layer by layer",
                       description="Compare two designs: parameters, MACs, memory and "
                                   "receptive field, in total and per run of layers where the "
                                   "designs align (the same volume seeing the same field).")
    c.add_argument("a", help="a .convnet.json design")
    c.add_argument("b", help="another (e.g. an edited version of the first)")
    c.add_argument("--batch", type=int, default=None, help="batch size (default: A's, or 1)")
    c.add_argument("--dtype", choices=list(DTYPE_BYTES), default=None)
    c.add_argument("--optimizer", choices=list(OPTIMIZER_STATE), default=None)
    c.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from ..model.analysis import analyze
    from ..model.compare import compare as compare_reports
    from ..model.compare import render_text
    from ..model.design_file import DesignFileError, load

    try:
        a, b = load(args.a), load(args.b)
    except DesignFileError as e:
        return error(str(e))
    saved = a.analysis
    batch = args.batch if args.batch is not None else saved.get("batch", 1)
    if batch < 1:
        return error(f"--batch must be ≥ 1, got {batch}")
    settings = dict(batch=batch, dtype=args.dtype or saved.get("dtype", "fp32"),
                    optimizer=args.optimizer or saved.get("optimizer", "sgd"))
    cmp = compare_reports(analyze(a.network, **settings), analyze(b.network, **settings),
                          a.network.name or args.a, b.network.name or args.b)
    if args.json:
        json.dump(_json(cmp), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(cmp))
    return 0


def _json(cmp) -> dict:
    def side(s):
        return {"layers": list(s.ids), "types": list(s.types), "params": s.params,
                "macs": s.macs, "activations": s.activations, "memory_bytes": s.memory,
                "shape": None if s.shape is None else list(s.shape),
                "receptive_field": None if s.field is None else list(s.field)}

    return {"a": cmp.name_a, "b": cmp.name_b, "batch": cmp.batch, "dtype": cmp.dtype,
            "optimizer": cmp.optimizer,
            "totals": {m.name: {"a": list(m.a) if isinstance(m.a, tuple) else m.a,
                                "b": list(m.b) if isinstance(m.b, tuple) else m.b}
                       for m in cmp.totals},
            "rows": [{"aligned": r.aligned, "a": side(r.a), "b": side(r.b)} for r in cmp.rows]}
