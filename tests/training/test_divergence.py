"""A run whose loss runs away stops with a "diverged" fault that names the loss and the learning
rate and says to lower it (the Trainer and `train`, exit 1); a healthy run, noisy as its loss is,
is never stopped. The rules themselves (designer/training/divergence.py) on made-up readings."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from designer.cli import main
from designer.model import design_file
from designer.training.divergence import RISING_WINDOWS, DivergenceWatch
from designer.training.events import DataConfig, TrainConfig
from designer.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"


def feed(watch: DivergenceWatch, losses, batches: int = 1):
    """The first Diverged the watch answers, with its index, or None."""
    for i, loss in enumerate(losses):
        gone = watch.add(loss, batches)
        if gone is not None:
            return i, gone
    return None


def healthy(steps: int, start=2.3, end=0.05, noise=0.35, seed=0):
    """A falling loss with the noise of small batches, and a few wild batches."""
    rng = random.Random(seed)
    out = []
    for i in range(steps):
        mean = end + (start - end) * math.exp(-i / (steps / 6))
        loss = mean * math.exp(rng.gauss(0, noise))
        if rng.random() < 0.01:
            loss *= 6  # a wild batch
        out.append(loss)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_a_healthy_noisy_run_is_never_stopped(seed):
    assert feed(DivergenceWatch(10, 25), healthy(250, seed=seed)) is None
    # read in bunches (on an accelerator several batches come in one reading)
    losses = healthy(400, seed=seed)
    bunches = [sum(losses[i:i + 4]) / 4 for i in range(0, 400, 4)]
    assert feed(DivergenceWatch(10, 100), bunches, batches=4) is None


def test_a_plateau_and_a_fine_tune_are_not_divergence():
    rng = random.Random(1)
    plateau = [2.3 * math.exp(rng.gauss(0, 0.05)) for _ in range(300)]  # learns nothing
    assert feed(DivergenceWatch(10, 20), plateau) is None
    # from trained weights: a low start, floored at ln(10), so a jump to 1.5 is no runaway
    fine = [0.02, 0.03, 0.5, 1.5, 0.4, 0.1, 0.05] + [0.05] * 50
    assert feed(DivergenceWatch(10, 20), fine) is None
    assert feed(DivergenceWatch(10, 20), [2.3, math.nan, math.inf, 2.2]) is None


def test_far_above_the_start_stops_at_once_but_one_wild_batch_does_not():
    i, gone = feed(DivergenceWatch(10, 25), [2.3, 1e7, 1e7])
    assert i == 1 and gone.value == 1e7 and gone.start == pytest.approx(math.log(10))
    assert gone.why == "over 10 times where it started (2.3)"
    assert feed(DivergenceWatch(10, 25), [2.3, 2.2, 30.0, 2.0, 1.9] + [1.8] * 30) is None
    # a loss that climbs to 10x ln(10) and stays there is stopped within a few batches
    i, gone = feed(DivergenceWatch(10, 1000), [2.3] * 3 + [40.0] * 10)
    assert 3 <= i <= 8 and "times where it started" in gone.why


def test_a_loss_rising_check_after_check_stops():
    window = 6  # 25 steps per epoch: a quarter, floored at 5
    watch = DivergenceWatch(10, 25)
    assert watch.window == window
    rising = [1.0] * window + [v for k in range(RISING_WINDOWS) for v in [1.0 + 0.3 * (k + 1)]
                               * window]
    i, gone = feed(watch, rising)
    assert i == len(rising) - 1  # at the end of the last rising window
    assert gone.value == pytest.approx(1.0 + 0.3 * RISING_WINDOWS)
    assert f"rising for {RISING_WINDOWS} checks in a row" in gone.why and "from 1" in gone.why
    # rising but by little (noise around a plateau that creeps up): not stopped
    creep = [v for k in range(10) for v in [1.0 + 0.01 * k] * window]
    assert feed(DivergenceWatch(10, 25), creep) is None


def test_lr_1e6_on_the_synthetic_set_stops_with_the_diverged_fault():
    net = design_file.load(CIFAR).network
    for optimizer, schedule in (("sgd", "none"), ("momentum", "cosine"), ("adam", "onecycle")):
        cfg = TrainConfig(data=DataConfig(train_size=256, val_size=64), epochs=3, batch_size=32,
                          optimizer=optimizer, lr=1e6, device="cpu", schedule=schedule)
        result = Trainer(net, cfg).run()
        assert result.status == "failed" and result.fault.kind == "diverged", result.fault
        assert result.epochs_done == 0  # stopped in the first epoch, not "finished"
        f = result.fault
        assert "training loss rose to" in f.message and "learning rate" in f.message
        assert "from 1e+06 to" in f.advice  # the setting, whatever the schedule made of it
        assert "epoch 1, batch 2" in f.message
        assert "lower the learning rate" in f.advice and "lr-find" in f.advice


def test_a_normal_run_is_not_stopped():
    net = design_file.load(CIFAR).network
    cfg = TrainConfig(data=DataConfig(train_size=512, val_size=128), epochs=3, batch_size=32,
                      device="cpu")
    result = Trainer(net, cfg).run()
    assert result.status == "finished", result.fault
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_cli_train_exits_1_with_the_message(capsys):
    code = main(["train", str(CIFAR), "--lr", "1e6", "--epochs", "2", "--train-size", "128",
                 "--val-size", "32", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "error: the training loss rose to" in err and "(set to 1e+06, onecycle schedule)" in err
    assert "training diverged" in err and "advice: lower the learning rate" in err
