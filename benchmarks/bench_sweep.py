"""The sweep's overhead per trial: `designer sweep` (training/sweep.py: Sweep.run) against a bare
Optuna loop that trains the same models with the same Trainer settings, in the same process.

Both studies get the same trials, enqueued (study.enqueue_trial), so both train the very same
variants (the design's knobs applied with model/knobs.py, the same TrainConfig, the data loaded
once per study); both keep their study in SQLite, as `designer sweep` does by default, and
report the validation accuracy at every epoch. What the sweep adds is measured: the search
space, the analysis of every variant before it trains (budget and MACs checks), the trial's
records (user attributes), heartbeats, the pruner's bookkeeping and writing the best design.

    python benchmarks/bench_sweep.py [--trials 6] [--rounds 3] [--epochs 2] [--train-size 256]
        [--design cifar10_example]

Per trial: the time from one trial's end to the next one's (Optuna's callback after each
trial, which `designer sweep` also hears), so the sampler, the storage's writes, the analysis
and the training all count; the first trial (setup) is left out, and so are the once-per-study
costs (loading the data, writing the best design: printed for information). The two loops
alternate, round after round; each trial's time is the best over the rounds (a busy machine
only ever adds time), and the ratio is the sum of the sweep's over the bare loop's (target
≤ 1.05). The median of the rounds' ratios is printed too.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402

from designer.model import design_file  # noqa: E402
from designer.model.analysis import analyze  # noqa: E402
from designer.model.knobs import apply_knobs, design_knobs  # noqa: E402
from designer.training.checks import design_io  # noqa: E402
from designer.training.datasets import load_datasets  # noqa: E402
from designer.training.events import DataConfig, TrainConfig  # noqa: E402
from designer.training.sweep import Sweep, SweepConfig  # noqa: E402
from designer.training.trainer import Trainer  # noqa: E402

TARGET = 1.05
PARAMS = [  # within any budget, trained to the end (no pruner): the same work in both loops
    {"width": 0.5, "kernel": 3, "lr": 0.01, "batch_size": 32, "weight_decay": 1e-4,
     "optimizer": "momentum"},
    {"width": 1.0, "kernel": 5, "lr": 0.003, "batch_size": 64, "weight_decay": 1e-5,
     "optimizer": "adam"},
    {"width": 1.5, "kernel": 3, "lr": 0.02, "batch_size": 32, "weight_decay": 1e-3,
     "optimizer": "nesterov"},
    {"width": 0.75, "kernel": 7, "lr": 0.001, "batch_size": 64, "weight_decay": 1e-6,
     "optimizer": "adamw"},
]


def bare_loop(network, base: TrainConfig, url: str, params: list[dict]) -> tuple[float, list]:
    """A plain Optuna study training each enqueued variant with the Trainer: (seconds, the
    times at each trial's end)."""
    t = time.perf_counter()
    ends: list[float] = []
    datasets = load_datasets(base.data, design_io(analyze(network, fix_effects=False))[0])
    knobs = design_knobs(network)
    names = set(knobs.names())
    study = optuna.create_study(storage=url, study_name="bare", direction="maximize")
    for p in params:
        study.enqueue_trial(p)

    def objective(trial):
        values = {"width": trial.suggest_categorical("width", [0.25, 0.5, 0.75, 1.0, 1.5, 2.0,
                                                               3.0, 4.0]),
                  "kernel": trial.suggest_categorical("kernel", [3, 5, 7]),
                  "lr": trial.suggest_float("lr", 1e-4, 0.1, log=True),
                  "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128, 256]),
                  "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
                  "optimizer": trial.suggest_categorical("optimizer", ["momentum", "nesterov",
                                                                       "adam", "adamw"])}
        net = apply_knobs(network, {k: v for k, v in values.items() if k in names}, knobs)
        cfg = TrainConfig(**{**base.__dict__, **{k: v for k, v in values.items()
                                                 if k not in names}})

        class Report:
            def on_epoch(self, e):
                trial.report(e.val_accuracy, e.epoch)
                trial.should_prune()  # a pruner asked, as any loop with one does

        result = Trainer(net, cfg, Report(), datasets=datasets).run()
        return result.best_val_accuracy

    study.optimize(objective, n_trials=len(params),
                   callbacks=[lambda study, trial: ends.append(time.perf_counter())])
    return time.perf_counter() - t, ends


class Ends:
    def __init__(self):
        self.ends: list[float] = []

    def on_trial_end(self, record):
        self.ends.append(time.perf_counter())


def sweep_loop(path: Path, base: TrainConfig, url: str, params: list[dict]) -> tuple[float, list]:
    """`designer sweep`'s engine on the same enqueued variants: (seconds, trials' end times)."""
    t = time.perf_counter()
    heard = Ends()
    d = design_file.load(path)
    optuna.create_study(storage=url, study_name="sweep", direction="maximize")
    study = optuna.load_study(study_name="sweep", storage=url)
    for p in params:
        study.enqueue_trial(p)
    sweep = Sweep(d.network, base, SweepConfig(trials=len(params), budget=1 << 40,
                                               max_macs=1 << 40, pruner="none", storage=url,
                                               study="sweep"),
                  design_path=path, design=d, callbacks=heard)
    result = sweep.run()
    assert [r.state for r in result.records] == ["complete"] * len(params), \
        [r.line() for r in result.records]
    return time.perf_counter() - t, heard.ends


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="cifar10_example")
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-size", type=int, default=256)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    params = [PARAMS[i % len(PARAMS)] for i in range(args.trials)]
    base = TrainConfig(data=DataConfig("synthetic", train_size=args.train_size,
                                       val_size=args.train_size // 2),
                       epochs=args.epochs, device="cpu")
    src = Path(args.design)
    if not src.exists():
        src = ROOT / "presets" / f"{args.design}.convnet.json"
    import torch

    print(f"{src.name}: {args.trials} trials × {args.epochs} epochs on {args.train_size} "
          f"synthetic images, CPU ({torch.get_num_threads()} threads), torch {torch.__version__}"
          f", optuna {optuna.__version__}")
    n = args.trials - 1  # trial 0's time holds the study's setup
    best = {"bare": [math.inf] * n, "sweep": [math.inf] * n}
    whole = {"bare": [], "sweep": []}
    ratios = []
    for r in range(args.rounds + 1):  # round 0 warms up (imports, allocator, first builds)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "net.convnet.json"
            shutil.copy(src, path)
            first, second = ("bare", "sweep") if r % 2 == 0 else ("sweep", "bare")
            took = {}
            for which in (first, second):
                url = f"sqlite:///{Path(tmp) / (which + '.db')}"
                took[which] = (bare_loop(design_file.load(path).network, base, url, params)
                               if which == "bare" else sweep_loop(path, base, url, params))
        if r == 0:
            continue
        per = {}
        for which, (total, ends) in took.items():
            per[which] = [b - a for a, b in zip(ends, ends[1:])]
            best[which] = [min(x, y) for x, y in zip(best[which], per[which])]
            whole[which].append(total)
        b, s = sum(per["bare"]) / n, sum(per["sweep"]) / n
        ratios.append(s / b)
        print(f"round {r}: bare {b * 1e3:.0f} ms/trial, sweep {s * 1e3:.0f} ms/trial, "
              f"ratio {s / b:.3f}; whole studies {took['bare'][0]:.1f} s / "
              f"{took['sweep'][0]:.1f} s")
    b, s = sum(best["bare"]) / n, sum(best["sweep"]) / n
    ratio = s / b
    print(f"best per trial over {args.rounds} rounds: bare Optuna loop {b * 1e3:.0f} ms/trial, "
          f"designer sweep {s * 1e3:.0f} ms/trial: overhead {(s - b) * 1e3:+.0f} ms/trial, "
          f"ratio sweep / bare {ratio:.3f} (target ≤ {TARGET}); median of the rounds' ratios "
          f"{statistics.median(ratios):.3f}; whole studies (median) "
          f"{statistics.median(whole['bare']):.1f} s / {statistics.median(whole['sweep']):.1f} s")
    return 0 if math.isfinite(ratio) and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
