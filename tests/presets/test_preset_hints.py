"""The case-study presets get few, sensible hints: the ones README.md lists ("Design hints"),
each predicting exactly what applying it does."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.model.advisor import advise
from designer.model.analysis import analyze
from designer.model.design_file import load

PRESETS = Path(__file__).resolve().parents[2] / "presets"

# preset -> the keys of its hints, in the order the panel lists them (the window's batch 32,
# no memory budget)
EXPECTED = {
    "cifar10_example": ["allconv:pool", "fc2conv:fc"],
    "pattern_conv_relu_pool_x2": ["allconv:pool1,pool2", "fc2conv:fc3,fc4"],
    "pattern_conv_relu_conv_relu_pool_x3": ["allconv:pool1,pool2,pool3", "fc2conv:fc4,fc5,fc6"],
    "lenet5": ["pad:conv1", "allconv:pool1,pool2", "pad:conv2"],
    "alexnet": ["stride:conv1", "allconv:pool1,pool2,pool5", "fc2conv:fc6,fc7,fc8"],
    "alexnet_single_tower": ["stride:conv1", "allconv:pool1,pool2,pool5",
                             "fc2conv:fc6,fc7,fc8"],
    "zfnet": ["stride:conv1", "pool2x2:pool1,pool2", "stride:conv2", "fc2conv:fc6,fc7,fc8"],
    "googlenet": ["stride:conv1_7x7_s2",
                  "pool2x2:pool1_3x3_s2,pool2_3x3_s2,pool3_3x3_s2,pool4_3x3_s2"],
    "vgg16": ["allconv:pool1,pool2,pool3,pool4,pool5", "fc2conv:fc6,fc7,fc8"],
    "vgg19": ["allconv:pool1,pool2,pool3,pool4,pool5", "fc2conv:fc6,fc7,fc8"],
    "resnet18": ["stride:conv1", "pool2x2:maxpool", "allconv:maxpool"],
    "resnet34": ["stride:conv1", "pool2x2:maxpool", "allconv:maxpool"],
    "resnet50": ["stride:conv1", "pool2x2:maxpool", "allconv:maxpool"],
    "resnet152": ["stride:conv1", "pool2x2:maxpool", "allconv:maxpool"],
    "resnet20_cifar": [],
    "allconv_cifar10": ["pad:conv7"],
}


def test_every_preset_is_listed():
    assert sorted(p.name[: -len(".convnet.json")] for p in PRESETS.glob("*.convnet.json")) == \
        sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_hints_are_few_and_the_expected_ones(name):
    net = load(PRESETS / f"{name}.convnet.json").network
    report = analyze(net, batch=32)
    hints = advise(net, report)
    assert [h.key for h in hints] == EXPECTED[name]
    assert len(hints) <= 4
    for hint in hints:
        assert hint.safe, hint.key  # no edit breaks the design
        effect = hint.effect()
        copy = net.copy()
        hint.apply(copy)
        after = analyze(copy, batch=32)
        assert (after.totals.params, after.totals.macs, after.textbook.total) == (
            effect.after.params, effect.after.macs, effect.after.memory)


def test_the_first_layer_compromises_are_named_as_such():
    """AlexNet's 11×11 stride 4 and ZFNet's 7×7 stride 2 are the notes' memory compromise; a
    later strided CONV (ZFNet's conv2) is a plain rule of thumb."""
    for name, first in (("alexnet", "conv1"), ("zfnet", "conv1"), ("resnet50", "conv1"),
                        ("googlenet", "conv1_7x7_s2")):
        net = load(PRESETS / f"{name}.convnet.json").network
        hints = {h.key: h for h in advise(net, analyze(net))}
        hint = hints[f"stride:{first}"]
        assert hint.kind == "compromise" and "memory compromise" in hint.title
        effect = hint.effect()
        assert effect.after.macs > effect.before.macs  # what the compromise saves
    zf = load(PRESETS / "zfnet.convnet.json").network
    assert {h.key: h for h in advise(zf, analyze(zf))}["stride:conv2"].kind == "rule"


def test_vgg16_over_a_12gb_budget_gets_the_memory_compromise_and_the_largest_batch():
    net = load(PRESETS / "vgg16.convnet.json").network
    report = analyze(net, batch=128, budget=12 * 1024**3)
    hints = {h.key: h for h in advise(net, report)}
    memory = hints["memory:conv1_1"]
    assert memory.effect().after.memory <= 12 * 1024**3 < memory.effect().before.memory
    assert memory.effect().after.params - memory.effect().before.params == 9472 - 1792
    assert hints["batch"].settings == {"batch": 97}
