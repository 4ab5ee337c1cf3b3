"""The learning-rate range test (Smith 2015; fastai's lr_find, PyTorch Lightning's Tuner.lr_find):
train a copy of the design for a few hundred batches while the learning rate grows exponentially
from `start` to `end`, and watch the loss. TORCH, no Qt.

    result = find_lr(network, config)             # blocks; never raises for a fault
    result.suggestion                             # e.g. 0.0021, or None
    result.lrs, result.smoothed                   # the curve to plot (log x)

The copy is the design's module with fresh weights (config.seed, as a run's; or `start_from`'s),
trained with the run's optimizer, momentum and weight decay, data set (augmentation included)
and batch size, on the run's device and precision; the schedule is the sweep's own. Nothing of
the caller's changes: no file is written, and torch's, numpy's and Python's random generators
are left as they were.

The loss of every batch is smoothed (an exponential moving average, debiased, β = BETA) and the
sweep ends early once the smoothed loss passes EXPLODE × its lowest (or a loss is NaN or
infinite): past there the curve says nothing more.

The suggestion (`suggest`) is read off the losses averaged over the 5 batches either side
(`centred`, made at the end): the running average lags the rate by up to 50 batches, about four
decades of a 100-batch sweep, so its steepest descent (the rule before, Lightning's) came late
and landed 3-10x off, too high or too low depending on where the lag put it. The BOTTOM of that
lag-free curve is where it lies within BAND of its fall around its lowest point; for the one-cycle
schedule (the default; it warms up to its rate and holds it a moment) the suggestion is the
highest rate of the bottom, for any other schedule (a rate held from the start) its middle.
Measured against a grid of rates trained 3 epochs each with the same schedule (one-cycle; seeds
0 and 1, the synthetic set; benchmarks/bench_lr_find.py, BENCHMARKS.md), it lands within 3x of
the best on 11 of 12 sweeps (the CIFAR-10 example, LeNet-5 and CONV-RELU-POOL x2, batch 32 and
64), the former rule on 8; `min_lr` is the lowest point of the lag-free curve.

For a window: run it in a thread; `stop` (a threading.Event) ends it after the current batch
(status "stopped", the curve so far and a suggestion from it); `on_step(LRStep)` hears every
batch and `on_data(done, total, message)` the data set's load, both in the thread that runs it.
"""

from __future__ import annotations

import math
import random
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..model.analysis import analyze
from ..model.network import Network
from .batches import make_batches
from .checks import check_config, check_data, design_io
from .events import Fault, TrainConfig
from .prepare import build, load_data, start_loading, step_fault
from .runtime import (
    FaultError,
    device_name,
    make_grad_scaler,
    make_optimizer,
    pick_device,
    resolve_precision,
    seed_everything,
)

__all__ = ["BETA", "EXPLODE", "LRFindResult", "LRStep", "find_lr", "smooth_centred", "suggest"]

START, END, STEPS = 1e-7, 10.0, 100
MAX_STEPS = 100_000
BETA = 0.98  # smoothing of the loss, per batch (fastai's and Lightning's)
EXPLODE = 4.0  # the sweep ends when the smoothed loss passes this × its lowest
HALF = 5  # the suggestion's smoothing: each loss averaged with the 5 batches either side
BAND = 0.2  # the bottom of the curve: within 20 % of its fall from its lowest point
FELL = 0.02  # no suggestion where the loss falls less than 2 % of its starting level


METHODS = {
    "onecycle": "the highest rate of the loss's bottom, for the one-cycle schedule's peak",
    "other": "the middle of the loss's bottom, for a rate held from the start",
}


@dataclass
class LRStep:
    """One batch of the sweep: its learning rate, its loss and the smoothed loss so far."""

    step: int  # 1-based
    steps: int  # the sweep's length (it may end before)
    lr: float
    loss: float
    smoothed: float


@dataclass
class LRFindResult:
    status: str  # finished | stopped | failed
    lrs: list[float] = field(default_factory=list)  # one per batch, growing
    losses: list[float] = field(default_factory=list)  # each batch's loss
    smoothed: list[float] = field(default_factory=list)  # the running average, batch by batch
    centred: list[float] = field(default_factory=list)  # without lag, at the end: what to plot
    suggestion: float | None = None  # the learning rate to train with; None: no clear descent
    suggestion_index: int | None = None  # where it lies on the curve
    min_lr: float | None = None  # the learning rate of the lowest point of `centred`
    method: str = ""  # how the suggestion was chosen, in words (METHODS)
    ended: str = ""  # why the sweep ended, in words
    fault: Fault | None = None
    notes: list[str] = field(default_factory=list)
    device: str = ""
    seconds: float = 0.0
    start: float = START
    end: float = END
    steps: int = STEPS
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_lr(network: Network, config: TrainConfig | None = None, *, start: float = START,
            end: float = END, steps: int = STEPS, stop: threading.Event | None = None,
            on_step: Any = None, on_data: Any = None, datasets: tuple | None = None,
            start_from: str | None = None) -> LRFindResult:
    """Sweep the learning rate from `start` to `end` over `steps` batches (fewer where the loss
    explodes first) on a copy of `network`, trained as `config` says; never raises for a fault
    (result.fault says why). `datasets`: (train, val, info) instead of loading config.data."""
    config = config if config is not None else TrainConfig()
    stop = stop if stop is not None else threading.Event()
    t0 = time.perf_counter()
    result = LRFindResult("failed", start=start, end=end, steps=steps,
                          config=config.to_dict())
    try:
        _check_range(start, end, steps)
        with _random_state_kept(config.device != "cpu" and torch.cuda.is_available()):
            _sweep(network, config, result, stop, on_step, on_data, datasets, start_from)
    except FaultError as e:
        result.status, result.fault = "failed", e.fault
    except KeyboardInterrupt:
        stop.set()
        result.status = "stopped"
        result.ended = "interrupted"
    except Exception as e:  # noqa: BLE001 - the finder never takes the app down
        result.status = "failed"
        result.fault = Fault("internal", f"unexpected {type(e).__name__}: {e}",
                             "this looks like a bug in ConvNet Designer: please report it with "
                             "the details", traceback.format_exc())
    if result.smoothed:
        result.suggestion_index = suggest(result.lrs, result.losses, config.schedule)
        result.method = METHODS["onecycle" if config.schedule == "onecycle" else "other"]
        if result.suggestion_index is not None:
            result.suggestion = result.lrs[result.suggestion_index]
        result.centred = smooth_centred(result.losses).tolist()
        result.min_lr = result.lrs[int(np.argmin(result.centred))]
        if result.suggestion is None and result.status != "failed":
            result.notes.append("the loss did not fall clearly anywhere in the range: no "
                                "suggestion (try a wider range, more steps, or check the data)")
    result.seconds = time.perf_counter() - t0
    return result


def smooth_centred(losses: list[float], half: int = HALF) -> np.ndarray:
    """Each batch's loss averaged with the HALF batches either side (fewer at the ends): unlike
    the running average that the live curve shows, it does not lag behind the rate."""
    y = np.asarray(losses, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(len(y))
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, len(y))
    return (c[hi] - c[lo]) / (hi - lo)


def suggest(lrs: list[float], losses: list[float], schedule: str = "onecycle") -> int | None:
    """The index of the suggested learning rate on a sweep's curve of per-batch `losses`; None
    where the loss does not fall (by FELL of its level, before its lowest point).

    The losses are smoothed without lag (smooth_centred); the BOTTOM of the curve is where it
    lies within BAND of its fall (from its level over the first fifth of the sweep down to its
    lowest point), around the lowest point. One-cycle (`schedule` "onecycle", the default)
    warms up to its rate and holds it only a moment: the highest rate of the bottom (Smith's
    largest rate at which the loss still falls). Any other schedule starts at its rate and
    stays there a while: the middle of the bottom (log scale), lower."""
    n = len(losses)
    if n < 5 or len(lrs) != n:
        return None
    y = smooth_centred(losses)
    low = int(np.argmin(y))
    level = float(np.median(y[:max(n // 5, 3)]))
    fall = level - y[low]
    if low < 2 or not fall > FELL * abs(level):
        return None
    limit = y[low] + BAND * fall
    top = low
    while top + 1 < n and y[top + 1] <= limit:
        top += 1
    if schedule == "onecycle":
        return top
    bottom = low
    while bottom > 0 and y[bottom - 1] <= limit:
        bottom -= 1
    return (bottom + top) // 2


def _check_range(start: float, end: float, steps: int) -> None:
    bad = None
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                math.isfinite(v) and v > 0):
            bad = f"the {name} learning rate must be a number above 0, got {v!r}"
            break
    else:
        if end <= start:
            bad = f"the end learning rate ({end:g}) must be above the start ({start:g})"
        elif isinstance(steps, bool) or not isinstance(steps, int) or not (
                5 <= steps <= MAX_STEPS):
            bad = f"the sweep needs 5 to {MAX_STEPS:,} steps, got {steps!r}"
    if bad:
        raise FaultError(Fault("config", bad, "change the setting and run the finder again"))


def _sweep(network: Network, cfg: TrainConfig, result: LRFindResult, stop: threading.Event,
           on_step: Any, on_data: Any, datasets: tuple | None, start_from: str | None) -> None:
    check_config(cfg)
    dev = pick_device(cfg.device)
    result.device = device_name(dev)
    prec = resolve_precision(cfg, dev, result.notes)
    seed_everything(cfg.seed)
    report = analyze(network, batch=cfg.batch_size, dtype=prec.analysis_dtype,
                     optimizer=cfg.optimizer, device="cuda" if dev.type == "cuda" else "cpu")
    in_shape, n_out, flatten = design_io(report)
    if datasets is not None:
        train, val, *rest = datasets
        info = rest[0] if rest else None
    else:
        train, val, info = load_data(start_loading(cfg.data, in_shape, stop, on_data),
                                     cfg.data.name)
    if stop.is_set():
        result.status, result.ended = "stopped", "stopped while the data set loaded"
        return
    check_data(train, val, info, in_shape, n_out)
    seed_everything(cfg.seed)  # the weights a run of these settings starts from
    model = build(network, report, start_from, result.notes).to(dev)
    gen = torch.Generator().manual_seed(cfg.seed)
    batches, _ = make_batches(train, cfg.batch_size, True, gen, dev, False, cfg.num_workers,
                              stop=stop)
    if len(batches) == 0:
        raise FaultError(Fault("data", "the training set gives no batch",
                               "choose a data set with samples"))
    opt = make_optimizer(replace(cfg, lr=result.start), model.parameters())
    scaler = make_grad_scaler() if prec.scaler else None
    model.train()
    ratio = math.log(result.end / result.start) / max(result.steps - 1, 1)
    avg, best, i, epoch = 0.0, math.inf, 0, 0
    result.ended = "reached the end of the range"
    while i < result.steps:
        epoch += 1
        if callable(getattr(train, "set_epoch", None)):
            train.set_epoch(epoch)
        for x, y in batches:
            lr = result.start * math.exp(ratio * i)
            for group in opt.param_groups:
                group["lr"] = lr
            try:
                loss = _step(model, opt, scaler, prec, dev, flatten, x, y)
            except Exception as e:  # noqa: BLE001
                raise step_fault("model", e, epoch, i + 1, "finding the learning rate",
                                 network, cfg, dev, result.device,
                                 prec.analysis_dtype) from None
            i += 1
            if not math.isfinite(loss):
                result.ended = f"the loss became {loss} at the learning rate {lr:.3g}"
                break
            avg = BETA * avg + (1 - BETA) * loss
            smooth = avg / (1 - BETA ** i)
            result.lrs.append(lr)
            result.losses.append(loss)
            result.smoothed.append(smooth)
            best = min(best, smooth)
            if on_step is not None:
                on_step(LRStep(i, result.steps, lr, loss, smooth))
            if smooth > EXPLODE * best:
                result.ended = (f"the loss exploded at the learning rate {lr:.3g} "
                                f"({smooth:.3g}, over {EXPLODE:g} × its lowest {best:.3g})")
                break
            if stop.is_set():
                result.status, result.ended = "stopped", f"stopped at batch {i}"
                return
            if i >= result.steps:
                break
        else:
            if stop.is_set():  # a batch being read was abandoned
                result.status, result.ended = "stopped", f"stopped at batch {i}"
                return
            continue
        break
    result.status = "finished"


def _step(model, opt, scaler, prec, dev, flatten: bool, x, y) -> float:
    opt.zero_grad(set_to_none=True)
    with prec.autocast(dev):
        out = model(x)
        if flatten:
            out = out.flatten(1)
        loss = F.cross_entropy(out.float(), y)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return float(loss.detach())


@contextmanager
def _random_state_kept(cuda: bool):
    """torch's (CPU, and CUDA's with `cuda`), numpy's and Python's generators as they were."""
    py, npy = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)
