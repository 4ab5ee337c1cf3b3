"""What a training run sets up around its loop that needs only PyTorch: the device, the precision,
the optimizer and its schedule, the seeds, and the weights-only checkpoint files (the
Trainer's resumable ones are ``runs.py``'s; load_checkpoint reads both).

The Trainer uses these through ``runtime.py`` (which turns a ``SetupError`` into the fault the
window shows); an exported training project copies this file as it is (``convlib/basics.py``)
and its ``train.py`` calls them directly. So this module imports the standard library, numpy,
torch and ``.events`` (plain records) only (and ``.runs`` when it reads a safetensors file),
never the rest of the designer.
"""

from __future__ import annotations

import os
import random
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import replacing
from .events import OPTIMIZERS, PRECISIONS, SCHEDULES

CHECKPOINT_FORMAT = "convnet-designer-checkpoint"


class SetupError(ValueError):
    """A setting that cannot be used here: ``kind`` ("device" | "config"), the message, and
    ``advice`` (what to do about it)."""

    def __init__(self, kind: str, message: str, advice: str):
        super().__init__(message)
        self.kind, self.message, self.advice = kind, message, advice


# ---------------------------------------------------------------------------------------------
# Device and precision


def pick_device(name: str, local_rank: int | None = None) -> torch.device:
    """'auto' -> CUDA, then MPS, then CPU; or the named one (SetupError when it is missing).
    ``local_rank`` (a process of several on one machine, under torchrun): CUDA device
    ``local_rank`` modulo the GPUs visible, and no Apple GPU (one cannot be shared)."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())

    def cuda(index: int | None) -> torch.device:
        if index is None:
            index = (torch.cuda.current_device() if local_rank is None
                     else local_rank % torch.cuda.device_count())
        return torch.device("cuda", index)

    if name == "auto":
        if torch.cuda.is_available():
            return cuda(None)
        return torch.device("mps" if mps_ok and local_rank is None else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if torch.cuda.is_available():
            dev = cuda(torch.device(name).index)
            if dev.index < torch.cuda.device_count():
                return dev
        built = torch.version.cuda is not None
        why = ("no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)" if built
               else "this PyTorch build has no CUDA support (a CPU-only wheel)")
        raise SetupError("device", f"the device {name!r} is not available: {why}",
                         "choose device auto or cpu, or install the CUDA build of PyTorch on a "
                         "machine with an NVIDIA GPU")
    if name == "mps":
        if mps_ok and local_rank is not None:
            raise SetupError("device", "the Apple GPU (MPS) cannot be shared by several "
                                       "processes", "run one process, or choose device cpu")
        if mps_ok:
            return torch.device("mps")
        raise SetupError("device", "the device 'mps' (Apple GPU) is not available here",
                         "choose device auto or cpu")
    raise SetupError("device", f"unknown device {name!r}", "choose one of auto, cuda, mps, cpu")


@dataclass
class Precision:
    """What the loop does for the configured precision on this device."""

    autocast_dtype: torch.dtype | None  # None: plain fp32
    scaler: bool  # fp16 on CUDA: scale the loss (GradScaler)
    name: str  # what actually runs: fp32 | bf16 | fp16
    analysis_dtype: str  # the analysis's dtype for memory estimates

    def autocast(self, device: torch.device):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)


def resolve_precision(want: str, device: torch.device, notes: list[str]) -> Precision:
    """The precision ``want`` (auto | fp32 | bf16 | fp16) as it can run on ``device``; where it
    cannot, what runs instead, with a line in ``notes`` that says so. auto: bf16 on a CUDA GPU
    that has it, else fp32 (the Trainer resolves it first: training/speed.py)."""
    if want == "auto":
        native = device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8
        want = "bf16" if native else "fp32"
    if want not in PRECISIONS:
        raise SetupError("config", f"unknown precision {want!r}",
                         f"choose one of {', '.join(PRECISIONS)}")
    fp32 = Precision(None, False, "fp32", "fp32")
    if want == "fp32":
        return fp32
    if device.type == "cuda":
        if want == "bf16":
            if torch.cuda.is_bf16_supported():
                return Precision(torch.bfloat16, False, "bf16", "bf16")
            notes.append("bf16 is not supported by this GPU: fp16 mixed precision with loss "
                         "scaling is used instead")
        return Precision(torch.float16, True, "fp16", "fp16")
    if device.type == "cpu":
        if want == "bf16":
            return Precision(torch.bfloat16, False, "bf16", "bf16")
        notes.append("fp16 mixed precision needs a CUDA GPU: training in fp32 on the CPU "
                     "(bf16 works on CPUs)")
        return fp32
    notes.append(f"{want} mixed precision is used on CUDA and CPU only: training in fp32 on "
                 f"{device.type}")
    return fp32


def make_grad_scaler() -> Any:
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()  # torch < 2.3


# ---------------------------------------------------------------------------------------------
# Optimizer and schedule (``config``: a TrainConfig of .events, or anything with its fields)


def make_optimizer(config: Any, params) -> torch.optim.Optimizer:
    """The configured optimizer over `params` (lr, weight decay, momentum from the config);
    parameters that need no gradient (a fine-tune's frozen layers) are left out."""
    params = [p for p in params if p.requires_grad]
    name, lr, wd, mom = config.optimizer, config.lr, config.weight_decay, config.momentum
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=mom, nesterov=mom > 0, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=mom, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    raise SetupError("config", f"unknown optimizer {name!r}",
                     f"choose one of {', '.join(OPTIMIZERS)}")


def make_scheduler(config: Any, optimizer: torch.optim.Optimizer,
                   steps_per_epoch: int) -> tuple[Any, bool]:
    """(scheduler or None, whether it steps per batch rather than per epoch)."""
    s = config.schedule
    sched = torch.optim.lr_scheduler
    if s == "none":
        return None, False
    if s == "step":
        return sched.StepLR(optimizer, step_size=max(config.step_size, 1),
                            gamma=config.gamma), False
    if s == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1)), False
    if s == "onecycle":
        cycle = config.optimizer in ("momentum", "nesterov", "adam", "adamw")
        total = max(config.epochs * steps_per_epoch, 2)
        return sched.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total,
                                cycle_momentum=cycle), True
    raise SetupError("config", f"unknown schedule {s!r}", f"choose one of {', '.join(SCHEDULES)}")


# ---------------------------------------------------------------------------------------------
# Seeds


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's generators from ``seed``: call it before building a model
    for the initial weights ConvNet Designer gives it."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass


def seed_worker(_worker_id: int) -> None:
    """DataLoader worker_init_fn: numpy and random follow the worker's torch seed."""
    seed_everything(torch.initial_seed() % 2**32)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(path: Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """state_dict (on the CPU) + JSON-able metadata, written to a temporary file and renamed."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:  # a unique temp beside it, fsynced, renamed over the file
        torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "state_dict": state,
                    "meta": meta}, tmp)


def load_checkpoint(path: str | os.PathLike[str],
                    map_location: Any = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, metadata) of a checkpoint: the Trainer's resumable safetensors files
    (last/best.safetensors: read by ``.runs``, nothing unpickled) or the weights-only files of
    save_checkpoint (best.pt / last.pt of older versions and of exported projects: loaded with
    weights_only=True, so a file cannot run code). ValueError if it is neither."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{":  # a safetensors header: 8-byte length, then JSON
        try:
            from .runs import read_weights
        except ImportError:  # an exported project's copy: it writes .pt files only
            raise ValueError(f"{path}: a safetensors checkpoint of ConvNet Designer: read it "
                             "there, or with safetensors") from None
        state, meta = read_weights(path)
        if map_location not in (None, "cpu"):
            state = {k: v.to(map_location) for k, v in state.items()}
        return state, meta
    data = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a ConvNet Designer checkpoint")
    return data["state_dict"], data.get("meta", {})
