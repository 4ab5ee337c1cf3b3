"""Design knobs (designer/model/knobs.py): each changes the design as it says, the knobs that do
not apply are left out with a reason, and every value gives a design the analysis accepts."""

from __future__ import annotations

import pytest

from designer.assets import presets_dir
from designer.model.analysis import analyze
from designer.model.design_file import load
from designer.model.knobs import KnobError, apply_knobs, design_knobs


def _net(name: str):
    return load(presets_dir() / f"{name}.convnet.json").network


def _report(net):
    report = analyze(net, fix_effects=False)
    assert report.ok, report.first_error()
    return report


def test_the_cifar_example_has_width_and_kernel_and_says_why_not_the_others():
    found = design_knobs(_net("cifar10_example"))
    assert found.names() == ["width", "kernel"]
    assert any(w.startswith("dropout:") for w in found.left_out)
    assert any(w.startswith("stageN_blocks:") for w in found.left_out)


def test_width_scales_the_filters_but_not_the_output_layer():
    net = _net("cifar10_example")
    wide = apply_knobs(net, {"width": 2.0})
    assert wide.nodes["conv"].params["out_channels"] == 24
    assert wide.nodes["fc"].params["out_features"] == 10  # the classes
    report = _report(wide)
    assert report.layers["conv"].params == 24 * 3 * 3 * 3 + 24
    assert report.layers["fc"].params == 24 * 16 * 16 * 10 + 10
    assert net.nodes["conv"].params["out_channels"] == 12  # the design itself is untouched


def test_width_leaves_a_fully_convolutional_head_alone():
    net = _net("allconv_cifar10")
    half = apply_knobs(net, {"width": 0.5})
    assert half.nodes["conv9"].params["out_channels"] == 10
    assert half.nodes["conv1"].params["out_channels"] == 48
    assert _report(half).layers[_report(half).output].shape == (10,)


def test_kernel_keeps_every_shape_and_its_padding_same():
    net = _net("resnet20_cifar")
    before = _report(net)
    big = apply_knobs(net, {"kernel": 7})
    after = _report(big)
    for nid in before.order:
        assert after.layers[nid].shape == before.layers[nid].shape, nid
    conv = big.nodes["layer2_0_conv1"].params  # a strided one: padding 1 -> 3
    assert (conv["kernel_size"], conv["padding"], conv["stride"]) == (7, 3, 2)
    assert big.nodes["layer2_0_downsample_conv"].params["kernel_size"] == 1  # not a 3/5/7


def test_dropout_sets_every_dropout_layer():
    net = apply_knobs(_net("allconv_cifar10"), {"dropout": 0.1})
    assert {net.nodes[n].params["p"] for n in ("drop_in", "drop3", "drop6")} == {0.1}


def test_blocks_per_stage_remove_and_repeat_whole_blocks():
    net = _net("resnet20_cifar")
    found = design_knobs(net)
    block = found.blocks["stage1_blocks"]
    assert block.count == 3 and block.copies[0][0] == "layer1_0_conv1"
    before = _report(net)
    per_block = sum(before.layers[n].params for n in block.copies[1])
    one = apply_knobs(net, {"stage1_blocks": 1}, found)
    six = apply_knobs(net, {"stage1_blocks": 6}, found)
    r1, r6 = _report(one), _report(six)
    assert len(one) == len(net) - 2 * len(block.copies[0])
    assert len(six) == len(net) + 3 * len(block.copies[0])
    assert r1.totals.params == before.totals.params - 2 * per_block
    assert r6.totals.params == before.totals.params + 3 * per_block
    for r in (r1, r6):  # the rest of the design sees the same shapes
        assert r.layers["fc"].shape == before.layers["fc"].shape
    assert all(n.pos is not None for n in six.nodes.values())  # laid out again


def test_vgg_stages_are_its_conv_relu_pairs():
    net = _net("vgg16")
    found = design_knobs(net)
    counts = [found.blocks[k].count for k in found.names() if k.endswith("_blocks")]
    assert counts == [2, 2, 3, 3, 3, 2]  # five CONV stages and the FC pair
    shallow = apply_knobs(net, {k: 1 for k in found.blocks}, found)
    report = _report(shallow)
    assert sum(1 for n in shallow.nodes.values() if n.type == "Conv2d") == 5
    assert report.layers[report.output].shape == (1000,)


@pytest.mark.parametrize("preset", ["cifar10_example", "lenet5", "allconv_cifar10", "alexnet",
                                    "resnet20_cifar", "vgg16",
                                    "pattern_conv_relu_conv_relu_pool_x3"])
def test_every_knob_value_gives_a_design_the_analysis_accepts(preset):
    net = _net(preset)
    found = design_knobs(net)
    out_shape = _report(net).layers[_report(net).output].shape
    for knob in found.knobs:
        if knob.kind == "choice":
            values = knob.choices
        elif knob.kind == "int":
            values = range(int(knob.low), int(knob.high) + 1)
        else:
            values = (knob.low, knob.high)
        for value in values:
            report = analyze(apply_knobs(net, {knob.name: value}, found), fix_effects=False)
            # a value the analysis refuses would have to say why; none of these does
            assert report.ok, f"{knob.name}={value}: {report.first_error()}"
            assert report.layers[report.output].shape == out_shape, (knob.name, value)


def test_a_knob_that_does_not_apply_or_a_bad_value_is_named():
    net = _net("cifar10_example")
    with pytest.raises(KnobError, match="dropout: does not apply.*no Dropout"):
        apply_knobs(net, {"dropout": 0.2})
    with pytest.raises(KnobError, match="width: 1.3 is not one of"):
        apply_knobs(net, {"width": 1.3})
    with pytest.raises(KnobError, match="stage1_blocks: does not apply"):
        apply_knobs(net, {"stage1_blocks": 2})
