"""The PyTorch estimate's walk is kept between analyses and updated from the layers an edit
changed (peak.Walk.update): whatever the edits, the step must be, point for point, the one a
walk made afresh gives. What the walk itself computes is checked against real steps in
tests/bridge/test_memory_estimate.py and test_peak_calibration.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.model import analysis
from designer.model.analysis import DTYPE_BYTES, OPTIMIZER_STATE, analyze
from designer.model.design_file import load
from designer.model.network import Network
from designer.model.peak import Walk
from tests.strategies import networks

PRESETS = Path(__file__).resolve().parents[2] / "presets"
SETTINGS = (("fp32", "sgd", "cuda"), ("bf16", "adam", "cuda"), ("fp16", "nesterov", "cpu"),
            ("fp64", "adamw", "cpu"))


def _fresh(net, dtype, optimizer, device):
    """The step of the network's present state, walked afresh (no kept walk, no kept reports)."""
    copy = net.copy()
    report = analysis._analyze(copy, 1, dtype, optimizer, None, device)
    consumers, inplace = copy._wired
    return Walk(dict(copy.nodes), report.order, report.layers, consumers, report.output, inplace,
                dtype=dtype, optimizer=optimizer, device=device,
                state_values=OPTIMIZER_STATE[optimizer], value_bytes=DTYPE_BYTES).memory


def _kept(net, dtype, optimizer, device, batch=1, budget=None):
    """The step the app's analysis gives (the kept walk, updated), and its report."""
    report = analyze(net, batch=batch, dtype=dtype, optimizer=optimizer, budget=budget,
                     device=device, fix_effects=False)
    assert report.pytorch is not None  # (walked on first use)
    return analysis._WALKS[(dtype, optimizer, device, report.output)].memory, report


def _same_step(a, b):
    assert a.points == b.points
    assert a.held == b.held
    assert (a.data, a.weights, a.frozen, a.state, a.buffers) == (
        b.data, b.weights, b.frozen, b.state, b.buffers)
    for batch in (1, 3, 256):
        assert a.peak(batch) == b.peak(batch)
    for budget in (0, 1 << 16, 1 << 24, 1 << 32, 1 << 40):
        assert a.max_batch(budget) == b.max_batch(budget)


def _edit(net, rng):
    """A random edit a user might make in the inspector (some of them refused)."""
    nid = rng.choice(list(net.nodes))
    kind = net.nodes[nid].type
    changes = {
        "Conv2d": lambda: {"out_channels": rng.choice([1, 2, 7, 8, 9, 16])},
        "Linear": lambda: {"out_features": rng.choice([1, 3, 10]), "bias": rng.random() < 0.5},
        "Input": lambda: {"channels": rng.choice([1, 3, 8, 9]), "height": rng.choice([5, 9, 16])},
        "Dropout": lambda: {"p": rng.choice([0.0, 0.5, 1.0])},
        "Dropout2d": lambda: {"p": rng.choice([0.0, 0.5, 1.0])},
        "BatchNorm2d": lambda: {"track_running_stats": rng.random() < 0.5},
        "MaxPool2d": lambda: {"kernel_size": rng.choice([1, 2, 3])},
    }.get(kind)
    try:
        if changes is not None:
            net.set_params(nid, **changes())
        if kind in ("Conv2d", "Linear", "BatchNorm2d") and rng.random() < 0.25:
            net.set_frozen(nid, rng.random() < 0.5)
    except Exception:  # a value the layer refuses: the edit is not made
        pass


@settings(max_examples=60, deadline=None)
@given(networks(valid_only=False, loose=True), st.integers(0, 2**32 - 1))
def test_after_any_edits_the_kept_walk_is_a_fresh_walks_step(net, seed):
    rng = random.Random(seed)
    for _ in range(5):
        for setting in SETTINGS:
            kept, _ = _kept(net, *setting)
            _same_step(kept, _fresh(net, *setting))
        _edit(net, rng)


@pytest.mark.parametrize("setting", SETTINGS[:3])
def test_an_edit_of_sizes_updates_the_kept_walk_and_changes_what_it_must(setting):
    net = load(PRESETS / "resnet50.convnet.json").network
    kept, report = _kept(net, *setting, batch=32, budget=8 << 30)
    walk = analysis._WALKS[(*setting, report.output)]
    convs = [nid for nid, n in net.nodes.items() if n.type == "Conv2d"]
    before = report.pytorch
    # a bottleneck's middle CONV (its input's and output's sizes, its workspace, its weights),
    # the first CONV (the data's reader), the head's FC, the image itself
    assert "layer3_2_conv2" in convs
    edits = [("layer3_2_conv2", {"out_channels": 200}), (convs[0], {"out_channels": 80}),
             (next(n for n in net.nodes if net.nodes[n].type == "Linear"), {"out_features": 7}),
             ("input", {"height": 160, "width": 192})]
    for nid, changes in edits:
        net.set_params(nid, **changes)
        kept, report = _kept(net, *setting, batch=32, budget=8 << 30)
        assert analysis._WALKS[(*setting, report.output)] is walk  # updated, not walked again
        _same_step(kept, _fresh(net, *setting))
        assert report.pytorch != before
        before = report.pytorch
    # freezing changes what the step keeps and frees: walked anew
    net.set_frozen(convs[3], True)
    kept, report = _kept(net, *setting, batch=32, budget=8 << 30)
    assert analysis._WALKS[(*setting, report.output)] is not walk
    _same_step(kept, _fresh(net, *setting))


def test_undo_and_redo_of_an_edit_give_back_the_same_step_exactly():
    net = load(PRESETS / "resnet152.convnet.json").network
    setting = ("bf16", "adam", "cuda")
    first, _ = _kept(net, *setting, batch=64)
    conv = [nid for nid, n in net.nodes.items() if n.type == "Conv2d"][100]
    width = net.nodes[conv].params["out_channels"]
    for i in range(6):
        net.set_params(conv, out_channels=width * 3 if i % 2 == 0 else width)
        step, _ = _kept(net, *setting, batch=64)
        if i % 2:
            _same_step(step, first)
    _same_step(step, _fresh(net, *setting))


def test_another_design_of_the_same_structure_is_not_given_the_kept_step():
    a = load(PRESETS / "resnet18.convnet.json").network
    b = a.copy()
    b.set_params("input", height=96, width=96)
    setting = ("fp32", "sgd", "cuda")
    for net in (a, b, a, b):
        kept, _ = _kept(net, *setting)
        _same_step(kept, _fresh(net, *setting))


@pytest.mark.parametrize("kind", ["Dropout", "Dropout2d"])
def test_a_dropout_switched_between_never_and_always_is_walked_anew(kind):
    # p = 0 hands its input through (no volume of its own); p = 1 makes a volume of zeros; both
    # keep no mask: the two differ in the walk's course, not in any size
    net = Network()
    x = net.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input")
    x = net.add("Conv2d", {"out_channels": 8, "padding": 1}, id="conv", inputs=[x])
    x = net.add("ReLU", {}, id="relu", inputs=[x])
    x = net.add(kind, {"p": 1.0}, id="drop", inputs=[x])
    x = net.add("Conv2d", {"out_channels": 8, "padding": 1}, id="conv2", inputs=[x])
    x = net.add("Flatten", {}, id="flat", inputs=[x])
    net.add("Linear", {"out_features": 10}, id="fc", inputs=[x])
    for p in (1.0, 0.0, 0.5, 0.0, 1.0):
        net.set_params("drop", p=p)
        for setting in SETTINGS:
            kept, _ = _kept(net, *setting)
            _same_step(kept, _fresh(net, *setting))
