"""The Training tab's speed settings, as a user meets them: each one chosen, undone, saved and
opened again; "auto" saying what it becomes here; a run with torch.compile that compiles (its
phase shown, counting) or falls back to eager mode (the reason shown, the run finishing); and
the model FLOP/s with their share of the device's peak beside images/s, kept with the run."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings, Qt

from designer.model.design_file import load
from designer.training.events import (
    BatchEvent,
    DataConfig,
    EpochEvent,
    PhaseEvent,
    RunResult,
    StartEvent,
    TrainConfig,
)
from designer.training.speed import Capability, utilisation
from designer.ui.main_window import MainWindow
from designer.ui.panels.speed_settings import Machine, parse_machine, resolved

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
H200 = Machine("cuda", "NVIDIA H200", Capability(bf16=True, cudnn=True))


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    made = []

    def make(path: Path = CIFAR, example: bool = True):
        settings = QSettings(str(tmp_path / f"s{len(made)}.ini"), QSettings.IniFormat)
        w = MainWindow(settings=settings, recovery_dir=tmp_path / f"rec{len(made)}")
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        qtbot.waitExposed(w)
        if example:
            w.open_example(path)
        else:
            assert w.open_path(str(path), ask=False)
        w.show_training()
        made.append(w)
        return w

    yield make
    for w in made:
        w.training.shutdown()


def pick(combo, data) -> None:
    """Choose the item whose data is `data`, as a click in the list does."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def shown(speed) -> dict:
    return {"precision": speed.precision.currentData(),
            "memory_format": speed.memory_format.currentData(),
            "cudnn_benchmark": speed.cudnn.currentData(), "compile": speed.compile.isChecked(),
            "data_on_device": speed.data_on_device.currentData()}


def plain(label_text: str) -> str:
    return re.sub(r"<[^>]+>", "", label_text).replace("&nbsp;", " ")


def test_auto_says_what_it_becomes_on_this_machine(make_window):
    window = make_window()
    speed = window.training.speed
    speed.set_machine(Machine("cpu"))
    assert speed.precision.itemText(0) == "auto: fp32 here (CPU)"
    assert speed.memory_format.itemText(0) == "auto: contiguous here"
    assert speed.cudnn.itemText(0) == "auto: off here"
    speed.set_machine(H200)  # nvidia-smi's answer on a GPU machine
    assert speed.precision.itemText(0) == "auto: bf16 here (NVIDIA H200)"
    assert speed.memory_format.itemText(0) == "auto: channels_last here"  # a CONV network
    assert speed.cudnn.itemText(0) == "auto: on here"
    assert "25%" in speed.data_on_device.itemText(0)
    # the memory format's auto follows the design: no CONV layer, no channels_last
    window.doc.edit("Delete", lambda net: net.remove("conv"))
    assert speed.memory_format.itemText(0) == "auto: contiguous here"
    window.doc.undo_stack.undo()
    assert speed.memory_format.itemText(0) == "auto: channels_last here"
    # the Device setting counts: the CPU chosen on the GPU machine
    pick(window.training.device, "cpu")
    assert speed.precision.itemText(0) == "auto: fp32 here (CPU)"
    assert not window.training.speed.compile.toolTip() == ""
    assert "eager" in speed.compile.toolTip()


def test_the_machine_is_what_nvidia_smi_names():
    assert parse_machine("NVIDIA H200, 9.0\n") == H200
    v100 = parse_machine("Tesla V100-SXM2-16GB, 7.0\nTesla V100-SXM2-16GB, 7.0\n")
    assert v100.kind == "cuda" and not v100.capability.bf16
    kind, speed = resolved(v100, "auto", conv=True)
    assert (kind, speed.precision, speed.channels_last) == ("cuda", "fp32", True)
    # an older driver without compute_cap, or no GPU: what the CPU (or Apple's GPU) does
    assert parse_machine("Field \"compute_cap\" is not a valid field").kind in ("cpu", "mps")
    assert parse_machine("").kind in ("cpu", "mps")


def test_the_probe_asks_nvidia_smi_without_torch(make_window, qtbot, tmp_path, monkeypatch):
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho 'NVIDIA H200, 9.0'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:{os.environ['PATH']}")
    window = make_window()
    speed = window.training.speed
    qtbot.waitUntil(lambda: speed.machine is not None, timeout=30_000)
    assert speed.machine == H200
    assert speed.precision.itemText(0) == "auto: bf16 here (NVIDIA H200)"


def test_each_setting_is_an_undo_step_and_is_saved_with_the_design(make_window, qtbot,
                                                                   tmp_path):
    window = make_window()
    panel, speed, stack = window.training, window.training.speed, window.doc.undo_stack
    speed.set_machine(H200)
    assert shown(speed) == {"precision": "auto", "memory_format": "auto",
                            "cudnn_benchmark": None, "compile": False, "data_on_device": None}
    chosen = {"precision": "fp16", "memory_format": "contiguous", "cudnn_benchmark": False,
              "compile": True, "data_on_device": True}
    steps = stack.count()
    pick(speed.precision, "fp16")
    pick(speed.memory_format, "contiguous")
    pick(speed.cudnn, False)
    speed.compile.click()  # (below the fold of the settings: no mouse needed)
    pick(speed.data_on_device, True)
    assert stack.count() == steps + 5
    assert stack.undoText() == "Data on the device"
    assert shown(speed) == chosen
    assert {k: getattr(panel.config, k) for k in chosen} == chosen

    path = tmp_path / "fast.convnet.json"
    window.doc.save(str(path))
    assert {k: load(path).training["config"][k] for k in chosen} == chosen
    again = make_window(path, example=False)
    assert shown(again.training.speed) == chosen  # opened as it was saved

    for _ in range(5):
        stack.undo()
    assert shown(speed) == {"precision": "auto", "memory_format": "auto",
                            "cudnn_benchmark": None, "compile": False, "data_on_device": None}
    assert panel.config.precision == "auto" and panel.config.compile is False
    stack.redo()
    stack.redo()
    assert shown(speed)["precision"] == "fp16"
    assert shown(speed)["memory_format"] == "contiguous"
    assert shown(speed)["cudnn_benchmark"] is None


def test_an_older_design_opens_with_its_settings_as_they_were(make_window, tmp_path):
    design = json.loads(CIFAR.read_text())
    design.setdefault("training", {})["config"] = {"precision": "fp32", "channels_last": True}
    path = tmp_path / "older.convnet.json"
    path.write_text(json.dumps(design))
    window = make_window(path, example=False)
    speed = window.training.speed
    assert shown(speed)["precision"] == "fp32"
    assert shown(speed)["memory_format"] == "channels_last"  # the former switch, on
    assert not window.isWindowModified()
    pick(speed.memory_format, "auto")  # the switch goes off with the choice
    assert window.training.config.channels_last is False
    assert window.training.config.memory_format == "auto"
    window.doc.undo_stack.undo()
    assert window.training.config.channels_last is True
    assert shown(speed)["memory_format"] == "channels_last"


def small(**more) -> TrainConfig:
    return TrainConfig(DataConfig("synthetic", train_size=64, val_size=32, augment=False),
                       epochs=1, batch_size=32, device="cpu", **more)


def test_a_compile_that_fails_is_shown_and_the_run_finishes_in_eager_mode(make_window, qtbot,
                                                                          monkeypatch):
    window = make_window()
    panel = window.training
    release = threading.Event()
    calls = []

    def failing_compile(model, *args, **kwargs):
        def compiled(*inputs):
            calls.append(len(inputs))
            release.wait(60)  # the test reads the compiling status meanwhile
            raise RuntimeError("Inductor: no C++ kernels for this test")
        return compiled

    monkeypatch.setattr(torch, "compile", failing_compile)
    said = []
    panel.status_message.connect(said.append)
    panel.set_config(small(compile=True))
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running
    qtbot.waitUntil(lambda: panel.state_label.text().startswith("compiling…"), timeout=60_000)
    assert re.fullmatch(r"compiling… \d+ s", panel.state_label.text())
    assert "compiling the training step" in panel.progress.format()
    release.set()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.state_label.text() == "finished"
    note = panel.compiling.note
    assert note.isVisible()
    assert "torch.compile failed at the first training step" in note.text()
    assert "Inductor: no C++ kernels for this test" in note.text()
    assert "eager mode" in note.text()
    assert any("no C++ kernels" in s for s in said)  # the status bar said it too
    (run,) = window.doc.runs
    assert run["status"] == "finished" and run["epochs_done"] == 1
    assert any("no C++ kernels" in n for n in run["notes"])
    assert run["speed"]["compile"] is False  # what ran: eager


class FakeTrainer:
    """A run that reports what a GPU run reports (a compiled training step, a rate, the model
    FLOP/s over a made-up peak) and waits between its batch and its end for the test to look."""

    PEAK = 100e9  # a made-up device of 100 GFLOP/s
    RATE = 25_000.0

    def __init__(self, network, config, callbacks, datasets=None, **_weights):
        self.callbacks, self.config = callbacks, config
        self.macs = network_macs(network)
        self.go = threading.Event()

    def stop(self):
        self.go.set()

    def pause(self):
        pass

    def resume(self):
        pass

    def run(self):
        cb = self.callbacks
        cb.on_start(StartEvent("NVIDIA H200", 64, 32, 2, 10, None,
                               notes=["speed: bf16 (auto) · torch.compile on"]))
        cb.on_phase(PhaseEvent("compiling", "training", 0.0, False))
        cb.on_phase(PhaseEvent("compiling", "training", 2.5, True, "compiled"))
        flops, share = utilisation(self.macs, self.RATE, self.PEAK)
        cb.on_batch(BatchEvent(1, 1, 2, 1, 2.3, 0.1, 0.003, self.RATE, 3.0, 1.0, None,
                               model_flops_per_s=flops, utilisation=share))
        cb.on_phase(PhaseEvent("compiling", "validation", 0.0, False))  # (flushes the batch)
        FAKES.append(self)
        self.go.wait(60)
        cb.on_phase(PhaseEvent("compiling", "validation", 1.0, True, "compiled"))
        epoch = EpochEvent(1, 2.3, 0.1, 2.3, 0.1, 0.003, 3.0)
        cb.on_epoch(epoch)
        result = RunResult("finished", 1, [epoch], seconds=4.0, device="NVIDIA H200",
                           config=self.config.to_dict(), compile_s=3.5,
                           model_flops_per_s=flops, utilisation=share)
        cb.on_end(result)
        return result


FAKES: list[FakeTrainer] = []


def network_macs(network) -> int:
    from designer.model.analysis import analyze

    return analyze(network).totals.macs


def test_the_utilisation_beside_images_s_is_what_speed_computes(make_window, qtbot):
    window = make_window()
    panel = window.training
    panel.trainer_factory = FakeTrainer
    FAKES.clear()
    panel.set_config(small(compile=True))
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(FAKES) and "images/s" in panel.info_label.text(),
                    timeout=30_000)
    # the CIFAR-10 example: 362,496 MACs an image, 6 FLOPs a MAC in a training step
    flops, share = utilisation(window.doc.report.totals.macs, FakeTrainer.RATE, FakeTrainer.PEAK)
    assert (flops, share) == (6 * 362_496 * 25_000, pytest.approx(0.543744))
    expected = "54.4 GFLOP/s (54% of peak)"
    live = plain(panel.info_label.text())
    assert "25,000 images/s · " + expected in live.replace("  ·  ", " · ")
    # the validation step compiling now; the training step's compile said how long it took
    assert re.fullmatch(r"compiling… \d+ s", panel.state_label.text())
    assert "torch.compile: the training step compiled in 2.5 s" in panel.compiling.note.text()
    FAKES[0].go.set()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert panel.state_label.text() == "finished"
    assert expected in plain(panel.info_label.text())
    # kept with the run, and shown in the run list with its result
    (run,) = window.doc.runs
    assert run["model_flops_per_s"] == pytest.approx(flops)
    assert run["utilisation"] == pytest.approx(share)
    assert panel.run_list.rows()[0][3] == f"finished in 0:04 · {expected}"
