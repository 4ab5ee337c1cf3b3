"""Training from the window, as a user does it: settings in the Training panel, Start, curves
that grow, Stop, a fault that is explained and survived, closing while a run is going, and the
runs kept in the design file. The Trainer is the real one, on the small synthetic set."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from designer.model.design_file import load
from designer.training.events import DataConfig, TrainConfig
from designer.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"


def small(epochs: int = 50, lr: float = 0.01, train: int = 512) -> TrainConfig:
    """A short run on the synthetic set (ten classes at the design's 32×32×3 input)."""
    return TrainConfig(DataConfig("synthetic", train_size=train, val_size=128, augment=False),
                       epochs=epochs, batch_size=32, optimizer="momentum", lr=lr, device="cpu")


@pytest.fixture
def answers(monkeypatch):
    """What the window asks, and how the user answers: Yes to stopping a run, Discard to
    saving the design."""
    asked: list[str] = []

    def question(_parent, _title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.Yes if "Training is running" in text else QMessageBox.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a[2]))
    return asked


@pytest.fixture
def window(qtbot, tmp_path, answers):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings, recovery_dir=tmp_path / "rec")
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    w.open_example(CIFAR)
    w.show_training()
    yield w
    w.training.shutdown()  # a failed test must not leave a thread behind


def start(window, qtbot, config: TrainConfig):
    panel = window.training
    panel.set_config(config)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running
    return panel.worker


def test_curves_grow_at_a_throttled_rate_and_stop_is_honoured(window, qtbot):
    panel = window.training
    updates: list[float] = []
    worker = start(window, qtbot, small())
    worker.progress.connect(lambda _u: updates.append(time.monotonic()))
    qtbot.waitUntil(lambda: panel.plots.loss_point_count > 0, timeout=30_000)
    qtbot.waitUntil(lambda: panel.plots.epoch_point_count >= 2, timeout=30_000)
    assert "images/s" in panel.info_label.text()
    assert "Epoch" in panel.progress.format()
    time.sleep(0.3)
    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=10_000)
    assert panel.state_label.text() == "stopped"
    assert "Stopped" in panel.progress.format()
    assert panel.start_button.isEnabled() and window.act_train_start.isEnabled()
    # many batches, few repaints: at most ~20 updates a second, whatever the batch rate
    batches = panel.plots.loss_point_count
    seconds = updates[-1] - updates[0]
    assert len(updates) >= 3
    assert batches > len(updates)
    assert (len(updates) - 1) / seconds <= 25


def test_pause_holds_the_run_and_resume_goes_on(window, qtbot):
    panel = window.training
    start(window, qtbot, small())
    qtbot.waitUntil(lambda: panel.plots.loss_point_count > 0, timeout=30_000)
    window.act_train_pause.trigger()
    assert panel.state_label.text() == "paused"
    assert window.act_train_pause.text() == "&Resume"
    qtbot.wait(400)  # a batch in flight may still land
    held = panel.plots.loss_point_count
    qtbot.wait(600)
    assert panel.plots.loss_point_count == held
    window.act_train_pause.trigger()
    qtbot.waitUntil(lambda: panel.plots.loss_point_count > held, timeout=10_000)
    window.act_train_stop.trigger()
    qtbot.waitUntil(lambda: not panel.running, timeout=10_000)


def test_closing_mid_run_asks_then_stops_the_thread(window, qtbot, answers):
    panel = window.training
    worker = start(window, qtbot, small())
    qtbot.waitUntil(lambda: panel.plots.loss_point_count > 0, timeout=30_000)
    assert window.close()
    assert "Training is running. Stop it and close?" in answers
    assert not window.isVisible()
    assert worker.wait(0)  # the thread has ended: nothing left to destroy while running
    assert not panel.running


def test_stop_right_after_start_ends_the_run(window, qtbot):
    panel = window.training
    start(window, qtbot, small())
    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)  # torch may not even be imported yet
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert panel.state_label.text() == "stopped"
    assert not panel.fault_box.isVisible()


def test_refusing_to_stop_keeps_the_window_and_the_run(window, qtbot, monkeypatch):
    panel = window.training
    start(window, qtbot, small())
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.No)
    assert not window.close()
    assert window.isVisible() and panel.running
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=10_000)


def test_a_fault_is_explained_and_the_next_run_works(window, qtbot):
    panel = window.training
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    start(window, qtbot, small(epochs=3, lr=1e9))
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert panel.state_label.text() == "failed"
    assert panel.fault_box.isVisible()
    assert "learning rate" in panel.fault_text.lower()
    assert any(m.startswith("Training failed") for m in messages)
    # the app still edits ...
    window.doc.edit("Set filters", lambda net: net.set_params("conv", out_channels=8))
    assert window.doc.report.layers["conv"].shape[0] == 8
    # ... and trains again
    start(window, qtbot, small(epochs=1, lr=0.01, train=128))
    assert not panel.fault_box.isVisible()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert panel.state_label.text() == "finished"


def test_a_design_with_errors_is_not_trained(window, qtbot):
    panel = window.training
    window.doc.edit("Kernel", lambda net: net.set_params("conv", kernel_size=40, padding=0))
    assert not window.doc.report.ok
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert not panel.running
    assert "cannot be trained" in panel.fault_text
    assert "conv" in panel.fault_text


def test_runs_are_saved_with_the_design_and_drawn_behind_the_next(window, qtbot, tmp_path):
    panel = window.training
    start(window, qtbot, small(epochs=2, train=256))
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert panel.state_label.text() == "finished"
    assert window.isWindowModified()
    path = tmp_path / "trained.convnet.json"
    window.doc.save(str(path))
    training = load(path).training
    assert training["config"]["epochs"] == 2
    (run,) = training["runs"]
    assert run["status"] == "finished" and run["epochs_done"] == 2
    assert [h["epoch"] for h in run["history"]] == [1, 2]
    assert 0 < len(run["loss_curve"]) <= 200
    # reopened, the earlier run is drawn faintly behind the plots
    window.open_path(str(path), ask=False)
    assert panel.plots.overlaid_runs == 1
    assert panel.config.epochs == 2


def test_the_window_imports_neither_torch_nor_pyqtgraph_before_training(tmp_path):
    """Nor does opening a design without runs (its weights' check once imported torch: a
    second and a half before the design showed)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from designer.ui.main_window import MainWindow\n"
        f"w = MainWindow(settings=QSettings({str(tmp_path / 's.ini')!r}, QSettings.IniFormat), "
        f"recovery_dir=Path({str(tmp_path / 'rec')!r}))\n"
        "w.show()\n"
        "for _ in range(20): app.processEvents()\n"
        "print('torch' in sys.modules, 'pyqtgraph' in sys.modules)\n"
        f"w.open_path({str(ROOT / 'presets' / 'resnet18.convnet.json')!r}, ask=False)\n"
        "for _ in range(20): app.processEvents()\n"
        "print('torch' in sys.modules, len(w.doc.network))\n"
        "w.show_training()\n"
        "for _ in range(20): app.processEvents()\n"
        "print('torch' in sys.modules, 'pyqtgraph' in sys.modules)\n"
        "w.doc.undo_stack.setClean()\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    lines = out.stdout.split()
    assert lines[:2] == ["False", "False"], out.stderr
    # a design file opened (one without runs: no weights to check), still no torch
    assert lines[2] == "False" and int(lines[3]) > 50, out.stderr
    assert lines[4:6] == ["False", "True"], out.stderr  # the Training tab shown: plots, no torch


def test_showing_the_training_tab_does_not_modify_a_design(qtbot, monkeypatch):
    """A preset without an analysis section was marked modified (and offered for recovery
    after a crash) as soon as the Training tab was shown: the panel wrote the default batch."""
    from PySide6.QtWidgets import QMessageBox

    from designer.ui.main_window import MainWindow

    # were it marked modified, closing it at teardown must not wait on a modal question
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.open_path(str(ROOT / "presets" / "cifar10_example.convnet.json"), ask=False)
    assert not window.doc.modified
    window.show_training()
    qtbot.wait(20)
    assert not window.doc.modified and not window.isWindowModified()
