"""File → Import model… opens the model with its trained weights (issue 17): a design trained in
the window, exported as ONNX and imported back computes what the trained one computes; the
status line, the Inside tab and the run list say the weights are the imported ones; the next run
can start from them; saving puts them beside the design, where reopening finds them. The
Trainer is the real one, on a small synthetic set."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from designer.bridge.module import build_module
from designer.training import runs as checkpoints
from designer.training.events import DataConfig, TrainConfig
from designer.training.store import weights_folder
from designer.ui import export_actions
from designer.ui.document import Document
from designer.ui.panels.inside import dock as inside_dock

from .windows import shown_window

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
MINUTE = 60_000


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    w = shown_window(qtbot, tmp_path, monkeypatch)
    export_actions.install(w)
    if getattr(w, "inside", None) is None:  # made after the first paint otherwise
        inside_dock.install(w)
    w.warned = warned
    logging.disable(logging.WARNING)
    yield w
    logging.disable(logging.NOTSET)
    w.training.shutdown()
    w.doc.undo_stack.setClean()


def train_one_epoch(window, qtbot) -> dict:
    panel = window.training
    panel.set_config(TrainConfig(DataConfig("synthetic", train_size=96, val_size=32,
                                            augment=False),
                                 epochs=1, batch_size=32, optimizer="momentum", lr=0.05,
                                 device="cpu"))
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running
    qtbot.waitUntil(lambda: not panel.running, timeout=2 * MINUTE)
    return window.doc.runs[-1]


def action(qtbot, window, do) -> str:
    """Run an export or import of the window and wait for its status line."""
    with qtbot.waitSignal(window._export_actions.finished, timeout=2 * MINUTE) as blocker:
        assert do(window._export_actions)
    return blocker.args[0]


def outputs(network, weights, x) -> torch.Tensor:
    model = build_module(network).eval()
    model.load_state_dict(weights, strict=True)
    with torch.no_grad():
        return model(x)


def inside_report(window, qtbot):
    """What the Inside tab shows now, after a fresh probe of the design on screen."""
    panel = window.inside.show_panel()
    qtbot.waitUntil(lambda: not panel.busy, timeout=MINUTE)
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.busy and panel._pending is None
                    and not panel._render_timer.isActive() and panel.report is not None,
                    timeout=MINUTE)
    return panel.report


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_trained_design_exported_as_onnx_imports_back_with_its_weights(window, qtbot,
                                                                         tmp_path):
    pytest.importorskip("onnx")
    window.open_example(CIFAR)
    trained_network = window.doc.network.copy()
    run = train_one_epoch(window, qtbot)
    assert run["status"] == "finished" and "best" in run["weights"]
    trained, _meta = checkpoints.read_weights(window.doc.trained_weights()[1])

    onnx_file = tmp_path / "cifar.onnx"
    said = action(qtbot, window, lambda a: a.export_onnx(str(onnx_file)))
    assert " with the trained weights of the run of " in said
    said = action(qtbot, window, lambda a: a.import_model(str(onnx_file)))
    assert said == "Imported 5 layers from cifar.onnx with its trained weights", window.warned
    assert window.statusBar().currentMessage() == said
    assert window.doc.path is None and window.doc.modified

    (record,) = window.doc.runs
    assert record["kind"] == record["status"] == "imported"
    found = window.doc.trained_weights()
    assert found is not None and found[0] is record
    imported, _meta = checkpoints.read_weights(found[1])
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    want = outputs(trained_network, trained, x)
    got = outputs(window.doc.network, imported, x)
    assert want.abs().max() > 0.1
    assert float((got - want).abs().max()) <= 1e-5

    report = inside_report(window, qtbot)
    assert report.weights == "trained weights imported from cifar.onnx"
    layer = report.filters.layer
    (key,) = [k for k in imported if k.split(".")[-2:] == [layer, "weight"]]
    np.testing.assert_array_equal(report.filters.weights, imported[key].numpy())

    start_from = window.training.run_list.start_from
    assert start_from.isEnabled() and start_from.isChecked()
    assert start_from.text() == ("Start the next run from the trained weights (imported from "
                                 "cifar.onnx)")
    assert window.training.run_list.rows()[0][3:] == ["imported", "this design", "best"]
    assert window.training.run_list.resume_problem(record).startswith(
        "its weights were imported, not trained here")
    again = train_one_epoch(window, qtbot)
    assert again["status"] == "finished" and again["started_from"] == record["id"]

    path = tmp_path / "imported.convnet.json"
    assert window._save_to(str(path))
    best = weights_folder(path) / record["id"] / "best.safetensors"
    assert best.is_file()
    reopened = Document()
    reopened.open(str(path))
    assert reopened.weight_problems == []
    reopened.undo_stack.setClean()
    window.doc.undo_stack.setClean()
    (saved,) = [r for r in reopened.runs if r.get("kind") == "imported"]
    assert saved["id"] == record["id"] and reopened.store.files(saved) == {"best": best}
    assert reopened.trained_weights()[0]["id"] == again["id"]  # the latest run of the version
    assert float((outputs(reopened.network, checkpoints.read_weights(best)[0], x)
                  - want).abs().max()) <= 1e-5
    reopened.close()


def test_weights_that_cannot_be_taken_open_the_structure_and_the_status_line_says_why(
        window, qtbot, tmp_path):
    source = tmp_path / "computed.py"
    source.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "class Computed(nn.Module):\n"
        "    input_shape = (3, 8, 8)\n\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.w = nn.Parameter(torch.randn(4, 3, 3, 3))\n"
        "        self.fc = nn.Linear(4 * 6 * 6, 2)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(torch.flatten(nn.functional.conv2d(x, self.w * 2), 1))\n",
        encoding="utf-8")
    said = action(qtbot, window, lambda a: a.import_model(f"{source}:Computed"))
    assert said.startswith("Imported 3 layers from computed.py (structure only: its weights "
                           "could not be taken: no weights from computed.py:Computed: conv2d "
                           "(Conv2d): its weight is computed in forward() (mul)"), said
    assert window.doc.runs == [] and window.doc.trained_weights() is None
    start_from = window.training.run_list.start_from
    assert not start_from.isEnabled()
    assert start_from.text().endswith("(this version has none)")
