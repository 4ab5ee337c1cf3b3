"""GPU detection for the budget: a fake nvidia-smi first on PATH, or none at all."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from designer.ui.document import Document
from designer.ui.gpu_probe import GpuProbe, parse_gpus
from designer.ui.main_window import MainWindow
from designer.ui.panels.readouts import TotalsPanel

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake tool is a shell script")

H100 = "NVIDIA H100 80GB HBM3, 81559"


def fake_nvidia_smi(directory: Path, body: str) -> Path:
    """An executable `nvidia-smi` shell script in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / "nvidia-smi"
    tool.write_text("#!/bin/sh\n" + body + "\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return tool


@pytest.fixture
def only_on_path(monkeypatch):
    """PATH = just these directories (so a real nvidia-smi is never found)."""
    def set_path(*dirs: Path) -> None:
        monkeypatch.setenv("PATH", os.pathsep.join(str(d) for d in dirs))
    return set_path


def budget_items(totals: TotalsPanel) -> list[tuple[str, object]]:
    combo = totals.budget
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


@pytest.fixture
def totals(qtbot):
    panel = TotalsPanel(Document())
    qtbot.addWidget(panel)
    return panel


def test_parse_gpus():
    text = f"{H100}\nNVIDIA H100 80GB HBM3, 81559\nTesla T4, 15360\n\nGPU, [N/A]\nfoo\n"
    gpus = parse_gpus(text)
    assert [(g.name, g.memory) for g in gpus] == [
        ("NVIDIA H100 80GB HBM3", 81559 * 1024**2), ("Tesla T4", 15360 * 1024**2)]
    assert gpus[0].label == "NVIDIA H100 80GB HBM3 (79.6 GiB)"
    assert gpus[1].label == "Tesla T4 (15 GiB)"
    assert parse_gpus("NVIDIA-SMI has failed because it couldn't communicate with the driver") \
        == []


def test_a_detected_gpu_is_offered_not_chosen(qtbot, totals, tmp_path, only_on_path):
    only_on_path(tmp_path / "bin")
    fake_nvidia_smi(tmp_path / "bin", f"echo '{H100}'\necho 'Tesla T4, 15360'")
    before = budget_items(totals)
    probe = GpuProbe(totals)
    with qtbot.waitSignal(probe.finished, timeout=5000) as found:
        probe.start()
    assert [g.name for g in found.args[0]] == ["NVIDIA H100 80GB HBM3", "Tesla T4"]
    items = budget_items(totals)
    assert items[1:3] == [("NVIDIA H100 80GB HBM3 (79.6 GiB)", 81559 * 1024**2),
                          ("Tesla T4 (15 GiB)", 15360 * 1024**2)]
    assert items[:1] + items[3:] == before
    assert totals.doc.settings["budget"] is None  # offered only: the user chooses
    assert totals.budget.currentData() is None

    totals.budget.setCurrentIndex(1)
    totals.budget.activated.emit(1)
    assert totals.doc.settings["budget"] == 81559 * 1024**2
    assert totals.doc.report.textbook.budget == 81559 * 1024**2


def test_no_nvidia_smi_adds_nothing(qtbot, totals, tmp_path, only_on_path):
    only_on_path(tmp_path / "empty")
    before = budget_items(totals)
    probe = GpuProbe(totals)
    with qtbot.waitSignal(probe.finished, timeout=1000) as found:
        probe.start()
    assert found.args == [[]]
    assert probe.process is None
    assert budget_items(totals) == before


@pytest.mark.parametrize("body", [
    "echo 'NVIDIA-SMI has failed because it could not communicate with the driver'; exit 9",
    "echo 'No devices were found'",
    "exit 0",
], ids=["fails", "no-devices", "silent"])
def test_a_failing_nvidia_smi_adds_nothing(qtbot, totals, tmp_path, only_on_path, body):
    only_on_path(tmp_path / "bin")
    fake_nvidia_smi(tmp_path / "bin", body)
    before = budget_items(totals)
    probe = GpuProbe(totals)
    with qtbot.waitSignal(probe.finished, timeout=5000) as found:
        probe.start()
    assert found.args == [[]]
    assert budget_items(totals) == before


def test_a_hanging_nvidia_smi_is_given_up(qtbot, totals, tmp_path, only_on_path):
    sleep = shutil.which("sleep")  # an absolute path: PATH will hold only the fake tool
    assert sleep
    only_on_path(tmp_path / "bin")
    fake_nvidia_smi(tmp_path / "bin", f"{sleep} 30\necho '{H100}'")
    before = budget_items(totals)
    probe = GpuProbe(totals, timeout_ms=300)
    with qtbot.waitSignal(probe.finished, timeout=5000) as found:
        probe.start()
    assert found.args == [[]]
    assert budget_items(totals) == before
    assert probe.process.state() == probe.process.ProcessState.NotRunning


def test_the_window_probes_after_it_is_shown(qtbot, tmp_path, only_on_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    only_on_path(tmp_path / "bin")
    fake_nvidia_smi(tmp_path / "bin", f"echo '{H100}'")
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec")
    qtbot.addWidget(window)
    qtbot.wait(window.gpu_probe.delay_ms + 100)
    assert window.gpu_probe.process is None  # nothing runs before the window is shown
    with qtbot.waitSignal(window.gpu_probe.finished, timeout=5000):
        window.show()
    labels = [text for text, _ in budget_items(window.totals)]
    assert "NVIDIA H100 80GB HBM3 (79.6 GiB)" in labels
    assert window.doc.settings["budget"] is None


def test_the_window_without_nvidia_smi(qtbot, tmp_path, only_on_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    only_on_path(tmp_path / "empty")
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec")
    qtbot.addWidget(window)
    before = budget_items(window.totals)
    with qtbot.waitSignal(window.gpu_probe.finished, timeout=5000) as found:
        window.show()
    assert found.args == [[]]
    assert budget_items(window.totals) == before


def test_closing_the_window_stops_a_running_probe(qtbot, tmp_path, only_on_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    sleep = shutil.which("sleep")
    assert sleep
    only_on_path(tmp_path / "bin")
    fake_nvidia_smi(tmp_path / "bin", f"{sleep} 30\necho '{H100}'")
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec")
    qtbot.addWidget(window)
    probe = window.gpu_probe
    probe.delay_ms = 0
    window.show()
    qtbot.waitUntil(lambda: probe.process is not None
                    and probe.process.state() == probe.process.ProcessState.Running)
    with qtbot.waitSignal(probe.finished, timeout=2000) as found:
        window.close()
    assert found.args == [[]]
    assert probe.process.state() == probe.process.ProcessState.NotRunning


def test_a_staged_window_probes_once_it_is_filled(qtbot, tmp_path, only_on_path, monkeypatch):
    # the probe is made after the window is on screen: it runs without waiting for a Show
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    only_on_path(tmp_path / "bin")
    fake_nvidia_smi(tmp_path / "bin", f"echo '{H100}'")
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec", staged=True)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.started, timeout=5000):
        window.show()
    with qtbot.waitSignal(window.gpu_probe.finished, timeout=5000):
        pass
    labels = [text for text, _ in budget_items(window.totals)]
    assert "NVIDIA H100 80GB HBM3 (79.6 GiB)" in labels
