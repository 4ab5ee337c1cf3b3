"""Frozen layers (a fine-tune): the flag on a node, its file format, the edits that keep it, and
what the analysis counts for it (trainable and frozen parameters, memory without their gradients
and optimizer state). The memory against a real step: tests/bridge/test_memory_estimate.py."""

from __future__ import annotations

import json
import re

import pytest

from designer.model import design_file
from designer.model.advisor import SetParams
from designer.model.analysis import analyze
from designer.model.design_file import Design, DesignFileError, dumps, loads
from designer.model.layers import CATALOGUE
from designer.model.network import FREEZABLE, Network, NetworkError
from designer.model.transforms import fc_to_conv


def small() -> Network:
    n = Network("small")
    x = n.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input")
    x = n.add("Conv2d", {"out_channels": 4, "padding": 1}, id="conv", inputs=[x])
    x = n.add("BatchNorm2d", {}, id="bn", inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("Flatten", {}, id="flat", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc", inputs=[x])
    return n


CONV = 4 * 3 * 9 + 4
BN = 2 * 4
FC = 4 * 8 * 8 * 10 + 10


# ---------------------------------------------------------------------------------------------
# The flag on the network


def test_freezable_kinds_are_those_with_weights():
    for name, layer in CATALOGUE.items():
        if layer.max_inputs == 0:
            assert name not in FREEZABLE
            continue
        ins = [(4, 8, 8)] * max(layer.min_inputs, 1)
        params = layer.defaults()
        shape, _ = layer.shape(params, ins)
        assert (sum(layer.count(params, ins, shape)) > 0) == (name in FREEZABLE), name


def test_set_frozen_toggles_and_is_refused_where_nothing_can_be_frozen():
    n = small()
    assert not any(node.frozen for node in n.nodes.values())
    version = n.version
    n.set_frozen("conv", True)
    assert n["conv"].frozen and n.version > version
    version = n.version
    n.set_frozen("conv", True)  # no change: no new version
    assert n.version == version
    with pytest.raises(NetworkError, match="relu: a ReLU layer has no weights to freeze"):
        n.set_frozen("relu", True)
    with pytest.raises(NetworkError, match="no weights to freeze"):
        n.add("MaxPool2d", {}, inputs=["relu"], frozen=True)
    n.set_frozen("conv", False)
    assert not n["conv"].frozen


def test_edits_keep_the_flag():
    n = small()
    n.set_frozen("conv", True)
    n.set_frozen("fc", True)
    n.set_params("conv", out_channels=8)
    n.rename("conv", "stem")
    n.remove("relu")  # flat is rewired: its node is replaced
    n.set_frozen("bn", True)
    assert n["stem"].frozen and n["fc"].frozen and n["bn"].frozen
    assert n.copy()["stem"].frozen
    SetParams("stem", {"kernel_size": 1, "padding": 0}).apply(n)  # an advisor's edit
    assert n["stem"].frozen


def test_fc_to_conv_keeps_the_flag():
    n = small()
    n.set_frozen("fc", True)
    converted = fc_to_conv(n)
    assert converted["fc"].type == "Conv2d" and converted["fc"].frozen
    assert not converted["conv"].frozen


# ---------------------------------------------------------------------------------------------
# The file


def test_the_file_says_frozen_only_where_set_and_reads_it_back(tmp_path):
    n = small()
    n.set_frozen("bn", True)
    data = json.loads(dumps(Design(n)))
    entries = {e["id"]: e for e in data["nodes"]}
    assert entries["bn"]["frozen"] is True
    assert all("frozen" not in e for nid, e in entries.items() if nid != "bn")
    path = tmp_path / "d.convnet.json"
    design_file.save(Design(n), path)
    back = design_file.load(path).network
    assert [nid for nid, node in back.nodes.items() if node.frozen] == ["bn"]


def test_a_file_without_the_flag_loads_unchanged():
    # every preset was written before the flag existed: nothing frozen, the same text again
    path = design_file.Path(__file__).resolve().parents[2] / "presets" / "lenet5.convnet.json"
    text = path.read_text(encoding="utf-8")
    design = loads(text)
    assert not any(node.frozen for node in design.network.nodes.values())
    assert json.loads(dumps(design)) == json.loads(text)


@pytest.mark.parametrize("value, got", [('"yes"', "a string"), ("1", "a number"),
                                        ("null", "null")])
def test_the_flag_is_validated(value, got):
    text = dumps(Design(small())).replace('"id": "conv",', f'"id": "conv", "frozen": {value},')
    with pytest.raises(DesignFileError, match=re.escape(
            f"<design>: nodes[1].frozen: expected true or false, got {got}")):
        loads(text)


def test_only_layers_with_weights_can_be_frozen_in_a_file():
    text = dumps(Design(small())).replace('"id": "relu",', '"id": "relu", "frozen": true,')
    with pytest.raises(DesignFileError, match=r"nodes\[3\]\.frozen: a ReLU layer has no weights"):
        loads(text)
    # false is what every layer is: accepted anywhere
    text = dumps(Design(small())).replace('"id": "relu",', '"id": "relu", "frozen": false,')
    assert not loads(text).network["relu"].frozen


# ---------------------------------------------------------------------------------------------
# The analysis


def test_counts_split_into_trainable_and_frozen():
    n = small()
    before = analyze(n)
    assert before.totals.params == CONV + BN + FC
    assert before.totals.params_frozen == 0
    assert before.totals.params_trainable == before.totals.params
    n.set_frozen("conv", True)
    n.set_frozen("bn", True)
    after = analyze(n)
    t = after.totals
    assert (t.params, t.params_frozen, t.params_trainable) == (CONV + BN + FC, CONV + BN, FC)
    conv = after.layers["conv"]
    assert conv.frozen and conv.params == CONV
    assert (conv.trainable_params, conv.frozen_params) == (0, CONV)
    assert (after.layers["fc"].trainable_params, after.layers["fc"].frozen_params) == (FC, 0)
    assert after.layers["bn"].buffers == before.layers["bn"].buffers  # statistics stay buffers


@pytest.mark.parametrize("optimizer, state", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_textbook_counts_a_frozen_weight_once(optimizer, state):
    n = small()
    n.set_frozen("conv", True)
    book = analyze(n, optimizer=optimizer, batch=4).textbook
    assert book.part("weights") == (BN + FC) * 4
    assert book.part("frozen weights") == CONV * 4
    assert book.part("weight gradients") == (BN + FC) * 4
    assert book.part("optimizer state") == state * (BN + FC) * 4
    whole = analyze(small(), optimizer=optimizer, batch=4).textbook
    assert whole.total - book.total == (1 + state) * CONV * 4
    assert "frozen weights" not in dict(whole.parts)  # shown only where something is frozen


def test_pytorch_estimate_drops_gradients_state_and_the_frozen_prefix():
    n = small()
    whole = analyze(n, optimizer="adam", batch=8, device="cpu")
    n.set_frozen("conv", True)
    n.set_frozen("bn", True)
    part = analyze(n, optimizer="adam", batch=8, device="cpu")
    held, held0 = dict(part.held), dict(whole.held)
    assert held["frozen weights"] == (CONV + BN) * 4 and held0["frozen weights"] == 0
    assert held["weights"] == held["weight gradients"] == FC * 4
    assert held["optimizer state"] == 2 * FC * 4
    # the frozen prefix keeps nothing for backward: the conv's input is the data (never counted)
    # and BatchNorm's input, ReLU's output are gone; what is left: fc's input, the loss
    assert held["saved for backward"] == 8 * 4 * (4 * 8 * 8 + 10) + 8 * 8 + 4
    assert held0["saved for backward"] > held["saved for backward"]
    assert part.pytorch.part("frozen weights") == (CONV + BN) * 4
    assert part.pytorch.total < whole.pytorch.total


def test_a_frozen_layer_after_a_trainable_one_still_passes_gradients_back():
    n = small()
    n.set_frozen("bn", True)  # conv before it trains: backward runs through bn
    rep = analyze(n, batch=2, device="cpu")
    whole = analyze(small(), batch=2, device="cpu")
    held = dict(rep.held)
    # bn (eval mode) keeps its input as in training, less its batch statistics
    assert held["saved for backward"] == dict(whole.held)["saved for backward"] - 2 * 4 * 4


def test_a_toggle_re_analyses_and_undo_restores():
    n = small()
    first = analyze(n)
    nodes = dict(n.nodes)
    n.set_frozen("fc", True)
    assert analyze(n).totals.params_frozen == FC
    n.replace_nodes(nodes)  # what undo does
    again = analyze(n)
    assert again.totals.params_frozen == 0
    assert again.textbook.total == first.textbook.total
    assert again.pytorch.total == first.pytorch.total


def test_everything_frozen_is_a_warning():
    n = small()
    for nid in ("conv", "bn", "fc"):
        n.set_frozen(nid, True)
    rep = analyze(n)
    assert rep.ok
    assert any(i.severity == "warning" and "every layer with weights is frozen" in i.message
               for _, i in rep.issues)
    n.set_frozen("fc", False)
    assert not any("frozen" in i.message for _, i in analyze(n).issues)
