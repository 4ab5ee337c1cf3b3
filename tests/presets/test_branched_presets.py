"""The branched case-study presets (GoogLeNet, the ResNets): they load, analyse without errors to
the published parameter counts, build as PyTorch modules whose every layer gives the analysed
shape, hold every block the papers list, and are exactly what presets/generate_branched.py
writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from designer.bridge.module import build_module
from designer.model.analysis import analyze
from designer.model.design_file import load
from designer.model.transforms import fc_to_conv, with_input_size

PRESETS = Path(__file__).resolve().parents[2] / "presets"

# file -> (input (C, H, W), trainable parameters, output). The ImageNet counts are the published
# ones (torchvision's resnet18/34/50/152; GoogLeNet v1 with conv biases, no BN, no aux heads);
# ResNet-20 is the option-B variant (1×1 CONV + BN projections), counted in the test below.
EXPECTED = {
    "googlenet": ((3, 224, 224), 6_998_552, 1000),
    "resnet18": ((3, 224, 224), 11_689_512, 1000),
    "resnet34": ((3, 224, 224), 21_797_672, 1000),
    "resnet50": ((3, 224, 224), 25_557_032, 1000),
    "resnet152": ((3, 224, 224), 60_192_808, 1000),
    "resnet20_cifar": ((3, 32, 32), 272_474, 10),
}
NAMES = sorted(EXPECTED)
_CACHE: dict = {}


def _load(name):
    if name not in _CACHE:
        _CACHE[name] = load(PRESETS / f"{name}.convnet.json")
    return _CACHE[name]


@pytest.mark.parametrize("name", NAMES)
def test_preset_analyses_without_errors_to_the_reference_parameter_count(name):
    design = _load(name)
    net = design.network
    report = analyze(net)
    problems = [f"{nid}: {i.message}" for nid in report.order for i in report.layers[nid].errors]
    problems += [i.message for _, i in report.issues if i.severity == "error"]
    assert not problems and report.ok
    shape, params, classes = EXPECTED[name]
    assert report.layers["input"].shape == shape
    assert report.totals.params == params
    assert design.reference == {"params": params}
    assert report.layers[report.output].shape == (classes,)
    assert report.output == list(net.nodes)[-1]  # one output: the classifier
    assert design.source and net.name
    assert 2 <= net.description.count(". ") + 1 <= 5


@pytest.mark.parametrize("name", NAMES)
def test_preset_is_laid_out_top_to_bottom_with_readable_ids(name):
    net = _load(name).network
    assert list(net.nodes)[0] == "input"
    for node in net.nodes.values():
        assert node.pos is not None, node.id
        assert node.id.isidentifier() and node.id == node.id.lower()
        for src in node.inputs:
            assert net.nodes[src].pos[1] < node.pos[1], (src, node.id)  # wires run downwards
    places = [n.pos for n in net.nodes.values()]
    assert len(set(places)) == len(places)  # no two cards on top of each other


@pytest.mark.parametrize("name", NAMES)
def test_built_module_gives_every_layer_its_analysed_shape(name):
    net = _load(name).network
    report = analyze(net)
    c, h, w = EXPECTED[name][0]
    with torch.device("meta"):
        module = build_module(net, report)
        values = module.trace(torch.empty(2, c, h, w))
        params = sum(p.numel() for p in module.parameters())
    assert params == EXPECTED[name][1]
    assert set(values) == set(net.nodes)
    for nid, t in values.items():
        assert tuple(t.shape[1:]) == report.layers[nid].shape, nid


def _blocks(net, stage):
    return sorted({nid.split("_")[1] for nid in net.nodes if nid.startswith(f"layer{stage}_")},
                  key=int)


@pytest.mark.parametrize(("name", "stages", "last"), [
    ("resnet18", (2, 2, 2, 2), "relu2"),
    ("resnet34", (3, 4, 6, 3), "relu2"),
    ("resnet50", (3, 4, 6, 3), "relu3"),
    ("resnet152", (3, 8, 36, 3), "relu3"),
])
def test_resnet_has_every_block_of_every_stage(name, stages, last):
    net = _load(name).network
    report = analyze(net)
    adds = [n for n in net.nodes.values() if n.type == "Add"]
    assert len(adds) == sum(stages)  # ResNet-152: 3 + 8 + 36 + 3 = 50 residual connections
    assert all(len(n.inputs) == 2 for n in adds)
    expansion = 4 if last == "relu3" else 1
    for stage, count in enumerate(stages, 1):
        assert _blocks(net, stage) == [str(i) for i in range(count)]
        side = 56 // 2 ** (stage - 1)
        out = report.layers[f"layer{stage}_{count - 1}_{last}"].shape
        assert out == (64 * 2 ** (stage - 1) * expansion, side, side)
    projections = sorted(nid for nid in net.nodes if nid.endswith("downsample_conv"))
    first = ["layer1_0_downsample_conv"] if expansion == 4 else []
    assert projections == first + [f"layer{s}_0_downsample_conv" for s in (2, 3, 4)]
    assert report.layers["maxpool"].shape == (64, 56, 56)
    assert all(not n.params["bias"] for n in net.nodes.values() if n.type == "Conv2d")
    assert net.nodes["conv1"].params == {"out_channels": 64, "kernel_size": 7, "stride": 2,
                                         "padding": 3, "dilation": 1, "groups": 1, "bias": False}


def test_resnet152_has_the_ids_the_torchvision_model_names():
    net = _load("resnet152").network
    for nid in ("layer3_35_conv3", "layer3_4_conv2", "layer4_2_bn3", "layer2_0_downsample_bn",
                "avgpool", "fc"):
        assert nid in net.nodes
    assert net.nodes["layer3_4_add"].inputs == ("layer3_4_bn3", "layer3_3_relu3")


def test_googlenet_follows_table_1_of_the_paper():
    net = _load("googlenet").network
    report = analyze(net)
    depth = {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528, "4e": 832,
             "5a": 832, "5b": 1024}
    side = {"3": 28, "4": 14, "5": 7}
    for name, d in depth.items():
        assert report.layers[f"inception_{name}_output"].shape == (d, side[name[0]], side[name[0]])
        assert net.nodes[f"inception_{name}_5x5"].params["kernel_size"] == 5  # not torchvision's 3
    assert sum(n.type == "Concat" for n in net.nodes.values()) == 9
    assert report.layers["pool1_3x3_s2"].shape == (64, 56, 56)  # ceil_mode, as torchvision
    assert report.layers["pool5_7x7_s1"].shape == (1024, 1, 1)
    assert net.nodes["dropout"].params["p"] == 0.4
    kinds = {n.type for n in net.nodes.values()}
    assert "BatchNorm2d" not in kinds and "LocalResponseNorm" in kinds
    assert all(n.params["bias"] for n in net.nodes.values() if n.type == "Conv2d")
    # 22 layers with weights on the longest path, as the paper counts: 3 in the stem, 2 per
    # module, the classifier
    assert sum(n.type in ("Conv2d", "Linear") for n in net.nodes.values()) == 3 + 9 * 6 + 1


def test_resnet20_cifar_counts():
    net = _load("resnet20_cifar").network
    report = analyze(net)
    convs = [nid for nid, n in net.nodes.items() if n.type == "Conv2d"]
    main = [nid for nid in convs if "downsample" not in nid]
    assert len(main) + 1 == 20  # 19 CONVs + the FC: the "20" of ResNet-20
    assert [report.layers[f"layer{s}_2_relu2"].shape for s in (1, 2, 3)] == [
        (16, 32, 32), (32, 16, 16), (64, 8, 8)]
    # the 0.27 M of the paper: option-A (zero-padding) shortcuts have 269,722 parameters; the
    # two 1×1 CONV + BN projections add 16·32 + 2·32 + 32·64 + 2·64
    assert report.totals.params == 269_722 + 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64 == 272_474


def test_googlenet_converted_to_fully_convolutional_gives_a_6x6_score_map_at_384():
    conv = fc_to_conv(_load("googlenet").network)
    assert conv.nodes["classifier"].type == "Conv2d"
    report = analyze(with_input_size(conv, 384, 384))
    assert report.ok
    assert report.layers["classifier"].shape == (1000, 6, 6)
    assert report.totals.params == 6_998_552


def test_generator_writes_exactly_the_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location("generate_branched",
                                                  PRESETS / "generate_branched.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{name}.convnet.json" for name in NAMES)
    for filename in written:
        assert (tmp_path / filename).read_text("utf-8") == (PRESETS / filename).read_text("utf-8")


def test_googlenets_output_field_is_its_widest_branchs():
    """Each Inception output takes its widest branch's field (the 5×5 and pooled paths): 907 at
    the classifier; a merge that took its first input (the 1×1 branch) would say 267."""
    report = analyze(_load("googlenet").network)
    assert report.layers[report.output].rf.size == (907, 907)
    assert report.layers["inception_3a_output"].rf.size == (59, 59)


def test_resnets_warn_only_where_the_shortcut_drops_a_row():
    """ResNet's conv1, max-pool and 3×3/2 pad-1 CONVs drop only zero padding (notes); the 1×1/2
    shortcut CONVs really skip the last row and column (warnings), and offer no fix (stride 1
    there would break the Add)."""
    for name in ("resnet18", "resnet34", "resnet50", "resnet152", "resnet20_cifar"):
        report = analyze(_load(name).network)
        warned = [nid for nid in report.order if report.layers[nid].warnings]
        assert warned and all(nid.endswith("_downsample_conv") for nid in warned), name
        assert not any(i.fixes for nid in warned for i in report.layers[nid].issues), name


def test_googlenet_drops_only_zero_padding_a_note_not_a_warning():
    """Issue 16 counted GoogLeNet among the famous networks opening with false 'the last pixel
    row(s)/column(s) are never seen' warnings: where its sizes do not work out, only padding is
    dropped, which is a note."""
    report = analyze(_load("googlenet").network)
    assert [nid for nid in report.order if report.layers[nid].warnings] == []
    notes = [i.message for nid in report.order for i in report.layers[nid].issues
             if "sizes don't work out" in i.message]
    assert notes and all("zero padding only" in m and "never seen" not in m for m in notes)
