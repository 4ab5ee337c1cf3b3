"""ONNX export of a design (needs the onnx extra: pip install onnx onnxscript onnxruntime, or
from a checkout pip install -e '.[onnx]').

export_onnx(network, path) builds the design's module (fresh weights, or a state_dict you pass,
e.g. from a training checkpoint), puts it in eval mode and writes an ONNX graph with a dynamic
batch axis: input "input" (N, C, H, W), output "output". The graph mirrors the design: one node
per layer, BatchNorm kept as BatchNormalization (not folded into the CONV before it), LRN as the
ONNX LRN operator (PyTorch would otherwise spell it out as a dozen elementwise nodes), so the file
can be read back as the same design (designer.bridge.importer). Dropout is the identity at
inference and leaves no node.

The file is written in a private folder beside the target, checked with onnx.checker there and
then renamed into place (designer.atomic): a failure leaves the previous file as it was and
nothing behind, a kill the previous file and a `.NAME.<random>.tmp` folder that a later export
to the same name removes. A model over 2 GB has its weights in NAME.data beside it, moved into
place the same way (before the file). check_outputs() compares onnxruntime's outputs with
torch's where onnxruntime is installed (OutputCheckError where onnxruntime fails). The
TorchScript-based exporter is used (fast, needs only onnx); where it is missing (a future
PyTorch) the torch.export-based one (needs onnxscript).

TORCH, no Qt; onnx is imported when an export runs, never at start-up.
"""

from __future__ import annotations

import os
import shutil
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import commit, staging
from ..model.analysis import Report, analyze
from ..model.network import Network
from .module import BuildError, DesignModule, build_module

__all__ = ["BuildError", "OnnxExportError", "OnnxResult", "OutputCheckError", "check_outputs",
           "export_onnx", "require_onnx"]

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 17  # LRN, BatchNormalization, Flatten, Gemm, GlobalAveragePool: all long stable
OPSET_GELU = 20  # the Gelu operator (earlier opsets spell it out with Erf)
# no package index has convnet-designer: name what installs from anywhere, and from a checkout
INSTALL_HINT = "pip install onnx onnxscript onnxruntime (from a checkout: pip install -e '.[onnx]')"


class OnnxExportError(RuntimeError):
    """The export could not be done; the message says why and what to install or change."""


class OutputCheckError(OnnxExportError):
    """The file is written (and passed onnx.checker), but onnxruntime could not load or run it
    to compare its outputs with torch's; the message says why (`why`: the reason alone)."""

    def __init__(self, path: str | os.PathLike[str], why: str):
        super().__init__(f"{path} is written, but its outputs could not be checked: {why}")
        self.why = why


@dataclass(frozen=True)
class OnnxResult:
    model: nn.Module  # what was exported (eval mode): check_outputs(path, model, x)
    path: Path
    opset: int
    exporter: str  # "torchscript" | "dynamo"
    nodes: int
    operators: tuple[str, ...]  # distinct ONNX operator types in the graph


def require_onnx():
    """The onnx package, or OnnxExportError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise OnnxExportError(f"ONNX export needs the onnx package, which is not installed: "
                              f"{INSTALL_HINT}") from None
    return onnx


class _LRN(torch.autograd.Function):
    """LocalResponseNorm that the TorchScript exporter writes as one ONNX LRN node."""

    @staticmethod
    def forward(ctx, x, size: int, alpha: float, beta: float, k: float):  # noqa: D102
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size: int, alpha: float, beta: float, k: float):  # noqa: D102
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


def _lrn_forward(self: nn.LocalResponseNorm, x: torch.Tensor) -> torch.Tensor:
    return _LRN.apply(x, self.size, self.alpha, self.beta, self.k)


def _onnx_ready(model: nn.Module) -> None:
    """Give each LocalResponseNorm of odd size (where ONNX's window is PyTorch's: an even size
    centres it one channel apart) a forward that exports as the LRN operator, and write a
    "same" padding that is symmetric as the number it is (onnxruntime refuses auto_pad SAME
    with dilation)."""
    for m in model.modules():
        if isinstance(m, nn.LocalResponseNorm) and m.size % 2 == 1:
            m.forward = types.MethodType(_lrn_forward, m)
        elif isinstance(m, nn.Conv2d) and m.padding == "same":
            total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
            if all(t % 2 == 0 for t in total):
                m.padding = tuple(t // 2 for t in total)


def model_for_export(network: Network, weights: Mapping[str, torch.Tensor] | None = None,
                     report: Report | None = None) -> DesignModule:
    """The design's module in eval mode, with `weights` (a state_dict) loaded where given."""
    model = build_module(network, report)
    if weights is not None:
        try:
            model.load_state_dict(dict(weights), strict=True)
        except RuntimeError as e:
            raise OnnxExportError(f"the weights do not fit the design: {e}") from None
    return model.eval()


def export_onnx(network: Network, path: str | os.PathLike[str], *,
                weights: Mapping[str, torch.Tensor] | None = None, batch: int = 1,
                opset: int | None = None, exporter: str = "auto") -> OnnxResult:
    """Write the design as an ONNX file and check it with onnx.checker. The opset is 17, or
    20 where the design has GELU.

    BuildError when the design has errors; OnnxExportError when onnx is missing or the export
    fails (the message says why)."""
    onnx = require_onnx()
    if exporter not in ("auto", "torchscript", "dynamo"):
        raise ValueError(f"unknown exporter {exporter!r} (auto, torchscript or dynamo)")
    report = analyze(network)
    if opset is None:
        gelu = any(n.type == "GELU" for n in network.nodes.values())
        opset = OPSET_GELU if gelu else OPSET
    model = model_for_export(network, weights, report)
    _onnx_ready(model)
    shape = report.layers[model.input_id].shape
    x = torch.zeros(max(int(batch), 1), *shape)
    path = Path(path)
    tried = []
    order = ["torchscript", "dynamo"] if exporter == "auto" else [exporter]
    # everything is written in a private folder beside the target (the file, a big model's
    # external data, whatever an exporter leaves), checked there, then renamed into place: a
    # failure or a kill never leaves a half-written file at `path`, nor anything in the working
    # directory, and the folder goes however the export ends
    with staging(path) as folder:
        staged = folder / path.name
        for kind in order:
            _empty(folder)  # what a failed exporter left goes before the next one tries
            try:
                written = _export(model, x, staged, opset, kind)
            except OnnxExportError:
                raise
            except Exception as e:  # noqa: BLE001 - reported with the exporter's reason
                tried.append(f"{kind}: {_reason(e)}")
                continue
            used = kind
            break
        else:
            raise OnnxExportError("the ONNX export failed (" + "; ".join(tried) + ")")
        _gather_external_data(onnx, staged)
        try:
            onnx.checker.check_model(str(staged), full_check=True)
        except Exception as e:  # noqa: BLE001 - the checker's own exception types vary by version
            raise OnnxExportError(f"{path}: the exported graph does not pass onnx.checker: "
                                  f"{e}") from None
        graph = onnx.load(str(staged), load_external_data=False).graph
        ops = tuple(sorted({n.op_type for n in graph.node}))
        nodes = len(graph.node)
        _publish(onnx, staged, path)
    return OnnxResult(model, path, written, used, nodes, ops)


def _empty(folder: Path, keep: tuple[Path, ...] = ()) -> None:
    """Remove what is in the staging folder (but `keep`); links are removed, never followed."""
    for entry in folder.iterdir():
        if entry in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _data_name(path: Path) -> str:
    """The one external data file a model over 2 GB has: NAME.data beside it (the name the
    torch.export-based exporter gives it)."""
    return path.name + ".data"


def _gather_external_data(onnx, staged: Path) -> None:
    """Put the weights of a model over 2 GB that the TorchScript exporter wrote as one file per
    tensor into the one file NAME.data, so that there are two files to move into place."""
    data = staged.with_name(_data_name(staged))
    others = [p for p in staged.parent.iterdir() if p not in (staged, data)]
    if not others:
        return
    model = onnx.load(str(staged))  # with its external data
    if data.exists():
        data.unlink()  # save_model appends to an existing data file
    onnx.save_model(model, str(staged), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=data.name, size_threshold=1024)
    del model
    _empty(staged.parent, keep=(staged, data))


def _external_locations(onnx, path: Path) -> set[str]:
    """The external data files an ONNX file reads (nothing where it cannot be read)."""
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - not an ONNX file (any more): it reads nothing
        return set()
    return {entry.value for t in graph.initializer for entry in t.external_data
            if entry.key == "location"}


def _publish(onnx, staged: Path, path: Path) -> None:
    """Move the checked file (and its external data) over the target. The data goes first, so
    the new file never points at data it lacks; the previous export's NAME.data goes when the
    new file no longer reads it."""
    data = staged.with_name(_data_name(staged))
    target_data = path.with_name(_data_name(path))
    if data.exists():
        commit(data, target_data)
        commit(staged, path)
        return
    stale = (target_data.is_file() and not target_data.is_symlink()
             and target_data.name in _external_locations(onnx, path))
    commit(staged, path)
    if stale:
        try:
            target_data.unlink()
        except OSError:
            pass


def _export(model: nn.Module, x: torch.Tensor, path: Path, opset: int, kind: str) -> int:
    """Write the file with one exporter; the opset written."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "torchscript":
            torch.onnx.export(
                model, (x,), str(path), dynamo=False, opset_version=opset,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                do_constant_folding=False)  # folding would merge BatchNorm into the CONV
            return opset
        try:
            import onnxscript  # noqa: F401
        except ImportError:
            raise OnnxExportError(f"the torch.export-based ONNX exporter needs onnxscript: "
                                  f"{INSTALL_HINT}") from None
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        program = torch.onnx.export(
            model, (x,), dynamo=True, opset_version=max(opset, 18),
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes={"x": {0: batch}}, verbose=False)
        program.save(str(path), external_data=False)
        return max(opset, 18)


def check_outputs(path: str | os.PathLike[str], model: nn.Module,
                  x: torch.Tensor) -> float | None:
    """The largest absolute difference between onnxruntime's output for `x` and the model's
    (None where onnxruntime is not installed). OutputCheckError where onnxruntime cannot load
    or run the file (the file itself stays as written)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    except Exception as e:  # noqa: BLE001 - a broken install: its own error types
        raise OutputCheckError(path, f"onnxruntime cannot be loaded ({_reason(e)})") from None
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        (got,) = session.run(None, {name: x.detach().cpu().numpy()})
    except Exception as e:  # noqa: BLE001 - onnxruntime's error types (Fail, InvalidGraph, ...)
        raise OutputCheckError(path, f"onnxruntime could not run it ({_reason(e)})") from None
    with torch.no_grad():
        want = model(x)
    return float((torch.from_numpy(got) - want).abs().max())


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0][:300] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
