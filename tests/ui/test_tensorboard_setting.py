"""Train → TensorBoard Logs (issue 20): with the setting on, the window's runs (and sweeps) write
the log the CLI's --tensorboard writes, read back with TensorBoard's own reader; off, nothing is
written; the setting is remembered; a missing package or a folder that cannot be written is said
and the run still trains."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog

from designer.ui.tensorboard_log import TensorBoardLog
from tests.ui.test_runs import CIFAR, MINUTE, make_window, said, small, train  # noqa: F401


def _reader(folder: Path):
    module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = module.EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def event_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("events.out.tfevents.*")) if folder.exists() else []


@pytest.fixture
def chooser(monkeypatch):
    """The folder the user picks in the folder dialog (set `chooser.folder`; '' cancels)."""
    class Chooser:
        folder = ""
        asked = 0

    def ask(*_args, **_kwargs):
        Chooser.asked += 1
        return Chooser.folder

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", ask)
    return Chooser


@pytest.fixture
def messages():
    """Every status-bar message of the window, in order (what the user reads)."""
    texts: list[str] = []

    def watch(window):
        window.statusBar().messageChanged.connect(lambda text: text and texts.append(text))
        return texts
    return watch


def test_the_windows_runs_write_the_clis_log_only_with_the_setting_on(
        make_window, qtbot, tmp_path, chooser, messages):  # noqa: F811
    pytest.importorskip("tensorboard")
    window = make_window()
    window.open_example(CIFAR)
    shown = messages(window)
    logs = tmp_path / "tb"
    chooser.folder = str(logs)
    action = window.act_tensorboard
    assert not action.isChecked()
    action.trigger()  # no folder yet: the chooser asks for one, and the logs are on
    assert chooser.asked == 1 and action.isChecked()
    assert f"TensorBoard logs in {logs}" in shown[-1]
    label = window.tensorboard_label  # at the status bar's right while the logs are on
    assert label.isVisible() and label.text() == "TensorBoard: tb"

    record = train(window, qtbot, small(epochs=1))
    assert record["status"] == "finished"
    run_log = logs / "CIFAR-10 example" / record["id"]
    assert len(event_files(run_log)) == 1
    assert any(text.startswith(f"TensorBoard log in {run_log}") for text in shown)
    acc = _reader(run_log)
    scalars = acc.Tags()["scalars"]
    for tag in ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr",
                "train/loss_batch"):
        assert tag in scalars, tag
    (val,) = acc.Scalars("val/accuracy")
    assert val.step == 1 and val.value == pytest.approx(record["best_val_accuracy"])
    assert len(acc.Scalars("train/loss_batch")) == 3  # 96 samples / batch 32
    assert acc.Tags()["graph"] is True
    assert [i.step for i in acc.Images("filters/conv")] == [0, 1]  # the first CONV's filters

    sweep = window.show_sweep()  # a sweep from the window logs into the same folder
    qtbot.addWidget(sweep)
    assert sweep.tensorboard == str(logs)
    sweep.close()

    # remembered: the window's settings file says it, for the next start
    again = TensorBoardLog(QSettings(window.settings.fileName(), QSettings.IniFormat))
    assert again.on and again.folder == str(logs)

    action.trigger()  # off: the next run writes nothing
    assert not action.isChecked() and "TensorBoard logs: off" in shown[-1]
    assert not label.isVisible()
    before = event_files(logs)
    record = train(window, qtbot, small(epochs=1))
    assert record["status"] == "finished"
    assert event_files(logs) == before
    assert not (logs / "CIFAR-10 example" / record["id"]).exists()
    assert not TensorBoardLog(QSettings(window.settings.fileName(), QSettings.IniFormat)).on
    assert chooser.asked == 1  # turning it back on needs no folder again
    action.trigger()
    assert action.isChecked() and chooser.asked == 1


def test_a_folder_that_cannot_be_written_is_said_and_the_run_still_trains(
        make_window, qtbot, tmp_path, chooser, messages):  # noqa: F811
    window = make_window()
    window.open_example(CIFAR)
    shown = messages(window)
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    chooser.folder = str(blocker / "logs")
    window.act_tensorboard_folder.trigger()
    assert window.act_tensorboard.isChecked()
    assert shown[-1].startswith(f"TensorBoard logs cannot be written into {blocker / 'logs'}")
    assert "runs train without a log" in shown[-1]
    record = train(window, qtbot, small(epochs=1))
    assert record["status"] == "finished" and record["best_val_accuracy"] is not None
    assert any("this run trains without a TensorBoard log" in text for text in shown)


def test_a_missing_tensorboard_package_is_said_and_the_run_still_trains(
        make_window, qtbot, tmp_path, chooser, messages, monkeypatch):  # noqa: F811
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)  # `import` fails as where not installed
    window = make_window()
    window.open_example(CIFAR)
    shown = messages(window)
    logs = tmp_path / "tb"
    chooser.folder = str(logs)
    window.act_tensorboard.trigger()
    assert "pip install" in shown[-1] and "tensorboard" in shown[-1]
    record = train(window, qtbot, small(epochs=1))
    assert record["status"] == "finished" and record["best_val_accuracy"] is not None
    assert any("pip install" in text and "this run trains without" in text for text in shown)
    assert event_files(logs) == []


def test_a_sweep_from_the_window_logs_each_trial(qtbot, tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("tensorboard")
    from designer.model.design_file import load
    from designer.ui.dialogs.sweep import SweepDialog

    design = tmp_path / "net.convnet.json"
    shutil.copy(CIFAR, design)
    logs = tmp_path / "tb"
    dialog = SweepDialog(load(design).network, small(epochs=1, train=64), str(design),
                         tensorboard=str(logs))
    qtbot.addWidget(dialog)
    dialog.trials.setValue(2)
    dialog.pruner.setCurrentText("none")
    assert dialog.start()
    folder = logs / "CIFAR-10 example" / f"sweep {dialog.sweep.study_name}"
    assert f"TensorBoard logs in {folder}" in dialog.message.text()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=3 * MINUTE)
    trained = [r.number for r in dialog.records if r.state == "complete"]
    assert trained
    for number in trained:
        acc = _reader(folder / f"trial_{number:04d}")
        assert "val/accuracy" in acc.Tags()["scalars"]
