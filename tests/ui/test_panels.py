"""The side panels as a user sees them: palette, inspector, layer table, totals, issues."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QInputDialog, QLabel

from designer.model.layers import CATALOGUE
from designer.model.units import format_bytes
from designer.ui import commands
from designer.ui.document import Document
from designer.ui.panels.inspector import Inspector
from designer.ui.panels.palette import BLOCK_MIME, LAYER_MIME, LayerPalette, layer_mime_data
from designer.ui.panels.readouts import IssuesPanel, LayerTable, TotalsPanel
from designer.ui.theme import severity_colour

CIFAR = Path(__file__).resolve().parents[2] / "presets" / "cifar10_example.convnet.json"


@pytest.fixture
def doc(qtbot):
    d = Document()
    d.open(str(CIFAR))
    return d


def show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(420, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def type_into(qtbot, widget, text: str) -> None:
    """Replace a field's text the way a user does: select all, type, press Enter."""
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key_Return)


def issue_texts(issue_list) -> list[str]:
    return [card.message.text() for card in issue_list.cards]


def fix_button(issue_list, label: str):
    buttons = [b for b in issue_list.fix_buttons() if b.text() == f"Fix: {label}"]
    assert buttons, [b.text() for b in issue_list.fix_buttons()]
    return buttons[0]


# ------------------------------------------------------------------------------------- palette


def test_palette_groups_show_the_notes_names(qtbot):
    palette = show(qtbot, LayerPalette())
    groups = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    assert groups == ["Input", "Convolution", "Pooling", "Activation", "Normalization",
                      "Regularization", "Reshape", "Fully connected", "Merge", "Blocks"]
    entries = palette.visible_entries()
    assert "CONV — Conv2d" in entries and "FC — Linear" in entries and "ELU" in entries
    assert len(entries) == len(CATALOGUE) + 3
    conv = palette.tree.findItems("CONV — Conv2d", Qt.MatchExactly | Qt.MatchRecursive)[0]
    assert CATALOGUE["Conv2d"].doc in conv.toolTip(0)


@pytest.mark.parametrize("query, expected", [
    ("CONV", ["CONV — Conv2d"]),
    ("pool", ["POOL — MaxPool2d", "POOL — AvgPool2d", "POOL — AdaptiveAvgPool2d"]),
    ("fully", ["FC — Linear"]),
    ("residual", ["Add", "Residual block (basic)", "Residual block (bottleneck)"]),
    ("no such layer", []),
])
def test_palette_search_filters(qtbot, query, expected):
    palette = show(qtbot, LayerPalette())
    qtbot.keyClicks(palette.search, query)
    assert palette.visible_entries() == expected
    palette.search.clear()
    assert len(palette.visible_entries()) == len(CATALOGUE) + 3


def test_palette_entries_drag_the_layer_type(qtbot):
    palette = show(qtbot, LayerPalette())
    item = palette.tree.findItems("POOL — MaxPool2d", Qt.MatchExactly | Qt.MatchRecursive)[0]
    assert item.flags() & Qt.ItemIsDragEnabled
    mime = palette.tree.mimeData([item])
    assert mime.hasFormat(LAYER_MIME)
    assert bytes(mime.data(LAYER_MIME)).decode("utf-8") == "MaxPool2d"
    assert bytes(layer_mime_data("Conv2d").data(LAYER_MIME)) == b"Conv2d"
    block = palette.tree.findItems("Inception module", Qt.MatchExactly | Qt.MatchRecursive)[0]
    assert bytes(palette.tree.mimeData([block]).data(BLOCK_MIME)) == b"inception"


def test_palette_double_click_and_enter_activate(qtbot):
    palette = show(qtbot, LayerPalette())
    tree = palette.tree
    item = tree.findItems("NORM — BatchNorm2d", Qt.MatchExactly | Qt.MatchRecursive)[0]
    tree.scrollToItem(item)
    centre = tree.visualItemRect(item).center()
    with qtbot.waitSignal(palette.layer_activated) as sig:
        qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=centre)
        qtbot.mouseDClick(tree.viewport(), Qt.LeftButton, pos=centre)
    assert sig.args == ["BatchNorm2d"]

    qtbot.keyClicks(palette.search, "bottleneck")
    with qtbot.waitSignal(palette.block_activated) as sig:
        qtbot.keyClick(palette.search, Qt.Key_Return)
    assert sig.args == ["bottleneck"]


# ------------------------------------------------------------------------------------- inspector


def test_inspector_hint_without_a_single_selection(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    assert inspector.stack.currentWidget() is inspector.hint
    assert inspector.hint.text() == "Select a layer"
    doc.select(["conv", "pool"])
    assert inspector.stack.currentWidget() is inspector.hint
    doc.select(["conv"])
    assert inspector.stack.currentWidget() is not inspector.hint
    assert inspector.id_edit.text() == "conv"
    assert "CONV — Conv2d" in inspector.type_label.text()


def test_inspector_widgets_fit_the_parameter_kinds(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    stride = inspector.editors["stride"]
    assert (type(stride).__mro__[2].__name__, stride.minimum(), stride.maximum()) == (
        "QSpinBox", 1, 1024)
    assert not stride.keyboardTracking()
    assert inspector.editors["padding"].currentText() == "same"
    assert inspector.editors["bias"].isChecked()
    lrn = commands.add_layer(doc, "LocalResponseNorm", after="relu")
    doc.select([lrn])
    alpha = inspector.editors["alpha"]
    assert alpha.decimals() == 6 and alpha.text() == "0.000100"


def test_inspector_readouts(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["pool"])
    r = inspector.readouts
    assert r["input"].text() == "32×32×12"
    assert r["output"].text() == "16×16×12"
    assert r["rf"].text() == "4×4, jump 2"
    doc.select(["conv"])
    assert r["params"].text() == "336"
    assert r["macs"].text().startswith("331,776")  # 32·32·12 outputs × 3·3·3
    assert "1.5 MiB at batch 32" in r["memory"].text()


def test_stride_that_does_not_work_out_warns_and_fix_repairs_it(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    table = show(qtbot, LayerTable(doc))
    doc.select(["conv"])
    type_into(qtbot, inspector.editors["padding"].lineEdit(), "1")
    assert doc.network["conv"].params["padding"] == 1
    stride = inspector.editors["stride"]

    stride.setFocus()
    stride.selectAll()
    qtbot.keyClicks(stride, "3")
    steps = doc.undo_stack.count()
    assert doc.network["conv"].params["stride"] == 1  # nothing pushed while typing
    qtbot.keyClick(stride, Qt.Key_Return)
    assert doc.network["conv"].params["stride"] == 3
    assert doc.undo_stack.count() == steps + 1

    assert inspector.readouts["output"].text() == "11×11×12"
    (message,) = issue_texts(inspector.issues)
    assert "sizes don't work out" in message and "(32 − 3 + 2)/3 + 1" in message
    row = table.table_model.rows_by_id["conv"]
    notes = table.table_model.index(row, 7)
    assert "sizes don't work out" in notes.data()
    # only zero padding is dropped: a note, not a warning (issue 16)
    assert notes.data(Qt.ForegroundRole) == severity_colour("info")
    assert inspector.editors["stride"] is stride  # kept, not rebuilt

    qtbot.mouseClick(fix_button(inspector.issues, "padding 1 → 2"), Qt.LeftButton)
    assert doc.network["conv"].params["padding"] == 2
    assert issue_texts(inspector.issues) == []
    assert inspector.editors["padding"].currentText() == "2"
    assert notes.data() == ""

    doc.undo_stack.undo()
    assert doc.network["conv"].params["padding"] == 1
    assert "sizes don't work out" in issue_texts(inspector.issues)[0]
    assert inspector.editors["padding"].currentText() == "1"
    doc.undo_stack.undo()
    assert stride.value() == 1 and issue_texts(inspector.issues) == []


def test_each_fix_shows_its_effect_on_the_design_under_its_button(qtbot, doc):
    """Issue 16, 'fixes that hurt': a fix's button is not all a user sees; its effect on the
    whole design (output, params, MACs, memory before → after) is written under it, in the
    Inspector and in the Issues panel, and no fix offers a stride wider than the window."""
    from designer.model.analysis import analyze

    inspector = show(qtbot, Inspector(doc))
    panel = show(qtbot, IssuesPanel(doc))
    commands.set_params(doc, "conv", padding=1, stride=3)  # the pool then gets 11 × 11
    doc.select(["pool"])
    [issue] = doc.report.layers["pool"].warnings
    assert [f.label for f in issue.fixes] == ["ceil_mode false → true", "stride 2 → 1"]
    for issue_list in (inspector.issues, panel.list):
        card = next(c for c in issue_list.cards if c.nid == "pool")
        qtbot.waitUntil(card.isVisible)  # (a card made for a shown list is shown by its layout)
        assert [b.text() for b in card.buttons] == [f"Fix: {f.label}" for f in issue.fixes]
        shown = [label.text() for label in card.effects if label.isVisible()]
        assert shown == [f"{f.label}: {f.effect_text}" for f in issue.fixes]
        for fix, button, text in zip(issue.fixes, card.buttons, shown):
            trial = doc.network.copy()
            trial.set_params("pool", **fix.params)
            after = analyze(trial, batch=doc.settings["batch"])
            assert format_bytes(doc.report.textbook.total) in text
            assert format_bytes(after.textbook.total) in text  # memory before → after
            assert "params " in text and "MACs " in text and "output 5×5×12 → " in text
            assert fix.effect_text in button.toolTip()
    ceil, stride = shown
    assert "output 5×5×12 → 6×6×12" in ceil and "output 5×5×12 → 10×10×12" in stride


def test_strided_same_padding_is_an_error_with_a_fix(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    type_into(qtbot, inspector.editors["stride"], "3")
    assert 'padding "same" needs stride 1' in issue_texts(inspector.issues)[0]
    assert inspector.readouts["output"].text() == "unknown"
    qtbot.mouseClick(fix_button(inspector.issues, "padding same → 1"), Qt.LeftButton)
    assert "sizes don't work out" in issue_texts(inspector.issues)[0]


def test_each_inspector_edit_is_one_undo_step(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    type_into(qtbot, inspector.editors["out_channels"], "32")
    assert doc.undo_stack.count() == 1
    qtbot.mouseClick(inspector.editors["bias"], Qt.LeftButton,
                     pos=QPoint(4, inspector.editors["bias"].height() // 2))
    assert doc.network["conv"].params["bias"] is False
    assert doc.undo_stack.count() == 2
    assert inspector.readouts["params"].text() == f"{32 * 27:,}"
    doc.undo_stack.undo()
    assert inspector.editors["bias"].isChecked()
    doc.undo_stack.undo()
    assert inspector.editors["out_channels"].value() == 12


def test_refused_value_shows_the_error_and_keeps_the_layer(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    type_into(qtbot, inspector.editors["padding"].lineEdit(), "5000")
    assert doc.network["conv"].params["padding"] == "same"
    assert not inspector.error_label.isHidden()
    assert "padding" in inspector.error_label.text()
    assert inspector.editors["padding"].currentText() == "same"
    assert doc.undo_stack.count() == 0


def test_rename_from_the_inspector(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    type_into(qtbot, inspector.id_edit, "conv1")
    assert "conv1" in doc.network.nodes and "conv" not in doc.network.nodes
    assert doc.selection == ["conv1"] and inspector.id_edit.text() == "conv1"
    assert doc.undo_stack.count() == 1

    type_into(qtbot, inspector.id_edit, "relu")
    assert "there is already a layer named 'relu'" in inspector.error_label.text()
    assert inspector.id_edit.text() == "conv1"
    assert doc.undo_stack.count() == 1


# ------------------------------------------------------------------------------------- table


def cell(table, nid: str, column: int) -> str:
    model = table.table_model
    return model.index(model.rows_by_id[nid], column).data()


def test_table_rows_like_a_summary(qtbot, doc):
    table = show(qtbot, LayerTable(doc))
    model = table.table_model
    assert model.rowCount() == 5
    assert [model.headerData(c, Qt.Horizontal) for c in range(model.columnCount())] == [
        "layer", "type", "output W×H×D", "params", "MACs", "receptive field", "memory", "notes"]
    assert [cell(table, "pool", c) for c in range(7)] == [
        "pool", "MaxPool2d (POOL)", "16×16×12", "0", "", "4×4 /2",
        format_bytes(16 * 16 * 12 * 32 * 4)]
    assert cell(table, "conv", 3) == "336"
    assert cell(table, "relu", 6) == "in place"
    assert cell(table, "fc", 3) == "30,730"
    doc.set_settings(batch=1, dtype="fp16")
    assert cell(table, "conv", 6) == "24 KiB"


def test_table_repaints_the_rows_an_edit_changed(qtbot, doc):
    table = show(qtbot, LayerTable(doc))
    model = table.table_model
    with qtbot.waitSignal(model.dataChanged) as sig:
        commands.set_params(doc, "fc", out_features=100)
    top, bottom = sig.args[0].row(), sig.args[1].row()
    assert top == bottom == model.rows_by_id["fc"]
    assert cell(table, "fc", 3) == "307,300"
    with qtbot.waitSignal(model.dataChanged) as sig:
        commands.set_params(doc, "conv", out_channels=6)  # everything after conv changes
    assert (sig.args[0].row(), sig.args[1].row()) == (model.rows_by_id["conv"],
                                                      model.rows_by_id["fc"])
    assert cell(table, "pool", 2) == "16×16×6"


def test_table_cells_follow_an_edit_its_undo_and_a_layer_inserted_before(qtbot, doc):
    table = show(qtbot, LayerTable(doc))
    model = table.table_model
    assert cell(table, "fc", 3) == "30,730" and cell(table, "pool", 2) == "16×16×12"
    commands.set_params(doc, "conv", out_channels=6)
    assert cell(table, "pool", 2) == "16×16×6" and cell(table, "fc", 3) == "15,370"
    doc.undo_stack.undo()
    assert cell(table, "pool", 2) == "16×16×12" and cell(table, "fc", 3) == "30,730"
    commands.add_layer(doc, "Dropout", after="relu")  # every row after relu moves down
    assert [cell(table, nid, 0) for nid in model.order] == list(doc.report.order)
    assert cell(table, "pool", 2) == "16×16×12" and cell(table, "fc", 3) == "30,730"


def test_table_repaints_only_the_changed_rows_each_run_apart(qtbot):
    """ResNet-18: an edit in stage 3 changes its own rows, and the shortcut convs whose fixes
    are tried again get reports of their own; the rows between are said unchanged, so a view
    on the edit repaints the edit's rows, not every row on show."""
    d = Document()
    d.open(str(Path(__file__).resolve().parents[2] / "presets" / "resnet18.convnet.json"))
    table = LayerTable(d)
    qtbot.addWidget(table)
    model = table.table_model
    before = d.report
    said = []
    model.dataChanged.connect(lambda a, b, *_: said.append((a.row(), b.row())))
    commands.set_params(d, "layer3_1_conv1", out_channels=300)
    changed = {i for i, nid in enumerate(model.order)
               if d.report.layers[nid] is not before.layers[nid]}
    covered = {r for a, b in said for r in range(a, b + 1)}
    assert covered == changed
    assert len(said) > 1  # the edit's rows and, apart, the shortcuts re-annotated
    assert {model.rows_by_id[n] for n in ("layer3_1_conv1", "layer3_1_bn1", "layer3_1_conv2")
            } <= covered


def test_table_selection_follows_the_document_both_ways(qtbot, doc):
    table = show(qtbot, LayerTable(doc))
    model = table.table_model
    index = model.index(model.rows_by_id["pool"], 2)
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=table.visualRect(index).center())
    assert doc.selection == ["pool"]
    doc.select(["fc"])
    assert [i.row() for i in table.selectionModel().selectedRows()] == [model.rows_by_id["fc"]]
    commands.add_layer(doc, "Dropout", after="relu")  # rows change: the selection stays
    assert model.rowCount() == 6
    assert [i.row() for i in table.selectionModel().selectedRows()] == [model.rows_by_id["fc"]]


# ------------------------------------------------------------------------------------- totals


def test_totals_show_parameters_and_memory(qtbot, doc):
    totals = show(qtbot, TotalsPanel(doc))
    assert "31,066" in totals.params_label.text()
    assert "MACs" in totals.macs_label.text()
    before = doc.report.textbook.part("activations")
    assert f"activations {format_bytes(before)}" in totals.legend.text()
    type_into(qtbot, totals.batch, "64")
    assert doc.settings["batch"] == 64
    after = doc.report.textbook.part("activations")
    assert after == 2 * before
    assert f"activations {format_bytes(after)}" in totals.legend.text()
    assert totals.book_total.text() == f"{format_bytes(doc.report.textbook.total)}  (batch 64)"
    assert totals.peak_total.text() == f"≈ {format_bytes(doc.report.pytorch.total)}"


def test_budget_that_does_not_fit_names_the_largest_batch(qtbot, doc, monkeypatch):
    totals = show(qtbot, TotalsPanel(doc))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("1 MB", True))
    custom = totals.budget.findText("Custom…")
    totals.budget.setCurrentIndex(custom)
    totals.budget.activated.emit(custom)
    assert doc.settings["budget"] == 1024 ** 2
    assert totals.budget.currentText() == "1 MiB"
    best = doc.report.textbook.max_batch
    assert best == 5
    assert "does NOT fit" in totals.verdict.text()
    assert "largest batch that fits: 5" in totals.verdict.text()
    qtbot.mouseClick(totals.use_batch, Qt.LeftButton)
    assert doc.settings["batch"] == 5 and totals.batch.value() == 5
    assert totals.verdict.text().startswith("✓ fits in 1 MiB")

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("2 MiB", True))
    totals.budget.activated.emit(totals.budget.findText("Custom…"))
    assert totals.budget.currentText() == "2 MiB"
    assert totals.budget.findText("1 MiB") == -1  # one custom entry, the current one
    totals.add_budget_option("Detected GPU (24 GiB)", 24 * 1024 ** 3)
    assert totals.budget.itemText(1) == "Detected GPU (24 GiB)"
    assert totals.budget.currentText() == "2 MiB"

    twelve = totals.budget.findText("12 GiB")
    totals.budget.setCurrentIndex(twelve)
    totals.budget.activated.emit(twelve)
    assert "fits in 12 GiB" in totals.verdict.text()


def test_the_budget_box_writes_sizes_as_the_verdict_does(qtbot, doc):
    """'4 GB' in the budget box but '4 GiB' in the text (issue 16): each preset reads as
    format_bytes writes its bytes, and the verdict of a budget that does not fit says the
    box's own words."""
    totals = show(qtbot, TotalsPanel(doc))
    presets = [(totals.budget.itemText(i), totals.budget.itemData(i))
               for i in range(totals.budget.count())
               if isinstance(totals.budget.itemData(i), int)]
    assert len(presets) >= 6
    assert all(text == format_bytes(size) for text, size in presets), presets
    doc.set_settings(batch=65_536)
    four = totals.budget.findText("4 GiB")
    totals.budget.setCurrentIndex(four)
    totals.budget.activated.emit(four)
    assert doc.settings["budget"] == 4 * 1024**3
    assert "does NOT fit in 4 GiB" in totals.verdict.text(), totals.verdict.text()
    assert "GB " not in totals.verdict.text() + " "


def test_totals_follow_settings_changed_elsewhere(qtbot, doc):
    totals = show(qtbot, TotalsPanel(doc))
    doc.set_settings(dtype="fp16", optimizer="adam", batch=8, budget=3 * 1024 ** 3)
    assert (totals.dtype.currentText(), totals.optimizer.currentText(), totals.batch.value(),
            totals.budget.currentText()) == ("fp16", "adam", 8, "3 GiB")
    assert "optimizer state" in totals.legend.text()


# ------------------------------------------------------------------------------------- issues


def test_issues_panel_lists_selects_and_fixes(qtbot, doc):
    panel = show(qtbot, IssuesPanel(doc))
    assert "No errors or warnings" in panel.summary.text()
    commands.set_params(doc, "conv", padding=1, stride=3)
    # conv drops only padding (a note); the pool after its 11×11 output drops a real row
    assert panel.summary.text() == "1 warning, 1 note"
    card, pool_card = panel.list.cards
    assert (card.nid, pool_card.nid) == ("conv", "pool")
    assert any(isinstance(w, QLabel) and w.text() == "conv" for w in card.findChildren(QLabel))
    qtbot.mouseClick(card, Qt.LeftButton, pos=QPoint(4, 4))
    assert doc.selection == ["conv"]
    qtbot.mouseClick(fix_button(panel.list, "padding 1 → 2"), Qt.LeftButton)
    assert doc.network["conv"].params["padding"] == 2
    assert panel.list.cards == [] and "No errors or warnings" in panel.summary.text()


def test_the_issue_cards_replaced_leave_the_list_at_once(qtbot, doc):
    """Cards of the issues before go from the list's layout and the screen when it is filled
    again, not when Qt gets round to deleting them: until then the layout would measure their
    wrapped text with the new cards', and a frame could show both."""
    from shiboken6 import isValid

    from designer.ui.widgets.issues import IssueCard

    panel = show(qtbot, IssuesPanel(doc))
    commands.set_params(doc, "conv", padding=1, stride=3)
    before = list(panel.list.cards)
    assert len(before) == 2
    qtbot.waitUntil(lambda: all(c.isVisible() for c in before))
    commands.set_params(doc, "conv", padding=0, stride=2)  # a warning each now
    after = panel.list.cards
    assert [c.nid for c in after] == ["conv", "pool"] and not set(after) & set(before)
    assert not any(isValid(c) and c.isVisible() for c in before)
    layout = panel.list.layout()
    assert not set(before) & {layout.itemAt(i).widget() for i in range(layout.count())}
    qtbot.waitUntil(lambda: all(c.isVisible() for c in after))  # (shown by the event loop)
    assert [c for c in panel.list.findChildren(IssueCard) if c.isVisible()] == after


def test_a_card_whose_issue_stays_is_kept_and_one_that_comes_back_is_shown_again(qtbot, doc):
    """Cards are not built again for issues that stay or come back (an edit that makes one
    come and go, like VGG-16's note on its parameter count, built a card each time)."""
    from designer.ui.widgets.issues import IssueCard, IssueList

    panel = show(qtbot, IssuesPanel(doc))
    commands.set_params(doc, "conv", padding=1, stride=3)
    first = list(panel.list.cards)
    conv_card = first[0]
    commands.set_params(doc, "pool", ceil_mode=True)  # the pool's issue changes, conv's stays
    assert panel.list.cards[0] is conv_card  # (its fixes' effects are the new ones)
    issue = doc.report.layers["conv"].issues[0]
    assert conv_card.issue == issue and issue.fixes
    assert [e.text() for e in conv_card.effects] == [
        f"{f.label}: {f.effect_text}" for f in issue.fixes if f.effect_text]
    assert all(f.effect_text in b.toolTip() for b, f in zip(conv_card.buttons, issue.fixes))
    commands.set_params(doc, "conv", padding=0, stride=2)
    second = list(panel.list.cards)
    assert not set(first) & set(second)
    built = []
    original = IssueCard.__init__

    def counting(self, *args, **kwargs):
        built.append(args)
        original(self, *args, **kwargs)

    IssueCard.__init__ = counting
    try:
        doc.undo_stack.undo()
        doc.undo_stack.undo()  # both issues of the first state again
    finally:
        IssueCard.__init__ = original
    assert panel.list.cards == first and built == []
    report_issues = [(nid, i) for nid in doc.report.order for i in doc.report.layers[nid].issues]
    assert [(c.nid, c.issue) for c in first] == report_issues
    assert [c.message.text() for c in first] == [i.message for _, i in report_issues]
    layout = panel.list.layout()
    assert [layout.itemAt(1 + i).widget() for i in range(len(first))] == first
    qtbot.waitUntil(lambda: all(c.isVisible() for c in first))
    assert [c for c in panel.list.findChildren(IssueCard) if c.isVisible()] == first
    # the cards kept hidden are few, whatever comes and goes
    for stride in range(2, 2 + 3 * IssueList.KEPT):
        commands.set_params(doc, "conv", padding=stride % 2, stride=stride)
    qtbot.wait(1)  # (deleteLater)
    assert len(panel.list._spare) <= IssueList.KEPT
    assert not any(c.isVisible() for c in panel.list._spare)


def test_custom_budget_reprompts_on_bad_input_and_cancel_keeps_the_budget(qtbot, doc,
                                                                          monkeypatch):
    totals = show(qtbot, TotalsPanel(doc))
    answers = iter([("12 parsecs", True), ("", False)])
    prompts = []

    def get_text(parent, title, label, **kwargs):
        prompts.append(label)
        return next(answers)

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    custom = totals.budget.findText("Custom…")
    totals.budget.setCurrentIndex(custom)
    totals.budget.activated.emit(custom)
    assert "is not a size" in prompts[1]
    assert doc.settings["budget"] is None and totals.budget.currentText() == "None"


def test_inspector_edits_every_layer_kind(qtbot):
    doc = Document()
    inspector = show(qtbot, Inspector(doc))
    for name, layer in CATALOGUE.items():
        nid = commands.add_layer(doc, name)
        doc.select([nid])
        assert list(inspector.editors) == [spec.name for spec in layer.params], name
        assert inspector.type_label.text().startswith(layer.alias or name)
    lrn = next(n for n, node in doc.network.nodes.items() if node.type == "LocalResponseNorm")
    doc.select([lrn])
    type_into(qtbot, inspector.editors["alpha"], "0.0002")
    assert doc.network[lrn].params["alpha"] == pytest.approx(2e-4)
    gelu = next(n for n, node in doc.network.nodes.items() if node.type == "GELU")
    doc.select([gelu])
    combo = inspector.editors["approximate"]
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key_Down)
    assert doc.network[gelu].params["approximate"] == "tanh"


def test_a_committed_edit_keeps_the_focus_in_its_field(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    with qtbot.waitActive(inspector):
        inspector.activateWindow()
    doc.select(["conv"])
    stride = inspector.editors["stride"]
    type_into(qtbot, stride, "2")
    assert doc.network["conv"].params["stride"] == 2
    assert inspector.editors["stride"] is stride and stride.hasFocus()
    type_into(qtbot, inspector.id_edit, "first_conv")
    assert doc.selection == ["first_conv"] and inspector.id_edit.hasFocus()


def test_typing_then_selecting_another_layer_commits_to_the_first(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    with qtbot.waitActive(inspector):
        inspector.activateWindow()
    second = commands.add_layer(doc, "Conv2d", after="conv")  # same kind: editors reused
    doc.select(["conv"])
    field = inspector.editors["out_channels"]
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "20")
    doc.select([second])
    assert doc.network["conv"].params["out_channels"] == 20
    assert doc.network[second].params["out_channels"] == 16
    assert inspector.editors["out_channels"].value() == 16


def test_vgg16s_totals_tooltip_says_the_notes_24m_is_their_addition_slip(qtbot):
    from designer.model.design_file import load

    vgg = load(Path(__file__).resolve().parents[2] / "presets" / "vgg16.convnet.json")
    totals = show(qtbot, TotalsPanel(Document(vgg)))
    tip = totals.activations_label.toolTip()
    assert "15,237,608 values per image" in tip and "24M" in tip


def test_figures_are_selectable_under_the_mouse_and_keep_a_selection(qtbot, doc):
    """The totals' and the inspector's figures can be selected and copied; they are plain
    labels while the mouse is elsewhere (a selectable label costs an edit 4x the layout)."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QEnterEvent
    from PySide6.QtWidgets import QApplication

    panel = show(qtbot, TotalsPanel(doc))
    label = panel.macs_label
    QApplication.sendEvent(label, QEvent(QEvent.Leave))
    assert not label.textInteractionFlags() & Qt.TextSelectableByMouse
    at = QPointF(2, label.height() / 2)
    QApplication.sendEvent(label, QEnterEvent(at, at, label.mapToGlobal(at)))
    assert label.textInteractionFlags() & Qt.TextSelectableByMouse
    y = label.height() // 2
    qtbot.mousePress(label, Qt.LeftButton, pos=QPoint(1, y))
    qtbot.mouseMove(label, QPoint(label.width() - 2, y))
    qtbot.mouseRelease(label, Qt.LeftButton, pos=QPoint(label.width() - 2, y))
    assert label.selectedText() and label.selectedText() in label.text()
    QApplication.sendEvent(label, QEvent(QEvent.Leave))
    assert label.textInteractionFlags() & Qt.TextSelectableByMouse  # the selection stays
    other = panel.params_label
    QApplication.sendEvent(other, QEnterEvent(at, at, other.mapToGlobal(at)))
    QApplication.sendEvent(other, QEvent(QEvent.Leave))
    assert not other.textInteractionFlags() & Qt.TextSelectableByMouse  # nothing selected
    inspector = Inspector(doc)
    assert all(type(v).__name__ == "Figure" for v in inspector_values(inspector, doc))


def _alike(ours, plain, change):
    change(ours)
    change(plain)
    for _ in range(2):  # (the second time from what was remembered)
        for width in (40, 90, 200, 600):
            assert ours.heightForWidth(width) == plain.heightForWidth(width), width


def test_a_wrapping_label_remembers_the_heights_qlabel_gives(qtbot):
    """The figures and texts that wrap remember their height at a width (a layout asks again and
    again); whatever changes the text or how it is measured, it is QLabel's own answer."""
    from designer.ui.widgets.decor import Figure, WrappingLabel

    bigger = QLabel().font()
    bigger.setPointSizeF(bigger.pointSizeF() * 2)
    changes = [
        *(lambda label, t=text: label.setText(t) for text in (
            "short", "60,192,808 trainable  ·  151,579 in buffers",
            "a text that wraps over several lines at a narrow width " * 3)),
        lambda label: label.setContentsMargins(30, 0, 30, 0),
        lambda label: label.setStyleSheet("QLabel { padding-left: 40px; }"),
        lambda label: label.setFont(bigger),
        lambda label: label.setStyleSheet("font-size: 7px;"),
        lambda label: label.setMargin(9),
        lambda label: label.setIndent(25),
        lambda label: label.setTextFormat(Qt.RichText),
        lambda label: label.setText("<b>bold</b> and " + "plain words " * 8),
        lambda label: label.setWordWrap(False),
        lambda label: label.setWordWrap(True),
    ]
    # a figure under the mouse is selectable: laid out as a document
    plain_flags = QLabel().textInteractionFlags()
    changes += [lambda label: label.setTextInteractionFlags(Qt.TextSelectableByMouse),
                lambda label: label.setTextInteractionFlags(plain_flags)]
    for ours in (WrappingLabel(), Figure()):
        plain = QLabel()
        for label in (ours, plain):
            qtbot.addWidget(label)
            label.setWordWrap(True)
        for change in changes:
            _alike(ours, plain, change)


def inspector_values(inspector, doc):
    doc.select(["conv"])
    return list(inspector.readouts.values())
