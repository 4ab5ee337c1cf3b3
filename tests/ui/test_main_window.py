"""The main window driven as a user drives it: palette to canvas, inspector edits with fixes and
undo, branches and merges, files, examples, exports, recovery after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.app import _offer_recovery
from designer.model.design_file import load
from designer.ui.canvas.items import CARD_H
from designer.ui.main_window import MainWindow, list_examples
from designer.ui.recovery import find_recoverable

from .gestures import at, drag_mouse, drop

PRESETS = Path(__file__).resolve().parents[2] / "presets"
CIFAR = PRESETS / "cifar10_example.convnet.json"


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    # a window left with unsaved changes asks on close; the test's teardown answers "Discard"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)

    def make(recovery_dir=None):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, recovery_dir=recovery_dir or tmp_path / "rec")
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        qtbot.waitExposed(window)
        return window
    return make


@pytest.fixture
def window(make_window):
    w = make_window()
    w.open_example(CIFAR)
    return w


@pytest.fixture
def no_dialogs(monkeypatch):
    """Answers the window's questions and records its messages instead of blocking."""
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: said.append(a[2]))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    return said


def table_text(window, nid: str, column: int) -> str:
    model = window.table.table_model
    return model.index(model.rows_by_id[nid], column).data()


def focus_canvas(window, qtbot):
    window.view.set_zoom(1.0)
    window.view.centerOn(130, 200)


def test_drag_a_conv_from_the_palette_onto_a_wire_and_the_readouts_change(window, qtbot):
    focus_canvas(window, qtbot)
    assert window.table.table_model.rowCount() == 5
    assert table_text(window, "pool", 2) == "16×16×12"
    params_before = window.doc.report.totals.params
    # the palette's own drag payload, dropped where the user lets go: on the relu → pool wire
    from designer.ui.panels.palette import layer_mime_data

    scene = window.scene
    relu, pool = scene.position_of("relu"), scene.position_of("pool")
    mid = at(window.view, relu[0], (relu[1] + CARD_H / 2 + pool[1] - CARD_H / 2) / 2)
    assert drop(window.view, layer_mime_data("Conv2d"), mid).isAccepted()

    new = window.doc.selection[0]
    assert window.doc.network["pool"].inputs == (new,)
    assert window.table.table_model.rowCount() == 6
    assert table_text(window, new, 2) == "30×30×16"
    assert table_text(window, "pool", 2) == "15×15×16"
    assert window.doc.report.totals.params != params_before
    assert f"{window.doc.report.totals.params:,}" in window.totals.params_label.text()
    assert window.isWindowModified()


def test_a_stride_that_does_not_work_out_warns_fix_undo_redo(window, qtbot):
    doc = window.doc
    doc.select(["conv"])
    stride = window.inspector.editors["stride"]
    stride.setFocus()
    stride.selectAll()
    qtbot.keyClicks(stride, "3")
    qtbot.keyClick(stride, Qt.Key_Return)
    assert doc.network["conv"].params["stride"] == 3

    def click_fix(label):
        buttons = [b for b in window.inspector.issues.fix_buttons() if b.text() == f"Fix: {label}"]
        assert buttons, [b.text() for b in window.inspector.issues.fix_buttons()]
        qtbot.mouseClick(buttons[0], Qt.LeftButton)

    # "same" padding cannot be strided: an error, whose fix gives an explicit padding...
    assert 'padding "same" needs stride 1' in table_text(window, "conv", 7)
    assert 'padding "same" needs stride 1' in window.scene.card("conv").tooltip()
    click_fix("padding same → 1")
    # ... with which (W − F + 2P)/S + 1 is not an integer: a warning, with its own fix
    assert "sizes don't work out" in table_text(window, "conv", 7)
    assert "(32 − 3 + 2)/3 + 1" in table_text(window, "conv", 7)
    assert any("sizes don't work out" in c.message.text() for c in window.issues.list.cards)
    assert table_text(window, "conv", 2) == "11×11×12"
    click_fix("padding 1 → 2")
    assert table_text(window, "conv", 7) == ""
    assert dict(doc.network["conv"].params)["padding"] == 2

    window.act_undo.trigger()
    assert "sizes don't work out" in table_text(window, "conv", 7)
    window.act_redo.trigger()
    assert table_text(window, "conv", 7) == ""
    assert doc.network["conv"].params["padding"] == 2


def test_the_toolbar_undoes_and_says_what_without_laying_the_window_out_again(window, qtbot):
    """The toolbar's undo and redo say in their tooltips what they would undo; the undo stack
    renames its actions at every step, and a toolbar whose action changes lays itself and the
    whole window out again: its buttons have actions of their own."""
    from PySide6.QtCore import QEvent, QObject

    from designer.ui import commands

    doc = window.doc
    undo = window.toolbar.widgetForAction(window.tool_undo)
    redo = window.toolbar.widgetForAction(window.tool_redo)
    requests = []

    class Count(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.LayoutRequest:
                requests.append(obj)
            return False

    counter = Count()
    window.toolbar.installEventFilter(counter)  # (its layout lays out the window after it)
    conv = next(n for n in doc.network.nodes if doc.network.nodes[n].type == "Conv2d")
    for width in (20, 24, 28):
        commands.set_params(doc, conv, text=f"Width {width}", out_channels=width)
        qtbot.wait(10)
        assert undo.toolTip() == f"Undo Width {width}" and undo.isEnabled()
        assert window.act_undo.text() == f"&Undo Width {width}"
        if width == 20:  # (undo enabled: the toolbar is laid out for that)
            requests.clear()
    assert requests == []  # steps renamed: a toolbar holding the stack's actions would ask
    doc.undo_stack.undo()
    qtbot.wait(1)
    assert undo.toolTip() == "Undo Width 24" and redo.toolTip() == "Redo Width 28"
    assert redo.isEnabled()
    window.tool_redo.trigger()
    assert doc.network.nodes[conv].params["out_channels"] == 28 and not redo.isEnabled()
    assert redo.toolTip() == "Redo"
    window.tool_undo.trigger()
    assert doc.network.nodes[conv].params["out_channels"] == 24


def test_connect_a_branch_and_merge_it_with_add(window, qtbot):
    from designer.ui import commands

    doc, scene, view = window.doc, window.scene, window.view
    focus_canvas(window, qtbot)
    # a 1×1 CONV beside the stack and an Add, dragged in from the palette's list
    side = commands.add_layer(doc, "Conv2d", {"out_channels": 12, "kernel_size": 1},
                              pos=(260.0, 100.0))
    add = commands.add_layer(doc, "Add", pos=(260.0, 300.0))
    for src, dst in (("input", side), ("relu", add), (side, add)):
        s, d = scene.card(src), scene.card(dst)
        drag_mouse(view, at(view, s.x(), s.y() + CARD_H / 2), at(view, d.x(), d.y() - CARD_H / 2))
        assert src in doc.network[dst].inputs, (src, dst)
    assert set(doc.network[add].inputs) == {"relu", side}
    assert table_text(window, add, 2) == "32×32×12"
    assert doc.report.ok
    commands.set_params(doc, side, out_channels=8)  # now the shapes don't match
    assert "Add needs inputs of equal shape" in table_text(window, add, 7)
    assert "Add needs inputs of equal shape" in scene.card(add).tooltip()


def test_save_reopen_compare(window, qtbot, tmp_path, monkeypatch):
    doc = window.doc
    doc.select(["conv"])
    from designer.ui import commands

    commands.set_params(doc, "conv", out_channels=20)
    target = tmp_path / "mine.convnet.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.save()  # no file yet: Save asks where
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("mine.convnet.json")
    saved = json.loads(target.read_text())
    assert saved["format"] == "convnet-designer"

    again = MainWindow(settings=window.settings, recovery_dir=tmp_path / "rec2")
    qtbot.addWidget(again)
    assert again.open_path(str(target))
    assert again.doc.text() == doc.text()
    assert again.doc.report.totals == doc.report.totals
    assert str(target.resolve()) in again._recent()


def test_every_example_opens_from_the_menu(window, no_dialogs):
    window.examples_menu.aboutToShow.emit()
    actions = window.examples_menu.actions()
    assert len(actions) == len(list(PRESETS.glob("*.convnet.json"))) == len(list_examples())
    for action in actions:
        action.trigger()
        assert window.doc.network.name == action.text()
        assert window.doc.report.ok, action.text()
        assert window.doc.path is None  # an example opens as a new design
        assert len(window.scene.cards) == len(window.doc.network)
        assert action.toolTip()  # the description
    assert no_dialogs == []


def test_a_malformed_or_foreign_file_is_refused_and_the_design_kept(window, tmp_path,
                                                                    monkeypatch, no_dialogs):
    before = window.doc.text()
    for name, content in (("broken.convnet.json", '{"format": "convnet-designer", "version": 1, '
                                                  '"nodes": [{"id": "a", "type": "Conv2d", '
                                                  '"params": {"stride": 0}}]}'),
                          ("foreign.json", '{"hello": "world"}')):
        bad = tmp_path / name
        bad.write_text(content)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, b=bad, **k: (str(b), ""))
        window.open_dialog()
        assert window.doc.text() == before
    assert "nodes[0].params.stride: must be ≥ 1, got 0" in no_dialogs[0]
    assert "format: expected" in no_dialogs[1]


def test_exports_write_code_summaries_and_diagrams(window, tmp_path):
    for kind, suffix in (("code", ".py"), ("markdown", ".md"), ("csv", ".csv"), ("png", ".png"),
                         ("svg", ".svg")):
        path = tmp_path / f"design{suffix}"
        assert window.export(kind, str(path))
        assert path.stat().st_size > 100
    code = (tmp_path / "design.py").read_text()
    namespace: dict = {}
    exec(compile(code, "design.py", "exec"), namespace)
    assert "16×16×12" in (tmp_path / "design.md").read_text()
    assert (tmp_path / "design.png").read_bytes()[:4] == b"\x89PNG"


def test_closing_with_unsaved_changes_asks(window, monkeypatch):
    from designer.ui import commands

    commands.set_params(window.doc, "conv", out_channels=7)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.Cancel)
    assert not window.close()
    assert asked and "Save the changes" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    assert window.close()


def test_recovery_after_a_crash_restores_the_edits(make_window, tmp_path, monkeypatch):
    from designer.ui import commands

    rec = tmp_path / "recovery"
    first = make_window(rec)
    first.open_example(CIFAR)
    commands.set_params(first.doc, "conv", out_channels=42)
    first.recovery.write()  # what the timer does a few seconds after the edit
    edited = first.doc.text()
    # the app "crashes": no closeEvent, the recovery file stays behind, and its lock is no
    # longer held (test_recovery.py kills real processes)
    first.recovery.lock.unlock()
    found = find_recoverable(rec, skip_own=False)
    assert len(found) == 1 and found[0].name == "CIFAR-10 example"

    second = make_window(tmp_path / "other")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    _offer_recovery(second, found, QMessageBox)
    assert second.doc.text() == edited
    assert second.doc.network["conv"].params["out_channels"] == 42
    assert second.isWindowModified()
    assert find_recoverable(rec, skip_own=False) == []  # offered once


def test_saved_file_and_a_clean_close_leave_no_recovery_file(window, tmp_path, monkeypatch):
    from designer.ui import commands

    commands.set_params(window.doc, "conv", out_channels=9)
    window.recovery.write()
    assert window.recovery.file.exists()
    target = tmp_path / "x.convnet.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.save()
    assert not window.recovery.file.exists()
    assert load(target).network["conv"].params["out_channels"] == 9


@pytest.mark.parametrize("saved_at", ["yesterday", None, [1], 1e300, -5, True])
def test_a_recovery_file_with_a_damaged_time_is_still_offered(tmp_path, saved_at):
    import time

    from designer.model.design_file import to_dict
    from designer.ui.recovery import FORMAT

    rec = tmp_path / "recovery"
    rec.mkdir()
    design = to_dict(load(CIFAR))
    (rec / "1-a.json").write_text(json.dumps({"format": FORMAT, "path": None,
                                              "saved_at": saved_at, "design": design}))
    found = find_recoverable(rec, skip_own=False)
    assert len(found) == 1 and found[0].name == "CIFAR-10 example"
    time.strftime("%Y-%m-%d %H:%M", time.localtime(found[0].saved_at))  # what the offer shows


def test_a_lone_surrogate_in_a_name_neither_stops_the_autosave_nor_the_save(window, tmp_path):
    from designer.ui import commands

    commands.set_params(window.doc, "conv", out_channels=9)
    window.doc.network.name = "bad \ud800 name"
    window.recovery.write()
    assert window.recovery.file.exists()
    assert "bad \ufffd name" in window.recovery.file.read_text(encoding="utf-8") or \
        "bad ? name" in window.recovery.file.read_text(encoding="utf-8")
    target = tmp_path / "x.convnet.json"
    window.doc.save(str(target))
    assert load(target).network.name == "bad \ufffd name"
