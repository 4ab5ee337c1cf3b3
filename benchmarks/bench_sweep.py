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
costs (loading the data, writing the best design: printed for information). Of each trial's
time, the Trainer's run (RunResult.seconds) is the same work in both loops and the rest is the
loop's own: the overhead per trial is the sweep's rest less the bare loop's (each trial's rest
the best over the rounds: on a shared machine a busy moment only ever adds time, and it moves
the training's seconds by far more than the overhead). The ratio is (bare trial + overhead) /
bare trial, with the bare loop's median trial (target ≤ 1.05); the ratio of the measured trial
times, sweep / bare (the median of the rounds), is printed beside it. The loops alternate.
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


def bare_loop(network, base: TrainConfig, url: str, params: list[dict]) -> tuple:
    """A plain Optuna study training each enqueued variant with the Trainer: (seconds, the
    times at each trial's end, each Trainer run's seconds)."""
    t = time.perf_counter()
    ends: list[float] = []
    trained: list[float] = []
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
        trained.append(result.seconds)
        return result.best_val_accuracy

    study.optimize(objective, n_trials=len(params),
                   callbacks=[lambda study, trial: ends.append(time.perf_counter())])
    return time.perf_counter() - t, ends, trained


class Ends:
    def __init__(self):
        self.ends: list[float] = []

    def on_trial_end(self, record):
        self.ends.append(time.perf_counter())


def sweep_loop(path: Path, base: TrainConfig, url: str, params: list[dict]) -> tuple:
    """`designer sweep`'s engine on the same enqueued variants: (seconds, the times at each
    trial's end, each Trainer run's seconds)."""
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
    return time.perf_counter() - t, heard.ends, [r.seconds for r in result.records]


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
    rest = {"bare": [math.inf] * n, "sweep": [math.inf] * n}  # a trial's time less its run's
    trial_s = {"bare": [], "sweep": []}
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
        for which, (total, ends, trained) in took.items():
            per[which] = [b - a for a, b in zip(ends, ends[1:])]
            rest[which] = [min(x, t - s) for x, t, s in zip(rest[which], per[which],
                                                            trained[1:])]
            trial_s[which].append(sum(per[which]) / n)
            whole[which].append(total)
        b, s = trial_s["bare"][-1], trial_s["sweep"][-1]
        ratios.append(s / b)
        print(f"round {r}: bare {b * 1e3:.0f} ms/trial, sweep {s * 1e3:.0f} ms/trial "
              f"(ratio {s / b:.3f}); outside the Trainer's run: bare "
              f"{sum(rest['bare']) / n * 1e3:.1f} ms, sweep {sum(rest['sweep']) / n * 1e3:.1f} "
              f"ms (best so far)")
    bare_trial = statistics.median(trial_s["bare"])
    overhead = (sum(rest["sweep"]) - sum(rest["bare"])) / n
    ratio = (bare_trial + overhead) / bare_trial
    print(f"bare Optuna loop: {bare_trial * 1e3:.0f} ms/trial (median), of which "
          f"{sum(rest['bare']) / n * 1e3:.1f} ms outside the Trainer's run; designer sweep: "
          f"{sum(rest['sweep']) / n * 1e3:.1f} ms outside it")
    print(f"overhead {overhead * 1e3:+.1f} ms/trial: ratio sweep / bare {ratio:.3f} "
          f"(target ≤ {TARGET}); measured trial times sweep / bare, median of the rounds "
          f"{statistics.median(ratios):.3f}; whole studies (median) "
          f"{statistics.median(whole['bare']):.1f} s / {statistics.median(whole['sweep']):.1f} s")
    return 0 if math.isfinite(ratio) and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
