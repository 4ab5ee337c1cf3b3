"""The window's Export → Training project / ONNX / torch.export, File → Import model… and
Compare with…, driven from the menus as a user drives them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.bridge.codegen import export_code
from designer.model import Network
from designer.model.design_file import Design, load, save
from designer.ui import export_actions
from designer.ui.dialogs import import_options as import_dialog
from designer.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "presets"
CIFAR = PRESETS / "cifar10_example.convnet.json"
WAIT_MS = 120_000


@pytest.fixture
def said(monkeypatch):
    """The window's warnings, recorded instead of shown; questions answered 'Discard'."""
    messages: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: messages.append(a[2]))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    return messages


@pytest.fixture
def window(qtbot, tmp_path, said):
    w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                   recovery_dir=tmp_path / "rec")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    export_actions.install(w)
    w.open_example(CIFAR)
    logging.disable(logging.WARNING)
    yield w
    logging.disable(logging.NOTSET)


def menu_action(window, *path: str):
    """The action a user reaches through the menus by these titles (without the &s)."""
    actions = window.menuBar().actions()
    for k, title in enumerate(path):
        found = next((a for a in actions if a.text().replace("&", "") == title), None)
        assert found is not None, f"no {title!r} in {[a.text() for a in actions]}"
        if k == len(path) - 1:
            return found
        actions = found.menu().actions()
    raise AssertionError


def run(qtbot, window, *path: str) -> str:
    """Trigger the menu action and wait for its export or import to finish: the status line."""
    actions = window._export_actions
    with qtbot.waitSignal(actions.finished, timeout=WAIT_MS) as blocker:
        menu_action(window, *path).trigger()
    return blocker.args[0]


def test_the_menus_have_the_new_actions_beside_the_old_ones(window):
    export = [a.text() for a in menu_action(window, "File", "Export").menu().actions()
              if not a.isSeparator()]
    assert export[:2] == ["PyTorch code (.py)…", "Summary as Markdown (.md)…"]  # kept
    assert export[-3:] == ["Training project (folder)…", "ONNX (.onnx)…",
                           "torch.export program (.pt2)…"]
    assert menu_action(window, "File", "Import model…") is not None
    compare = [a.text() for a in menu_action(window, "File", "Compare with").menu().actions()]
    assert compare == ["Compare with a &file…", "Compare with the last &saved version"]
    assert export_actions.install(window) is window._export_actions  # once only


def test_export_onnx_from_the_menu(qtbot, window, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    out = tmp_path / "cifar.onnx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    message = run(qtbot, window, "File", "Export", "ONNX (.onnx)…")
    assert message.startswith(f"Exported {out} (ONNX opset 17, 5 nodes; onnx.checker passed")
    assert window.statusBar().currentMessage() == message
    assert out.stat().st_size > 100_000  # 31,066 weights


def test_onnxruntime_failing_after_the_export_says_so(qtbot, window, tmp_path, monkeypatch,
                                                      said):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "cifar.onnx"

    def broken(*a, **k):
        raise ort.capi.onnxruntime_pybind11_state.Fail("[ONNXRuntimeError] : 1 : FAIL : no")

    monkeypatch.setattr(ort, "InferenceSession", broken)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    message = run(qtbot, window, "File", "Export", "ONNX (.onnx)…")
    assert message == f"Exported {out}; outputs not checked"
    assert said == [f"Exported {out}, but its outputs could not be compared with PyTorch's.\n\n"
                    f"{out} is written, but its outputs could not be checked: onnxruntime could "
                    f"not run it (Fail: [ONNXRuntimeError] : 1 : FAIL : no)"]
    assert out.stat().st_size > 100_000 and os.listdir(tmp_path).count("cifar.onnx") == 1
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_export_pt2_and_a_training_project(qtbot, window, tmp_path, monkeypatch):
    import torch

    out = tmp_path / "cifar.pt2"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    assert run(qtbot, window, "File", "Export", "torch.export program (.pt2)…") == \
        f"Exported {out} (torch.export, dynamic batch)"
    program = torch.export.load(str(out))
    assert program.module()(torch.zeros(3, 3, 32, 32)).shape == (3, 10)

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(busy))
    message = run(qtbot, window, "File", "Export", "Training project (folder)…")
    project = busy / "cifar-10_example_project"  # a folder in use gets a new sub-folder
    assert message.startswith(f"Exported the training project {project}")
    assert (project / "train.py").is_file() and (project / "model.py").is_file()
    assert (busy / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_design_with_errors_is_not_exported(qtbot, window, tmp_path, monkeypatch, said):
    window.doc.edit("break", lambda net: net.set_params("conv", kernel_size=40, padding=0))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "x.onnx"), ""))
    menu_action(window, "File", "Export", "ONNX (.onnx)…").trigger()
    assert said and said[-1].startswith("Could not export: the design has an error.\n\nconv: ")
    assert not (tmp_path / "x.onnx").exists()


def test_import_a_python_model_as_a_new_design(qtbot, window, tmp_path, monkeypatch):
    source = tmp_path / "lenet.py"
    source.write_text(export_code(load(PRESETS / "lenet5.convnet.json").network),
                      encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(source), ""))
    monkeypatch.setattr(import_dialog.ImportOptions, "ask",
                        classmethod(lambda cls, *a, **k: ("LeNet5", None)))
    message = run(qtbot, window, "File", "Import model…")
    assert message == "Imported 12 layers from lenet.py with its trained weights"
    assert len(window.scene.cards) == 12  # on the canvas
    assert window.doc.network.name == "LeNet5" and window.doc.path is None
    assert window.doc.modified and window.windowTitle().startswith("LeNet5[*]")
    assert window.doc.report.totals.params == 61706
    window.doc.undo_stack.setClean()


def test_a_model_that_does_not_map_says_which_operations(qtbot, window, tmp_path, monkeypatch,
                                                         said):
    source = tmp_path / "odd.py"
    source.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Odd(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)
                self.up = nn.Upsample(scale_factor=2)

            def forward(self, x):
                return self.up(torch.softmax(self.conv(x), 1))
    """), encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(source), ""))
    monkeypatch.setattr(import_dialog.ImportOptions, "ask",
                        classmethod(lambda cls, *a, **k: ("", "3,8,8")))
    before = dict(window.doc.network.nodes)
    run(qtbot, window, "File", "Import model…")
    assert said[-1].startswith("Importing odd.py failed.\n\nodd.py:Odd: 2 operations of the "
                               "model do not map to the designer's layers:\n"
                               "  - torch.softmax (at softmax)\n  - Upsample (at up)\n")
    assert window.doc.network.nodes == before  # the design on screen is kept


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript ONNX exporter
def test_an_onnx_graph_of_free_size_asks_for_the_input(qtbot, window, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import torch
    from torch import nn

    path = tmp_path / "free.onnx"
    torch.onnx.export(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), (torch.zeros(1, 3, 8, 8),),
                      str(path), dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    asked = []

    def ask(cls, parent, spec, shape_only=False, why=""):
        asked.append((shape_only, why))
        return "", "3,10,10"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    monkeypatch.setattr(import_dialog.ImportOptions, "ask", classmethod(ask))
    with qtbot.waitSignal(window._export_actions.finished, timeout=WAIT_MS) as blocker:
        menu_action(window, "File", "Import model…").trigger()
        qtbot.waitUntil(lambda: bool(asked), timeout=WAIT_MS)
    assert asked[0][0] is True and "give the input shape" in asked[0][1]
    assert blocker.args[0] == "Imported 3 layers from free.onnx with its trained weights"
    out = window.doc.report.layers[window.doc.report.output].shape
    assert out == (4, 8, 8)
    window.doc.undo_stack.setClean()


def stack(name: str, *kernels: int) -> Design:
    net = Network(name)
    prev = net.add("Input", {"channels": 16, "height": 32, "width": 32}, id="input")
    for i, k in enumerate(kernels, 1):
        prev = net.add("Conv2d", {"out_channels": 16, "kernel_size": k, "padding": k // 2,
                                  "bias": False}, id=f"conv{i}", inputs=[prev])
        prev = net.add("ReLU", {}, id=f"relu{i}", inputs=[prev])
    return Design(net)


def cell_texts(table) -> list[list[str]]:
    return [[table.item(i, j).text() for j in range(table.columnCount())]
            for i in range(table.rowCount())]


def test_compare_with_a_file_three_3x3_against_one_7x7(qtbot, window, tmp_path, monkeypatch):
    three, seven = tmp_path / "three.convnet.json", tmp_path / "seven.convnet.json"
    save(stack("three 3×3", 3, 3, 3), three)
    save(stack("one 7×7", 7), seven)
    assert window.open_path(str(three))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(seven), ""))
    menu_action(window, "File", "Compare with", "Compare with a file…").trigger()
    dialog = window._export_actions.dialog
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle() == "Compare: three 3×3 ↔ seven.convnet.json"
    rows = cell_texts(dialog.rows)
    assert [r[0] for r in rows] == ["=", "=", "="]
    assert rows[1][1:3] == ["conv1 … conv3 (5 layers)", "conv1 (Conv2d)"]
    assert rows[1][4] == "7×7" and rows[1][5:7] == [f"{27 * 256:,}", f"{49 * 256:,}"]
    totals = {r[0]: r[1:] for r in cell_texts(dialog.totals)}
    assert totals["parameters"] == [f"{27 * 256:,}", f"{49 * 256:,}", "+5,632 (+81%)"]
    assert totals["output receptive field"] == ["7×7", "7×7", "="]
    dialog.copy()
    from PySide6.QtWidgets import QApplication

    assert "conv1 … conv3 (5 layers)" in QApplication.clipboard().text()
    dialog.close()


def test_compare_with_the_last_saved_version(qtbot, window, tmp_path, said):
    path = tmp_path / "cifar.convnet.json"
    window.doc.save(str(path))
    window.doc.edit("wider", lambda net: net.set_params("conv", out_channels=24))
    dialog = export_actions.install(window).compare_with_saved()
    qtbot.waitExposed(dialog)
    totals = {r[0]: r[1:] for r in cell_texts(dialog.totals)}
    assert totals["parameters"][:2] == ["31,066", f"{24 * 27 + 24 + 24 * 16 * 16 * 10 + 10:,}"]
    rows = cell_texts(dialog.rows)
    assert [r[1] for r in rows] == ["input (Input)", "conv (Conv2d)", "relu (ReLU)",
                                    "pool (MaxPool2d)", "fc (Linear)"]
    assert [r[0] for r in rows] == ["=", "≠", "≠", "≠", "="]
    dialog.close()
    window.doc.new()
    assert export_actions.install(window).compare_with_saved() is None
    assert said[-1].startswith("This design has not been saved yet")


def test_the_window_with_these_actions_imports_neither_torch_nor_onnx(tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from designer.ui.main_window import MainWindow\n"
        "from designer.ui import export_actions\n"
        f"w = MainWindow(settings=QSettings({str(tmp_path / 's.ini')!r}, QSettings.IniFormat), "
        f"recovery_dir=Path({str(tmp_path / 'rec')!r}))\n"
        "export_actions.install(w)\n"
        "w.show()\n"
        "for _ in range(20): app.processEvents()\n"
        "print('torch' in sys.modules, 'onnx' in sys.modules)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
