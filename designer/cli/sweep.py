"""`python -m designer sweep FILE --trials N ...`: a design search on Optuna (training/sweep.py)
without a window. The search space on stderr first, then a line per trial (its value, or why it
was pruned: by the analysis before training, or by the pruner on its validation curve), the
running trial's progress bar; at the end the best trial's settings on stdout (`--json`: every
trial) and its design written as <stem>.best.convnet.json beside FILE.

It takes every data and training option of `train` (the same parser's options, and the same
config_from): they set the base settings each trial starts from, and a training knob whose option
is given (--lr, --batch, --weight-decay, --optimizer) is held at that value instead of searched.
Several processes (machines) running the same command on one --storage share the study.

Exit codes: 0 done, 1 no trial finished (all pruned or failed), 2 the design, an option or the
storage cannot be used (or Optuna / TensorBoard is missing: the line says what to install), 130
stopped with Ctrl+C (a second Ctrl+C kills). Importing this module imports neither torch nor
optuna; run() does.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from typing import Any

from .common import error

# the training knobs an option of `train` holds when it is given
HELD = {"lr": "lr", "batch": "batch_size", "weight_decay": "weight_decay",
        "optimizer": "optimizer"}
_NOT_FOR_SWEEP = {"resume"}  # options of `train` that a search has no use for


def add_parser(sub: Any) -> None:
    s = sub.add_parser("sweep", help="search design and training knobs with Optuna",
                       description="Search a design's knobs (width, kernel size, dropout, "
                                   "blocks per stage) and its training knobs (lr, batch, "
                                   "weight decay, optimizer) with Optuna; variants over the "
                                   "memory budget or the MACs cap are pruned before training.")
    s.add_argument("file", help="a .convnet.json design")
    s.add_argument("--trials", type=int, default=20,
                   help="trials in the study, counting those of every process that shares it "
                        "(default 20)")
    s.add_argument("--budget", default=None,
                   help="memory budget of one training step, e.g. 8GB: bigger variants are "
                        "pruned before training")
    s.add_argument("--max-macs", default=None,
                   help="MACs per image at most, e.g. 50M or 1.2G: bigger variants are pruned "
                        "before training")
    s.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                   help="stop trials early on their validation curve: median (below the median "
                        "of earlier trials), halving (successive halving), none")
    s.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna RDB storage URL (default: sqlite:///<design>.sweep.db beside "
                        "the design); processes on one URL share the study")
    s.add_argument("--study", default=None, help="study name (default: the design file's name)")
    s.add_argument("--sampler-seed", type=int, default=None,
                   help="seed of the sampler: the same trials again (one process)")
    s.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="TensorBoard logs in DIR, one subfolder per trial")
    s.add_argument("--json", action="store_true", help="print every trial as JSON")
    _train_options(s)


def _train_options(parser: argparse.ArgumentParser) -> None:
    """Every option of `train` this parser does not have itself (the data and training
    settings): taken from train's own parser, so the two never drift apart."""
    from . import train

    scratch = argparse.ArgumentParser(add_help=False).add_subparsers()
    train.add_parser(scratch)
    have = set(parser._option_string_actions)
    for action in scratch.choices["train"]._actions:
        if (not action.option_strings or action.dest in _NOT_FOR_SWEEP or action.dest == "help"
                or any(o in have for o in action.option_strings)):
            continue
        parser._add_action(action)


def parse_count(text: str) -> int:
    """'50M' -> 50,000,000; '1.2G', '300K', '2e9', '1500000' (K, M, G, T: powers of 1000)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kKmMgGtT]?)\s*", text)
    if not m:
        raise ValueError(f"{text!r} is not a count (e.g. 50M, 1.2G, 300000)")
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[
        m.group(2).lower()]
    if value < 1:
        raise ValueError(f"{text!r} is not a count larger than zero")
    return int(value)


def run(args: argparse.Namespace) -> int:
    from ..model.analysis import analyze
    from ..model.design_file import DesignFileError, load
    from ..model.units import parse_size
    from ..training.events import ConfigError
    from .train import config_from

    try:
        design = load(args.file)
    except DesignFileError as e:
        return error(str(e))
    first = analyze(design.network, fix_effects=False).first_error()
    if first is not None:
        return error(f"{args.file}: the design cannot be trained ({first})")
    saved = design.training.get("config") if isinstance(design.training, dict) else None
    try:
        cfg = config_from(args, saved or {})
    except ConfigError as e:
        return error(str(e))
    budget = max_macs = None
    try:
        budget = parse_size(args.budget) if args.budget is not None else None
    except ValueError as e:
        return error(f"--budget: {e}")
    try:
        max_macs = parse_count(args.max_macs) if args.max_macs is not None else None
    except ValueError as e:
        return error(f"--max-macs: {e}")
    if args.trials < 1:
        return error(f"--trials: expected a whole number ≥ 1, got {args.trials}")

    from ..training.sweep import Sweep, SweepConfig, SweepError
    from ..training.tensorboard import TensorBoardError, TensorBoardMissing

    held = tuple(knob for option, knob in HELD.items() if getattr(args, option) is not None)
    config = SweepConfig(trials=args.trials, budget=budget, max_macs=max_macs,
                         pruner=args.pruner, storage=args.storage, study=args.study,
                         sampler_seed=args.sampler_seed, fixed=held,
                         tensorboard=args.tensorboard)
    printer = _Printer(cfg.epochs)
    try:
        sweep = Sweep(design.network, cfg, config, design_path=args.file, callbacks=printer,
                      design=design)
        printer.message(f"sweep {sweep.study_name} in {sweep.storage_url}: {args.trials} "
                        f"trials, the search space:")
        for line in sweep.space().lines():
            printer.message(f"  {line}")
    except (SweepError, TensorBoardMissing, TensorBoardError) as e:
        return error(str(e))

    previous = None

    def interrupt(signum, frame):  # first Ctrl+C: stop after this batch; the second one kills
        sweep.stop()
        printer.message("stopping the sweep after this batch (Ctrl+C again to kill)")
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)

    try:
        previous = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread
        previous = None
    try:
        result = sweep.run()
    except (SweepError, TensorBoardMissing, TensorBoardError) as e:
        printer.bar.clear()
        return error(str(e))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    printer.bar.clear()
    if args.json:
        json.dump(_json(result), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    counts = {s: sum(1 for r in result.records if r.state == s)
              for s in ("complete", "pruned", "failed")}
    by_analysis = sum(1 for r in result.records if r.pruned_by == "analysis")
    summary = (f"{len(result.records)} trials in the study: {counts['complete']} finished, "
               f"{counts['pruned']} pruned ({by_analysis} by the analysis before training), "
               f"{counts['failed']} failed")
    if result.best is None:
        print(f"{summary}; no trial finished, so there is no best design", file=sys.stderr)
        return 130 if result.stopped else 1
    if not args.json:
        print(summary)
        print(f"best: {result.best.line()}")
        if result.best.config:
            print(f"its settings: {result.best.settings_text()}")
        if result.best_path is not None:
            print(f"best design written to {result.best_path} (with its settings: "
                  f"python -m designer train {result.best_path})")
    return 130 if result.stopped else 0


class _Printer:
    """The sweep's callbacks on stderr: a line per trial, the running trial's progress bar."""

    def __init__(self, epochs: int):
        from .train import ProgressBar

        self.bar = ProgressBar(sys.stderr, epochs, "")

    def message(self, text: str) -> None:
        self.bar.message(text)

    def on_trial_start(self, number: int, params: dict) -> None:
        self.bar.name = f"trial {number}"

    def on_trial_end(self, record) -> None:
        self.bar.message(record.line())

    def on_data(self, done: int, total: int | None, message: str) -> None:
        self.bar.on_data(done, total, message)

    def on_batch(self, event) -> None:
        self.bar.on_batch(event)


def _json(result) -> dict:
    from dataclasses import asdict

    from .train import _finite

    return _finite({"study": result.study, "storage": result.storage,
                    "best": asdict(result.best) if result.best else None,
                    "best_design": str(result.best_path) if result.best_path else None,
                    "stopped": result.stopped,
                    "trials": [asdict(r) for r in result.records]})
