"""What a run and the learning-rate finder both do before their first step: load the data set
(Stop may leave the load), build the design's module (from fresh weights or a checkpoint's), and
what either says when a step of the data or the model fails. TORCH, no Qt.
"""

from __future__ import annotations

import os
import threading
import traceback
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..bridge.module import BuildError, build_module
from ..model.analysis import Report
from ..model.network import Network
from .batches import Abandonable, Abandoned
from .checks import load_start
from .events import DataConfig, Fault, TrainConfig
from .runtime import FaultError, is_oom, oom_fault


def start_loading(data: DataConfig, in_shape: tuple[int, ...], stop: threading.Event,
                  on_data: Any = None) -> Abandonable:
    """The load of `data` shaped to `in_shape`, to run with load_data(); made first so that a
    caller's Stop can ask it how long it takes still (Abandonable.left_s)."""
    try:
        from .datasets import load_datasets
    except ImportError as e:
        raise FaultError(Fault("data", f"the data sets module is missing ({e})",
                               "reinstall ConvNet Designer")) from None
    return Abandonable(lambda progress: load_datasets(data, in_shape, progress=progress), stop,
                       on_data)


def load_data(loading: Abandonable, name: str) -> tuple[Any, Any, Any]:
    """(train, val, info); ([], [], None) when Stop left the load; FaultError("data") naming the
    data set when it cannot be read (a DatasetError's own advice where it has one)."""
    try:
        return loading.run()
    except Abandoned:
        return [], [], None
    except Exception as e:  # noqa: BLE001 - DatasetError and anything under it
        raise FaultError(Fault(
            "data", f"the data set {name!r} could not be loaded: {e}",
            getattr(e, "advice", "") or  # a DatasetError's own advice fits its fault
            "check the data set's name and folder (or turn on Download); the message "
            "above says which file or field is wrong", traceback_text(e))) from None


def build(network: Network, report: Report, start_from: str | os.PathLike[str] | None,
          notes: list[str]) -> nn.Module:
    """The design's module with fresh weights (torch's generator as it is now), or with those of
    the checkpoint `start_from` (a note says so); FaultError("model" / "weights")."""
    try:
        model = build_module(network, report)
    except BuildError as e:
        raise FaultError(Fault("model", f"the design cannot be built: {e}",
                               "fix the layer it names and train again")) from None
    if start_from is not None:
        load_start(model, start_from)
        notes.append(f"started from the weights in {Path(start_from).name}")
    return model


def step_fault(kind: str, error: BaseException, epoch: int, step: int, doing: str,
               network: Network, config: TrainConfig, device: torch.device, dname: str,
               analysis_dtype: str) -> FaultError:
    """An exception from the data ("data") or the model ("model") at a step, as a FaultError;
    out of memory wins, with the batch size the analysis expects to fit."""
    if is_oom(error):
        where = f"while {doing} (epoch {epoch}, batch {step})"
        return FaultError(oom_fault(network, config, device, dname, analysis_dtype, where))
    what = f"{type(error).__name__}: {error}".strip()
    if kind == "data":
        advice = ("check the data set's files and format; if it is your own Dataset, fix "
                  "its __getitem__ (the details hold the traceback)")
    else:
        advice = ("the network could not compute this batch: check the layer the details "
                  "name, or change its parameters; then train again")
    return FaultError(Fault(kind, f"{doing} failed at epoch {epoch}, batch {step}: {what}",
                            advice, traceback_text(error)))


def checkpoint_fault(path: Path, error: OSError | ValueError) -> Fault:
    why = getattr(error, "strerror", None) or error
    return Fault("checkpoint", f"cannot write the checkpoint {path}: {why}",
                 "choose a checkpoint folder you can write to, with free space")


def traceback_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
