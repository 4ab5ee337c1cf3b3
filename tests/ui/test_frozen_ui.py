"""Frozen layers in the window (issue 17): the inspector's Trainable switch (undoable, disabled
where a layer has no weights), the totals' "N trainable · M frozen", the card's mark, copy and
paste; and the command line's summary of a design with frozen layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from designer.cli import main
from designer.model import design_file
from designer.ui import commands
from designer.ui.canvas.edits import nodes_from_json, nodes_to_json
from designer.ui.canvas.items import NodeCard
from designer.ui.document import Document
from designer.ui.panels.inspector import Inspector
from designer.ui.panels.readouts import TotalsPanel

CIFAR = Path(__file__).resolve().parents[2] / "presets" / "cifar10_example.convnet.json"
CONV, FC = 3 * 12 * 9 + 12, 16 * 16 * 12 * 10 + 10  # the CIFAR-10 example's 31,066


@pytest.fixture
def doc(qtbot):
    d = Document()
    d.open(str(CIFAR))
    return d


def click(qtbot, checkbox) -> None:
    """A click on the box itself (the widget is as wide as the dock)."""
    qtbot.mouseClick(checkbox, Qt.LeftButton, pos=QPoint(8, checkbox.height() // 2))


def show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(420, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_the_trainable_switch_freezes_a_layer_in_one_undo_step(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    totals = show(qtbot, TotalsPanel(doc))
    doc.select(["conv"])
    switch = inspector.trainable
    assert switch.isVisible() and switch.isEnabled() and switch.isChecked()
    assert totals.params_label.text() == f"{CONV + FC:,} trainable"
    steps = doc.undo_stack.count()

    click(qtbot, switch)
    assert doc.network["conv"].frozen and not switch.isChecked()
    assert doc.undo_stack.count() == steps + 1
    assert doc.undo_stack.undoText() == "Freeze conv"
    assert totals.params_label.text() == f"{FC:,} trainable  ·  {CONV:,} frozen"
    assert "frozen" in totals.params_label.toolTip()
    assert inspector.readouts["params"].text() == f"{CONV:,}  ·  frozen"
    assert doc.report.textbook.part("frozen weights") == CONV * 4

    doc.undo_stack.undo()
    assert not doc.network["conv"].frozen and switch.isChecked()
    assert totals.params_label.text() == f"{CONV + FC:,} trainable"
    assert inspector.readouts["params"].text() == f"{CONV:,}"
    doc.undo_stack.redo()
    assert doc.network["conv"].frozen and not switch.isChecked()

    click(qtbot, switch)  # trainable again: another step
    assert not doc.network["conv"].frozen and doc.undo_stack.undoText() == "Unfreeze conv"


def test_the_switch_is_off_where_a_layer_has_no_weights(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["relu"])
    assert not inspector.trainable.isEnabled()
    assert "no weights" in inspector.trainable.toolTip()
    doc.select(["fc"])
    assert inspector.trainable.isEnabled()


def test_a_frozen_card_says_so(qtbot, doc):
    commands.set_frozen(doc, "fc", True)
    card = NodeCard(doc.network["fc"], doc.report.layers["fc"])
    assert card.text_lines()[-1].endswith(f"{FC:,} frozen")
    assert card.params_forms[-1] == "frozen"
    assert "Frozen" in card.tooltip()
    plain = NodeCard(doc.network["conv"], doc.report.layers["conv"])
    assert "frozen" not in " ".join(plain.text_lines()) + plain.tooltip()


def test_copy_and_paste_keep_the_flag(qtbot, doc):
    commands.set_frozen(doc, "conv", True)
    nodes = nodes_from_json(nodes_to_json(doc.network, ["conv", "relu"]))
    assert [n.frozen for n in nodes] == [True, False]
    ids = commands.paste(doc, nodes)
    assert [doc.network[i].frozen for i in ids] == [True, False]


def test_the_summary_writes_frozen_parameters_apart(tmp_path, capsys):
    design = design_file.load(CIFAR)
    design.network.set_frozen("conv", True)
    path = tmp_path / "fine_tune.convnet.json"
    design_file.save(design, path)

    assert main(["summary", str(path), "--optimizer", "adam"]) == 0
    out = capsys.readouterr().out
    assert f"{FC:,} trainable, {CONV:,} frozen ({CONV + FC:,} in all" in out
    row = next(line for line in out.splitlines() if line.split()[:2] == ["2", "conv"])
    assert f"{CONV:,} frozen" in row  # the conv's row in the table
    assert out.count("frozen weights") == 2  # the notes' count and PyTorch's peak

    assert main(["summary", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["params"] == CONV + FC
    assert (data["totals"]["params_trainable"], data["totals"]["params_frozen"]) == (FC, CONV)
    assert [layer["frozen"] for layer in data["layers"]] == [False, True, False, False, False]
    assert data["memory"]["textbook"]["parts"]["frozen weights"] == CONV * 4
    assert data["memory"]["pytorch"]["parts"]["frozen weights"] == CONV * 4
