"""`python -m designer lr-find FILE ...`: the learning-rate range test (training/lr_find.py) on the
design's data and settings, without the window. A progress line on stderr; on stdout the curve
(the smoothed loss against the learning rate, as a plot of text) and the suggested learning rate
with the `train` option that uses it, or (--json) the whole result.

Exit codes: 0 done, 1 the sweep failed (the fault's message and advice on stderr), 2 the design
file or an option is bad, 130 stopped with Ctrl+C (what was swept is still shown).

Importing this module does not import torch; run() does.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from typing import Any

from ..training.events import ConfigError
from .train import (
    ProgressBar,
    _finite,
    add_data_options,
    add_machine_options,
    add_optimizer_options,
    config_from,
)

PLOT_WIDTH, PLOT_HEIGHT = 64, 14


def add_parser(sub: Any) -> None:
    p = sub.add_parser("lr-find", help="suggest a learning rate: the learning-rate range test",
                       description="Train a fresh copy of the design for a few batches while "
                                   "the learning rate grows exponentially from --start to "
                                   "--end; show the loss against the rate and suggest a "
                                   "rate from the bottom of the curve (its highest for the "
                                   "one-cycle schedule, its middle for the others).")
    p.add_argument("file", help="a .convnet.json design")
    add_data_options(p)
    add_optimizer_options(p)
    add_machine_options(p)
    p.add_argument("--start", type=float, default=1e-7, help="first learning rate (1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last learning rate (10)")
    p.add_argument("--steps", type=int, default=100,
                   help="batches of the sweep (100; it ends early when the loss explodes)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from ..model.analysis import analyze
    from ..model.design_file import DesignFileError, load

    try:
        design = load(args.file)
    except DesignFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    first = analyze(design.network).first_error()
    if first is not None:
        print(f"error: {args.file}: the design cannot be trained ({first})", file=sys.stderr)
        return 2
    saved = design.training.get("config") if isinstance(design.training, dict) else None
    try:
        cfg = config_from(args, saved or {})
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    problem = range_problem(args.start, args.end, args.steps)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from ..training.lr_find import find_lr

    name = design.network.name or args.file
    bar = SweepBar(sys.stderr, args.steps, name)
    stop = threading.Event()
    previous = None

    def interrupt(signum, frame):  # first Ctrl+C: stop after this batch; the second one kills
        stop.set()
        bar.message("stopping after this batch (Ctrl+C again to kill)")
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)

    try:
        previous = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread
        previous = None
    try:
        result = find_lr(design.network, cfg, start=args.start, end=args.end, steps=args.steps,
                         stop=stop, on_step=bar.on_step, on_data=bar.on_data)
    finally:
        bar.clear()
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
        print(report(result, name, cfg, train_command(args)))
    return 0 if result.status == "finished" else 130


def range_problem(start: float, end: float, steps: int) -> str | None:
    """What is wrong with the sweep's options, naming the option; None when they are usable."""
    for option, v in (("--start", start), ("--end", end)):
        if not (math.isfinite(v) and v > 0):
            return f"{option}: expected a learning rate above 0, got {v:g}"
    if end <= start:
        return f"--end: expected a learning rate above --start ({start:g}), got {end:g}"
    if not 5 <= steps <= 100_000:
        return f"--steps: expected a whole number from 5 to 100,000, got {steps}"
    return None


def train_command(args: argparse.Namespace) -> str:
    """`python -m designer train FILE` with the options of this command that train shares."""
    import shlex

    words = ["python", "-m", "designer", "train", args.file]
    for option, value in (("--dataset", args.dataset), ("--data-path", args.data_path),
                          ("--train-size", args.train_size), ("--val-size", args.val_size),
                          ("--crop-padding", args.crop_padding),
                          ("--batch", args.batch), ("--optimizer", args.optimizer),
                          ("--momentum", args.momentum), ("--weight-decay", args.weight_decay),
                          ("--device", args.device), ("--precision", args.precision),
                          ("--seed", args.seed), ("--workers", args.workers)):
        if value is not None:
            words += [option, str(value)]
    words += [flag for flag, on in (("--download", args.download),
                                    ("--hflip", args.hflip is True),
                                    ("--no-hflip", args.hflip is False),
                                    ("--no-augment", args.no_augment)) if on]
    return shlex.join(words)


def report(result: Any, name: str, cfg: Any, command: str) -> str:
    """The sweep in words and as a plot, and the suggestion with the option that applies it."""
    head = (f"learning-rate finder: {name} on {result.device}, {cfg.optimizer}, batch "
            f"{cfg.batch_size}: {len(result.lrs)} of {result.steps} batches from "
            f"{result.start:.3g} to {result.end:.3g}")
    lines = [head, *plot(result.lrs, result.centred or result.smoothed,
                         result.suggestion_index), ""]
    lines.append(f"ended: {result.ended}" if result.ended else "ended")
    lines += [f"note: {n}" for n in result.notes]
    if result.suggestion is None:
        lines.append("no suggestion: the loss did not fall clearly in this range")
    else:
        lines.append(f"suggested learning rate: {result.suggestion:.2g} ({result.method}; the "
                     f"loss was lowest at {result.min_lr:.2g})")
        lines.append(f"train with it: {command} --lr {result.suggestion:.2g}")
    return "\n".join(lines)


def plot(lrs: list[float], losses: list[float], mark: int | None,
         width: int = PLOT_WIDTH, height: int = PLOT_HEIGHT) -> list[str]:
    """The smoothed loss against log(lr) as rows of text: '*' the curve, '|' the suggestion.
    The loss axis runs from the lowest loss to the highest before it (the explosion after it is
    cut off)."""
    if len(lrs) < 2:
        return ["(too few batches to plot)"]
    x0, x1 = math.log10(lrs[0]), math.log10(lrs[-1])
    low = min(range(len(losses)), key=losses.__getitem__)
    lo = losses[low]
    hi = max(losses[:low + 1])  # the descent whole; of the rise after it, what stays below
    if hi <= lo * 1.01:  # the lowest point comes first: the rise up to 1.5 × it
        hi = min(max(losses), lo * 1.5)
    hi = max(hi, lo * 1.001 + 1e-9)
    grid = [[" "] * width for _ in range(height)]
    col = lambda lr: min(int((math.log10(lr) - x0) / (x1 - x0) * (width - 1) + 0.5), width - 1)
    if mark is not None:
        for r in range(height):
            grid[r][col(lrs[mark])] = "|"
    for lr, loss in zip(lrs, losses):
        if loss > hi:
            continue
        row = int((hi - loss) / (hi - lo) * (height - 1) + 0.5)
        grid[row][col(lr)] = "*"
    label = [f"{hi:8.3g} ", *([" " * 9] * (height - 2)), f"{lo:8.3g} "]
    rows = [label[r] + "".join(grid[r]).rstrip() for r in range(height)]
    left, right = f"{lrs[0]:.0e}", f"{lrs[-1]:.0e}"
    axis = " " * 9 + left + " " * max(width - len(left) - len(right), 1) + right
    title = " " * 9 + "smoothed loss against the learning rate (log scale)" + (
        f"; | suggested {lrs[mark]:.2g}" if mark is not None else "")
    return [title, *rows, " " * 9 + "-" * width, axis]


class SweepBar(ProgressBar):
    """A progress line for the sweep (and the data set's load, as `train` shows it)."""

    def __init__(self, stream, steps: int, name: str):
        super().__init__(stream, 1, name)
        self.steps = steps

    def on_step(self, e: Any) -> None:
        now = time.monotonic()
        if now - self._last_draw < 0.1 and e.step != e.steps:
            return
        self._last_draw = now
        done = int(self.width * e.step / max(e.steps, 1))
        bar = "#" * done + "." * (self.width - done)
        self._line(f"lr-find [{bar}] {e.step}/{e.steps} lr {e.lr:.2e} loss {e.smoothed:.3f}")
