"""What the Trainer checks before it trains: that the design can be trained and that the data
fits it (image shape, labels, number of classes). Faults name both sides. TORCH, no Qt.
"""

from __future__ import annotations

import math
import os
import traceback
from typing import Any

import torch

from ..model.analysis import Report
from . import runs
from .batches import tensor_pair
from .events import Fault, TrainConfig
from .runtime import FaultError


def whd(shape) -> str:
    """(C, H, W) the way the app writes volumes: W×H×D."""
    s = tuple(shape)
    if len(s) == 3:
        return f"{s[2]}×{s[1]}×{s[0]}"
    return "×".join(str(v) for v in s) or "a scalar"


def design_io(report: Report) -> tuple[tuple[int, ...], int, bool]:
    """The design's input (C, H, W), its number of outputs and whether the output volume
    (K×1×1) must be flattened for the loss; FaultError if it cannot be trained."""
    error = report.first_error()
    if error is not None:
        raise FaultError(Fault("model", f"the design has errors ({error})",
                               "fix the errors the readouts list, then train"))
    inputs = [nid for nid in report.order if report.layers[nid].type == "Input"]
    out = report.output
    if not inputs or out is None:
        raise FaultError(Fault("model", "the design has no input or no output layer",
                               "connect INPUT through the layers to a final FC layer"))
    in_shape = tuple(report.layers[inputs[0]].shape)
    out_shape = tuple(report.layers[out].shape)
    if len(out_shape) > 1 and any(s != 1 for s in out_shape[1:]):
        raise FaultError(Fault(
            "shape", f"the design's output ({out}) is a {whd(out_shape)} volume, but a "
                     "classifier needs one score per class (1×1×K)",
            "end the network with global average pooling or a Linear (FC) layer with one "
            "output per class"))
    return in_shape, int(out_shape[0]), len(out_shape) > 1


def check_data(train: Any, val: Any, info: Any, in_shape: tuple[int, ...],
               n_out: int) -> int:
    """Check the data against the design before training; the number of classes."""
    if len(train) == 0:
        raise FaultError(Fault("data", "the training set is empty",
                               "choose a data set with samples (or a larger train size)"))
    pair = tensor_pair(train)
    train_labels = pair[1] if pair is not None else _labels(train)
    try:
        x0 = pair[0][0] if pair is not None else train[0][0]
    except Exception as e:  # noqa: BLE001
        raise FaultError(Fault(
            "data", f"reading the first training sample failed: {type(e).__name__}: {e}",
            "check the data set's files and format; if it is your own Dataset, fix its "
            "__getitem__ (the details hold the traceback)",
            "".join(traceback.format_exception(type(e), e, e.__traceback__)))) from None
    shape = tuple(torch.as_tensor(x0).shape)
    if shape != tuple(in_shape):
        raise FaultError(Fault(
            "shape", f"the data set's images are {whd(shape)} (W×H×D) but the design's "
                     f"INPUT is {whd(in_shape)}",
            f"set the INPUT layer to {whd(shape)}, or choose a data set of "
            f"{whd(in_shape)} images"))
    classes = _class_count(info)
    if train_labels is not None:
        labels = [t for t in (train_labels, _labels(val)) if t is not None and len(t)]
        lo = min(int(t.min()) for t in labels)
        hi = max(int(t.max()) for t in labels)
        if classes is None:
            classes = hi + 1
        if lo < 0 or hi >= n_out:
            raise FaultError(Fault(
                "shape", f"the data set's labels go from {lo} to {hi}, but the design's "
                         f"output has {n_out} classes (0 to {n_out - 1})",
                f"give the last FC layer {max(hi + 1, classes)} outputs"))
    if classes is None:
        classes = n_out
    if classes > n_out:
        raise FaultError(Fault(
            "shape", f"the data set has {classes} classes but the design's output has "
                     f"{n_out}",
            f"give the last FC layer {classes} outputs (out_features = {classes})"))
    return classes


def _labels(ds: Any) -> torch.Tensor | None:
    """All labels of an in-memory data set (a TensorDataset, or one with a `labels` tensor)."""
    pair = tensor_pair(ds)
    if pair is not None:
        return pair[1]
    labels = getattr(ds, "labels", None)
    return labels if isinstance(labels, torch.Tensor) else None


def _class_count(info: Any) -> int | None:
    c = getattr(info, "classes", None)
    if c is None:
        return None
    return c if isinstance(c, int) else len(c)


def class_names(info: Any, count: int) -> list[str] | int:
    for c in (getattr(info, "class_names", None), getattr(info, "classes", None)):
        if isinstance(c, (list, tuple)) and all(isinstance(s, str) for s in c):
            return list(c)
    return count




def check_config(cfg: TrainConfig) -> None:
    """FaultError("config") for settings no run can use (the CLI and the file reader check
    more; this is the Trainer's own guard for callers that build a TrainConfig by hand)."""
    bad = None
    if cfg.epochs < 1:
        bad = f"epochs must be at least 1, got {cfg.epochs}"
    elif cfg.batch_size < 1:
        bad = f"the batch size must be at least 1, got {cfg.batch_size}"
    elif not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        bad = f"the learning rate must be a number above 0, got {cfg.lr}"
    elif cfg.num_workers < 0:
        bad = f"num_workers must be 0 or more, got {cfg.num_workers}"
    if bad:
        raise FaultError(Fault("config", bad, "change the setting and train again"))


def load_start(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """The weights of the checkpoint `path` put into the fresh `model`, every one by name;
    FaultError("weights") naming the file and the mismatch otherwise."""
    try:
        weights, _meta = runs.read_weights(path)
        model.load_state_dict(weights, strict=True)
    except (runs.CheckpointError, RuntimeError) as e:
        raise FaultError(Fault("weights", f"cannot start from the weights in {path}: {e}",
                               "train from fresh weights, or start from another run's weights "
                               "(of this version of the design)")) from None
