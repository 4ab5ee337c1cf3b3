"""Trainer: trains a design on a data set, in the caller's thread, reporting through plain
callbacks. TORCH, no Qt.

    trainer = Trainer(network, TrainConfig(epochs=5), callbacks)
    result = trainer.run()          # blocks; never raises for a fault (result.fault says why)
    trainer.stop() / pause() / resume()   # from any thread

The hot loop does what a lean hand-written loop does (forward, loss, backward, step, loss and
accuracy accumulated on the device) and reads the device's numbers only every SYNC_S seconds on
an accelerator (every batch on the CPU, where reading costs nothing). Every on_batch therefore
carries the loss and accuracy measured at the latest read: the mean over the batches since the
read before it (the first batch of every epoch is always read).

For a caller in another thread (the window's TrainWorker):
- stop(), pause(), resume() only set threading.Events: call them from any thread, at any time.
  Stop ends the run after the current batch (training or validation), also while paused, and
  leaves a batch being read or the data set's load (at its next progress report, ≤ 3 s); pause
  holds between batches; the time spent paused is left out of elapsed_s, images/s and the ETA.
  stop() answers a StoppingEvent (what is left of the step in progress: its text() for Stop).
- checkpoint_dir: last.safetensors at every epoch's end and at Stop (the state then: its epoch
  and step), best.safetensors at the best validation accuracy: resumable (training/runs.py);
  Trainer(..., resume=PATH) continues the run exactly (on the CPU, bit for bit).
- callbacks run in run()'s thread, synchronously: a slow callback slows training. on_end is
  called exactly once, also after a fault; on_start only when the run got as far as training.
  Optional extra: on_data(done, total, message) while a data set downloads.
- probes (designer/training/probes.py): where callbacks.probe_request() returns a ProbeRequest,
  the validation pass also collects each sample's prediction, and at the end of every epoch
  (after the checkpoints, before on_epoch) the model is probed in this thread — feature maps of
  one sample, the first CONV's filters, the confusion matrix — and callbacks.on_probe(report)
  gets it. request_probe() (any thread) asks for one between two batches, also while paused.
  A probe leaves the run exactly as it was (modes, RNG, gradients); a failed probe is a report
  with `error` set, never a fault. `prober` keeps the model and validation split afterwards.
- peak_bytes (CUDA only) is the peak of a steady training step: torch.cuda.max_memory_allocated
  from the end of the first step (cuDNN's autotuning trials left out), less what stays allocated
  but is not the design's (cuBLAS's workspaces, a data set copied to the GPU whole). It is the
  figure the analysis's PyTorch estimate (designer/model/peak.py) predicts.
- speed (speed.py, compiling.py, placing.py): "auto" settings per device, a resident data set,
  torch.compile (its first steps a "compiling" phase: on_phase; eager with the reason where it
  fails), model FLOP/s and utilisation on each on_batch; the notes carry the settings line.
- a loss that runs away (training/divergence.py: 10× where it started, or rising check after
  check) ends the run as a "diverged" fault; a NaN or infinite one as "nan_loss".
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..model import design_file
from ..model.analysis import analyze
from ..model.network import Network
from . import runs
from .batches import Abandonable, skip_batches
from .checks import check_config, check_data, class_names, design_io
from .compiling import Compiled, speed_record
from .defaults import settings_note
from .divergence import DivergenceWatch
from .events import (
    BatchEvent,
    EpochEvent,
    Fault,
    ProbeRequest,
    RunResult,
    StartEvent,
    StoppingEvent,
    TrainConfig,
)
from .placing import placed_batches
from .prepare import build, checkpoint_fault, load_data, start_loading, step_fault
from .probes import Collector, Prober, ProbeReport
from .runtime import (
    FaultError,
    capability,
    design_bytes,
    device_name,
    diverged_fault,
    is_oom,
    make_grad_scaler,
    make_optimizer,
    make_scheduler,
    nan_fault,
    oom_fault,
    pick_device,
    resolve_precision,
    seed_everything,
)
from .speed import peak_flops, resolve_speed, utilisation

__all__ = ["SYNC_S", "Trainer"]

SYNC_S = 0.05  # on an accelerator, read loss / accuracy from the device at most 20× a second
_PAUSE_POLL_S = 0.1
_RATE_WINDOW_S = 2.0  # images/s: averaged over about this long


class Trainer:
    """Trains `network` as `config` says. One run per Trainer.

    datasets: optional (train, val, info) to use instead of loading config.data (tests,
    benchmarks); info may be None (classes are then counted from the labels).
    callbacks: any object with some of on_start / on_batch / on_epoch / on_end; they are called
    in the thread that runs run().
    resume: a checkpoint (last/best.safetensors) of a run of this design to continue.
    start_from: a checkpoint (or any safetensors file of runs.py's format) whose model weights
    the run starts from instead of fresh ones: a new run, with its own settings (fine-tuning,
    training a trained version further). Ignored when resuming.
    After run(), `model` is the trained module (on `device`) and `result` the RunResult.
    """

    def __init__(self, network: Network, config: TrainConfig | None = None,
                 callbacks: Any = None, datasets: tuple | None = None,
                 resume: str | os.PathLike[str] | None = None,
                 start_from: str | os.PathLike[str] | None = None):
        self.network = network
        self.start_from = start_from
        self.config = config if config is not None else TrainConfig()
        self.callbacks = callbacks
        self._datasets = datasets
        self.resume_from = resume
        # when the step in progress began, how long the latest step took (for stop())
        self._step_t0 = self._step_s = None
        self._where = (0, 0, 0, "training")  # epoch, step in progress, steps, phase
        self._loading: Abandonable | None = None  # the data set's load
        self.model: nn.Module | None = None
        self.device: torch.device | None = None
        self.info: Any = None
        self.result: RunResult | None = None
        self._stop = threading.Event()
        self._go = threading.Event()  # cleared while paused
        self._go.set()
        self._started = False
        self._probe_now = threading.Event()
        self.prober: Prober | None = None  # made at the first probe (see probe_request)

    # -- control: safe from any thread, before, during or after run() -------------------------

    def stop(self) -> StoppingEvent | None:
        """End the run after the current batch (also while paused); run() returns 'stopped'.
        Answers how long the step in progress takes still (None before the first step)."""
        self._stop.set()
        self._go.set()
        t0, took, loading = self._step_t0, self._step_s, self._loading
        if loading is not None and self.model is None:  # the data set is still loading
            return StoppingEvent(0, 0, 0, "loading", loading.left_s(), loading.interval)
        if t0 is None or took is None or self.result is not None:
            return None
        epoch, step, steps, phase = self._where
        left = max(took - (time.perf_counter() - t0), 0.0)
        return StoppingEvent(epoch, step, steps, phase, left, took)

    def pause(self) -> None:
        """Hold the run between batches until resume() or stop()."""
        if not self._stop.is_set():
            self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def request_probe(self) -> None:
        """Probe after the current batch (or now, while paused), where callbacks want probes."""
        self._probe_now.set()

    @property
    def paused(self) -> bool:
        return not self._go.is_set() and not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Train; block until finished, stopped or failed. Faults come back in the result."""
        if self._started:
            raise RuntimeError("a Trainer runs once: make a new one for another run")
        self._started = True
        t0 = time.perf_counter()
        self._notes: list[str] = []
        self._history: list[EpochEvent] = []
        self._best: float | None = None
        self._peak: int | None = None
        self._base = 0  # allocated bytes that are not the design's (left out of the peak)
        self._dname = ""
        self._gs = self._gs0 = self._seen = 0  # steps, of them resumed, images seen
        self._speed: dict = {}
        self._compiled: Compiled | None = None
        self._flops = self._util = None  # model FLOP/s at the latest read, over the peak
        fault: Fault | None = None
        try:
            status = self._run()
        except FaultError as e:
            status, fault = "failed", e.fault
        except runs.ResumeError as e:  # the checkpoint to resume does not continue this run
            status, fault = "failed", Fault("resume", str(e), e.advice)
        except KeyboardInterrupt:
            self._stop.set()  # what runs on in the background (a data set's load) ends too
            status = "stopped"
            fault = Fault("interrupted", "training was interrupted",
                          "resume it from last.safetensors (if checkpoints are on): the state "
                          "at the end of the last finished epoch")
        except Exception as e:  # noqa: BLE001 - a run never takes the app down
            status = "failed"
            fault = Fault("internal", f"unexpected {type(e).__name__}: {e}",
                          "this looks like a bug in ConvNet Designer: please report it with "
                          "the details", traceback.format_exc())
        self._release(fault)
        result = RunResult(
            status=status, epochs_done=len(self._history), history=list(self._history),
            fault=fault, best_val_accuracy=self._best, seconds=time.perf_counter() - t0,
            device=self._dname, peak_bytes=self._peak, config=self.config.to_dict(),
            notes=list(self._notes), speed=speed_record(self._speed, self._compiled),
            compile_s=self._compiled.seconds if self._compiled is not None else None,
            model_flops_per_s=self._flops, utilisation=self._util)
        self.result = result
        if self.prober is not None:
            n = result.epochs_done
            self.prober.weights = (f"after epoch {n}, the end of training" if status == "finished"
                                   else f"as the run {status} ({n} epoch(s) done)")
        cb = getattr(self.callbacks, "on_end", None)
        if cb is not None:
            cb(result)
        return result

    def _run(self) -> str:
        cfg = self.config
        check_config(self.config)
        state = self._open_resume() if self.resume_from is not None else None
        dev = self.device = pick_device(cfg.device)
        self._dname = device_name(dev)
        conv = any(n.type == "Conv2d" for n in self.network.nodes.values())
        speed = resolve_speed(cfg, dev.type, capability(dev), conv)
        prec = self._prec = resolve_precision(cfg, dev, self._notes, want=speed.precision)
        speed.precision = prec.name  # what runs (fp16 asked on the CPU runs as fp32)
        why = settings_note(cfg)  # what the optimizer, rate and schedule are, and why
        if why:
            self._notes.append(why)
        seed_everything(cfg.seed)

        report = analyze(self.network, batch=cfg.batch_size, dtype=prec.analysis_dtype,
                         optimizer=cfg.optimizer,
                         device="cuda" if dev.type == "cuda" else "cpu")
        in_shape, n_out, self._flatten = design_io(report)
        train, val, info = self._load_data(in_shape)
        self.info = info
        if self._stop.is_set():
            return "stopped"
        note = getattr(info, "note", "")
        if note:
            self._notes.append(f"{getattr(info, 'name', 'data')}: {note}")
        classes = check_data(train, val, info, in_shape, n_out)
        self._val_data, self._report, self._classes = val, report, classes

        seed_everything(cfg.seed)  # the same weights whatever loading the data drew
        model = build(self.network, report, self.start_from if state is None else None,
                      self._notes)
        cuda = dev.type == "cuda"
        cl = speed.channels_last
        if cuda:
            torch.backends.cudnn.benchmark = speed.cudnn_benchmark
        try:
            model = model.to(dev, memory_format=torch.channels_last) if cl else model.to(dev)
            self.model = model
            gen = torch.Generator().manual_seed(cfg.seed)  # the batch order
            self._train_batches, self._val_batches, self._resident = placed_batches(
                train, val, cfg, dev, cl, gen, self._stop, self._notes)
            self._base = self._resident
        except Exception as e:
            if is_oom(e):
                raise FaultError(oom_fault(self.network, cfg, dev, self._dname,
                                           prec.analysis_dtype, "copying the model")) from None
            raise
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        # the module each step calls: the model, or its compiled form (the same parameters)
        self._compiled = Compiled(model, dev, cfg.compile,
                                  getattr(self.callbacks, "on_phase", None), self._notes)
        speed.compile = self._compiled.active
        self._speed = speed.record(data_on_device=bool(self._resident))
        self._notes.append(speed.line())
        self._macs = report.totals.macs
        self._peak_flops = peak_flops(self._dname, prec.name) if cuda else None
        self._opt = make_optimizer(cfg, model.parameters())
        steps = self._steps = len(self._train_batches)
        self._sched, self._per_step = make_scheduler(cfg, self._opt, steps)
        self._watch = DivergenceWatch(classes, steps)
        self._scaler = make_grad_scaler() if prec.scaler else None
        if cfg.checkpoint_dir:
            self._ckpt = Path(cfg.checkpoint_dir)
            try:
                self._ckpt.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise FaultError(checkpoint_fault(self._ckpt, e)) from None
        else:
            self._ckpt = None
        self._meta = {"design": self.network.name, "input_shape": list(in_shape),
                      "classes": class_names(info, classes), "config": cfg.to_dict(),
                      "torch": str(torch.__version__),
                      # what the inputs were normalised with (None: the caller's own datasets,
                      # not known here); the exported code's from_checkpoint() reads it
                      "normalization": None if getattr(info, "mean", None) is None else {
                          "mean": [float(v) for v in info.mean],
                          "std": [float(v) for v in info.std], "uint8_divisor": 255,
                          "rule": "x = images / 255 for uint8 images (0..255), float images "
                                  "as they are; then (x - mean) / std per channel"},
                      "design_file": design_file.dumps(design_file.Design(self.network)),
                      "train_samples": len(train), "val_samples": len(val)}
        start, skip, sums = (1, 0, None) if state is None else \
            self._restore(state, gen, len(train))

        cb = getattr(self.callbacks, "on_start", None)
        if cb is not None:
            cb(StartEvent(device=self._dname, train_samples=len(train), val_samples=len(val),
                          steps_per_epoch=steps, classes=classes,
                          estimated_bytes=report.pytorch.total, notes=list(self._notes)))

        self._paused_s = 0.0
        self._window: deque = deque()
        self._last = (math.nan, math.nan)
        self._rate = 0.0
        self._t_train = time.perf_counter()
        on_epoch = getattr(self.callbacks, "on_epoch", None)
        if state is not None:
            runs.restore_rng(state["rng"])  # last: nothing before the loop draws from them now
        for epoch in range(start, cfg.epochs + 1):
            lr = self._opt.param_groups[0]["lr"]
            t_epoch = time.perf_counter()
            for ds in (train, val):
                if callable(getattr(ds, "set_epoch", None)):
                    ds.set_epoch(epoch)
            self._order = gen.get_state()  # this epoch's order: made again on resuming
            skip_batches(self._train_batches, skip)
            train_stats = self._train_epoch(epoch, skip, sums)
            skip, sums = 0, None
            if train_stats is None:
                self._checkpoint(epoch)
                return "stopped"
            probe = self._probe_request()
            collector = Collector() if probe is not None and probe.evaluation else None
            val_stats = self._validate(epoch, collector)
            if val_stats is None:
                self._checkpoint(epoch)
                return "stopped"
            if self._per_step:  # one-cycle: the rate the epoch ended with
                lr = self._opt.param_groups[0]["lr"]
            elif self._sched is not None:
                self._sched.step()
            event = EpochEvent(epoch=epoch, train_loss=train_stats[0],
                               train_accuracy=train_stats[1], val_loss=val_stats[0],
                               val_accuracy=val_stats[1], lr=lr,
                               seconds=time.perf_counter() - t_epoch)
            self._history.append(event)
            self._measure_peak()
            figures = {"train_loss": event.train_loss, "train_accuracy": event.train_accuracy,
                       "val_loss": _num(event.val_loss), "val_accuracy": _num(event.val_accuracy)}
            improved = self._best is None or (not math.isnan(event.val_accuracy)
                                               and event.val_accuracy > self._best)
            if improved:
                self._best = event.val_accuracy if not math.isnan(event.val_accuracy) else None
            self._checkpoint(epoch, figures, best=improved, order=gen.get_state())
            if probe is not None:
                self._send_probe(probe, epoch, None, collector)
            if on_epoch is not None:
                on_epoch(event)
            if self._stop.is_set():
                return "stopped"
        return "finished"

    # -- the hot loop --------------------------------------------------------------------------

    def _train_step(self, x: torch.Tensor, y: torch.Tensor):
        """One optimisation step; returns (logits, loss)."""
        opt = self._opt
        opt.zero_grad(set_to_none=True)
        with self._prec.autocast(self.device):
            out = self._compiled.nets["training"](x)
            if self._flatten:
                out = out.flatten(1)
            loss = F.cross_entropy(out, y)
        scaler = self._scaler
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        return out, loss

    def _train_epoch(self, epoch: int, start: int = 0,
                     sums: dict | None = None) -> tuple[float, float] | None:
        """Train one epoch: (mean loss, accuracy), or None when stopped. `start` batches of it
        are done already, `sums` (a checkpoint's) their loss sum, correct count and images.
        self._sums: (step, loss sum, correct, images) as it returns."""
        model, dev, steps = self.model, self.device, self._steps
        model.train()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        seen = 0
        if sums is not None:
            loss_sum, correct = sums["loss"].to(dev), sums["correct"].to(dev)
            seen = int(sums["seen"])
        read_loss, read_correct, read_step, read_seen = (loss_sum.item(), correct.item(), start,
                                                         seen)
        sync_s = 0.0 if dev.type == "cpu" else SYNC_S
        sched = self._sched if self._per_step else None
        on_batch = getattr(self.callbacks, "on_batch", None)
        stop, go, step_fn = self._stop, self._go, self._train_step
        probe_now = self._probe_now
        param_groups = self._opt.param_groups
        window = self._window
        window.clear()
        total_steps = steps * self.config.epochs
        step = start
        last_sync = self._step_t0 = time.perf_counter()
        self._where = (epoch, start + 1, steps, "training")
        compiled = self._compiled
        compiling = compiled.pending["training"]
        for step, x, y in self._batches(self._train_batches, epoch, "training", start):
            try:
                if compiling:
                    compiling = False
                    out, loss = compiled.first("training", step_fn, x, y)
                    last_sync = time.perf_counter()  # the compile's time: out of the rate
                else:
                    out, loss = step_fn(x, y)
                loss_sum += loss.detach()
                correct += (out.argmax(1) == y).sum()
            except Exception as e:  # noqa: BLE001
                raise self._fault("model", e, epoch, step, "training the model") from None
            lr = param_groups[0]["lr"]  # the rate this batch used
            if sched is not None:
                sched.step()
            seen += y.shape[0]
            self._gs += 1
            if self._gs == self._gs0 + 1 and dev.type == "cuda":
                # The peak of a steady step, as the analysis estimates it: the first step's
                # one-off cuDNN autotuning trials are left out, and so is what is allocated for
                # good but is not the design's (cuBLAS workspaces, a resident data set).
                own = design_bytes(model, self._opt) + x.nbytes + y.nbytes
                self._base = torch.cuda.memory_allocated(dev) - own
                torch.cuda.reset_peak_memory_stats(dev)
            now = time.perf_counter()
            self._step_s, self._step_t0 = now - self._step_t0, now
            self._where = (epoch, step + 1, steps, "training")
            if now - last_sync >= sync_s or step == start + 1 or step == steps:
                last_sync = now
                lsum, csum = loss_sum.item(), correct.item()
                if not math.isfinite(lsum):
                    raise FaultError(nan_fault(lsum, epoch, step, lr, self._prec.name))
                n = step - read_step
                self._last = ((lsum - read_loss) / n, (csum - read_correct) / (seen - read_seen))
                gone = self._watch.add(self._last[0], n)
                if gone is not None:
                    raise FaultError(diverged_fault(gone.value, gone.start, gone.why, epoch, step,
                                                    lr, self.config))
                read_loss, read_correct, read_step, read_seen = lsum, csum, step, seen
                window.append((now - self._paused_s, self._seen + seen))
                while len(window) > 2 and window[-1][0] - window[1][0] >= _RATE_WINDOW_S:
                    window.popleft()
                if len(window) > 1:
                    self._rate = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
                    self._flops, self._util = utilisation(self._macs, self._rate,
                                                          self._peak_flops)
                if dev.type == "cuda":
                    self._measure_peak()
            if on_batch is not None:
                active = now - self._t_train - self._paused_s
                gs = self._gs
                stepping = max(active - (compiled.seconds or 0.0), 0.0)
                on_batch(BatchEvent(
                    epoch=epoch, step=step, steps=steps, global_step=gs, loss=self._last[0],
                    accuracy=self._last[1], lr=lr, images_per_s=self._rate,
                    elapsed_s=active, eta_s=stepping / (gs - self._gs0) * (total_steps - gs),
                    peak_bytes=self._peak, model_flops_per_s=self._flops,
                    utilisation=self._util))
            if stop.is_set():
                break
            if probe_now.is_set():
                self._probe_between(epoch, step)
            if not go.is_set():
                self._wait_paused(epoch, step)
                last_sync = self._step_t0 = time.perf_counter()
                if stop.is_set():
                    break
        self._sums = (step, loss_sum, correct, seen)
        if stop.is_set():
            return None  # also while a batch was being read (that read is abandoned)
        self._seen += seen
        if step == 0:
            return math.nan, math.nan
        lsum, csum = loss_sum.item(), correct.item()
        if not math.isfinite(lsum):
            raise FaultError(nan_fault(lsum, epoch, step, param_groups[0]["lr"],
                                       self._prec.name))
        return lsum / step, csum / seen

    def _validate(self, epoch: int,
                  collector: Collector | None = None) -> tuple[float, float] | None:
        """(mean loss, accuracy) on the validation set in eval mode, or None when stopped.
        A collector also gets every batch's labels and outputs (for the confusion matrix)."""
        model, dev = self.model, self.device
        model.eval()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        n = 0
        stop, steps = self._stop, len(self._val_batches)
        self._step_t0 = time.perf_counter()
        self._where = (epoch, 1, steps, "validation")
        compiled, full = self._compiled, self.config.batch_size
        nets = compiled.nets

        def forward(x: torch.Tensor) -> torch.Tensor:  # a smaller last batch: eagerly
            net = nets["validation"] if x.shape[0] == full else model
            with self._prec.autocast(dev):
                out = net(x)
                return out.flatten(1) if self._flatten else out

        with torch.no_grad():
            for step, x, y in self._batches(self._val_batches, epoch, "validation"):
                try:
                    if compiled.pending["validation"] and x.shape[0] == full:
                        out = compiled.first("validation", forward, x)
                    else:
                        out = forward(x)
                    loss_sum += F.cross_entropy(out.float(), y, reduction="sum")
                    correct += (out.argmax(1) == y).sum()
                    if collector is not None:
                        collector.add(y, out)
                except Exception as e:  # noqa: BLE001
                    raise self._fault("model", e, epoch, step, "validating the model") from None
                n += y.shape[0]
                now = time.perf_counter()
                self._step_s, self._step_t0 = now - self._step_t0, now
                self._where = (epoch, step + 1, steps, "validation")
                if stop.is_set():
                    return None
                if not self._go.is_set():
                    self._wait_paused()
                    self._step_t0 = time.perf_counter()
                    if stop.is_set():
                        return None
        if stop.is_set():
            return None  # the read of a batch was abandoned
        if n == 0:
            return math.nan, math.nan
        return loss_sum.item() / n, correct.item() / n

    def _batches(self, batches, epoch: int, which: str, start: int = 0):
        """(step, x, y) for each batch, steps from start + 1; a batch that fails to load is a
        "data" fault at its step."""
        it = iter(batches)
        step = start
        while True:
            try:
                x, y = next(it)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001
                raise self._fault("data", e, epoch, step + 1,
                                  f"loading the {which} data") from None
            step += 1
            yield step, x, y

    def _wait_paused(self, epoch: int | None = None, step: int | None = None) -> None:
        t = time.perf_counter()
        while not self._go.wait(_PAUSE_POLL_S):
            if self._stop.is_set():
                break
            if epoch is not None and self._probe_now.is_set():
                self._probe_between(epoch, step)
        self._paused_s += time.perf_counter() - t
        self._window.clear()

    def _measure_peak(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            self._peak = torch.cuda.max_memory_allocated(self.device) - self._base

    # -- probes --------------------------------------------------------------------------------

    def _probe_request(self) -> ProbeRequest | None:
        ask = getattr(self.callbacks, "probe_request", None)
        if ask is None or getattr(self.callbacks, "on_probe", None) is None:
            return None
        return ask()

    def _probe_between(self, epoch: int, step: int | None) -> None:
        self._probe_now.clear()
        request = self._probe_request()
        if request is not None:
            self._send_probe(request, epoch, step, None)

    def _send_probe(self, request: ProbeRequest, epoch: int, step: int | None,
                    collector: Collector | None) -> None:
        """Probe the model as it is now and hand the report to callbacks.on_probe."""
        try:
            if self.prober is None:
                self.prober = Prober(self.model, self.network, self._val_data, self.info,
                                     self._report, self._classes)
            prober = self.prober
            prober.weights = (f"after epoch {epoch}" if step is None
                              else f"epoch {epoch}, batch {step}")
            evaluation = collector.evaluation(prober.class_names) if collector else None
            report = prober.probe(request, epoch, step, evaluation)
        except Exception as e:  # noqa: BLE001 - a probe never ends a run
            if self.device is not None and self.device.type == "cuda" and is_oom(e):
                torch.cuda.empty_cache()
            report = ProbeReport(None, epoch=epoch, step=step,
                                 error=f"{type(e).__name__}: {e}".strip())
        self.callbacks.on_probe(report)

    # -- setup ---------------------------------------------------------------------------------

    def _load_data(self, in_shape: tuple[int, ...]):
        if self._datasets is not None:
            train, val, *rest = self._datasets
            return train, val, (rest[0] if rest else None)
        self._loading = start_loading(self.config.data, in_shape, self._stop,  # Stop need not
                                      getattr(self.callbacks, "on_data", None))  # wait for it
        return load_data(self._loading, self.config.data.name)

    # -- endings -------------------------------------------------------------------------------

    def _fault(self, kind: str, error: BaseException, epoch: int, step: int,
               doing: str) -> FaultError:
        """An exception from the data or the model, as a FaultError (out of memory wins)."""
        return step_fault(kind, error, epoch, step, doing, self.network, self.config,
                          self.device, self._dname, self._prec.analysis_dtype)

    def _checkpoint(self, epoch: int, figures: dict | None = None, best: bool = False,
                    order: torch.Tensor | None = None) -> None:
        """last.safetensors (and best.safetensors) with the run's state now: at the end of
        `epoch` (`figures` its results, `order` the next epoch's), or stopped in it."""
        if self._ckpt is None or self.model is None:
            return
        step, loss, correct, seen = self._sums
        meta = {**self._meta, "epoch": epoch, "step": step, "steps_per_epoch": self._steps,
                "epochs_done": len(self._history), "global_step": self._gs,
                "images_seen": self._seen, "best_val_accuracy": self._best,
                "history": [asdict(e) for e in self._history], **(figures or {})}
        sums = None if figures is not None else {"loss": loss, "correct": correct, "seen": seen}
        state = runs.training_state(self.model, self._opt, self._sched, self._scaler,
                                    self.device, self._order if order is None else order,
                                    sums, meta)
        path = self._ckpt / runs.FILES[0]
        try:
            runs.write_checkpoint(path, state, also=(self._ckpt / runs.FILES[1],) if best else ())
        except (OSError, runs.CheckpointError) as e:
            raise FaultError(checkpoint_fault(path, e)) from None

    def _open_resume(self) -> dict:
        """The checkpoint to resume, read and checked against this design and these settings."""
        read_design = lambda text: design_file.to_dict(design_file.loads(text, "the checkpoint"))
        return runs.open_resume(self.resume_from, self.config.to_dict(),
                                design_file.to_dict(design_file.Design(self.network)), read_design)

    def _restore(self, state: dict, gen: torch.Generator, samples: int):
        """The checkpoint's state put into the run: (first epoch, its batches done, sums)."""
        runs.restore_training(state, self.model, self._opt, self._sched, self._scaler, gen,
                              samples, self._steps)
        meta = state["meta"]
        self._history = [EpochEvent(**e) for e in meta["history"]]
        self._best = meta["best_val_accuracy"]
        self._gs = self._gs0 = int(meta["global_step"])
        self._seen = int(meta["images_seen"])
        done, epoch, step = meta["epochs_done"], meta["epoch"], meta["step"]
        partial = epoch == done + 1
        self._notes.append(f"resumed from {self.resume_from}: " + (
            f"epoch {epoch} after batch {step}" if partial else f"after epoch {done}"))
        return done + 1, (step if partial else 0), (state["sums"] if partial else None)

    def _release(self, fault: Fault | None) -> None:
        """Let go of what the run held on the device (all of it after out-of-memory)."""
        for name in ("_opt", "_sched", "_scaler", "_train_batches", "_val_batches"):
            if hasattr(self, name):
                setattr(self, name, None)
        if self.model is not None:
            self.model.zero_grad(set_to_none=True)
        if self.device is not None and self.device.type == "cuda":
            if fault is not None and fault.kind == "out_of_memory" and self.model is not None:
                self.model.to("cpu")
            gc.collect()
            torch.cuda.empty_cache()


def _num(v: float) -> float | None:
    return None if math.isnan(v) else v

