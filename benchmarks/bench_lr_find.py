"""The learning-rate finder's suggestion against the best of a grid of learning rates trained a few
epochs each (issue 18): per preset and batch size, the sweep's curve (find_lr at the defaults
otherwise) and a grid of rates x seeds x schedules on the synthetic set, 3 epochs each; the
rules of tests/training/test_lr_find.py scored against the grid's best.

    python benchmarks/bench_lr_find.py [--out DIR] [--presets a,b] [--batches 32,64]
                                       [--schedules onecycle,none]

One torch thread (small networks train faster on one here). Writes DIR/curves.json and
DIR/grid.json (cached: a second run only scores), prints the table for BENCHMARKS.md ("div":
a run, or more, diverged; ✗: over 3x from the grid's best). About 25 minutes on 2 CPU cores,
mostly CONV-RELU-POOL x2's grid.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.model import design_file  # noqa: E402
from designer.training.events import DataConfig, TrainConfig  # noqa: E402
from designer.training.lr_find import find_lr, suggest  # noqa: E402
from designer.training.trainer import Trainer  # noqa: E402

PRESETS = {"cifar": "cifar10_example", "lenet": "lenet5", "crp2": "pattern_conv_relu_pool_x2"}
GRID = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
SEEDS = (0, 1)
EPOCHS = 3


def config(seed: int, batch: int, **kw) -> TrainConfig:
    return TrainConfig(data=DataConfig(train_size=2000, val_size=500, augment=False, seed=seed),
                       device="cpu", seed=seed, batch_size=batch, **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_lr_find")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--batches", default="32,64")
    ap.add_argument("--schedules", default="onecycle,none")
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    curves_f, grid_f = out / "curves.json", out / "grid.json"
    curves = json.loads(curves_f.read_text()) if curves_f.exists() else {}
    grid = json.loads(grid_f.read_text()) if grid_f.exists() else {}
    batches = [int(b) for b in a.batches.split(",")]
    for p in a.presets.split(","):
        net = design_file.load(ROOT / "presets" / f"{PRESETS[p]}.convnet.json").network
        for b in batches:
            for seed in SEEDS:
                key = f"{p}/{b}/{seed}"
                if key not in curves:
                    r = find_lr(net, config(seed, b))
                    curves[key] = {"lrs": r.lrs, "losses": r.losses, "smoothed": r.smoothed}
                    curves_f.write_text(json.dumps(curves))
            for s in a.schedules.split(","):
                for lr in GRID:
                    for seed in SEEDS:
                        key = f"{p}/{b}/{s}/{lr:g}/{seed}"
                        if key in grid:
                            continue
                        t = time.perf_counter()
                        r = Trainer(net, config(seed, b, epochs=EPOCHS, lr=lr, schedule=s)).run()
                        v = r.history[-1].val_loss if r.status == "finished" else math.inf
                        grid[key] = v if math.isfinite(v) else 1e9
                        grid_f.write_text(json.dumps(grid))
                        print(key, f"{grid[key]:.4f}", f"{time.perf_counter() - t:.1f}s",
                              file=sys.stderr, flush=True)
    print("| preset | batch | schedule | grid: mean val loss at "
          f"{', '.join(f'{g:g}' for g in GRID)} | best | suggestion, seeds 0 / 1 "
          "(the former rule's) |")
    print("|---|---|---|---|---|---|")
    for p in a.presets.split(","):
        for b in batches:
            for s in a.schedules.split(","):
                m = {lr: np.mean([grid[f"{p}/{b}/{s}/{lr:g}/{seed}"] for seed in SEEDS])
                     for lr in GRID}
                best = min(GRID, key=m.get)
                now, old = [], []
                for seed in SEEDS:
                    c = curves[f"{p}/{b}/{seed}"]
                    i, j = suggest(c["lrs"], c["losses"], s), former(c["lrs"], c["smoothed"])
                    for out, k in ((now, i), (old, j)):
                        x = c["lrs"][k] if k is not None else math.nan
                        out.append(f"{x:.2g}" + ("" if best / 3 <= x <= best * 3 else " ✗"))
                row = " ".join(f"{m[g]:.3f}" if m[g] < 1e8 else "div" for g in GRID)
                print(f"| {p} | {b} | {s} | {row} | "
                      f"{best:g} | {' / '.join(now)} ({' / '.join(old)}) |")


def former(lrs: list[float], smoothed: list[float]) -> int | None:
    """The rule before: the steepest descent of the running average (β 0.98, which lags the
    rate by up to 50 batches), between the first 5 % of the curve and its lowest point."""
    n = len(smoothed)
    if n < 5:
        return None
    y, x = np.asarray(smoothed), np.log(np.asarray(lrs))
    low = int(np.argmin(y))
    first = min(int(n * 0.05), max(low - 2, 0))
    if low - first < 2:
        return None
    slope = np.gradient(y[first:low + 1], x[first:low + 1])
    k = int(np.argmin(slope))
    return first + k if slope[k] < 0 else None

if __name__ == "__main__":
    main()
