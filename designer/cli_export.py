"""`python -m designer export | import | compare`: the design to other tools and back.

    export FILE --to code|project|onnx|pt2 OUT   the design as PyTorch code, a training project
                                                 (torchrun-ready), an ONNX file or a
                                                 torch.export program
    import MODEL OUT                             a model as a design: an .onnx or .pt2 file, a
                                                 Python file (model.py, model.py:Net) or a
                                                 module (package.module:attr)
    compare A B                                  two designs side by side

Exit codes: 0 done, 1 the export itself failed, 2 a file, a model or an option cannot be used
(the message names it). Existing outputs are kept unless --force.

Importing this module does not import torch; the commands do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

KINDS = ("code", "project", "onnx", "pt2")
SUFFIXES = {"code": ".py", "onnx": ".onnx", "pt2": ".pt2"}


def add_parsers(sub: Any) -> None:
    from .model.analysis import DTYPE_BYTES, OPTIMIZER_STATE

    e = sub.add_parser("export", help="the design as code, a training project, ONNX or .pt2",
                       description="Export a design: readable PyTorch code, a standalone "
                                   "training project (python train.py, or torchrun "
                                   "--nproc_per_node=N train.py), an ONNX file or a "
                                   "torch.export program (.pt2).")
    e.add_argument("file", help="a .convnet.json design")
    e.add_argument("--to", choices=KINDS, required=True, dest="kind")
    e.add_argument("out", help="the file to write (a folder for --to project)")
    e.add_argument("--weights", metavar="CKPT",
                   help="onnx, pt2: trained weights, a checkpoint of the app or of train.py "
                        "(read with weights_only=True)")
    e.add_argument("--class-name", help="code, project: the model class's name")
    e.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), default="auto",
                   help="onnx: which torch.onnx exporter (auto: TorchScript, else dynamo)")
    e.add_argument("--opset", type=int, default=None, help="onnx: the opset (default 17, 20 "
                                                           "with GELU)")
    e.add_argument("--force", action="store_true", help="replace an existing output")

    i = sub.add_parser("import", help="a PyTorch or ONNX model as a design",
                       description="Import a model as an editable design (structure only, no "
                                   "weights). MODEL is an .onnx file, a .pt2 torch.export "
                                   "program, a Python file (model.py or model.py:ClassName) or "
                                   "a module (package.module:attr). Importing Python code runs "
                                   "it; pickled models (.pt, .pth) are never opened.")
    i.add_argument("model")
    i.add_argument("out", help="the design file to write (.convnet.json)")
    i.add_argument("--input-shape", metavar="C,H,W",
                   help="the input's channels, height and width (default: the model's "
                        "input_shape attribute, or the ONNX graph's input)")
    i.add_argument("--name", help="the design's name")
    i.add_argument("--force", action="store_true", help="replace an existing design file")

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
    if args.command == "export":
        return export(args)
    if args.command == "import":
        return import_(args)
    return compare(args)


def _error(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def export(args: argparse.Namespace) -> int:
    from .model.design_file import DesignFileError, load

    try:
        design = load(args.file)
    except DesignFileError as e:
        return _error(str(e))
    out = Path(args.out)
    if args.kind != "project" and out.exists() and not args.force:
        return _error(f"{out} exists: choose another name or add --force")
    if args.kind != "project" and out.is_dir():
        return _error(f"{out} is a folder: give a file name")
    if args.weights and args.kind not in ("onnx", "pt2"):
        return _error("--weights goes with --to onnx or --to pt2")
    try:
        if args.kind == "code":
            line = _export_code(design, out, args.class_name)
        elif args.kind == "project":
            line = _export_project(design, out, args.force, args.class_name)
        else:
            weights = _weights(args.weights) if args.weights else None
            line = (_export_onnx(design, out, weights, args.opset, args.exporter)
                    if args.kind == "onnx" else _export_pt2(design, out, weights))
    except _Refused as e:
        return _error(str(e))
    except (OSError, RuntimeError) as e:
        return _error(f"{args.file}: the {args.kind} export failed: {e}", 1)
    print(line)
    return 0


class _Refused(Exception):
    """The input cannot be used (exit code 2)."""


def _refuse(error: Exception, what: str) -> _Refused:
    return _Refused(f"{what}: {error}")


def _export_code(design, out: Path, class_name: str | None) -> str:
    from .bridge.codegen import BuildError, export_code

    try:
        text = export_code(design.network, class_name)
    except (BuildError, ValueError) as e:
        raise _refuse(e, "the design cannot be exported") from None
    _write(out, text)
    return f"wrote {out}: the PyTorch code of {design.network.name}"


def _export_project(design, out: Path, force: bool, class_name: str | None) -> str:
    from .bridge.project import BuildError, ProjectError, export_project

    try:
        result = export_project(design, out, force=force, class_name=class_name)
    except BuildError as e:
        raise _refuse(e, "the design cannot be exported") from None
    except ProjectError as e:
        raise _Refused(str(e)) from None
    names = ", ".join(p.name for p in result.files)
    return (f"wrote the training project {out} ({names}); run it with: cd {out} && python "
            f"train.py   (or: torchrun --nproc_per_node=N train.py)")


def _weights(path: str):
    from .training.runtime import load_checkpoint

    try:
        state, _ = load_checkpoint(path)
    except FileNotFoundError:
        raise _Refused(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - torch.load's many errors for a foreign file
        raise _Refused(f"{path}: not a checkpoint of ConvNet Designer or train.py ({e})") \
            from None
    return state


def _export_onnx(design, out: Path, weights, opset, exporter: str) -> str:
    import torch

    from .bridge.onnx import BuildError, OnnxExportError, check_outputs, export_onnx
    from .model.analysis import analyze

    try:
        result = export_onnx(design.network, out, weights=weights, opset=opset,
                             exporter=exporter)
    except BuildError as e:
        raise _refuse(e, "the design cannot be exported") from None
    except OnnxExportError as e:
        if "not installed" in str(e) or "do not fit" in str(e):
            raise _Refused(str(e)) from None
        raise
    shape = analyze(design.network).layers[result.model.input_id].shape
    diff = check_outputs(out, result.model, torch.randn(2, *shape))
    agree = ("onnxruntime not installed: outputs not compared" if diff is None
             else f"onnxruntime's outputs match torch's within {diff:.1g}")
    return (f"wrote {out}: ONNX opset {result.opset}, {result.nodes} nodes "
            f"({', '.join(result.operators)}); onnx.checker passed; {agree}")


def _export_pt2(design, out: Path, weights) -> str:
    from .bridge.pt2 import BuildError, Pt2ExportError, export_pt2

    try:
        export_pt2(design.network, out, weights=weights)
    except BuildError as e:
        raise _refuse(e, "the design cannot be exported") from None
    except Pt2ExportError as e:
        if "do not fit" in str(e):
            raise _Refused(str(e)) from None
        raise
    return (f"wrote {out}: a torch.export program (dynamic batch); load it with "
            f"torch.export.load({str(out)!r}).module()")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def import_(args: argparse.Namespace) -> int:
    from .bridge.importer import ModelImportError, import_model
    from .model.analysis import analyze
    from .model.design_file import save

    out = Path(args.out)
    if out.exists() and not args.force:
        return _error(f"{out} exists: choose another name or add --force")
    try:
        design = import_model(args.model, args.input_shape, args.name)
    except ModelImportError as e:
        return _error(str(e))
    try:
        save(design, out)
    except OSError as e:
        return _error(f"cannot write {out}: {e.strerror or e}")
    t = analyze(design.network).totals
    print(f"wrote {out}: {design.network.name}, {t.layers} layers, {t.params:,} parameters "
          f"(structure only: weights are not part of a design)")
    return 0


def compare(args: argparse.Namespace) -> int:
    from .model.analysis import analyze
    from .model.compare import compare as compare_reports
    from .model.compare import render_text
    from .model.design_file import DesignFileError, load

    try:
        a, b = load(args.a), load(args.b)
    except DesignFileError as e:
        return _error(str(e))
    saved = a.analysis
    batch = args.batch if args.batch is not None else saved.get("batch", 1)
    if batch < 1:
        return _error(f"--batch must be ≥ 1, got {batch}")
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
