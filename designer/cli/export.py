"""`python -m designer export FILE --to code|project|onnx|pt2|diagram OUT`: the design as PyTorch
code, a training project (torchrun-ready), an ONNX file, a torch.export program or its volumes
figure (OUT.svg, .pdf or .png: designer/model/diagram.py).

Exit codes: 0 done, 1 the export itself failed (or, for ONNX, the file is written but onnxruntime
could not check its outputs: the message says so), 2 the file, a model or an option cannot be used
(the message names it). An existing output is kept unless --force.

Importing this module does not import torch; the command does (not for a diagram). A diagram's
PDF or PNG is drawn by Qt's SVG renderer in a child process (python -m
designer.ui.diagram_render): the command line itself never imports Qt.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import Refused, error

KINDS = ("code", "project", "onnx", "pt2", "diagram")
SUFFIXES = {"code": ".py", "onnx": ".onnx", "pt2": ".pt2"}
DIAGRAM_SUFFIXES = (".svg", ".pdf", ".png")
RENDER_TIMEOUT_S = 300


def add_parser(sub: Any) -> None:
    e = sub.add_parser("export", help="the design as code, a training project, ONNX, .pt2 or "
                                      "a diagram",
                       description="Export a design: readable PyTorch code, a standalone "
                                   "training project (python train.py, or torchrun "
                                   "--nproc_per_node=N train.py), an ONNX file, a "
                                   "torch.export program (.pt2) or the volumes figure "
                                   "(--to diagram OUT.svg|pdf|png).")
    e.add_argument("file", help="a .convnet.json design")
    e.add_argument("--to", choices=KINDS, required=True, dest="kind")
    e.add_argument("out", help="the file to write (a folder for --to project; .svg, .pdf or "
                               ".png for --to diagram)")
    e.add_argument("--weights", metavar="CKPT",
                   help="onnx, pt2: trained weights, a checkpoint of the app or of train.py "
                        "(read with weights_only=True)")
    e.add_argument("--class-name", help="code, project: the model class's name")
    e.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), default="auto",
                   help="onnx: which torch.onnx exporter (auto: TorchScript, else dynamo)")
    e.add_argument("--opset", type=int, default=None, help="onnx: the opset (default 17, 20 "
                                                           "with GELU)")
    e.add_argument("--force", action="store_true", help="replace an existing output")


def run(args: argparse.Namespace) -> int:
    from ..model.design_file import DesignFileError, load

    try:
        design = load(args.file)
    except DesignFileError as e:
        return error(str(e))
    out = Path(args.out)
    if args.kind == "diagram" and out.suffix.lower() not in DIAGRAM_SUFFIXES:
        return error(f"{out}: a diagram is written as .svg, .pdf or .png, not "
                     f"{out.suffix or 'a file without a suffix'}")
    if args.kind != "project" and out.exists() and not args.force:
        return error(f"{out} exists: choose another name or add --force")
    if args.kind != "project" and out.is_dir():
        return error(f"{out} is a folder: give a file name")
    if args.weights and args.kind not in ("onnx", "pt2"):
        return error("--weights goes with --to onnx or --to pt2")
    try:
        if args.kind == "code":
            line = _export_code(design, out, args.class_name)
        elif args.kind == "diagram":
            line = _export_diagram(design, out)
        elif args.kind == "project":
            line = _export_project(design, out, args.force, args.class_name)
        else:
            weights = _weights(args.weights) if args.weights else None
            line = (_export_onnx(design, out, weights, args.opset, args.exporter)
                    if args.kind == "onnx" else _export_pt2(design, out, weights))
    except Refused as e:
        return error(str(e))
    except Unchecked as e:
        return error(str(e), 1)
    except (OSError, RuntimeError) as e:
        return error(f"{args.file}: the {args.kind} export failed: {e}", 1)
    print(line)
    return 0


class Unchecked(Exception):
    """The output is written but could not be checked (exit code 1; the message says why)."""


def _refuse(error: Exception, what: str) -> Refused:
    return Refused(f"{what}: {error}")


def _export_code(design, out: Path, class_name: str | None) -> str:
    from ..bridge.codegen import BuildError, export_code

    try:
        text = export_code(design.network, class_name)
    except (BuildError, ValueError) as e:
        raise _refuse(e, "the design cannot be exported") from None
    _write(out, text)
    return f"wrote {out}: the PyTorch code of {design.network.name}"


def _export_diagram(design, out: Path) -> str:
    from ..model.diagram import DiagramError, to_svg, volumes_figure

    try:
        figure = volumes_figure(design.network)
    except DiagramError as e:
        raise _refuse(e, "the design cannot be drawn") from None
    svg = to_svg(figure, design.network.name)
    what = (f"the volumes figure of {design.network.name} ({len(figure.volumes)} volumes in "
            f"{len(figure.rows)} row{'s' if len(figure.rows) != 1 else ''})")
    if out.suffix.lower() == ".svg":
        _write(out, svg)
        return f"wrote {out}: {what}, {figure.width:.0f}×{figure.height:.0f} px"
    _render(svg, out)
    return f"wrote {out}: {what}"


def _render(svg: str, out: Path) -> None:
    """PDF or PNG from the SVG, by Qt in a child process (offscreen): the command line never
    imports Qt, and a Qt that cannot start is an error message, never a crash."""
    import os
    import subprocess
    import sys
    import tempfile

    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="convnet-diagram-") as folder:
        source = Path(folder) / "figure.svg"
        source.write_text(svg, encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, "-m", "designer.ui.diagram_render",
                                   str(source), str(out)], env=env, capture_output=True,
                                  text=True, timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise OSError(f"drawing {out.suffix[1:].upper()} took over {RENDER_TIMEOUT_S} s") \
                from None
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        why = said[-1].removeprefix("error: ") if said else f"exit code {done.returncode}"
        raise OSError(f"Qt could not draw it: {why}")


def _export_project(design, out: Path, force: bool, class_name: str | None) -> str:
    from ..bridge.project import BuildError, ProjectError, export_project

    try:
        result = export_project(design, out, force=force, class_name=class_name)
    except BuildError as e:
        raise _refuse(e, "the design cannot be exported") from None
    except ProjectError as e:
        raise Refused(str(e)) from None
    names = ", ".join(p.name for p in result.files)
    return (f"wrote the training project {out} ({names}); run it with: cd {out} && python "
            f"train.py   (or: torchrun --nproc_per_node=N train.py)")


def _weights(path: str):
    from ..training.runtime import load_checkpoint

    try:
        state, _ = load_checkpoint(path)
    except FileNotFoundError:
        raise Refused(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - torch.load's many errors for a foreign file
        raise Refused(f"{path}: not a checkpoint of ConvNet Designer or train.py ({e})") \
            from None
    return state


def _export_onnx(design, out: Path, weights, opset, exporter: str) -> str:
    import torch

    from ..bridge.onnx import (
        BuildError,
        OnnxExportError,
        OutputCheckError,
        check_outputs,
        export_onnx,
    )
    from ..model.analysis import analyze

    try:
        result = export_onnx(design.network, out, weights=weights, opset=opset,
                             exporter=exporter)
    except BuildError as e:
        raise _refuse(e, "the design cannot be exported") from None
    except OnnxExportError as e:
        if "not installed" in str(e) or "do not fit" in str(e):
            raise Refused(str(e)) from None
        raise
    shape = analyze(design.network).layers[result.model.input_id].shape
    wrote = (f"wrote {out}: ONNX opset {result.opset}, "
             f"{result.nodes} node{'s' if result.nodes != 1 else ''} "
             f"({', '.join(result.operators)}); onnx.checker passed")
    try:
        diff = check_outputs(out, result.model, torch.randn(2, *shape))
    except OutputCheckError as e:  # the file is there: say so, and why it is unchecked
        raise Unchecked(f"{wrote}; but its outputs could not be compared with torch's: "
                        f"{e.why}") from None
    agree = ("onnxruntime not installed: outputs not compared" if diff is None
             else f"onnxruntime's outputs match torch's within {diff:.1g}")
    return f"{wrote}; {agree}"


def _export_pt2(design, out: Path, weights) -> str:
    from ..bridge.pt2 import BuildError, Pt2ExportError, export_pt2

    try:
        export_pt2(design.network, out, weights=weights)
    except BuildError as e:
        raise _refuse(e, "the design cannot be exported") from None
    except Pt2ExportError as e:
        if "do not fit" in str(e):
            raise Refused(str(e)) from None
        raise
    return (f"wrote {out}: a torch.export program (dynamic batch); load it with "
            f"torch.export.load({str(out)!r}).module()")


def _write(path: Path, text: str) -> None:
    """Atomically: a temporary file of our own beside it (never a fixed name a planted
    symlink could sit at), flushed and renamed over it."""
    from ..atomic import write_text

    try:
        write_text(path, text)
    except OSError as e:
        raise OSError(f"cannot write {path}: {e.strerror or e}") from None


