"""`python -m designer train FILE ...`: the Trainer without a window. A progress line on stderr
(redrawn with \\r at most 10 times a second), a metrics line (or the RunResult as JSON) on stdout.

Exit codes: 0 finished, 1 the run failed (the fault's message and advice on stderr), 2 the design
file or an option is bad, 130 stopped with Ctrl+C (a second Ctrl+C kills). With --checkpoints a
Stop writes last.safetensors with the state at that moment; --resume CHECKPOINT continues a run
from it exactly (the design must be the one it trained; its settings hold, except how many
epochs, the device, the workers, channels_last, the data's folder and the checkpoint folder,
which is the checkpoint's own unless --checkpoints says otherwise).

Importing this module does not import torch; run() does.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..training.events import (
    DATASETS,
    DEVICES,
    MEMORY_FORMATS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    BatchEvent,
    ConfigError,
    EpochEvent,
    PhaseEvent,
    RunResult,
    StartEvent,
    TrainConfig,
)

REDRAW_S = 0.1


def add_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="train a design (no window): progress bar, metrics line",
                       description="Train a design on a data set without the window.")
    t.add_argument("file", help="a .convnet.json design")
    add_data_options(t)
    t.add_argument("--epochs", type=int, default=None)
    add_optimizer_options(t)
    t.add_argument("--lr", type=float, default=None, help="learning rate")
    t.add_argument("--schedule", choices=SCHEDULES, default=None)
    add_machine_options(t)
    t.add_argument("--channels-last", action="store_true", help="channels_last (CUDA only)")
    add_speed_options(t)
    t.add_argument("--checkpoints", default=None, metavar="DIR",
                   help="write last.safetensors (every epoch, and at a stop) and "
                        "best.safetensors into DIR: resumable checkpoints")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT",
                   help="continue the run of a checkpoint (last.safetensors) where it stopped; "
                        "its settings hold, --epochs may lengthen it")
    t.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write a TensorBoard log into DIR: losses, accuracies, lr, the model "
                        "graph, the first CONV's filters")
    t.add_argument("--json", action="store_true", help="print the run's result as JSON")


def add_data_options(p: argparse.ArgumentParser) -> None:
    """The data set's options (train and lr-find)."""
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="the data set (default: the design's saved setting, else synthetic)")
    p.add_argument("--data-path", default=None,
                   help="folder of the standard files, an image folder, or a .npz file")
    p.add_argument("--download", action="store_true",
                   help="download the standard files into the cache when they are missing")
    p.add_argument("--train-size", type=int, default=None, help="training samples (at most)")
    p.add_argument("--val-size", type=int, default=None, help="validation samples (at most)")
    p.add_argument("--crop-padding", type=int, default=None, metavar="PX",
                   help="augmentation: a random crop after PX pixels of zero padding (0: none; "
                        "default: the data set's standard recipe)")
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None,
                   help="augmentation: a random horizontal flip, or not (default: the data "
                        "set's standard recipe)")
    p.add_argument("--no-augment", action="store_true",
                   help="no random crops or flips (--crop-padding 0 --no-hflip)")


def add_optimizer_options(p: argparse.ArgumentParser) -> None:
    """The batch and the optimizer (train and lr-find)."""
    p.add_argument("--batch", type=int, default=None, help="batch size")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    p.add_argument("--momentum", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)


def add_machine_options(p: argparse.ArgumentParser) -> None:
    """Where and how precisely it runs, the seed, the loader's workers (train and lr-find)."""
    p.add_argument("--device", choices=DEVICES, default=None)
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="bf16 / fp16: mixed precision (autocast) on CUDA; bf16 also on CPUs")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workers", type=int, default=None, help="data loader worker processes")


def add_speed_options(p: argparse.ArgumentParser) -> None:
    """The fast settings (training/speed.py): each "auto" unless set."""
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the model (its compile time is shown; where it fails "
                        "the run goes on in eager mode and says why)")
    p.add_argument("--memory-format", choices=MEMORY_FORMATS, default=None,
                   help="auto: channels_last on CUDA for a CONV network")
    p.add_argument("--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=None,
                   help="let cuDNN time its algorithms (default: on, on CUDA)")
    p.add_argument("--data-on-device", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the data set on the GPU and augment it there (default: where "
                        "it takes at most 25%% of the free memory)")


# the option that sets each setting
OPTIONS = {"data.name": "--dataset", "data.path": "--data-path", "data.download": "--download",
           "data.train_size": "--train-size", "data.val_size": "--val-size",
           "data.augment": "--no-augment", "data.crop_padding": "--crop-padding",
           "data.hflip": "--hflip", "data.seed": "--seed", "epochs": "--epochs",
           "batch_size": "--batch", "optimizer": "--optimizer", "lr": "--lr",
           "momentum": "--momentum", "weight_decay": "--weight-decay", "schedule": "--schedule",
           "device": "--device", "precision": "--precision", "channels_last": "--channels-last",
           "memory_format": "--memory-format", "cudnn_benchmark": "--cudnn-benchmark",
           "compile": "--compile", "data_on_device": "--data-on-device", "seed": "--seed",
           "num_workers": "--workers", "checkpoint_dir": "--checkpoints"}


def config_from(args: argparse.Namespace, saved: dict[str, Any],
                where: str | None = None) -> TrainConfig:
    """The design's saved settings (or those of `where`, a checkpoint) with the options on top,
    every value checked. Raises ConfigError: `FILE: training.config.epochs: ...` for the file,
    `--lr: ...` for an option. What reaches the disk or the machine unseen (checkpoint folder,
    workers) is taken from the options only, never from the file."""
    try:
        values = TrainConfig.from_dict(saved, from_file=True).to_dict() if saved else \
            TrainConfig().to_dict()
    except ConfigError as e:
        raise ConfigError(f"{where}: config.{e}" if where else
                          f"{args.file}: training.config.{e}") from None
    d = values["data"]
    options = []
    arg = lambda name: getattr(args, name, None)  # lr-find has no --epochs, --lr, ...
    for key, attr, value in (("name", "--dataset", args.dataset),
                             ("path", "--data-path", args.data_path),
                             ("train_size", "--train-size", args.train_size),
                             ("val_size", "--val-size", args.val_size),
                             ("crop_padding", "--crop-padding", arg("crop_padding")),
                             ("hflip", "--hflip", arg("hflip")),
                             ("seed", "--seed", arg("seed"))):
        if value is not None:
            d[key] = value
            options.append(("data." + key, attr))
    if args.download:
        d["download"] = True
    if args.no_augment:
        if arg("crop_padding") or arg("hflip"):
            raise ConfigError("--no-augment: turns off the crop and the flip that "
                              "--crop-padding / --hflip turn on: give one or the other")
        d.pop("augment", None)  # a file's former switch: the options say it now
        d["crop_padding"], d["hflip"] = 0, False
        options += [("data.crop_padding", "--no-augment"), ("data.hflip", "--no-augment")]
    for key, attr, value in (("epochs", "--epochs", arg("epochs")),
                             ("batch_size", "--batch", arg("batch")),
                             ("optimizer", "--optimizer", arg("optimizer")),
                             ("lr", "--lr", arg("lr")),
                             ("momentum", "--momentum", arg("momentum")),
                             ("weight_decay", "--weight-decay", arg("weight_decay")),
                             ("schedule", "--schedule", arg("schedule")),
                             ("device", "--device", arg("device")),
                             ("precision", "--precision", arg("precision")),
                             ("memory_format", "--memory-format", arg("memory_format")),
                             ("cudnn_benchmark", "--cudnn-benchmark", arg("cudnn_benchmark")),
                             ("compile", "--compile", arg("compile")),
                             ("data_on_device", "--data-on-device", arg("data_on_device")),
                             ("seed", "--seed", arg("seed")),
                             ("num_workers", "--workers", arg("workers")),
                             ("checkpoint_dir", "--checkpoints", arg("checkpoints"))):
        if value is not None:
            values[key] = value
            options.append((key, attr))
    if arg("channels_last"):
        values["channels_last"] = True
    try:
        return TrainConfig.from_dict(values)
    except ConfigError as e:
        key, _, problem = str(e).partition(": ")
        option = dict(options).get(key)
        raise ConfigError(f"{option}: {problem}" if option else str(e)) from None


def run(args: argparse.Namespace) -> int:
    from ..model.analysis import analyze
    from ..model.design_file import DesignFileError, load

    try:
        design = load(args.file)
    except DesignFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = analyze(design.network)
    first = report.first_error()
    if first is not None:
        print(f"error: {args.file}: the design cannot be trained ({first})", file=sys.stderr)
        return 2
    saved = design.training.get("config") if isinstance(design.training, dict) else None
    try:
        cfg = config_from(args, saved or {})
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.resume:
        cfg = resume_config(args, design)
        if cfg is None:
            return 2

    from ..training.trainer import Trainer

    bar = ProgressBar(sys.stderr, cfg.epochs, design.network.name or args.file)
    callbacks: Any = bar
    if args.tensorboard:
        from ..training import tensorboard as tb

        try:
            callbacks = tb.Tee(bar, tb.TensorBoardCallbacks(args.tensorboard))
        except (tb.TensorBoardMissing, tb.TensorBoardError) as e:
            print(f"error: --tensorboard: {e}", file=sys.stderr)
            return 2
    trainer = Trainer(design.network, cfg, callbacks, resume=args.resume)
    if args.tensorboard:
        callbacks.targets[1].attach(trainer)  # the graph and the filters are of its model
    previous = None

    def interrupt(signum, frame):  # first Ctrl+C: stop cleanly; the second one kills
        stopping = trainer.stop()
        said = stopping.text() if stopping is not None and stopping.long else \
            "stopping after this batch"
        bar.message(f"{said} (Ctrl+C again to kill)")
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)

    try:
        previous = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread
        previous = None
    try:
        result = trainer.run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        json.dump(_finite(result.to_dict()), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    if result.status == "failed":
        f = result.fault
        print(f"error: {f.message}\nadvice: {f.advice}", file=sys.stderr)
        return 1
    if not args.json:
        print(metrics_line(result))
    return 0 if result.status == "finished" else 130


def resume_config(args: argparse.Namespace, design: Any) -> TrainConfig | None:
    """The settings to resume `args.resume` with: the checkpoint's, the options on top, its
    folder for the checkpoints unless --checkpoints; None (the error printed) when the
    checkpoint cannot be read or does not continue this design with these options."""
    from ..model.design_file import Design, DesignFileError, loads, to_dict
    from ..training import runs

    where = args.resume

    def error(text: str) -> None:
        print(f"error: {text}", file=sys.stderr)

    try:
        info = runs.read_info(where)
        old = info["config"]
        theirs = to_dict(loads(info["design_file"], f"{where}: its design"))
        done, epoch, step = info["epochs_done"], info["epoch"], info["step"]
    except (runs.CheckpointError, DesignFileError) as e:
        return error(str(e))
    except (KeyError, TypeError) as e:
        return error(f"{where}: the checkpoint lacks {e}")
    diff = runs.design_difference(theirs, to_dict(Design(design.network)))
    if diff:
        return error(f"{args.file}: not the design the checkpoint {where} trained: {diff}")
    try:
        cfg = config_from(args, old, where)
    except ConfigError as e:
        return error(str(e))
    if args.checkpoints is None:
        cfg.checkpoint_dir = str(Path(where).resolve().parent)
    conflicts = runs.config_conflicts(old, cfg.to_dict())
    if conflicts:
        key, then, now = conflicts[0]
        free = ", ".join(OPTIONS[k] for k in runs.RESUME_FREE)
        return error(f"{OPTIONS.get(key, key)}: a resumed run keeps the settings it was trained "
                     f"with ({key} {json.dumps(then)} in {where}, {json.dumps(now)} here); only "
                     f"{free} may change")
    problem = runs.resume_problem(theirs, theirs, old, cfg.to_dict(), done, epoch, step)  # the
    # design was compared above: the epochs and the schedule's length are what is left
    if problem:
        return error(f"cannot resume {where}: {problem[0]}: {problem[1]}")
    return cfg


def metrics_line(result: RunResult) -> str:
    """'finished 5 epochs in 41.2 s on CPU (2 threads): val accuracy 93.1%, val loss 0.21, train
    loss 0.18'."""
    n = result.epochs_done
    head = (f"{result.status} {'after ' if result.status != 'finished' else ''}{n} "
            f"epoch{'s' if n != 1 else ''} in {result.seconds:.1f} s on {result.device}")
    if not result.history:
        return head
    last = result.history[-1]
    parts = [f"val accuracy {_pct(last.val_accuracy)}", f"val loss {last.val_loss:.3g}",
             f"train loss {last.train_loss:.3g}"]
    if result.best_val_accuracy is not None and result.best_val_accuracy != last.val_accuracy:
        parts.append(f"best val accuracy {_pct(result.best_val_accuracy)}")
    if result.peak_bytes is not None:
        parts.append(f"peak memory {result.peak_bytes / 2**20:.1f} MiB")
    if result.utilisation is not None:  # a GPU whose peak is known
        parts.append("model" + speed_text(result))
    if result.compile_s is not None:
        parts.append(f"compiling {result.compile_s:.1f} s")
    return f"{head}: {', '.join(parts)}"


class ProgressBar:
    """Trainer callbacks that draw one progress line on a text stream."""

    def __init__(self, stream: TextIO, epochs: int, name: str, width: int = 24):
        self.stream, self.epochs, self.name, self.width = stream, epochs, name, width
        self._last_draw = 0.0
        self._shown = 0  # characters on the current line

    def _line(self, text: str) -> None:
        pad = max(self._shown - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._shown = len(text)

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0

    def message(self, text: str) -> None:
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def on_data(self, done: int, total: int | None, message: str) -> None:
        now = time.monotonic()
        if now - self._last_draw >= REDRAW_S or (total and done >= total):
            self._last_draw = now
            amount = f"{done / 2**20:.1f}" + (f"/{total / 2**20:.1f}" if total else "")
            self._line(f"{message} {amount} MiB")

    def on_start(self, e: StartEvent) -> None:
        mem = (f", estimated memory {e.estimated_bytes / 2**20:.1f} MiB"
               if e.estimated_bytes else "")
        self.message(f"training {self.name} on {e.device}: {e.train_samples} training / "
                     f"{e.val_samples} validation image{'s' if e.val_samples != 1 else ''}, "
                     f"{e.classes} class{'es' if e.classes != 1 else ''}, "
                     f"{e.steps_per_epoch} batch{'es' if e.steps_per_epoch != 1 else ''} per "
                     f"epoch{mem}")
        for note in e.notes:
            self.message(f"note: {note}")

    def on_batch(self, e: BatchEvent) -> None:
        now = time.monotonic()
        if now - self._last_draw < REDRAW_S and e.step != e.steps:
            return
        self._last_draw = now
        done = int(self.width * e.step / max(e.steps, 1))
        bar = "#" * done + "." * (self.width - done)
        acc = "" if math.isnan(e.accuracy) else f" acc {e.accuracy:.1%}"
        loss = "" if math.isnan(e.loss) else f" loss {e.loss:.3f}"
        self._line(f"epoch {e.epoch}/{self.epochs} [{bar}] {e.step}/{e.steps}{loss}{acc} "
                   f"{e.images_per_s:,.0f} img/s{speed_text(e)} ETA {_clock(e.eta_s)}")

    def on_phase(self, e: PhaseEvent) -> None:
        if e.done:
            self.message(f"{e.text()}: {e.note}" if e.note else e.text())
        else:
            self._line(e.text())

    def on_epoch(self, e: EpochEvent) -> None:
        self.message(f"epoch {e.epoch}/{self.epochs}: train loss {e.train_loss:.3f} acc "
                     f"{_pct(e.train_accuracy)}, val loss {e.val_loss:.3f} acc "
                     f"{_pct(e.val_accuracy)}, lr {e.lr:.3g} ({e.seconds:.1f} s)")

    def on_end(self, result: RunResult) -> None:
        self.clear()


def speed_text(e: Any) -> str:
    """' 41.2 TFLOP/s (12% of peak)' for a BatchEvent (or a RunResult); '' before a rate."""
    flops = getattr(e, "model_flops_per_s", None)
    if not flops:
        return ""
    util = getattr(e, "utilisation", None)
    peak = f" ({util:.0%} of peak)" if util is not None else ""
    return f" {flops / 1e12:.3g} TFLOP/s{peak}" if flops >= 1e11 else \
        f" {flops / 1e9:.3g} GFLOP/s{peak}"


def _pct(v: float) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v:.1%}"


def _clock(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
