"""What the Trainer sets up around its loop: device, precision, optimizer, schedule, seeds,
checkpoints, and the advice a fault carries. TORCH, no Qt.
"""

from __future__ import annotations

import math
import os
import random
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..model.analysis import analyze
from ..model.network import Network
from ..model.units import format_bytes
from .events import OPTIMIZERS, PRECISIONS, SCHEDULES, Fault, TrainConfig

CHECKPOINT_FORMAT = "convnet-designer-checkpoint"


class FaultError(Exception):
    """Raised inside the Trainer to end a run with a Fault; never leaves Trainer.run()."""

    def __init__(self, fault: Fault):
        super().__init__(fault.message)
        self.fault = fault


# ---------------------------------------------------------------------------------------------
# Device and precision


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA, then MPS, then CPU; or the named one (FaultError when it is missing)."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps" if mps_ok else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if torch.cuda.is_available():
            dev = torch.device(name)
            if dev.index is None:
                dev = torch.device("cuda", torch.cuda.current_device())
            if dev.index < torch.cuda.device_count():
                return dev
        built = torch.version.cuda is not None
        why = ("no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)" if built
               else "this PyTorch build has no CUDA support (a CPU-only wheel)")
        raise FaultError(Fault("device", f"the device {name!r} is not available: {why}",
                               "choose device auto or cpu, or install the CUDA build of PyTorch "
                               "on a machine with an NVIDIA GPU"))
    if name == "mps":
        if mps_ok:
            return torch.device("mps")
        raise FaultError(Fault("device", "the device 'mps' (Apple GPU) is not available here",
                               "choose device auto or cpu"))
    raise FaultError(Fault("device", f"unknown device {name!r}",
                           "choose one of auto, cuda, mps, cpu"))


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def device_memory(device: torch.device) -> int | None:
    """Total memory of the device (CUDA, MPS) or of the machine (CPU); None if unknown."""
    try:
        if device.type == "cuda":
            return torch.cuda.get_device_properties(device).total_memory
        if device.type == "mps":
            return int(torch.mps.recommended_max_memory())
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None


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


def resolve_precision(config: TrainConfig, device: torch.device,
                      notes: list[str]) -> Precision:
    want = config.precision
    if want not in PRECISIONS:
        raise FaultError(Fault("config", f"unknown precision {want!r}",
                               f"choose one of {', '.join(PRECISIONS)}"))
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
# Optimizer and schedule


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """The configured optimizer over `params` (lr, weight decay, momentum from the config)."""
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
    raise FaultError(Fault("config", f"unknown optimizer {name!r}",
                           f"choose one of {', '.join(OPTIMIZERS)}"))


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer,
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
    raise FaultError(Fault("config", f"unknown schedule {s!r}",
                           f"choose one of {', '.join(SCHEDULES)}"))


def seed_everything(seed: int) -> None:
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
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "state_dict": state, "meta": meta},
               tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str],
                    map_location: Any = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, metadata) of a checkpoint the Trainer wrote. Loads with weights_only=True,
    so a file cannot run code; ValueError if it is not such a checkpoint."""
    data = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a ConvNet Designer checkpoint")
    return data["state_dict"], data.get("meta", {})


# ---------------------------------------------------------------------------------------------
# Faults


def is_oom(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def oom_fault(network: Network, config: TrainConfig, device: torch.device, dname: str,
              analysis_dtype: str, where: str) -> Fault:
    """CUDA (or MPS / CPU) ran out of memory: name the largest batch the analysis expects to
    fit in the device's memory."""
    batch = config.batch_size
    total = device_memory(device)
    fit: int | None = None
    if total:
        try:
            fit = analyze(network, batch=batch, dtype=analysis_dtype, optimizer=config.optimizer,
                          budget=total,
                          device="cuda" if device.type == "cuda" else "cpu").pytorch.max_batch
        except Exception:  # noqa: BLE001 - advice must not fail
            fit = None
    where_mem = f"{dname} ({format_bytes(total)})" if total else dname
    message = f"out of memory {where} with batch size {batch} on {where_mem}"
    cheaper = (", or train with bf16 mixed precision (about half the activation memory)"
               if analysis_dtype == "fp32" else "")
    if fit is not None and fit < batch:
        if fit < 1:
            advice = (f"the analysis estimates that not even batch size 1 fits in "
                      f"{format_bytes(total)}: make the layers smaller (fewer filters, more "
                      f"stride or pooling early){cheaper}")
        else:
            advice = (f"the analysis estimates that a batch of at most {fit} fits in "
                      f"{format_bytes(total)}: set the batch size to {_round_down(fit)}"
                      f"{cheaper}; close other programs that use the GPU")
    else:
        est = (f"the analysis expects batch {batch} to fit (up to {fit}), but the framework "
               f"needs working memory the estimate leaves out, or other programs hold memory"
               if fit is not None else "the device's memory could not be read")
        advice = f"{est}: set the batch size to {max(batch // 2, 1)}{cheaper}"
    return Fault("out_of_memory", message, advice)


def _round_down(n: int) -> int:
    """A friendly batch size ≤ n: a multiple of 8 where n ≥ 16, else n."""
    return n - n % 8 if n >= 16 else n


def nan_fault(value: float, epoch: int, step: int, lr: float, precision: str) -> Fault:
    what = "NaN" if math.isnan(value) else "infinite"
    advice = (f"lower the learning rate (e.g. to {lr / 10:.3g}), use the one-cycle schedule "
              "(it warms up), add BatchNorm after the convolutions")
    if precision == "fp16":
        advice += ", use bf16 or fp32 instead of fp16"
    advice += "; and check that the data set has no NaN or infinite values"
    return Fault("nan_loss",
                 f"the loss became {what} at epoch {epoch}, batch {step} (learning rate "
                 f"{lr:.3g}): training diverged", advice)


def design_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the design's own lasting tensors: weights, their gradients, buffers and the
    optimizer's state."""
    total = 0
    for p in model.parameters():
        total += p.nbytes + (p.grad.nbytes if p.grad is not None else 0)
    for b in model.buffers():
        total += b.nbytes
    for state in optimizer.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor):
                total += v.nbytes
    return total
