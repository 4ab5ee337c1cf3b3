"""Before Start (issue 16: 'check before Start when the estimate exceeds the free RAM / GPU
memory'): where the free memory comes from for each device, and the question a GPU run gets.
The CPU's question and the window's Start are in test_panels_polish.py."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from designer.machine import available_ram
from designer.model.analysis import analyze
from designer.model.design_file import load
from designer.training.events import TrainConfig
from designer.ui.panels import memory_check

CIFAR = Path(__file__).resolve().parents[2] / "presets" / "cifar10_example.convnet.json"
MIB = 1024**2


def test_the_free_ram_is_what_the_system_reports():
    free = available_ram()
    assert isinstance(free, int) and free > 0
    if Path("/proc/meminfo").exists():
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text()
                      .splitlines())
        total = int(fields["MemTotal"].split()[0]) * 1024
        assert free <= total  # available, not the total; bytes, not KiB
        assert free > int(fields["MemAvailable"].split()[0]) * 1024 // 2


@pytest.fixture
def smi(tmp_path, monkeypatch):
    """A fake nvidia-smi on the PATH that reports 11,264 MiB free; torch not loaded."""
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\necho 11264\necho 2048\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setitem(sys.modules, "torch", None)  # as in a window that has not trained yet
    return script


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for nvidia-smi")
def test_a_gpu_s_free_memory_comes_from_nvidia_smi(smi):
    assert memory_check.free_gpu_memory() == 11264 * MIB  # the first GPU's, in bytes
    assert memory_check.free_memory("cuda") == ("cuda", 11264 * MIB)
    assert memory_check.free_memory("auto") == ("cuda", 11264 * MIB)
    assert memory_check.free_memory("cpu")[0] == "cpu"


def test_without_a_gpu_auto_means_the_cpu_and_cuda_asks_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setitem(sys.modules, "torch", None)
    assert memory_check.free_memory("cuda") == ("cuda", None)
    device, free = memory_check.free_memory("auto")
    if sys.platform == "darwin" and os.uname().machine == "arm64":
        assert (device, free) == ("mps", None)
    else:
        assert device == "cpu" and isinstance(free, int) and free > 0


def test_a_gpu_run_is_asked_about_gpu_memory_with_the_largest_batch_that_fits(monkeypatch):
    """The estimate is CUDA's (cuDNN scratch, bool dropout masks) in the run's precision."""
    from PySide6.QtWidgets import QMessageBox

    network = load(CIFAR).network
    config = TrainConfig(device="cuda", precision="bf16", optimizer="adam")
    free = 3 * MIB
    asked: list[str] = []
    answers = [QMessageBox.No]
    monkeypatch.setattr(QMessageBox, "question",
                        lambda _p, _t, text, *a, **k: asked.append(text) or answers[0])
    monkeypatch.setattr(memory_check, "free_memory", lambda device: ("cuda", free))
    assert not memory_check.ask_before_start(None, network, config, 256)  # "No"
    report = analyze(network, batch=256, dtype="bf16", optimizer="adam", budget=free,
                     device="cuda")
    fit = report.pytorch.max_batch
    assert 1 <= fit < 256
    (text,) = asked
    assert "batch 256" in text and "3 MiB of GPU memory is free" in text
    assert f"The largest batch estimated to fit is {fit}" in text
    answers[0] = QMessageBox.Yes
    assert memory_check.ask_before_start(None, network, config, 256)  # the user's call

    asked.clear()  # a batch that fits, or memory that cannot be read: no question
    assert memory_check.ask_before_start(None, network, config, fit)
    monkeypatch.setattr(memory_check, "free_memory", lambda device: ("cuda", None))
    assert memory_check.ask_before_start(None, network, config, 256)
    assert asked == []
