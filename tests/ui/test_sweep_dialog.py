"""Train → Sweep… (issue 20): the dialog lists the search space, runs the study in the background
with the Training panel's settings, lists each trial as it ends (its knobs, accuracy or why it
was pruned), stops when asked, opens the best design; bad fields are named, never a crash."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from designer.model.design_file import load
from designer.training.sweep import TrialRecord
from designer.ui.dialogs.sweep import SweepDialog, row_texts
from tests.ui.test_runs import CIFAR, make_window, said, small  # noqa: F401

MINUTE = 60_000


@pytest.fixture
def design(tmp_path):
    path = tmp_path / "net.convnet.json"
    shutil.copy(CIFAR, path)
    return path


def dialog_on(qtbot, path, **kwargs) -> SweepDialog:
    d = load(path)
    dialog = SweepDialog(d.network, small(epochs=1, train=64), str(path), **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def test_a_sweep_runs_in_the_background_and_lists_every_trial(qtbot, design):
    pytest.importorskip("optuna")
    opened = []
    dialog = dialog_on(qtbot, design, open_design=opened.append)
    space = dialog.space_text.toPlainText()
    assert "width: one of" in space and "left out: dropout" in space
    dialog.trials.setValue(3)
    dialog.pruner.setCurrentText("none")
    assert dialog.start()
    assert dialog.running and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=3 * MINUTE)
    assert dialog.table.rowCount() == 3 and dialog.progress.value() == 3
    cells = [[dialog.table.item(r, c).text() for c in range(5)] for r in range(3)]
    assert [c[0] for c in cells] == ["0", "1", "2"]
    assert all("width" in c[3] and "MACs" in c[3] for c in cells)
    best = dialog.result.best
    if best is not None:  # (all three could diverge: then there is none, and it says so)
        assert dialog.status.text().startswith(f"best: trial {best.number}:")
        qtbot.mouseClick(dialog.open_button, Qt.LeftButton)
        assert opened == [str(design.with_name("net.best.convnet.json"))]
    else:
        assert "no trial finished" in dialog.status.text()


def test_stop_ends_the_sweep(qtbot, design):
    pytest.importorskip("optuna")
    dialog = dialog_on(qtbot, design)
    dialog.trials.setValue(50)
    assert dialog.start()
    dialog.worker.trial_ended.connect(lambda _record: dialog.stop())
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=3 * MINUTE)
    assert dialog.result.stopped and dialog.table.rowCount() <= 2
    assert "stopped" in dialog.message.text() and dialog.start_button.isEnabled()


def test_bad_fields_and_an_unsaved_design_are_said(qtbot, design):
    pytest.importorskip("optuna")
    dialog = dialog_on(qtbot, design)
    dialog.budget.setText("lots")
    assert not dialog.start()
    assert "Memory budget: 'lots' is not a size" in dialog.message.text()
    dialog.budget.setText("")
    dialog.max_macs.setText("many")
    assert not dialog.start()
    assert "MACs cap: 'many' is not a count" in dialog.message.text()
    unsaved = SweepDialog(load(design).network, small(), None)
    qtbot.addWidget(unsaved)
    assert not unsaved.start()
    assert "Save the design first" in unsaved.message.text()


def test_a_pruned_row_says_by_what_and_why():
    record = TrialRecord(4, "pruned", {"width": 4.0, "batch_size": 256}, pruned_by="analysis",
                         reason="a training step needs 53 MiB at batch 256, over the budget",
                         memory=53 << 20, macs=2_000_000)
    number, state, acc, knobs, why = row_texts(record)
    assert (number, state, acc) == ("4", "pruned (analysis)", "–")
    assert knobs == "width 4, batch_size 256 [step 53 MiB, 2 M MACs]"
    assert why.startswith("a training step needs")


def test_the_train_menu_opens_it_over_the_window(make_window, qtbot):  # noqa: F811
    window = make_window()
    window.open_example(CIFAR)
    texts = [a.text() for a in window.menuBar().actions() if a.text() == "&Train"]
    assert texts
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Train")
    assert "S&weep…" in [a.text() for a in menu.actions()]
    dialog = window.show_sweep()
    qtbot.addWidget(dialog)
    assert dialog.network.name == window.doc.network.name
    assert dialog.config is window.training.config
    assert "width:" in dialog.space_text.toPlainText()
