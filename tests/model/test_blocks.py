"""Blocks (issue 19): named groups of layers saved with the design, nested or apart, that change
no number; a block's figures summed from the Report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer.model import blocks as B
from designer.model.analysis import analyze
from designer.model.design_file import DesignFileError, dumps, load, loads
from designer.model.network import Network, NetworkError
from designer.model.transforms import bottleneck_block
from designer.model.versions import structure_key

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def stack() -> Network:
    net = Network("t")
    net.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    net.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id="c1",
            inputs=["input"])
    net.add("ReLU", id="r1", inputs=["c1"])
    net.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id="c2",
            inputs=["r1"])
    net.add("ReLU", id="r2", inputs=["c2"])
    net.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=["r2"])
    return net


def test_blocks_nest_or_stay_apart():
    net = stack()
    a = net.add_block(["c1", "r1"], name="first")
    net.add_block(["c2", "r2"], name="second")
    outer = net.add_block(["pool", "c1", "r1", "c2", "r2"], "stage", "stage 1")
    assert net.blocks[outer].members == ("c1", "r1", "c2", "r2", "pool")  # the design's order
    assert B.parents(net.blocks) == {a: outer, "second": outer, outer: None}
    with pytest.raises(NetworkError, match="holds"):
        net.add_block(["r1", "c2"])  # straddles two blocks
    with pytest.raises(NetworkError, match="already"):
        net.add_block(["c1", "r1"])
    with pytest.raises(NetworkError, match="no layer"):
        net.add_block(["nope"])
    with pytest.raises(NetworkError, match="kind"):
        net.add_block(["pool"], kind="tower")


def test_collapsed_blocks_hide_their_layers_outermost_first():
    net = stack()
    net.add_block(["c1", "r1"], id="a", collapsed=True)
    net.add_block(["c1", "r1", "c2", "r2"], id="outer")
    assert B.shown_collapsed(net.blocks) == ["a"]
    assert B.shown_expanded(net.blocks) == ["outer"]
    assert B.hidden(net.blocks) == {"c1": "a", "r1": "a"}
    net.set_collapsed(["outer"], True)
    assert B.shown_collapsed(net.blocks) == ["outer"]  # a is inside: not a card of its own
    assert B.shown_expanded(net.blocks) == []
    assert set(B.hidden(net.blocks)) == {"c1", "r1", "c2", "r2"}


def test_hidden_layers_follow_every_toggle_and_each_answer_is_the_caller_s():
    net = stack()
    net.add_block(["c1", "r1"], id="a")
    net.add_block(["c2", "r2"], id="b")
    net.add_block(["c1", "r1", "c2", "r2"], id="outer")

    def worked_out(blocks):
        return {m: bid for bid in B.shown_collapsed(blocks) for m in blocks[bid].members}

    seen = []
    for toggled in ("a", "outer", "b", "outer", "a", "b", "a"):  # states met again, in turn
        net.set_collapsed([toggled], not net.blocks[toggled].collapsed)
        for _ in range(2):  # (worked out or kept: the second time it is kept)
            answer = B.hidden(net.blocks)
            assert answer == worked_out(net.blocks), toggled
            answer["c1"] = "spoilt"  # the caller's own dict: the next answer is not touched
        assert B.hidden(net.blocks) == worked_out(net.blocks)
        seen.append(frozenset(worked_out(net.blocks).items()))
    assert len(set(seen)) >= 4  # (the toggles met different tables)


def test_renaming_and_deleting_layers_keep_their_blocks():
    net = stack()
    net.add_block(["c1", "r1"], id="a")
    net.rename("r1", "relu1")
    assert net.blocks["a"].members == ("c1", "relu1")
    net.remove("c1")
    assert net.blocks["a"].members == ("relu1",)
    net.remove("relu1")
    assert net.blocks == {}  # an empty block goes
    copy = stack()
    copy.add_block(["c2"], id="b")
    assert copy.copy().blocks == copy.blocks


def test_blocks_are_saved_and_loaded():
    net = stack()
    net.add_block(["c1", "r1"], "basic", "Block one", id="one", collapsed=True)
    net.add_block(["c1", "r1", "c2", "r2", "pool"], "stage", id="s")
    from designer.model.design_file import Design

    text = dumps(Design(net))
    data = json.loads(text)
    assert data["blocks"][0] == {"id": "one", "name": "Block one", "kind": "basic",
                                 "members": ["c1", "r1"], "collapsed": True}
    assert "collapsed" not in data["blocks"][1]
    again = loads(text).network
    assert again.blocks == net.blocks
    del data["blocks"]  # a file from before blocks
    assert loads(json.dumps(data)).network.blocks == {}


BAD_BLOCKS = [
    ({"id": "x", "members": ["nope"]}, r"blocks\[0\]\.members\[0\]: no layer has the id 'nope'"),
    ({"id": "x", "members": []}, r"blocks\[0\]\.members: a block needs at least one layer"),
    ({"id": "x", "members": ["c1", "c1"]}, r"blocks\[0\]\.members\[1\]: 'c1' is listed twice"),
    ({"id": "x", "members": ["c1"], "kind": "tower"}, r"blocks\[0\]\.kind: unknown kind"),
    ({"id": "x", "members": ["c1"], "colour": 1}, r"blocks\[0\]\.colour: unknown field"),
    ({"id": 3, "members": ["c1"]}, r"blocks\[0\]\.id: expected a string"),
    ({"id": "1x", "members": ["c1"]}, r"blocks\[0\]\.id: .*not a valid block name"),
    ({"id": "x", "members": "c1"}, r"blocks\[0\]\.members: expected a list"),
    ({"id": "x", "members": ["c1"], "collapsed": "yes"}, r"blocks\[0\]\.collapsed: expected"),
]


@pytest.mark.parametrize("entry, message", BAD_BLOCKS)
def test_a_bad_block_is_named_by_its_path(entry, message):
    from designer.model.design_file import Design

    data = json.loads(dumps(Design(stack())))
    data["blocks"] = [entry]
    with pytest.raises(DesignFileError, match=message):
        loads(json.dumps(data))


def test_overlapping_blocks_in_a_file_are_refused():
    from designer.model.design_file import Design

    data = json.loads(dumps(Design(stack())))
    data["blocks"] = [{"id": "a", "members": ["c1", "r1"]}, {"id": "b", "members": ["r1", "c2"]}]
    with pytest.raises(DesignFileError, match=r"blocks\[1\]\.members: the block 'a' holds"):
        loads(json.dumps(data))
    data["blocks"] = [{"id": "a", "members": ["c1"]}, {"id": "a", "members": ["c2"]}]
    with pytest.raises(DesignFileError, match=r"blocks\[1\]\.id: there is already a block"):
        loads(json.dumps(data))


def readouts(report) -> tuple:
    """Every number a readout shows, from a Report."""
    return (report, dict(report.layers), report.pytorch, report.held, report.totals_remark)


@pytest.mark.parametrize("preset", ["resnet50", "googlenet", "vgg16"])
def test_grouping_changes_no_number(preset):
    design = load(PRESETS / f"{preset}.convnet.json")
    net = design.network
    grouped = net.copy()
    bare = net.copy()
    bare.blocks = {}
    grouped_ids = list(net.nodes)
    grouped.add_block(grouped_ids[1:], "group", id="everything", collapsed=True)
    for a, b in ((bare, net), (bare, grouped)):
        ra, rb = analyze(a, batch=8, optimizer="adam"), analyze(b, batch=8, optimizer="adam")
        assert readouts(ra) == readouts(rb)
        assert structure_key(a) == structure_key(b)


def test_a_blocks_summary_is_its_layers_summed_from_the_report():
    net = stack()
    out = bottleneck_block(net, "pool", 8, 1, prefix="b")
    block = net.blocks["b"]
    assert block.kind == "bottleneck" and out in block.members
    report = analyze(net)
    s = B.summary(block, {n: net.nodes[n].inputs for n in net.nodes}, report)
    layers = [report.layers[m] for m in block.members]
    assert s.layers == len(block.members) == 12  # with the projection shortcut
    assert s.params == sum(r.params for r in layers) > 0
    assert s.macs == sum(r.macs for r in layers)
    assert s.in_shape == report.layers["pool"].shape == (16, 16, 16)
    assert s.out_shape == report.layers[out].shape == (32, 16, 16)
    assert s.output == out and s.field == report.layers[out].field
    assert (s.errors, s.warnings) == (0, 0)


def test_the_anchor_is_the_blocks_top_middle():
    pos = {"a": (0.0, 100.0), "b": (200.0, 200.0), "c": (0.0, 300.0)}
    assert B.anchor(["a", "b", "c"], pos) == (100.0, 100.0)
