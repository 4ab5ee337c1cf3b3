"""The analysis's training-step peak against what an H100 allocated: fitted and held out apart.

A row is one recorded training step: torch.cuda.max_memory_allocated during a step of the
Trainer's kind, after two warm-up steps, for one design × batch × precision × optimizer
(× cudnn.benchmark × channels_last), on an NVIDIA H100 80GB HBM3 (torch 2.11.0+cu130). The
groups, never mixed:

- fitted: tests/bridge/data/h100_step_peaks.json, written by benchmarks/gpu_memory_timeline.py.
  The CUDA constants of designer/model/peak.py (cuDNN's workspace rule, the first CONV's rules)
  were fitted to the op-by-op timeline of these very steps, so every one of its 9 designs is
  fitted. 112 rows; three of them repeat a design's channels_last case with the same bytes.
- fitted designs, a batch the fit did not use: `gpu_memory_timeline.py --verify` on GoogLeNet
  and All-CNN-C at other batch sizes. Not held out: the fit saw these designs.
- held out: `--verify` on the 6 designs (ResNet-50 at two batch sizes) that have no row in the
  fitted data.

The --verify run's verify.json was not kept: its peaks are stored below as BENCHMARKS.md
recorded them, in MiB rounded to 1 MiB, so their errors carry that rounding (at most 1.3 %).
`python benchmarks/peak_calibration_report.py` prints TABLE, the figures BENCHMARKS.md and
README.md quote; test_the_figures_are_the_documented_ones keeps them equal. The analysis is pure
Python, so all of it runs anywhere.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from designer.model import design_file
from designer.model.analysis import analyze

ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20
DATA = json.loads((Path(__file__).parent / "data" / "h100_step_peaks.json").read_text())
FITTED = [dict(zip(DATA["columns"], row)) for row in DATA["rows"]]
FITTED_DESIGNS = frozenset(r["design"] for r in FITTED)

# `gpu_memory_timeline.py --verify` on the same H100, cudnn.benchmark on: the measured peak in
# MiB (rounded) for fp32 SGD, fp32 Adam, bf16 SGD, bf16 Adam, as BENCHMARKS.md recorded them.
VERIFY_MIB = {
    ("resnet50", 8): (824, 1022, 519, 724),
    ("resnet50", 16): (1479, 1684, 854, 1056),
    ("resnet34", 16): (633, 805, 425, 595),
    ("zfnet", 32): (1030, 1506, 930, 1408),
    ("vgg19", 8): (1694, 2797, 1611, 2751),
    ("alexnet_single_tower", 32): (597, 1187, 619, 1189),
    ("googlenet", 16): (781, 837, 600, 655),
    ("pattern_conv_relu_pool_x2", 128): (60, 64, 39, 43),
    ("allconv_cifar10", 128): (266, 276, 144, 155),
}
VERIFY = [{"design": d, "batch": b, "precision": p, "optimizer": o, "cudnn_benchmark": True,
           "channels_last": False, "peak_bytes": mib * MiB}
          for (d, b), peaks in VERIFY_MIB.items()
          for (p, o), mib in zip((("fp32", "sgd"), ("fp32", "adam"), ("bf16", "sgd"),
                                  ("bf16", "adam")), peaks)]
NEW_BATCH = [r for r in VERIFY if r["design"] in FITTED_DESIGNS]
HELD_OUT = [r for r in VERIFY if r["design"] not in FITTED_DESIGNS]

# LeNet-5 under autocast: cuDNN takes 4–9 MiB of scratch space for the weight gradient of its
# first CONV (one input channel, 5×5), most of a 6–12 MiB step; no rule of the volumes predicts
# it (the other first CONVs take about their output's size in fp32, which the model uses).
KNOWN_MISSES = {("lenet5", "bf16"), ("lenet5", "fp16")}
GROUPS = {
    "fitted": FITTED,
    "fitted, less LeNet-5 under autocast": [r for r in FITTED if (r["design"], r["precision"])
                                            not in KNOWN_MISSES],
    "fitted designs, a batch the fit did not use": NEW_BATCH,
    "held out": HELD_OUT,
}
# What each group achieves: (rows, designs, within 5 %, within 10 %, worst error in %, 0.1).
# A change here is a change of BENCHMARKS.md's "Estimated vs measured peak on CUDA" and of
# README's sentence: run benchmarks/peak_calibration_report.py and update both.
TABLE = {
    "fitted": (112, 9, 88, 104, -61.2),
    "fitted, less LeNet-5 under autocast": (105, 9, 88, 104, -11.3),
    "fitted designs, a batch the fit did not use": (8, 2, 6, 8, +8.7),
    "held out": (28, 6, 26, 28, +9.4),
}
# Bounds for each row, at what is achieved: the peak within 12 % on the fitted rows (worst
# -11.3 %) and 10 % on the held-out ones (worst +9.4 %); LeNet-5 under autocast under-estimated
# by at most 62 % (worst -61.2 %); what autograd saves within 0.11 % (worst -0.104 %).
FITTED_BOUND, HELD_OUT_BOUND, KNOWN_MISS_BOUND, SAVED_BOUND = 0.12, 0.10, 0.62, 0.0011


@cache
def network(name: str):
    return design_file.load(ROOT / "presets" / f"{name}.convnet.json").network


def estimate(row: dict):
    return analyze(network(row["design"]), batch=row["batch"], dtype=row["precision"],
                   optimizer=row["optimizer"], device="cuda")


def error(row: dict) -> float:
    """(estimate - measured) / measured."""
    return (estimate(row).pytorch.total - row["peak_bytes"]) / row["peak_bytes"]


def case(row: dict) -> str:
    return (f"{row['design']} b{row['batch']} {row['precision']} {row['optimizer']}"
            + (" cudnn.benchmark off" if not row["cudnn_benchmark"] else "")
            + (" channels_last" if row["channels_last"] else ""))


def table() -> dict[str, tuple[int, int, int, int, float, str]]:
    """Per group: rows, designs, within 5 %, within 10 %, the worst error (%, to 0.1) and its
    case."""
    out = {}
    for group, rows in GROUPS.items():
        errors = [error(r) for r in rows]
        worst = max(range(len(rows)), key=lambda i: abs(errors[i]))
        out[group] = (len(rows), len({r["design"] for r in rows}),
                      sum(abs(e) <= 0.05 for e in errors), sum(abs(e) <= 0.10 for e in errors),
                      round(100 * errors[worst], 1), case(rows[worst]))
    return out


def test_the_groups_are_apart():
    assert not {r["design"] for r in HELD_OUT} & FITTED_DESIGNS
    assert len(FITTED) == len(DATA["rows"]) == 112 and len(FITTED_DESIGNS) == 9
    assert len(NEW_BATCH) + len(HELD_OUT) == len(VERIFY) == 36
    assert DATA["device"] == "NVIDIA H100 80GB HBM3"


def test_the_figures_are_the_documented_ones():
    got = {group: row[:5] for group, row in table().items()}
    assert got == TABLE, "update TABLE, BENCHMARKS.md and README.md from " \
                         "`python benchmarks/peak_calibration_report.py`"


def test_benchmarks_and_readme_quote_the_figures():
    """BENCHMARKS.md's table and README's sentence say what TABLE (the stored data) holds: they
    said 146 steps and '171 of 182', which the data did not hold (issue 16)."""
    import re

    benchmarks = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8").replace("**", "")
    labels = {"fitted designs, a batch the fit did not use":
              "fitted designs at a batch the fit did not use"}
    for group, (rows, designs, within5, within10, worst) in TABLE.items():
        sign = "+" if worst > 0 else "−"
        line = (f"| {labels.get(group, group)} | {rows} | {designs} | {within5} | {within10} | "
                f"{sign}{abs(worst):.1f} %")
        assert line in benchmarks, line
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    fitted, held = TABLE["fitted"], TABLE["held out"]
    assert (f"within 10 % for {fitted[3]} of the {fitted[0]} steps of the {fitted[1]} designs "
            f"its CUDA constants were fitted to") in readme
    assert held[3] == held[0]  # "all": every held-out step within 10 %
    assert f"for all {held[0]} steps of {held[1]} designs held out from the fit" in readme
    earlier = '(Earlier versions said "146 steps, 135 within 10 %"'  # the one quote, as such
    assert not re.search(r"\b146 steps|\b171 of 182\b", readme + benchmarks.replace(earlier, ""))


@pytest.mark.parametrize("row", FITTED, ids=lambda r: f"{r['design']}-b{r['batch']}-"
                         f"{r['precision']}-{r['optimizer']}-{r['cudnn_benchmark']:d}"
                         f"{'-cl' if r['channels_last'] else ''}")
def test_a_fitted_step(row):
    report = estimate(row)
    held = dict(report.held)
    saved = held["saved for backward"] + held.get("16-bit weight copies", 0)
    # what autograd keeps (16-bit copies under autocast included)
    assert abs(saved - row["saved_bytes"]) <= SAVED_BOUND * row["saved_bytes"], (saved, row)
    if (row["design"], row["precision"]) in KNOWN_MISSES:
        assert -KNOWN_MISS_BOUND <= error(row) < 0
    else:
        assert abs(error(row)) <= FITTED_BOUND


@pytest.mark.parametrize("row", NEW_BATCH + HELD_OUT,
                         ids=lambda r: f"{r['design']}-b{r['batch']}-{r['precision']}-"
                         f"{r['optimizer']}")
def test_a_verify_step(row):
    assert abs(error(row)) <= HELD_OUT_BOUND


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
