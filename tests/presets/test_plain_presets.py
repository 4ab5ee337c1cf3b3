"""The plain (no-branch) case-study presets: they load, analyse without errors, have the published
parameter counts, build as PyTorch modules whose every layer gives the analysed shape, and are
exactly what presets/generate_plain.py writes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from designer.bridge.module import build_module
from designer.model.analysis import analyze
from designer.model.design_file import load

PRESETS = Path(__file__).resolve().parents[2] / "presets"

# file -> (input (C, H, W), trainable parameters). The famous ones are the published figures;
# the layer patterns, ZFNet and All-CNN-C have none, so theirs are counted by hand:
EXPECTED = {
    # 3·9·32+32 + 32·9·64+64 + 8·8·64·128+128 + 128·10+10
    "pattern_conv_relu_pool_x2": ((3, 32, 32), 545_098),
    # 896 + 9,248 + 18,496 + 36,928 + 73,856 + 147,584 + 2048·256+256 + 256·256+256 + 2,570
    "pattern_conv_relu_conv_relu_pool_x3": ((3, 32, 32), 879_914),
    "lenet5": ((1, 32, 32), 61_706),
    "alexnet": ((3, 227, 227), 60_965_224),
    "alexnet_single_tower": ((3, 224, 224), 61_100_840),
    # 14,208 + 614,656 + 885,120 + 1,327,488 + 884,992 + 37,752,832 + 16,781,312 + 4,097,000
    "zfnet": ((3, 224, 224), 62_357_608),
    "vgg16": ((3, 224, 224), 138_357_544),
    "vgg19": ((3, 224, 224), 143_667_240),
    # 2,688 + 2·83,040 + 166,080 + 3·331,968 + 37,056 + 1,930
    "allconv_cifar10": ((3, 32, 32), 1_369_738),
}
NAMES = sorted(EXPECTED)
# conv1, conv3_2, relu6, pool5, norm1, fc8, drop7, drop_in, ...
READABLE = re.compile(r"^(input|drop_in|avgpool|gap|flatten|(conv|relu|tanh|pool|norm|fc|drop)"
                      r"\d+(_\d+)?)$")


def _load(name):
    return load(PRESETS / f"{name}.convnet.json")


@pytest.mark.parametrize("name", NAMES)
def test_preset_analyses_without_errors_to_the_reference_parameter_count(name):
    design = _load(name)
    net = design.network
    report = analyze(net)
    problems = [f"{nid}: {i.message}" for nid in report.order for i in report.layers[nid].errors]
    problems += [i.message for _, i in report.issues if i.severity == "error"]
    assert not problems and report.ok
    shape, params = EXPECTED[name]
    assert report.layers["input"].shape == shape
    assert report.totals.params == params
    assert design.reference == {"params": params}
    assert design.source and net.name and net.description
    assert report.output == report.order[-1]  # a plain stack: one output, the last layer


@pytest.mark.parametrize("name", NAMES)
def test_preset_is_a_readable_column(name):
    net = _load(name).network
    ids = list(net.nodes)
    assert ids[0] == "input"
    for prev, nid in zip(ids, ids[1:]):
        assert net.nodes[nid].inputs == (prev,), nid  # each layer reads the one above it
    assert [net.nodes[nid].pos for nid in ids] == [(0.0, 90.0 * i) for i in range(len(ids))]
    for node in net.nodes.values():
        assert READABLE.match(node.id), node.id
        if node.type == "Conv2d" and node.params["padding"] == "same":
            assert node.params["stride"] == 1, node.id


@pytest.mark.parametrize("name", NAMES)
def test_built_module_gives_every_layer_its_analysed_shape(name):
    net = _load(name).network
    report = analyze(net)
    with torch.device("meta"):
        module = build_module(net, report)
        x = torch.empty((1, *report.layers["input"].shape))
        outputs = module.trace(x)
        n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert n_params == EXPECTED[name][1]
    assert set(outputs) == set(net.nodes)
    for nid, value in outputs.items():
        assert tuple(value.shape[1:]) == report.layers[nid].shape, nid


def test_vgg16_memory_is_the_notes_figure():
    """The notes' VGG-16 breakdown: ~15.2 M values per image forward (input included; their
    '24M' total is a slip in the sum), ≈58 MiB in fp32; the first FC holds ~103 M weights."""
    report = analyze(_load("vgg16").network)
    totals = report.totals
    assert totals.input_values == 224 * 224 * 3
    assert totals.forward_values == 15_237_608
    assert round(totals.forward_values / 1e6, 1) == 15.2
    assert round(totals.forward_values * 4 / 2**20) == 58
    assert report.layers["conv1_1"].shape == (64, 224, 224)
    assert report.layers["pool5"].shape == (512, 7, 7)
    assert report.layers["fc6"].params == 7 * 7 * 512 * 4096 + 4096


def test_alexnet_as_in_the_paper():
    net = _load("alexnet").network
    report = analyze(net)
    assert report.layers["conv1"].shape == (96, 55, 55)  # 55×55×96
    assert not report.layers["conv1"].issues  # 227 makes (W − F + 2P)/S + 1 work out
    assert [nid for nid in net.nodes if net.nodes[nid].params.get("groups", 1) == 2] == [
        "conv2", "conv4", "conv5"]
    for norm in ("norm1", "norm2"):
        p = net.nodes[norm].params
        # the paper's α = 1e-4 in PyTorch's convention, which divides α by the size
        assert (p["size"], p["alpha"] / p["size"], p["beta"], p["k"]) == (5, 1e-4, 0.75, 2.0)
    assert report.layers["pool5"].shape == (256, 6, 6)


def test_sizes_that_dont_work_out_are_the_ones_the_descriptions_point_out():
    """Where (W − F + 2P)/S + 1 is not an integer in these presets, the floor drops only zero
    padding: a note (the notes' rule is not met), never the warning that pixels are lost."""
    warned, noted = {}, {}
    for name in NAMES:
        design = _load(name)
        report = analyze(design.network)
        for nid in report.order:
            if report.layers[nid].warnings:
                warned.setdefault(name, []).append(nid)
            for issue in report.layers[nid].issues:
                if "sizes don't work out" in issue.message:
                    assert issue.severity == "info", (name, nid)
                    assert "zero padding only" in issue.message and "rule is not met" in (
                        issue.message)
                    noted.setdefault(name, []).append(nid)
        if name in noted:
            assert re.search(r"works? out", design.network.description), name
        assert "never seen" not in design.network.description, name
    assert warned == {}
    assert noted == {"alexnet_single_tower": ["conv1"], "zfnet": ["conv1"],
                     "allconv_cifar10": ["conv3", "conv6"]}


def test_case_study_shapes():
    lenet = analyze(_load("lenet5").network)
    assert [lenet.layers[n].shape for n in ("conv1", "pool1", "conv2", "pool2", "conv3")] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    zf = analyze(_load("zfnet").network)
    assert [zf.layers[n].shape[1] for n in ("conv1", "pool1", "conv2", "pool2", "pool5")] == [
        110, 55, 26, 13, 6]
    allconv = _load("allconv_cifar10").network
    assert not any(n.type.startswith("MaxPool") for n in allconv.nodes.values())
    rep = analyze(allconv)
    assert [rep.layers[n].shape for n in ("conv3", "conv6", "conv7", "conv9", "flatten")] == [
        (96, 16, 16), (192, 8, 8), (192, 6, 6), (10, 6, 6), (10,)]


def test_the_generator_writes_exactly_these_files(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("generate_plain", PRESETS / "generate_plain.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    monkeypatch.setattr(gen, "HERE", tmp_path)
    gen.main()
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{n}.convnet.json" for n in NAMES)
    for fname in written:
        fresh = json.loads((tmp_path / fname).read_text(encoding="utf-8"))
        assert fresh == json.loads((PRESETS / fname).read_text(encoding="utf-8")), fname


def test_vgg16s_summary_says_the_notes_24m_is_a_slip(capsys):
    """The notes' VGG-16 walk-through totals ~24M values (~93 MB) per image forward; their own
    per-layer table sums to 15.2 M. Where the total is shown (the summary here; the window's
    totals through Report.totals_remark) the difference is said, not left to look like ours."""
    from designer.cli import main

    assert main(["summary", str(PRESETS / "vgg16.convnet.json")]) == 0
    out = capsys.readouterr().out
    assert "forward per image 15.2 M values" in out
    assert "~24M values (~93 MB)" in out and "15.2 M values (58 MiB in fp32)" in out
    assert analyze(_load("vgg16").network).totals_remark in out
