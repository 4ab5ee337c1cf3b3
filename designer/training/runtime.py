"""What the Trainer sets up around its loop: device, precision, optimizer, schedule, seeds,
checkpoints, and the advice a fault carries. TORCH, no Qt.

The parts that need only torch live in basics.py (an exported training project copies that
file); here they are re-exported, and a SetupError they raise becomes a FaultError.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from ..machine import available_ram
from ..model.analysis import analyze
from ..model.network import Network
from ..model.units import format_bytes
from . import basics
from .basics import (  # noqa: F401 - re-exported: the Trainer's, the CLI's and the tests' imports
    CHECKPOINT_FORMAT,
    Precision,
    SetupError,
    load_checkpoint,
    make_grad_scaler,
    save_checkpoint,
    seed_everything,
    seed_worker,
)
from .events import Fault, TrainConfig
from .speed import Capability


class FaultError(Exception):
    """Raised inside the Trainer to end a run with a Fault; never leaves Trainer.run()."""

    def __init__(self, fault: Fault):
        super().__init__(fault.message)
        self.fault = fault


# ---------------------------------------------------------------------------------------------
# Device, precision, optimizer and schedule: basics.py's, with a SetupError made a Fault


def _fault(error: SetupError) -> FaultError:
    return FaultError(Fault(error.kind, error.message, error.advice))


def pick_device(name: str) -> torch.device:
    """'auto' -> CUDA, then MPS, then CPU; or the named one (FaultError when it is missing)."""
    try:
        return basics.pick_device(name)
    except SetupError as e:
        raise _fault(e) from None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def capability(device: torch.device) -> Capability:
    """What the fast settings need to know of the device (training/speed.py)."""
    if device.type != "cuda":
        return Capability()
    major, _ = torch.cuda.get_device_capability(device)
    return Capability(bf16=major >= 8, cudnn=torch.backends.cudnn.is_available())


def free_memory(device: torch.device) -> int | None:
    """Bytes free on an accelerator now (CUDA: the driver's figure; MPS: what it recommends
    less what it holds); None on the CPU or where unknown."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[0])
        if device.type == "mps":
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    except (AttributeError, RuntimeError):
        return None
    return None


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


def resolve_precision(config: TrainConfig, device: torch.device,
                      notes: list[str], want: str | None = None) -> Precision:
    """config.precision (or ``want``: the fast settings' choice for it) as it runs here."""
    try:
        return basics.resolve_precision(want or config.precision, device, notes)
    except SetupError as e:
        raise _fault(e) from None


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """The configured optimizer over `params` (lr, weight decay, momentum from the config)."""
    try:
        return basics.make_optimizer(config, params)
    except SetupError as e:
        raise _fault(e) from None


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer,
                   steps_per_epoch: int) -> tuple[Any, bool]:
    """(scheduler or None, whether it steps per batch rather than per epoch)."""
    try:
        return basics.make_scheduler(config, optimizer, steps_per_epoch)
    except SetupError as e:
        raise _fault(e) from None


# ---------------------------------------------------------------------------------------------
# Faults


_CPU_OOM = ("not enough memory", "out of memory", "can't allocate memory",
            "cannot allocate memory")


def is_oom(error: BaseException) -> bool:
    """Out of memory on any device: CUDA's OutOfMemoryError, the CPU allocator's "not enough
    memory" (a RuntimeError), or Python's own MemoryError."""
    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(words in text for words in _CPU_OOM)


def oom_fault(network: Network, config: TrainConfig, device: torch.device, dname: str,
              analysis_dtype: str, where: str) -> Fault:
    """CUDA (or MPS / CPU) ran out of memory: name the largest batch the analysis expects to
    fit in the device's memory (on the CPU: in the RAM still free)."""
    batch = config.batch_size
    cpu = device.type == "cpu"
    total = available_ram() if cpu else device_memory(device)
    fit: int | None = None
    if total:
        try:
            fit = analyze(network, batch=batch, dtype="fp32" if cpu else analysis_dtype,
                          optimizer=config.optimizer, budget=total,
                          device="cuda" if device.type == "cuda" else "cpu",
                          fix_effects=False).pytorch.max_batch
        except Exception:  # noqa: BLE001 - advice must not fail
            fit = None
    space = f"the {format_bytes(total)} of RAM free" if cpu else format_bytes(total or 0)
    where_mem = (f"{dname} ({format_bytes(total)} of RAM free)" if cpu and total else
                 f"{dname} ({format_bytes(total)})" if total else dname)
    message = f"out of memory {where} with batch size {batch} on {where_mem}"
    cheaper = (", or train with bf16 mixed precision (about half the activation memory)"
               if analysis_dtype == "fp32" and not cpu else "")
    others = "close other programs to free RAM" if cpu else "close other programs that use the GPU"
    if fit is not None and fit < batch:
        if fit < 1:
            advice = (f"the analysis estimates that not even batch size 1 fits in "
                      f"{space}: make the layers smaller (fewer filters, more "
                      f"stride or pooling early){cheaper}")
        else:
            advice = (f"the analysis estimates that a batch of at most {fit} fits in "
                      f"{space}: set the batch size to {_round_down(fit)}"
                      f"{cheaper}; {others}")
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


def diverged_fault(value: float, start: float, why: str, epoch: int, step: int, lr: float,
                   config: TrainConfig) -> Fault:
    """The training loss ran away (designer/training/divergence.py says how): stop, and name
    the loss, where, the rate that batch used and the setting to lower."""
    want, optimizer = config.lr, config.optimizer
    rate = f"the learning rate {lr:.3g}"
    if config.schedule != "none" and not math.isclose(lr, want, rel_tol=1e-3):
        rate += f" (set to {want:.3g}, {config.schedule} schedule)"
    lower = min(want / 10, 0.01 if optimizer in ("adam", "adamw", "rmsprop") else 0.1)
    return Fault(
        "diverged",
        f"the training loss rose to {value:.3g} at epoch {epoch}, batch {step}, {why}, with "
        f"{rate} and {optimizer}: training diverged, so it was stopped",
        f"lower the learning rate (from {want:.3g} to {lower:.3g} or less), or let the "
        f"learning-rate finder suggest one (python -m designer lr-find FILE); "
        + ("the one-cycle schedule (it warms up) and " if config.schedule != "onecycle" else "")
        + "BatchNorm after the convolutions also steadies a run")


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
