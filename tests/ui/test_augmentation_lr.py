"""The Training tab's augmentation preview and learning-rate finder, used as a person uses them:
choices in the combo boxes, Show / New samples, Find learning rate, Stop, Apply, Ctrl+Z; and the
diverged fault's box. The preview and the finder are the real ones (preview_samples, find_lr) on
the small synthetic set, in their background threads."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from designer.training.events import DataConfig, TrainConfig

from .windows import shown_window

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"  # a 32×32×3 input, ten classes
SHAPES = {"circle", "square", "triangle", "cross", "ring", "horizontal stripes",
          "vertical stripes", "checkerboard", "diagonal stripes", "dots"}


def small(**data) -> TrainConfig:
    return TrainConfig(DataConfig("synthetic", train_size=256, val_size=64, **data), epochs=1,
                       batch_size=32, device="cpu")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = shown_window(qtbot, tmp_path, monkeypatch)
    w.open_example(CIFAR)
    w.show_training()
    w.training.set_config(small())
    yield w
    w.training.shutdown()  # no thread left behind by a failed test


def pick(qtbot, combo, text: str) -> None:
    """Choose the item reading `text` with the keyboard, as a person can (it emits activated)."""
    target = combo.findText(text)
    assert target >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setFocus()
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, Qt.Key_Down if combo.currentIndex() < target else Qt.Key_Up)


def samples(qtbot, box, before=None):
    """Wait for the preview to show samples other than `before`'s; its array."""
    qtbot.waitUntil(lambda: not box.busy and box.grid.array is not None
                    and box.grid.array is not before, timeout=60_000)
    return box.grid.array


def test_the_preview_shows_a_grid_of_samples_the_size_of_the_input(window, qtbot):
    box = window.training.augmentation
    assert box.grid.count == 0 and "Show samples" in box.message_text  # nothing read unasked
    qtbot.mouseClick(box.samples_button, Qt.LeftButton)
    images = samples(qtbot, box)
    assert box.grid.count == 16 and images.shape == (16, 32, 32, 3)
    assert box.grid.image_size == (32, 32)
    assert set(box.grid.names) <= SHAPES and len(box.grid.names) == 16
    assert box.grid.scale == 2  # 32 px shown at 64, nearest neighbour
    hint = box.grid.sizeHint()
    assert hint.width() >= 4 * 64 and hint.height() >= 4 * 64
    assert "16 training samples, 32×32" in box.message_text
    corner = QPoint(hint.width() - 3, hint.height() - 3)  # the last sample's name, in full
    QApplication.sendEvent(box.grid, QHelpEvent(QEvent.ToolTip, corner,
                                                box.grid.mapToGlobal(corner)))
    assert QToolTip.text() == box.grid.names[15]
    assert box.samples_button.text() == "New samples"
    qtbot.mouseClick(box.samples_button, Qt.LeftButton)  # others
    again = samples(qtbot, box, images)
    assert not np.array_equal(again, images)


def test_standard_says_what_it_is_and_off_changes_the_samples(window, qtbot):
    panel = window.training
    box = panel.augmentation
    assert box.crop.currentText() == "standard: pad 4 px"  # the synthetic set's crop
    assert box.flip.currentText() == "standard: off"
    assert "the standard for the synthetic shapes" in box.description.text()
    assert "mirrored 2 or 7 is not a 2 or 7" in box.note.text()
    qtbot.mouseClick(box.samples_button, Qt.LeftButton)
    standard = samples(qtbot, box)
    pick(qtbot, box.crop, "off")
    assert panel.config.data.crop_padding == 0
    assert "off, as chosen (the standard for the synthetic shapes is random crop (pad 4))" in \
        box.description.text()
    plain = samples(qtbot, box, standard)
    assert not np.array_equal(plain, standard)  # the crops are gone
    # the data set's standard follows the data set
    pick(qtbot, panel.dataset, "CIFAR-10")
    assert box.crop.currentText() == "off" and box.flip.currentText() == "standard: on"
    assert box.crop.itemText(0) == "standard: pad 4 px"


def test_a_flip_mirrors_some_samples_and_undo_takes_it_back(window, qtbot):
    panel = window.training
    box = panel.augmentation
    pick(qtbot, box.crop, "off")
    qtbot.mouseClick(box.samples_button, Qt.LeftButton)
    plain = samples(qtbot, box)
    labels = list(box.grid.names)
    assert box.note.styleSheet() == ""  # muted: no flip
    pick(qtbot, box.flip, "on")
    assert panel.config.data.hflip is True
    assert "color" in box.note.styleSheet()  # the note in the warning colour
    assert window.doc.design.training["config"]["data"]["hflip"] is True  # saved with it
    flipped = samples(qtbot, box, plain)
    assert box.grid.names == labels  # the same samples ...
    mirrored = [not np.array_equal(f, p) for f, p in zip(flipped, plain)]
    for f, p, m in zip(flipped, plain, mirrored):  # ... each as it was or mirrored
        assert np.array_equal(f, p[:, ::-1]) if m else np.array_equal(f, p)
    assert any(mirrored)
    window.doc.undo_stack.undo()  # Ctrl+Z: the flip back to standard, the crop still off
    assert panel.config.data.hflip is None and panel.config.data.crop_padding == 0
    assert box.flip.currentText() == "standard: off"
    assert window.doc.design.training["config"]["data"]["hflip"] is None
    back = samples(qtbot, box, flipped)
    assert np.array_equal(back, plain)
    window.doc.undo_stack.undo()
    assert panel.config.data.crop_padding is None and box.crop.currentText().startswith("stand")


def test_a_missing_folder_is_said_in_place_with_advice(window, qtbot, tmp_path):
    panel = window.training
    box = panel.augmentation
    qtbot.mouseClick(box.samples_button, Qt.LeftButton)
    samples(qtbot, box)
    missing = tmp_path / "no such folder"
    pick(qtbot, panel.dataset, "Image folder")
    panel.path.setText(str(missing))
    panel.path.editingFinished.emit()
    qtbot.waitUntil(lambda: not box.busy and box.grid.count == 0, timeout=60_000)
    problem, advice = box.message_text.split("\n", 1)
    assert "no such folder" in problem and "does not exist" in problem
    assert advice.startswith("Give the path of a folder that holds one sub-folder per class")
    assert "color" in box.message.styleSheet()  # in the error colour
    assert window.isVisible()


def test_the_finder_plots_the_curve_marks_the_suggestion_and_apply_is_one_undo_step(
        window, qtbot, tmp_path):
    panel = window.training
    finder = panel.lr_finder
    assert not finder.isVisible()
    window.doc.design.training = {}  # as a preset: no settings saved, the form's are shown
    window.doc.save(str(tmp_path / "saved.convnet.json"))
    lr_before = panel.config.lr
    qtbot.mouseClick(finder.button, Qt.LeftButton)
    assert finder.isVisible() and finder.busy
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    assert not panel.start_button.isEnabled() and not panel.start()  # no run while it finds
    assert "Not started: the learning-rate finder is running" in messages
    qtbot.waitUntil(lambda: not finder.busy, timeout=120_000)
    result = finder.result
    assert result.status == "finished" and len(result.lrs) >= 20
    xs, ys = finder.curve.getData()
    assert len(xs) == len(result.lrs)
    assert np.allclose(ys, result.centred)  # the curve the suggestion was read from
    assert finder.suggestion is not None
    assert math.isclose(finder.marker_lr, finder.suggestion, rel_tol=1e-6)
    assert math.isclose(finder.suggestion, result.suggestion, rel_tol=0.03)
    assert f"Suggested learning rate: {finder.suggestion:g}" in finder.summary_text
    assert finder.marker_text.toPlainText() == f"{finder.suggestion:g}"
    assert panel.start_button.isEnabled()
    assert not window.doc.modified  # finding changes nothing of the design
    steps = window.doc.undo_stack.count()
    qtbot.mouseClick(finder.apply_button, Qt.LeftButton)
    assert panel.config.lr == finder.suggestion and panel.lr.text() == f"{finder.suggestion:g}"
    assert window.doc.design.training["config"]["lr"] == finder.suggestion
    assert window.doc.undo_stack.count() == steps + 1
    assert window.doc.modified
    window.doc.undo_stack.undo()
    assert panel.config.lr == lr_before and panel.lr.text() == f"{lr_before:g}"
    qtbot.mouseClick(finder.close_button, Qt.LeftButton)
    assert not finder.isVisible()


def test_stop_ends_the_sweep_and_keeps_the_curve(window, qtbot):
    panel = window.training
    finder = panel.lr_finder
    qtbot.mouseClick(finder.button, Qt.LeftButton)
    qtbot.waitUntil(lambda: finder.progress.value() >= 3, timeout=120_000)
    qtbot.mouseClick(finder.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not finder.busy, timeout=60_000)
    result = finder.result
    assert result.status == "stopped" and 3 <= len(result.lrs) < result.steps
    assert len(finder.curve.getData()[0]) == len(result.lrs)
    assert finder.progress.format().startswith("stopped after")
    assert finder.button.isEnabled() and panel.start_button.isEnabled()


def test_opening_another_design_takes_the_finders_result_away(window, qtbot):
    # its Apply would set this design's rate on the other one
    finder = window.training.lr_finder
    qtbot.mouseClick(finder.button, Qt.LeftButton)
    qtbot.waitUntil(lambda: finder.progress.value() >= 3, timeout=120_000)
    qtbot.mouseClick(finder.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not finder.busy, timeout=60_000)
    window.doc.mark_modified()  # the same design's state changing keeps it
    assert finder.isVisible()
    window.open_example(ROOT / "presets" / "lenet5.convnet.json")
    assert not finder.isVisible()


def test_no_finder_while_a_run_trains(window, qtbot):
    panel = window.training
    config = small()
    config.epochs = 50
    panel.set_config(config)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running
    assert not panel.lr_finder.button.isEnabled()
    assert not panel.lr_finder.start(window.doc.network, panel.config)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert panel.lr_finder.button.isEnabled()


def test_a_diverged_run_says_so_in_its_title_with_advice(window, qtbot):
    panel = window.training
    config = small()
    config.optimizer, config.lr, config.schedule, config.epochs = "momentum", 1.0, "none", 3
    panel.set_config(config)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    box = panel.fault_box
    assert box.isVisible()
    assert box.title.text() == "The loss diverged"
    assert "training loss rose to" in box.message.text() and "learning rate 1" in \
        box.message.text()
    assert box.advice.text().startswith("What to do: lower the learning rate")
    assert "learning-rate finder" in box.advice.text()
