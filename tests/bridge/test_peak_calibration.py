"""The analysis's training-step peak against what an H100 really allocated.

tests/bridge/data/h100_step_peaks.json holds torch.cuda.max_memory_allocated during one training
step (after two warm-up steps) and the bytes autograd saved, for the case studies × batch sizes
× fp32 / bf16 / fp16 autocast × SGD / Adam × cudnn.benchmark, as measured on an NVIDIA H100 by
benchmarks/gpu_memory_timeline.py (which writes the op-by-op timeline the model was fitted to).
The analysis is pure Python, so these checks run anywhere.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from designer.model import design_file
from designer.model.analysis import analyze

ROOT = Path(__file__).resolve().parents[2]
DATA = json.loads((Path(__file__).parent / "data" / "h100_step_peaks.json").read_text())
ROWS = [dict(zip(DATA["columns"], row)) for row in DATA["rows"]]
TOLERANCE = 0.10
# LeNet-5 under autocast: cuDNN takes 4–9 MiB of scratch space for the weight gradient of its
# first CONV (one input channel, 5×5), most of a 6–12 MiB step; no rule of the volumes predicts
# it (the other first CONVs take about their output's size in fp32, which the model uses).
KNOWN_MISSES = {("lenet5", "bf16"), ("lenet5", "fp16")}


@cache
def network(name: str):
    return design_file.load(ROOT / "presets" / f"{name}.convnet.json").network


def estimate(row: dict):
    return analyze(network(row["design"]), batch=row["batch"], dtype=row["precision"],
                   optimizer=row["optimizer"], device="cuda")


def error(row: dict) -> float:
    return (estimate(row).pytorch.total - row["peak_bytes"]) / row["peak_bytes"]


def test_the_peak_is_within_10_percent_of_the_h100s():
    misses = []
    for row in ROWS:
        if (row["design"], row["precision"]) in KNOWN_MISSES:
            continue
        e = error(row)
        if abs(e) > TOLERANCE:
            misses.append(f"{row['design']} b{row['batch']} {row['precision']} "
                          f"{row['optimizer']}: {e:+.1%}")
    checked = sum((r["design"], r["precision"]) not in KNOWN_MISSES for r in ROWS)
    # all but a handful of borderline cases; none far off
    assert len(misses) <= checked // 20, misses


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['design']}-b{r['batch']}-"
                         f"{r['precision']}-{r['optimizer']}-{r['cudnn_benchmark']:d}")
def test_no_case_is_far_off_and_what_autograd_saves_is_exact(row):
    report = estimate(row)
    held = dict(report.held)
    saved = held["saved for backward"] + held.get("16-bit weight copies", 0)
    # what autograd keeps (16-bit copies under autocast included) to the last percent
    assert abs(saved - row["saved_bytes"]) <= 0.01 * row["saved_bytes"], (saved, row)
    if (row["design"], row["precision"]) not in KNOWN_MISSES:
        assert abs(error(row)) <= 0.15


def test_autocast_keeps_weights_gradients_and_state_in_fp32():
    net = network("vgg16")
    fp32 = analyze(net, batch=8, dtype="fp32", optimizer="adam")
    bf16 = analyze(net, batch=8, dtype="bf16", optimizer="adam")
    for part in ("weights", "optimizer state"):
        assert bf16.pytorch.part(part) == fp32.pytorch.part(part) > 0
    # … while the textbook count halves everything
    assert bf16.textbook.part("weights") * 2 == fp32.textbook.part("weights")


def test_the_largest_batch_that_fits_is_exactly_that():
    net = network("resnet20_cifar")
    for dtype in ("fp32", "bf16"):
        budget = 300 * 2**20
        best = analyze(net, batch=1, dtype=dtype, budget=budget).pytorch.max_batch
        assert best and best > 1
        assert analyze(net, batch=best, dtype=dtype, budget=budget).pytorch.fits
        assert not analyze(net, batch=best + 1, dtype=dtype, budget=budget).pytorch.fits


def test_cuda_adds_scratch_space_and_a_one_byte_dropout_mask():
    net = network("alexnet")
    cpu = analyze(net, batch=4, device="cpu")
    cuda = analyze(net, batch=4, device="cuda")
    assert cpu.pytorch.part("workspace") == 0
    # Dropout masks: float on the CPU, bool on CUDA
    assert dict(cuda.held)["saved for backward"] < dict(cpu.held)["saved for backward"]
    with pytest.raises(ValueError, match="device"):
        analyze(net, device="tpu")
