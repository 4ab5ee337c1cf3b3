"""Trained work is never lost (issue 17): a run belongs to the version of the design it
trained; its weights are saved beside the design and come back with it; an edit during a run
leaves the run's weights usable after an undo; a stopped run resumes from the run list; the
next run can start from the trained weights. The Trainer is the real one, on a small
synthetic set, in the window a user has."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from designer.training import runs as checkpoints
from designer.training.events import DataConfig, TrainConfig
from designer.training.store import weights_folder
from designer.ui.main_window import MainWindow
from designer.ui.panels.inside import dock as inside_dock

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
MINUTE = 60_000


def small(epochs: int = 2, train: int = 96) -> TrainConfig:
    return TrainConfig(DataConfig("synthetic", train_size=train, val_size=32, augment=False),
                       epochs=epochs, batch_size=32, optimizer="momentum", lr=0.05,
                       device="cpu")


@pytest.fixture
def said(monkeypatch):
    """What the window says in message boxes (questions answered: discard, stop)."""
    texts: list[str] = []

    def question(_parent, _title, text, *args, **kwargs):
        texts.append(text)
        return QMessageBox.Yes if "Training is running" in text else QMessageBox.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: texts.append(a[2]))
    return texts


@pytest.fixture
def make_window(qtbot, tmp_path, said):
    made = []

    def make():
        settings = QSettings(str(tmp_path / f"settings{len(made)}.ini"), QSettings.IniFormat)
        w = MainWindow(settings=settings, recovery_dir=tmp_path / f"rec{len(made)}")
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        qtbot.waitExposed(w)
        if getattr(w, "inside", None) is None:  # made after the first paint otherwise
            inside_dock.install(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.training.shutdown()


def train(window, qtbot, config: TrainConfig) -> dict:
    """Start a run from the Training panel and wait for its end; the run's record."""
    panel = window.training
    panel.set_config(config)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running
    qtbot.waitUntil(lambda: not panel.running, timeout=2 * MINUTE)
    return window.doc.runs[-1]


def inside_report(window, qtbot):
    """What the Inside tab shows now, after a fresh probe of the design on screen."""
    panel = window.inside.show_panel()
    qtbot.waitUntil(lambda: not panel.busy, timeout=MINUTE)
    panel.refresh()
    # drawn at most every RENDER_MS: the report is the job's once nothing waits to be drawn
    qtbot.waitUntil(lambda: not panel.busy and panel._pending is None
                    and not panel._render_timer.isActive() and panel.report is not None,
                    timeout=MINUTE)
    return panel.report


def conv_weights(path: Path, layer: str) -> np.ndarray:
    weights, _meta = checkpoints.read_weights(path)
    (key,) = [k for k in weights if k.split(".")[-2:] == [layer, "weight"]]
    return weights[key].numpy()


def test_the_trained_weights_come_back_with_the_design(make_window, qtbot, tmp_path):
    window = make_window()
    window.open_example(CIFAR)
    record = train(window, qtbot, small())
    assert record["status"] == "finished"
    assert record["version"] == window.doc.version
    assert record["weights"] == ["best", "last"]
    assert "checkpoint_dir" not in record["config"]  # no folder of this session in the file
    assert window.training.run_list.rows()[0][4:] == ["this design", "best + last"]

    path = tmp_path / "mine.convnet.json"
    assert window._save_to(str(path))
    folder = weights_folder(path)
    assert folder == tmp_path / "mine.weights"
    best = folder / record["id"] / "best.safetensors"
    assert best.is_file() and (folder / record["id"] / "last.safetensors").is_file()

    again = make_window()
    assert again.open_path(str(path), ask=False)
    assert again.doc.weight_problems == []
    report = inside_report(again, qtbot)
    assert report.weights.startswith("trained weights of the run of")
    assert "initial weights" not in report.weights
    np.testing.assert_array_equal(report.filters.weights,
                                  conv_weights(best, report.filters.layer))
    assert again.training.run_list.rows()[0][4:] == ["this design", "best + last"]


def test_an_edit_during_a_run_leaves_its_weights_usable_after_undo(make_window, qtbot):
    window = make_window()
    window.open_example(CIFAR)
    panel = window.training
    panel.set_config(small(epochs=3, train=160))
    trained_version = window.doc.version
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plots.loss_point_count > 0, timeout=MINUTE)
    window.doc.edit("Channels", lambda net: net.set_params("conv", out_channels=16))
    assert panel.edit_notice.isVisible()
    assert panel.edit_notice.text().startswith("Training the version of ")
    assert "edits apply to the next run" in panel.edit_notice.text()
    qtbot.waitUntil(lambda: not panel.running, timeout=2 * MINUTE)
    assert not panel.edit_notice.isVisible()
    record = window.doc.runs[-1]
    assert record["version"] == trained_version != window.doc.version
    assert window.doc.trained_weights() is None  # the design on screen was never trained
    assert panel.run_list.rows()[0][4] == "another version"
    assert "initial weights" in inside_report(window, qtbot).weights

    window.doc.undo_stack.undo()
    assert window.doc.version == trained_version
    found = window.doc.trained_weights()
    assert found is not None and found[0]["id"] == record["id"]
    report = inside_report(window, qtbot)
    assert report.weights.startswith("trained weights of the run of")
    np.testing.assert_array_equal(report.filters.weights, conv_weights(found[1], "conv"))


def test_a_stopped_run_resumes_from_the_run_list(make_window, qtbot):
    window = make_window()
    window.open_example(CIFAR)
    panel = window.training
    panel.set_config(small(epochs=3, train=96))
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.plots.epoch_point_count >= 1, timeout=MINUTE)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=MINUTE)
    stopped = window.doc.runs[-1]
    assert stopped["status"] == "stopped" and stopped["epochs_done"] < 3
    assert "last" in stopped["weights"]

    runs = panel.run_list
    runs.table.setCurrentItem(runs.table.topLevelItem(0))
    assert runs.resume_button.isEnabled()
    qtbot.mouseClick(runs.resume_button, Qt.LeftButton)
    assert panel.running
    qtbot.waitUntil(lambda: not panel.running, timeout=2 * MINUTE)
    resumed = window.doc.runs[-1]
    assert resumed["resumed_from"] == stopped["id"]
    assert resumed["status"] == "finished" and resumed["epochs_done"] == 3
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    # the epochs done before the stop are the stopped run's own, not trained again
    done = stopped["epochs_done"]
    assert resumed["history"][:done] == stopped["history"][:done]
    # a finished run cannot be resumed: the button says why
    runs.table.setCurrentItem(runs.table.topLevelItem(0))
    assert not runs.resume_button.isEnabled()
    assert "finished all its epochs" in runs.resume_button.toolTip()


def test_the_next_run_can_start_from_the_trained_weights(make_window, qtbot):
    window = make_window()
    window.open_example(CIFAR)
    runs = window.training.run_list
    assert not runs.start_from.isEnabled()  # nothing trained yet
    first = train(window, qtbot, small(epochs=1))
    assert runs.start_from.isEnabled()
    runs.start_from.setChecked(True)
    second = train(window, qtbot, small(epochs=1))
    assert second["started_from"] == first["id"]
    assert any("started from the weights" in n for n in second["notes"])
    # starting from trained weights, the first epoch begins where the first run ended: its
    # loss is below a fresh run's first epoch
    assert second["history"][0]["train_loss"] < first["history"][0]["train_loss"]


def test_a_design_saved_without_weights_keeps_its_curves_only(make_window, qtbot, tmp_path):
    window = make_window()
    window.open_example(CIFAR)
    train(window, qtbot, small(epochs=1))
    shared = tmp_path / "shared.convnet.json"
    assert window._save_to(str(shared), weights=False)
    data = json.loads(shared.read_text(encoding="utf-8"))
    (run,) = data["training"]["runs"]
    assert "weights" not in run and run["history"] and run["loss_curve"]
    assert not weights_folder(shared).exists()
    assert window.doc.path is None and window.doc.modified  # the open design is unchanged
    again = make_window()
    assert again.open_path(str(shared), ask=False)
    assert again.doc.weight_problems == [] and again.doc.trained_weights() is None
    assert again.training.run_list.rows()[0][5] == "none"


def test_missing_weights_open_the_design_with_a_clear_message(make_window, qtbot, tmp_path,
                                                              said):
    window = make_window()
    window.open_example(CIFAR)
    record = train(window, qtbot, small(epochs=1))
    path = tmp_path / "net.convnet.json"
    assert window._save_to(str(path))
    best = weights_folder(path) / record["id"] / "best.safetensors"
    best.unlink()
    last = weights_folder(path) / record["id"] / "last.safetensors"
    last.write_bytes(last.read_bytes()[:100])  # damaged

    again = make_window()
    said.clear()
    assert again.open_path(str(path), ask=False)
    (text,) = said
    assert "opened without the trained weights" in text
    assert f"{record['id']}/best.safetensors is missing" in text
    assert again.doc.network.name  # the design itself is there
    assert "missing" in again.training.run_list.rows()[0][5]


class _LongStep:
    """A trainer whose steps take five seconds: Stop is answered with how long is left."""

    def __init__(self, *args, **kwargs):
        import threading

        self.stopped = threading.Event()

    def stop(self):
        from designer.training.events import StoppingEvent

        self.stopped.set()
        return StoppingEvent(epoch=1, step=3, steps=10, phase="training", seconds=4.2,
                             step_seconds=5.0)

    def pause(self):
        pass

    def resume(self):
        pass

    def run(self):
        from designer.training.events import RunResult

        self.stopped.wait(30)
        return RunResult("stopped", 0, [])


def test_stop_during_a_long_step_says_how_long_it_takes(make_window, qtbot):
    window = make_window()
    window.open_example(CIFAR)
    panel = window.training
    panel.trainer_factory = _LongStep
    panel.set_config(small(epochs=1))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.worker._trainer is not None, timeout=MINUTE)
    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    assert panel.state_label.text() == "stopping after this step (≈ 5 s)"
    qtbot.waitUntil(lambda: not panel.running, timeout=MINUTE)
    assert panel.state_label.text() == "stopped"
