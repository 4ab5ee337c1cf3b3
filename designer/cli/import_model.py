"""`python -m designer import MODEL OUT`: a model as an editable design, with its weights. MODEL
is an .onnx or .pt2 file, a Python file (model.py, model.py:Net) or a module (package.module:attr).

The weights the model holds come in as a run of the design of kind "imported" (training/
imported.py): OUT names it in training.runs and its file is OUT's weights folder's
<run id>/best.safetensors (training/store.py), where the window finds it on opening OUT and
`export --weights` takes it. Where they cannot come in (a layer whose parameters do not fit),
the design is written all the same and the line says why; --no-weights writes the structure
only.

Exit codes: 0 written, 2 the model or the output cannot be used (the message names it).
Importing this module does not import torch; the command does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import error


def add_parser(sub: Any) -> None:
    i = sub.add_parser("import", help="a PyTorch or ONNX model as a design, with its weights",
                       description="Import a model as an editable design with its trained "
                                   "weights (kept beside the design in OUT's weights folder, "
                                   "NAME.weights/<run id>/best.safetensors, as a run of kind "
                                   "'imported'). MODEL is an .onnx file, a .pt2 torch.export "
                                   "program, a Python file (model.py or model.py:ClassName) or "
                                   "a module (package.module:attr). Importing Python code runs "
                                   "it; nothing else runs code: of a .pt2 only its JSON graph "
                                   "and raw tensor bytes are read (nothing in it is "
                                   "unpickled), an .onnx file must hold its own data (external "
                                   "data is refused) and be under 1 GiB, and pickled models "
                                   "(.pt, .pth) are never opened.")
    i.add_argument("model")
    i.add_argument("out", help="the design file to write (.convnet.json)")
    i.add_argument("--input-shape", metavar="C,H,W",
                   help="the input's channels, height and width (default: the model's "
                        "input_shape attribute, or the ONNX graph's input)")
    i.add_argument("--name", help="the design's name")
    i.add_argument("--no-weights", action="store_true",
                   help="the structure only: keep none of the model's weights")
    i.add_argument("--force", action="store_true",
                   help="replace an existing design file (and its weights folder's runs)")


def run(args: argparse.Namespace) -> int:
    from ..bridge.importer import ModelImportError, import_model, import_model_weights
    from ..model.analysis import analyze
    from ..model.design_file import save
    from ..training.imported import keep_imported
    from ..training.runs import CheckpointError
    from ..training.store import RunStore, new_run_id, weights_folder

    out = Path(args.out)
    if out.exists() and not args.force:
        return error(f"{out} exists: choose another name or add --force")
    try:
        if args.no_weights:
            design, imported = import_model(args.model, args.input_shape, args.name), None
        else:
            imported = import_model_weights(args.model, args.input_shape, args.name)
            design = imported.design
    except ModelImportError as e:
        return error(str(e))
    store = RunStore()  # no working folder: the weights are written where they are kept
    store.design_path = str(out)
    folder = weights_folder(out)
    try:
        record = None
        if imported is not None:
            rid = new_run_id()
            record = keep_imported(imported, args.model, folder / rid, rid)
        runs = [record] if record is not None else []
        runs = store.save(out, runs)  # the weights folder then names what the file names
        if runs:
            design.training = {**design.training, "runs": runs}
        save(design, out)
    except (OSError, CheckpointError) as e:  # the weights' file or the design's, named
        where = getattr(e, "filename", None) or out
        return error(f"cannot write {where}: {getattr(e, 'strerror', None) or e}")
    t = analyze(design.network).totals
    said = _weights_said(imported, record, folder)
    print(f"wrote {out}: {design.network.name}, {t.layers} layer{'s' if t.layers != 1 else ''}, "
          f"{t.params:,} parameter{'s' if t.params != 1 else ''}, {said}")
    return 0


def _weights_said(imported, record, folder: Path) -> str:
    """How the line ends: where the weights went, or why there are none."""
    if imported is None:
        return "structure only (--no-weights)"
    if record is not None:
        return (f"with its trained weights in {folder / record['id'] / 'best.safetensors'} "
                f"({imported.note})")
    if imported.weights == {}:
        return f"structure only: {imported.note}"
    return f"structure only: its weights could not be taken ({imported.note})"
