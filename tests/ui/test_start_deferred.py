"""What the start leaves out of the filled window's first paint is made when first needed, and
works then: the inspector's layer page (nothing is selected at the start), the GPU probe (made
right after the filled paint), and the start's imports (no importlib.resources, csv or the
parameter editors before the window is filled)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from designer import assets
from designer.ui.document import Document
from designer.ui.main_window import MainWindow
from designer.ui.panels.inspector import Inspector

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "presets" / "lenet5.convnet.json"


@pytest.fixture
def doc():
    d = Document()
    d.open(str(LENET))
    return d


def test_the_inspector_builds_its_layer_page_when_a_layer_is_first_shown(qtbot, doc):
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    assert inspector.stack.count() == 1 and not inspector._content_built  # the hint only
    assert inspector.stack.currentWidget() is inspector.hint
    conv = next(n for n, node in doc.network.nodes.items() if node.type == "Conv2d")
    doc.select([conv])
    assert inspector._content_built and inspector.stack.count() == 2
    assert inspector.stack.currentIndex() == 1
    assert inspector.id_edit.text() == conv
    assert "×" in inspector.readouts["output"].text()
    editor = inspector.editors["out_channels"]
    editor.committed.emit(7)  # an edit through the page's editor is one undo step
    assert doc.network.nodes[conv].params["out_channels"] == 7
    assert doc.undo_stack.count() == 1
    doc.select([])
    assert inspector.stack.currentWidget() is inspector.hint


def test_the_inspector_s_widgets_asked_for_before_a_selection_are_built_then(qtbot, doc):
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    assert set(inspector.readouts) >= {"input", "output", "params", "macs", "memory", "rf"}
    assert inspector._content_built and inspector.stack.count() == 2
    assert inspector.stack.currentWidget() is inspector.hint  # still nothing selected
    with pytest.raises(AttributeError):
        inspector.no_such_widget  # noqa: B018
    doc.select([next(iter(doc.network.nodes))])
    assert inspector.stack.currentIndex() == 1


def test_a_staged_window_makes_its_gpu_probe_after_the_filled_paint(qtbot, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec", staged=True)
    qtbot.addWidget(window)
    made = []
    window.started.connect(lambda: made.append("_gpu_probe" in vars(window)))
    with qtbot.waitSignal(window.started, timeout=5000):
        window.show()
    assert made == [False]  # not in the filled window's first paint
    qtbot.waitUntil(lambda: "_gpu_probe" in vars(window), timeout=5000)
    assert window.gpu_probe is vars(window)["_gpu_probe"]
    assert window.gpu_probe.totals is window.totals


def test_a_window_asked_for_its_probe_before_the_paint_makes_it_then(qtbot, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec", staged=True)
    qtbot.addWidget(window)
    probe = window.gpu_probe  # fills the window and makes the rest now
    assert window.ready and probe is not None and window.recovery is not None


def test_the_presets_and_icons_are_found_without_importlib_resources():
    assert assets.presets_dir() == ROOT / "presets"
    assert (assets.presets_dir() / LENET.name).is_file()
    assert assets.icon_file("app").is_file()


_IMPORTS = r"""
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from designer.ui.main_window import MainWindow
window = MainWindow()
print(" ".join(m for m in ("importlib.resources", "csv", "designer.ui.widgets.params",
                           "designer.ui.gpu_probe") if m in sys.modules))
"""


def test_the_filled_window_needs_no_csv_resources_or_editor_modules():
    done = subprocess.run([sys.executable, "-c", _IMPORTS], capture_output=True, text=True,
                          check=True, timeout=120, cwd=str(ROOT),
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    # (a window built whole also makes its GPU probe; csv and the editors wait for their use)
    assert done.stdout.split() == ["designer.ui.gpu_probe"]


def test_the_warnings_tab_is_made_when_first_seen_and_shows_the_design_s(qtbot, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec", staged=True)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.started, timeout=5000):
        window.show()
    assert window._issues is None  # behind the layer table: not made for the filled window
    window.open_path(str(LENET), ask=False)
    window.docks["issues"].raise_()  # the user picks the Warnings tab
    qtbot.waitUntil(lambda: window._issues is not None, timeout=5000)
    panel = window.issues
    assert panel.isVisibleTo(window) and window._holders["issues"].isAncestorOf(panel)
    assert panel.summary.text()  # what the design's report says
    assert window.issues is panel  # made once


def test_the_warnings_panel_asked_for_is_made_then(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp_path / "rec")
    qtbot.addWidget(window)
    assert window._issues is None
    panel = window.issues
    assert window._holders["issues"].isAncestorOf(panel) and window.issues is panel


def test_a_new_design_s_document_makes_no_run_store_until_asked(qtbot):
    d = Document()
    assert d._store is None
    d.close()  # nothing to give up
    assert d.store.design_path is None and d._store is not None


def test_fusion_s_palette_from_the_start_up_cache_is_the_style_s(qapp, monkeypatch):
    from designer import app as app_module
    from designer.ui import qt_start

    monkeypatch.setattr(qt_start, "_write_cache", lambda compiles: None)
    monkeypatch.setattr(qt_start, "_cache_path", lambda: "/nonexistent/start-up-cache")
    qapp.setStyle("Fusion")
    qt_start.quick_compiles()
    try:
        asked = app_module.fusion_palette(qapp)  # from the style, and kept
        kept = app_module.fusion_palette(qapp)  # from what was kept
    finally:
        qt_start.stdlib_compiles()
    standard = qapp.style().standardPalette()
    assert asked == standard and kept == standard and kept is not asked
    assert kept.resolveMask() == standard.resolveMask()
    assert app_module.fusion_palette(qapp) == standard  # (no cache in place: the style's)
