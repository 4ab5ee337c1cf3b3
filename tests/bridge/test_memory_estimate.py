"""The analysis's estimate of what PyTorch holds in a training step, checked against a real step.

For each network, batch size and optimizer: build the module, run one training step with
designer.bridge.memory.measure_training_step, and compare part by part with what analyze() says
a step holds (Report.held; Report.pytorch is the step's highest point, checked against CUDA
measurements in test_peak_calibration.py). DESIGN.md's target ("memory estimate vs measured") is
10%; the estimate does far better: since it counts BatchNorm's per-channel batch statistics and
the loss's total weight (fixed bytes), it is exact to the byte on every network of the tables
below, frozen layers included, and 4 B short with Dropout at p = 1 (torch 2.13, CPU, fp32;
before, it was a few hundred bytes short: 0.08% at worst). The tolerance stays what was
achieved then, 0.5%: an error such as counting Dropout2d's mask per value instead of per depth
slice (+4.9%) fails it.

Frozen layers (a fine-tune, Node.frozen): FROZEN_NETWORKS with the layers FREEZES names frozen,
the same checks, plus "frozen weights" exact and gradients and optimizer state for the trainable
ones only. A frozen prefix keeps nothing for backward; a frozen layer after a trainable one keeps
what its input's gradient needs (peak.py's docstring).

NETWORKS and the frozen cases are also used by benchmarks/bench_memory.py, which prints the same
comparison as a table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from designer.bridge.memory import PARTS, measure_training_step
from designer.bridge.module import build_module
from designer.model import design_file
from designer.model.analysis import Report, analyze
from designer.model.network import FREEZABLE, Network

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.005  # achieved: ≤ 0.08% on every case below (CPU, fp32)
CUDA_TOLERANCE = 0.10  # DESIGN.md's target: what CUDA achieves has not been measured here yet
# The parts of a training step that both the estimate and the measurement hold for its whole
# length (the estimate's "backward working set" is transient and not measured).
HELD = ("saved for backward", "weights", "frozen weights", "weight gradients", "optimizer state")


# ---------------------------------------------------------------------------------------------
# The networks


def cifar10_example() -> Network:
    """The notes' [INPUT - CONV - RELU - POOL - FC], from the preset."""
    return design_file.load(ROOT / "presets" / "cifar10_example.convnet.json").network


def vgg_like() -> Network:
    """Two VGG stages (CONV-BN-RELU ×2, POOL) at 32×32, then FC-RELU-Dropout-FC."""
    n = Network("VGG-like")
    x = n.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    i = 0
    for depth in (16, 32):
        for _ in range(2):
            i += 1
            x = n.add("Conv2d", {"out_channels": depth, "kernel_size": 3, "padding": 1,
                                 "bias": False}, id=f"conv{i}", inputs=[x])
            x = n.add("BatchNorm2d", {}, id=f"bn{i}", inputs=[x])
            x = n.add("ReLU", {}, id=f"relu{i}", inputs=[x])
        x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id=f"pool{depth}", inputs=[x])
    x = n.add("Flatten", {}, id="flatten", inputs=[x])
    x = n.add("Linear", {"out_features": 64}, id="fc1", inputs=[x])
    x = n.add("ReLU", {}, id="fc1_relu", inputs=[x])
    x = n.add("Dropout", {"p": 0.5}, id="dropout", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc2", inputs=[x])
    return n


def residual() -> Network:
    """A stem, an identity residual block (Add), an Inception-style Concat of three branches,
    a strided residual block with a 1×1 projection shortcut, global average pool, FC."""
    n = Network("residual + concat")
    x = n.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    x = n.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id="stem",
              inputs=[x])
    x = n.add("BatchNorm2d", {}, id="stem_bn", inputs=[x])
    x = n.add("ReLU", {}, id="stem_relu", inputs=[x])

    a = n.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1, "bias": False},
              id="b1_conv1", inputs=[x])
    a = n.add("BatchNorm2d", {}, id="b1_bn1", inputs=[a])
    a = n.add("ReLU", {}, id="b1_relu1", inputs=[a])
    a = n.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1, "bias": False},
              id="b1_conv2", inputs=[a])
    a = n.add("BatchNorm2d", {}, id="b1_bn2", inputs=[a])
    x = n.add("Add", {}, id="b1_add", inputs=[a, x])
    x = n.add("ReLU", {}, id="b1_relu2", inputs=[x])

    p = n.add("Conv2d", {"out_channels": 8, "kernel_size": 1}, id="br_1x1", inputs=[x])
    q = n.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, id="br_3x3",
              inputs=[x])
    q = n.add("ReLU", {}, id="br_3x3_relu", inputs=[q])
    r = n.add("MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, id="br_pool",
              inputs=[x])
    x = n.add("Concat", {}, id="concat", inputs=[p, q, r])
    x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[x])

    a = n.add("Conv2d", {"out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1},
              id="b2_conv1", inputs=[x])
    a = n.add("ReLU", {}, id="b2_relu1", inputs=[a])
    a = n.add("Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}, id="b2_conv2",
              inputs=[a])
    s = n.add("Conv2d", {"out_channels": 32, "kernel_size": 1, "stride": 2}, id="b2_proj",
              inputs=[x])
    x = n.add("Add", {}, id="b2_add", inputs=[a, s])
    x = n.add("ReLU", {}, id="b2_relu2", inputs=[x])
    x = n.add("AdaptiveAvgPool2d", {"output_size": 1}, id="gap", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc", inputs=[x])
    return n


def assorted() -> Network:
    """The other kinds: LeakyReLU, LocalResponseNorm, AvgPool, GELU, Dropout2d, Tanh, adaptive
    pooling to 4×4, Sigmoid and ELU on an FC layer."""
    n = Network("assorted layers")
    x = n.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    x = n.add("Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": 2}, id="conv1",
              inputs=[x])
    x = n.add("LeakyReLU", {}, id="leaky", inputs=[x])
    x = n.add("LocalResponseNorm", {"size": 5}, id="lrn", inputs=[x])
    x = n.add("AvgPool2d", {"kernel_size": 2, "stride": 2}, id="avgpool", inputs=[x])
    x = n.add("Conv2d", {"out_channels": 24, "kernel_size": 3, "padding": 1}, id="conv2",
              inputs=[x])
    x = n.add("GELU", {}, id="gelu", inputs=[x])
    x = n.add("Dropout2d", {"p": 0.2}, id="dropout2d", inputs=[x])
    x = n.add("Conv2d", {"out_channels": 24, "kernel_size": 3, "padding": 1}, id="conv3",
              inputs=[x])
    x = n.add("Tanh", {}, id="tanh", inputs=[x])
    x = n.add("AdaptiveAvgPool2d", {"output_size": 4}, id="adaptive", inputs=[x])
    x = n.add("Linear", {"out_features": 32}, id="fc1", inputs=[x])
    x = n.add("Sigmoid", {}, id="sigmoid", inputs=[x])
    x = n.add("ELU", {}, id="elu", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc2", inputs=[x])
    return n


def fc_dropout(p: float) -> Network:
    """FC-RELU-Dropout(p)-FC: most of what the step keeps is the ReLU output and the mask."""
    n = Network(f"dropout p={p}")
    x = n.add("Input", {"channels": 3, "height": 16, "width": 16}, id="input")
    x = n.add("Linear", {"out_features": 256}, id="fc1", inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("Dropout", {"p": p}, id="dropout", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc2", inputs=[x])
    return n


NETWORKS: dict[str, Callable[[], Network]] = {
    "CIFAR-10 example": cifar10_example,
    "VGG-like": vgg_like,
    "residual + concat": residual,
    "assorted layers": assorted,
}


def preset(name: str) -> Callable[[], Network]:
    return lambda: design_file.load(ROOT / "presets" / f"{name}.convnet.json").network


# Fine-tunes: two presets (LeNet-5: CONVs and FCs; ResNet-20: BatchNorm, residual Adds) and the
# VGG-like network (BatchNorm, Dropout, FCs), with frozen layers chosen among those with weights
# (CONV, FC, BatchNorm) in network order.
FROZEN_NETWORKS: dict[str, Callable[[], Network]] = {
    "LeNet-5": preset("lenet5"),
    "ResNet-20": preset("resnet20_cifar"),
    "VGG-like": vgg_like,
}
FREEZES: dict[str, Callable[[list[str]], list[str]]] = {
    "first half frozen": lambda ids: ids[:len(ids) // 2],  # a frozen prefix: no backward there
    "middle frozen": lambda ids: ids[1:-1],  # trainable first and last: backward through all
    "all but the last frozen": lambda ids: ids[:-1],
}


def frozen(network: Network, how: str) -> Network:
    """The network with the layers FREEZES[how] picks frozen."""
    ids = [nid for nid in network.topological_order() if network.nodes[nid].type in FREEZABLE]
    for nid in FREEZES[how](ids):
        network.set_frozen(nid, True)
    return network
BATCHES = (2, 8)
OPTIMIZERS = ("sgd", "adam")


# ---------------------------------------------------------------------------------------------
# Running a comparison


def estimate_and_measure(
    network: Network, batch: int, optimizer: str, device: str = "cpu", seed: int = 0
) -> tuple[Report, dict[str, int]]:
    """The analysis's report and one measured training step for the same settings (fp32)."""
    report = analyze(network, batch=batch, optimizer=optimizer, device=device)
    torch.manual_seed(seed)
    module = build_module(network, report).to(device)
    c, h, w = report.layers[report.order[0]].shape
    x = torch.randn(batch, c, h, w, device=device)
    classes = report.layers[report.output].shape[0]
    target = torch.randint(0, classes, (batch,), device=device)
    return report, measure_training_step(module, x, target, optimizer)


def held(parts: dict[str, int]) -> int:
    return sum(parts[name] for name in HELD)


def relative(estimate: int, measured: int) -> float:
    return (estimate - measured) / measured


# ---------------------------------------------------------------------------------------------
# The tests


CASES = [
    pytest.param(name, batch, opt, id=f"{name}-b{batch}-{opt}")
    for name in NETWORKS for batch in BATCHES for opt in OPTIMIZERS
]


FROZEN_CASES = [
    pytest.param(name, how, batch, opt, id=f"{name}-{how.replace(' ', '_')}-b{batch}-{opt}")
    for name in FROZEN_NETWORKS for how in FREEZES for batch in BATCHES for opt in OPTIMIZERS
]


@pytest.mark.parametrize("name, batch, optimizer", CASES)
def test_estimate_within_half_a_percent_of_a_real_step(name, batch, optimizer):
    report, measured = estimate_and_measure(NETWORKS[name](), batch, optimizer)
    check_held(report, measured)


@pytest.mark.parametrize("name, how, batch, optimizer", FROZEN_CASES)
def test_frozen_layers_estimate_within_half_a_percent_of_a_real_step(name, how, batch,
                                                                     optimizer):
    network = frozen(FROZEN_NETWORKS[name](), how)
    report, measured = estimate_and_measure(network, batch, optimizer)
    check_held(report, measured)
    t = report.totals
    assert t.params_frozen and t.params_trainable
    assert measured["frozen weights"] == t.params_frozen * 4
    assert measured["weight gradients"] == t.params_trainable * 4
    assert measured["optimizer state"] == (2 if optimizer == "adam" else 0) * t.params_trainable * 4


def test_a_frozen_prefix_keeps_nothing_for_backward():
    # LeNet-5 with conv1..conv3 frozen keeps what fc4 and fc5 need, not one volume before them:
    # fc4's input (tanh3's 120 values), tanh4's output (84, also fc5's input), the loss's
    # log-softmax (10), the labels (int64) and its total weight (a scalar)
    whole, _ = estimate_and_measure(preset("lenet5")(), 8, "sgd")
    network = frozen(preset("lenet5")(), "first half frozen")
    network.set_frozen("conv3", True)
    report, measured = estimate_and_measure(network, 8, "sgd")
    est = dict(report.held)["saved for backward"]
    assert est == measured["saved for backward"] == 8 * 4 * (120 + 84 + 10) + 8 * 8 + 4
    assert est < dict(whole.held)["saved for backward"] / 10


def test_everything_frozen_runs_no_backward():
    network = cifar10_example()
    for nid in ("conv", "fc"):
        network.set_frozen(nid, True)
    report, measured = estimate_and_measure(network, 4, "adam")
    estimate = dict(report.held)
    for part in ("saved for backward", "weights", "weight gradients", "optimizer state"):
        assert estimate[part] == measured[part] == 0, part
    assert estimate["frozen weights"] == measured["frozen weights"] == report.totals.params * 4
    assert any("every layer with weights is frozen" in i.message for _, i in report.issues)


def check_held(report: Report, measured: dict[str, int]) -> None:
    estimate = dict(report.held)

    saved_est, saved_meas = estimate["saved for backward"], measured["saved for backward"]
    assert abs(relative(saved_est, saved_meas)) <= TOLERANCE, (
        f"saved for backward: estimate {saved_est} B, measured {saved_meas} B")
    assert abs(relative(held(estimate), held(measured))) <= TOLERANCE, (
        f"held in a step: estimate {held(estimate)} B, measured {held(measured)} B")
    # Parameter memory and the data batch are plain counts: they agree exactly.
    for part in ("weights", "frozen weights", "weight gradients", "optimizer state",
                 "data batch"):
        assert estimate[part] == measured[part], part


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_dropout_switched_off_saves_no_mask(p):
    report, measured = estimate_and_measure(fc_dropout(p), 8, "sgd")
    est, meas = dict(report.held)["saved for backward"], measured["saved for backward"]
    assert abs(relative(est, meas)) <= TOLERANCE, f"estimate {est} B, measured {meas} B"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dropout_mask_under_cuda():
    # CUDA's fused dropout keeps a bool mask (1 byte a value), the CPU a float one
    report, measured = estimate_and_measure(fc_dropout(0.5), 8, "sgd", device="cuda")
    est, meas = dict(report.held)["saved for backward"], measured["saved for backward"]
    assert abs(relative(est, meas)) <= CUDA_TOLERANCE, f"estimate {est} B, measured {meas} B"


# ---------------------------------------------------------------------------------------------
# measure_training_step on its own


def test_measure_counts_each_part_of_a_tiny_step():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    x = torch.randn(2, 4)
    got = measure_training_step(module, x, torch.tensor([0, 2]), "adam")
    assert set(got) == set(PARTS)
    assert got["weights"] == (4 * 3 + 3 + 2 * 3) * 4
    assert got["weight gradients"] == got["weights"]
    assert got["optimizer state"] == 2 * got["weights"]  # the moments; step counters left out
    assert got["buffers"] == 2 * 3 * 4 + 8  # running mean and variance, int64 batch count
    assert got["data batch"] == 2 * 4 * 4
    # Not the data (Linear keeps it for its weight gradient) nor any parameter; BatchNorm1d's
    # input and the loss's log-softmax (2×3 fp32 each), the labels (2 int64), small statistics.
    assert 2 * 3 * 4 * 2 + 2 * 8 <= got["saved for backward"] < 2 * 3 * 4 * 2 + 2 * 8 + 64


def test_measure_counts_a_storage_once():
    # ReLU keeps its output; in place, that output is Linear's output: one storage, not two.
    torch.manual_seed(0)
    plain = measure_training_step(nn.Sequential(nn.Linear(4, 8), nn.ReLU()),
                                  torch.randn(2, 4), torch.tensor([1, 2]), "sgd")
    inplace = measure_training_step(nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True)),
                                    torch.randn(2, 4), torch.tensor([1, 2]), "sgd")
    assert plain["saved for backward"] == inplace["saved for backward"]
    assert plain["optimizer state"] == 0


def test_measure_really_steps_and_names_the_optimizers():
    torch.manual_seed(0)
    module = nn.Linear(4, 3)
    before = module.weight.detach().clone()
    for name, values in (("sgd", 0), ("momentum", 1), ("nesterov", 1), ("adagrad", 1),
                         ("rmsprop", 1), ("adam", 2), ("adamw", 2)):
        got = measure_training_step(module, torch.randn(2, 4), torch.tensor([0, 1]), name)
        assert got["optimizer state"] == values * got["weights"], name
    assert not torch.equal(before, module.weight)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        measure_training_step(module, torch.randn(2, 4), torch.tensor([0, 1]), "lbfgs")


def test_measure_converts_to_the_dtype():
    module = nn.Linear(4, 3)
    got = measure_training_step(module, torch.randn(2, 4), torch.tensor([0, 1]), "sgd",
                                dtype=torch.float64)
    assert module.weight.dtype == torch.float64
    assert got["weights"] == 15 * 8 and got["data batch"] == 2 * 4 * 8
