"""The Hints panel and the card markers as a user sees them: Apply changes the design in one
undo step, Ignore hides a hint and is saved in the file, the canvas marks the layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from shiboken6 import isValid

from designer.model.design_file import Design, load, to_dict
from designer.model.network import Network
from designer.ui.canvas.scene import CanvasScene
from designer.ui.document import Document
from designer.ui.panels.hints import HintsModel, HintsPanel

from .windows import shown_window

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def seven_by_seven() -> Design:
    """The notes' example: one 7×7 CONV C→C (C = 32) on a 56×56×C volume, then a classifier."""
    net = Network("seven")
    net.add("Input", {"channels": 32, "height": 56, "width": 56}, id="input", pos=(0, 0))
    net.add("Conv2d", {"out_channels": 32, "kernel_size": 7, "padding": 3, "bias": False},
            id="conv", inputs=("input",), pos=(0, 100))
    net.add("ReLU", {}, id="relu", inputs=("conv",), pos=(0, 200))
    net.add("AdaptiveAvgPool2d", {"output_size": 1}, id="gap", inputs=("relu",), pos=(0, 300))
    net.add("Flatten", {}, id="flat", inputs=("gap",), pos=(0, 400))
    net.add("Linear", {"out_features": 10}, id="fc", inputs=("flat",), pos=(0, 500))
    return Design(net)


@pytest.fixture
def doc(qtbot):
    return Document(seven_by_seven())


@pytest.fixture
def panel(qtbot, doc):
    model = HintsModel(doc)
    widget = HintsPanel(model)
    qtbot.addWidget(widget)
    widget.resize(460, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def card_of(qtbot, panel, key):
    card = panel.card(key)
    assert card is not None, [c.hint.key for c in panel.cards]
    qtbot.waitUntil(lambda: bool(card.effect_rows))
    return card


def test_the_card_shows_title_reason_section_and_prediction(qtbot, panel):
    card = card_of(qtbot, panel, "stack3x3:conv")
    assert card.title.text() == "conv: 7×7 CONV → three 3×3 CONVs"
    assert card.reason.text().startswith("Three stacked 3×3 CONVs with RELUs between")
    assert "Prefer a stack of small filter CONV" in card.section.text()
    text = card.effect_text()
    assert "weights 49·C² → 27·C²" in text
    assert f"params of conv {49 * 32 * 32:,} → {27 * 32 * 32:,}" in text
    assert "receptive field of conv 7×7 → 7×7 (kept)" in text
    assert card.apply_button.isEnabled() and card.ignore_button.text() == "Ignore"
    assert "1 hint" in panel.summary.text()


def test_apply_changes_the_design_and_undo_restores_it(qtbot, panel, doc):
    before = to_dict(doc.design)
    card = card_of(qtbot, panel, "stack3x3:conv")
    qtbot.mouseClick(card.apply_button, Qt.LeftButton)
    convs = [n for n in doc.network.nodes.values() if n.type == "Conv2d"]
    assert [n.params["kernel_size"] for n in convs] == [3, 3, 3]
    assert sum(doc.report.layers[n.id].params for n in convs) == 27 * 32 * 32
    assert doc.report.layers["conv"].rf.size == (7, 7)
    assert doc.undo_stack.count() == 1 and doc.modified
    assert panel.card("stack3x3:conv") is None  # the rule now holds
    assert doc.selection == ["conv"]

    doc.undo_stack.undo()
    assert to_dict(doc.design) == before
    assert panel.card("stack3x3:conv") is not None
    doc.undo_stack.redo()
    assert doc.report.layers["conv"].params == 9 * 32 * 32


def test_the_cards_of_hints_that_went_leave_the_panel_at_once(qtbot, panel, doc):
    """As the issue lists' (test_panels.py): replaced cards go from the layout and the screen
    when the panel is filled again, not when Qt deletes them."""
    before = list(panel.cards)
    assert before and all(c.isVisible() for c in before)
    card_of(qtbot, panel, "stack3x3:conv")
    qtbot.mouseClick(panel.card("stack3x3:conv").apply_button, Qt.LeftButton)
    assert panel.card("stack3x3:conv") is None
    gone = [c for c in before if c not in panel.cards]
    assert gone and not any(isValid(c) and c.isVisible() for c in gone)


def test_ignore_hides_the_hint_and_is_saved_in_the_file(qtbot, panel, doc, tmp_path):
    card = card_of(qtbot, panel, "stack3x3:conv")
    qtbot.mouseClick(card.ignore_button, Qt.LeftButton)
    assert panel.card("stack3x3:conv") is None
    assert "No hints" in panel.summary.text() and "(1 ignored)" in panel.summary.text()
    assert doc.modified  # an unsaved change, like any other

    path = tmp_path / "seven.convnet.json"
    doc.save(str(path))
    assert json.loads(path.read_text())["hints"] == {"ignored": ["stack3x3:conv"]}

    reopened = Document()
    reopened.open(str(path))
    model = HintsModel(reopened)
    assert [h.key for h in model.hints] == []
    assert [h.key for h in model.ignored] == ["stack3x3:conv"]

    # shown again on request, and "Show again" brings it back
    panel.show_ignored.setChecked(True)
    card = panel.card("stack3x3:conv")
    assert card.ignored and card.ignore_button.text() == "Show again"
    qtbot.mouseClick(card.ignore_button, Qt.LeftButton)
    assert not panel.card("stack3x3:conv").ignored
    assert "hints" not in json.loads(doc.text())

    # ignoring is an undo step like any other
    doc.undo_stack.undo()
    assert panel.card("stack3x3:conv").ignored


def test_clicking_a_card_selects_its_layers(qtbot, panel, doc):
    card = card_of(qtbot, panel, "stack3x3:conv")
    qtbot.mouseClick(card.reason, Qt.LeftButton)
    assert doc.selection == ["conv"]


def test_the_batch_hint_sets_the_largest_batch_that_fits(qtbot, panel, doc):
    doc.set_settings(batch=4096, budget=256 * 1024**2)
    card = card_of(qtbot, panel, "batch")
    largest = doc.report.textbook.max_batch
    assert card.title.text() == f"Batch 4096 does not fit 256 MiB: the largest that does is " \
                                f"{largest:,}"
    assert f"batch 4096 → {largest}" in card.effect_text()
    qtbot.mouseClick(card.apply_button, Qt.LeftButton)
    assert doc.settings["batch"] == largest and doc.report.textbook.fits
    assert panel.card("batch") is None


def test_an_edit_that_would_break_the_design_is_not_offered(qtbot, doc):
    net = Network("tiny")
    net.add("Input", {"channels": 1, "height": 20, "width": 20}, id="input")
    net.add("MaxPool2d", {}, id="pool", inputs=("input",))
    net.add("Conv2d", {"out_channels": 8, "kernel_size": 1, "stride": 2, "padding": 2},
            id="conv1", inputs=("pool",))
    net.add("Conv2d", {"out_channels": 8, "kernel_size": 7}, id="conv2", inputs=("conv1",))
    doc = Document(Design(net))
    panel = HintsPanel(HintsModel(doc))
    qtbot.addWidget(panel)
    panel.fill_effects()
    card = panel.card("stride:conv1")  # stride 1 here: conv2's 7×7 no longer fits
    assert not card.apply_button.isEnabled()
    assert "invalid" in card.apply_button.toolTip()
    assert "errors 0 → 1" in card.effect_text()


def test_the_canvas_marks_cards_that_have_hints(qtbot, doc):
    scene = CanvasScene(doc)
    model = HintsModel(doc)
    scene.set_hints(model)
    card = scene.card("conv")
    assert card.hint_titles == ("conv: 7×7 CONV → three 3×3 CONVs",)
    assert card.hint_marker.isVisible()
    assert "three 3×3" in card.hint_marker.tooltip()
    assert scene.card("relu").hint_marker is None

    model.ignore(model.hints[0])
    assert not card.hint_marker.isVisible() and card.hint_titles == ()
    doc.undo_stack.undo()
    assert card.hint_marker.isVisible()


# ------------------------------------------------------------------------------- the window


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    return shown_window(qtbot, tmp_path, monkeypatch)


def test_the_window_has_a_hints_dock_and_markers(qtbot, window):
    assert window.docks["hints"].windowTitle() == "Hints"
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.docks["hints"].toggleViewAction() in view.actions()
    window.open_example(PRESETS / "vgg16.convnet.json")
    panel = window.hints_panel
    assert [c.hint.key for c in panel.cards] == ["allconv:pool1,pool2,pool3,pool4,pool5",
                                                 "fc2conv:fc6,fc7,fc8"]
    assert window.scene.card("fc6").hint_marker.isVisible()
    assert window.scene.card("pool3").hint_marker.isVisible()
    assert window.scene.card("conv1_1").hint_marker is None


def test_apply_in_the_window_converts_vggs_fcs_and_undo_restores_them(qtbot, window):
    window.open_example(PRESETS / "vgg16.convnet.json")
    doc = window.doc
    params = doc.report.totals.params
    window.docks["hints"].raise_()  # the tab behind the layer table
    card = card_of(qtbot, window.hints_panel, "fc2conv:fc6,fc7,fc8")
    assert "params 138 M → 138 M" in card.effect_text()
    qtbot.mouseClick(card.apply_button, Qt.LeftButton)
    assert doc.network.nodes["fc6"].type == "Conv2d"
    assert doc.network.nodes["fc6"].params["kernel_size"] == 7
    assert doc.report.totals.params == params == 138_357_544
    assert window.scene.card("fc6").hint_titles == ()
    window.act_undo.trigger()
    assert doc.network.nodes["fc6"].type == "Linear"
    assert to_dict(doc.design)["nodes"] == to_dict(load(PRESETS / "vgg16.convnet.json"))["nodes"]


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "zfnet", "googlenet", "vgg16",
                                  "resnet18", "allconv_cifar10"])
def test_every_preset_hint_applies_as_predicted_and_undo_restores_the_design(qtbot, name):
    doc = Document()
    doc.open(str(PRESETS / f"{name}.convnet.json"))
    model = HintsModel(doc)
    original = to_dict(doc.design)
    assert model.hints
    for hint in list(model.hints):
        effect = hint.effect()
        assert model.apply(hint), hint.key
        totals = doc.report.totals
        anchor = doc.report.layers[hint.anchor or doc.report.output]
        assert (totals.params, totals.macs, doc.report.textbook.total, anchor.rf.size) == (
            effect.after.params, effect.after.macs, effect.after.memory, effect.after.rf)
        assert hint.key not in [h.key for h in model.hints]  # the rule holds now
        doc.undo_stack.undo()
        assert to_dict(doc.design) == original, hint.key


def test_disconnecting_a_wire_before_an_fc_keeps_the_hints_live(qtbot):
    """Disconnecting one wire of a network with two FCs crashed the hints (IndexError in
    fc_to_conv_plan) and left the panel showing the old design's hints."""
    from designer.ui import commands

    net = Network("two fcs")
    net.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input", pos=(0, 0))
    net.add("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, id="conv",
            inputs=("input",), pos=(0, 100))
    net.add("Flatten", {}, id="flat", inputs=("conv",), pos=(0, 200))
    net.add("Linear", {"out_features": 16}, id="fc", inputs=("flat",), pos=(0, 300))
    net.add("Linear", {"out_features": 10}, id="fc2", inputs=("fc",), pos=(0, 400))
    doc = Document(Design(net))
    widget = HintsPanel(HintsModel(doc))
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: any(c.hint.key.startswith("fc2conv") for c in widget.cards))
    commands.disconnect(doc, "fc", "fc2")  # fc2 now has no input
    # the hints follow the edit (they stayed those of the wired design when the rule crashed)
    qtbot.waitUntil(lambda: not any(c.hint.key.startswith("fc2conv") for c in widget.cards))


def test_a_memory_compromise_that_still_does_not_fit_says_so(qtbot):
    """The memory hint predicted 5.67 GiB against a 4 GB budget without saying that it still
    did not fit (issue 16): the card says so, and its 'fits 4 GiB' row reads 'no (still … over)',
    in the budget box's unit."""
    from designer.model.units import format_bytes

    net = Network("big first layers")
    prev = net.add("Input", {"channels": 3, "height": 224, "width": 224}, id="input",
                   pos=(0, 0))
    for i, (nid, kind, params) in enumerate([
            ("conv1", "Conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1}),
            ("relu1", "ReLU", {}),
            ("conv2", "Conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1}),
            ("relu2", "ReLU", {}), ("pool1", "MaxPool2d", {"kernel_size": 2, "stride": 2}),
            ("conv3", "Conv2d", {"out_channels": 128, "kernel_size": 3, "padding": 1}),
            ("relu3", "ReLU", {}), ("pool2", "MaxPool2d", {"kernel_size": 2, "stride": 2}),
            ("gap", "AdaptiveAvgPool2d", {"output_size": 1}), ("flat", "Flatten", {}),
            ("fc", "Linear", {"out_features": 10})], 1):
        prev = net.add(kind, params, id=nid, inputs=(prev,), pos=(0, 100 * i))
    doc = Document(Design(net))
    doc.set_settings(batch=256, budget=4 * 1024**3)
    widget = HintsPanel(HintsModel(doc))
    qtbot.addWidget(widget)
    widget.resize(460, 700)
    widget.show()
    qtbot.waitExposed(widget)
    card = card_of(qtbot, widget, "memory:conv1")
    effect = card.hint.effect()
    assert effect.after.memory > 4 * 1024**3  # the compromise alone is not enough
    assert "still more than 4 GiB: it does not fit without a smaller batch too" in (
        card.reason.text())
    over = format_bytes(effect.after.memory - 4 * 1024**3)
    assert f"fits 4 GiB no → no (still {over} over)" in card.effect_text()
    assert "GB" not in card.reason.text().replace("GiB", "")
