"""`python -m designer import MODEL OUT`: a model as an editable design. MODEL is an .onnx or .pt2
file, a Python file (model.py, model.py:Net) or a module (package.module:attr).

Exit codes: 0 written, 2 the model or the output cannot be used (the message names it).
Importing this module does not import torch; the command does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import error


def add_parser(sub: Any) -> None:
    i = sub.add_parser("import", help="a PyTorch or ONNX model as a design",
                       description="Import a model as an editable design (structure only, no "
                                   "weights). MODEL is an .onnx file, a .pt2 torch.export "
                                   "program, a Python file (model.py or model.py:ClassName) or "
                                   "a module (package.module:attr). Importing Python code runs "
                                   "it; nothing else runs code: of a .pt2 only its JSON graph "
                                   "is read (nothing in it is unpickled), an .onnx file must "
                                   "hold its own data (external data is refused) and be under "
                                   "1 GiB, and pickled models (.pt, .pth) are never opened.")
    i.add_argument("model")
    i.add_argument("out", help="the design file to write (.convnet.json)")
    i.add_argument("--input-shape", metavar="C,H,W",
                   help="the input's channels, height and width (default: the model's "
                        "input_shape attribute, or the ONNX graph's input)")
    i.add_argument("--name", help="the design's name")
    i.add_argument("--force", action="store_true", help="replace an existing design file")


def run(args: argparse.Namespace) -> int:
    from ..bridge.importer import ModelImportError, import_model
    from ..model.analysis import analyze
    from ..model.design_file import save

    out = Path(args.out)
    if out.exists() and not args.force:
        return error(f"{out} exists: choose another name or add --force")
    try:
        design = import_model(args.model, args.input_shape, args.name)
    except ModelImportError as e:
        return error(str(e))
    try:
        save(design, out)
    except OSError as e:
        return error(f"cannot write {out}: {e.strerror or e}")
    t = analyze(design.network).totals
    print(f"wrote {out}: {design.network.name}, {t.layers} layer{'s' if t.layers != 1 else ''}, "
          f"{t.params:,} parameter{'s' if t.params != 1 else ''} "
          f"(structure only: weights are not part of a design)")
    return 0
