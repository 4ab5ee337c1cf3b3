"""The learning-rate finder: its suggestion is close to the best of a grid of fixed learning rates
trained a few epochs each; it reports every batch, stops when told, leaves the caller's random
generators as they were, and says what is wrong with a bad range or a data set that does not fit
(designer/training/lr_find.py)."""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from designer.model import design_file
from designer.training.events import DataConfig, TrainConfig
from designer.training.lr_find import LRStep, find_lr, smooth_centred, suggest
from designer.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
LENET = ROOT / "presets" / "lenet5.convnet.json"


def synthetic(seed=0, train=2000, val=500, **kw) -> TrainConfig:
    return TrainConfig(data=DataConfig(train_size=train, val_size=val, augment=False, seed=seed),
                       device="cpu", seed=seed, **kw)


GRID = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


@pytest.fixture
def one_thread():
    """Small networks train faster on one torch thread than on two on the 2-core machine (and
    benchmarks/bench_lr_find.py measured on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("preset, batch", [(CIFAR, 32), (LENET, 32), (LENET, 64)],
                         ids=["cifar-batch32", "lenet5-batch32", "lenet5-batch64"])
def test_the_suggestion_is_within_3x_of_the_best_learning_rate_of_a_grid(preset, batch,
                                                                         one_thread):
    """The synthetic set (2,000 / 500), the default optimizer and schedule (Adam, one-cycle, whose
    peak the suggestion is for): a grid of five rates half a decade apart, 3 epochs each, seeds 0
    and 1; the best has the lowest mean validation loss. Measured (benchmarks/bench_lr_find.py,
    BENCHMARKS.md): the CIFAR-10 example at batch 32 suggests 0.015, the grid's best 0.01 (mean
    val loss 0.068; 0.03: 0.093); LeNet-5 0.018 at batch 32 (best 0.01: 0.103; 0.03: 0.183),
    0.022 at batch 64 (best 0.03: 0.247; 0.01: 0.394). The former rule (steepest descent of the
    lagging running average) gave 0.031, 0.0049 and 0.012. Not asserted: the CIFAR-10 example at
    batch 64 suggests 0.0059 where the grid's best is 0.03 (0.093; 0.01: 0.121), 5x: that
    sweep's loss rises from 0.007 on (seed 1's sweep suggests 0.018)."""
    net = design_file.load(preset).network
    found = find_lr(net, synthetic(batch_size=batch))
    assert found.status == "finished", found.fault
    assert found.suggestion is not None
    losses = {}
    for lr in GRID:
        runs = [Trainer(net, synthetic(seed, epochs=3, lr=lr, batch_size=batch)).run()
                for seed in (0, 1)]
        losses[lr] = np.mean([r.history[-1].val_loss if r.status == "finished" else math.inf
                              for r in runs])
    best = min(GRID, key=lambda lr: losses[lr])
    assert best / 3 <= found.suggestion <= best * 3, (found.suggestion, losses)
    # the curve: one point per batch, rates growing by the same factor, ended by the explosion
    lrs = np.array(found.lrs)
    assert lrs[0] == pytest.approx(1e-7) and len(lrs) == len(found.losses) == len(found.smoothed)
    assert np.allclose(lrs[1:] / lrs[:-1], (10 / 1e-7) ** (1 / 99))
    assert "exploded" in found.ended and len(lrs) < 100
    assert found.lrs[found.suggestion_index] == found.suggestion
    # one-cycle: at or past the lowest point of the lag-free curve, short of the explosion
    low = int(np.argmin(smooth_centred(found.losses)))
    assert low <= found.suggestion_index < len(lrs) - 1
    # a rate held from the start: the middle of the bottom, lower
    held = suggest(found.lrs, found.losses, "none")
    assert held is not None and held <= found.suggestion_index


def test_progress_stop_and_the_callers_random_state():
    net = design_file.load(LENET).network
    cfg = TrainConfig(data=DataConfig(train_size=640, val_size=64), device="cpu")
    stop = threading.Event()
    heard: list[LRStep] = []

    def on_step(step: LRStep) -> None:
        heard.append(step)
        if step.step == 12:
            stop.set()

    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(7)
    before = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    result = find_lr(net, cfg, start=1e-5, end=1.0, steps=50, stop=stop, on_step=on_step)
    assert result.status == "stopped" and result.fault is None
    assert [s.step for s in heard] == list(range(1, 13)) and all(s.steps == 50 for s in heard)
    assert result.lrs == [s.lr for s in heard] and result.smoothed[-1] == heard[-1].smoothed
    assert heard[0].lr == pytest.approx(1e-5) and result.ended == "stopped at batch 12"
    assert torch.equal(torch.get_rng_state(), before[0])
    assert random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])
    # set before it starts: stopped before any batch
    stop.set()
    again = find_lr(net, cfg, steps=50, stop=stop)
    assert again.status == "stopped" and len(again.lrs) <= 1


def test_it_is_deterministic_and_runs_past_one_epoch():
    net = design_file.load(CIFAR).network
    cfg = synthetic(train=256, val=64)  # 4 batches per epoch: 30 steps take 8 epochs
    a = find_lr(net, cfg, start=1e-5, end=1e-2, steps=30)
    b = find_lr(net, cfg, start=1e-5, end=1e-2, steps=30)
    assert a.status == "finished" and len(a.lrs) == 30 and a.ended == "reached the end of the range"
    assert a.losses == b.losses and a.suggestion == b.suggestion
    assert a.lrs[-1] == pytest.approx(1e-2)


@pytest.mark.parametrize("kw, words", [
    (dict(start=0.0), "the start learning rate must be a number above 0, got 0.0"),
    (dict(end=math.inf), "the end learning rate must be a number above 0, got inf"),
    (dict(start=1.0, end=0.1), "the end learning rate (0.1) must be above the start (1)"),
    (dict(steps=2), "the sweep needs 5 to 100,000 steps, got 2"),
])
def test_a_bad_range_is_a_config_fault(kw, words):
    result = find_lr(design_file.load(CIFAR).network, synthetic(), **kw)
    assert result.status == "failed" and result.fault.kind == "config"
    assert result.fault.message == words and result.lrs == []


def test_data_that_does_not_fit_the_design():
    lenet = design_file.load(LENET).network  # 32×32×1: the synthetic set made at its size fits
    x = torch.zeros(64, 3, 32, 32)
    y = torch.zeros(64, dtype=torch.long)
    data = torch.utils.data.TensorDataset(x, y)
    result = find_lr(lenet, synthetic(), datasets=(data, data, None))
    assert result.status == "failed" and result.fault.kind == "shape"
    assert "32×32×3" in result.fault.message and "32×32×1" in result.fault.message


def test_suggest_on_made_up_curves():
    lrs = list(np.geomspace(1e-6, 1, 241))
    x = np.log10(lrs)
    # a loss that falls from 2.3 to 0.3 around 1e-3, is lowest at 1e-1 and rises fast past it:
    # its bottom (within 20 % of the fall: up to 0.7) spans 5e-3 to 0.12
    curve = list(2.3 - 2 / (1 + np.exp(-(x + 3) * 2)) + np.where(x > -1, (x + 1) * 5, 0))
    top = suggest(lrs, curve)  # one-cycle: the highest rate of the bottom
    assert lrs[top] == pytest.approx(0.12, rel=0.2)
    middle = suggest(lrs, curve, "none")  # held from the start: the bottom's middle
    assert lrs[middle] == pytest.approx(0.025, rel=0.2)
    # noise does not move it: a lag-free average of 11 batches
    noisy = list(np.asarray(curve) + np.random.default_rng(0).normal(0, 0.2, 241))
    assert lrs[suggest(lrs, noisy)] == pytest.approx(0.12, rel=0.3)
    assert suggest(lrs, [2.3] * 241) is None  # flat: nothing learns
    assert suggest(lrs, list(np.linspace(2.3, 9, 241))) is None  # rises from the start
    assert suggest(lrs[:3], curve[:3]) is None
    # the lag-free average: a step in the losses stays where it is
    step = smooth_centred([1.0] * 20 + [0.0] * 20, half=2)
    assert step[17] == 1 and step[22] == 0 and step[19] == pytest.approx(0.6)
