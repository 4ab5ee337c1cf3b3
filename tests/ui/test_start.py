"""Start-up: the staged window (a shell first, filled right after its first paint), `python
main.py FILE` through app.main, and the work-around for PySide6's per-module source scan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from designer.ui.main_window import MainWindow

PRESETS = Path(__file__).resolve().parents[2] / "presets"
LENET = PRESETS / "lenet5.convnet.json"


def _menu_titles(window) -> list[str]:
    return [a.text().replace("&", "") for a in window.menuBar().actions()]


def _menu(window, title: str):
    return next(a.menu() for a in window.menuBar().actions()
                if a.text().replace("&", "") == title)


@pytest.fixture
def staged(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=tmp_path / "rec", staged=True)
    qtbot.addWidget(window)
    return window


def test_a_staged_window_is_a_shell_until_its_first_paint(staged, qtbot):
    # the shell: menus, the file actions in the toolbar, the docks in their places
    assert not staged.ready
    assert not hasattr(staged, "doc") and not hasattr(staged, "view")
    assert _menu_titles(staged) == ["File", "Edit", "View", "Insert", "Train", "Help"]
    assert staged.toolbar.actions() == [staged.act_new, staged.act_open, staged.act_save]
    assert set(staged.docks) >= {"palette", "inspector", "totals", "table", "issues", "hints",
                                 "training"}
    assert staged.windowTitle() == "ConvNet Designer"

    with qtbot.waitSignal(staged.started, timeout=5000):
        staged.show()
    # filled: the design on the canvas, the panels in the docks, the actions on the design
    assert staged.ready
    assert staged.view.isVisibleTo(staged.centralWidget())
    assert list(staged.scene.cards) == ["input"]
    assert staged.table.table_model.rowCount() == 1
    for name in ("palette", "inspector", "totals", "table", "issues"):
        panel = getattr(staged, name)
        assert panel.isVisibleTo(staged.docks[name]) and panel.parent() is not None
    assert staged.docks["table"].isVisible() and not staged.docks["table"].visibleRegion().isEmpty()
    assert staged.windowTitle().startswith("Untitled")
    assert "parameters" in staged.statusBar().currentMessage()
    view_menu = _menu(staged, "View").actions()
    assert view_menu[0] is staged.view.actions_by_name["zoom_in"]
    assert staged.docks["palette"].toggleViewAction() in view_menu
    assert len(_menu(staged, "Insert").actions()) == 3
    assert staged.tool_undo in staged.toolbar.actions()
    assert staged.act_layout in staged.toolbar.actions()
    # the hints follow, and nothing heavy came with the start
    qtbot.waitUntil(lambda: staged._hints is not None, timeout=5000)
    assert staged._training is None and staged.inside.panel is None
    assert staged.inside in staged.tabifiedDockWidgets(staged.docks["table"])


def test_a_file_to_open_first_is_what_the_panels_are_built_with(qtbot, tmp_path, monkeypatch):
    # `python main.py FILE`: the canvas and the panels show FILE from their first paint (no
    # new design drawn first)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=tmp_path / "rec", staged=True,
                        open_first=str(LENET))
    qtbot.addWidget(window)
    seen = {}
    window.started.connect(lambda: seen.update(
        cards=len(window.scene.cards), rows=window.table.table_model.rowCount(),
        name=window.doc.network.name, path=window.doc.path))
    with qtbot.waitSignal(window.started, timeout=5000):
        window.show()
    layers = len(window.doc.network.nodes)
    assert seen == {"cards": layers, "rows": layers, "name": window.doc.network.name,
                    "path": str(LENET)}
    assert seen["name"].startswith("LeNet") and layers > 5
    assert window.windowTitle().startswith("lenet5")


def test_the_shell_fills_itself_before_an_action_runs(staged, qtbot, tmp_path):
    # a shortcut pressed before the first paint: the window is filled first, then it acts
    staged.open_path(str(LENET), ask=False)
    assert staged.ready
    assert staged.doc.network.name.startswith("LeNet")
    assert staged.table.table_model.rowCount() == len(staged.doc.report.order)


def test_a_shell_closes_without_asking(staged, qtbot, monkeypatch):
    # Quit on a shell closes it as it is: there is no design to ask about, none is made
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or 0)
    staged.show()
    quit_action = next(a for a in _menu(staged, "File").actions()
                       if a.text().replace("&", "") == "Quit")
    quit_action.trigger()
    assert asked == [] and not staged.ready and not staged.isVisible()


def _app_window() -> MainWindow | None:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    return found[-1] if found else None


@pytest.fixture
def run_main(qapp, qtbot, tmp_path, monkeypatch):
    """`run_main(argv, until, record)`: app.main(argv) as `python main.py` runs it, its event
    loop kept until `until(window)` holds; gives what `record(window)` said, then the window
    closes."""
    from designer import app as app_module
    from designer.ui import main_window

    ini = str(tmp_path / "settings.ini")
    monkeypatch.setattr(main_window, "QSettings", lambda *a: QSettings(ini, QSettings.IniFormat))

    def run(argv: list[str], until, record) -> dict:
        seen: dict = {}

        def exec_until() -> int:  # the app's event loop, for as long as the test needs it
            qtbot.waitUntil(lambda: _app_window() is not None and bool(until(_app_window())),
                            timeout=10_000)
            window = _app_window()
            seen.update(record(window))
            window.close()
            window.deleteLater()
            return 0

        # main() names the application (settings, data and cache folders follow the name):
        # the tests after this one keep the test session's names
        names = qapp.applicationName(), qapp.organizationName()
        monkeypatch.setattr(qapp, "exec", exec_until)
        try:
            assert app_module.main(argv) == 0
        finally:
            qapp.setApplicationName(names[0])
            qapp.setOrganizationName(names[1])
        return seen

    return run


def test_main_puts_up_the_window_then_opens_the_file(run_main, monkeypatch):
    """`python main.py FILE`: the window is shown as a shell, filled, then FILE opens; the
    recovery check comes after that."""
    from designer.ui import recovery

    checked = []
    monkeypatch.setattr(recovery, "find_recoverable", lambda: checked.append(True) or [])
    seen = run_main([str(LENET)], until=lambda w: w.ready and bool(checked),
                    record=lambda w: dict(name=w.doc.network.name, path=w.doc.path,
                                          rows=w.table.table_model.rowCount(),
                                          shown=w.isVisible()))
    assert seen["shown"] and seen["path"] == str(LENET)
    assert seen["name"].startswith("LeNet") and seen["rows"] > 5
    assert checked == [True]


def test_quick_feature_scan_gives_pyside_s_own_answers():
    from designer.ui import qt_start

    feature = sys.modules.get(qt_start._FEATURE_MODULE)
    if feature is None or not hasattr(feature, "_mod_uses_pyside"):
        pytest.skip("this PySide6 has no per-module source scan")
    assert qt_start.quick_feature_scan()
    quick = feature._mod_uses_pyside
    assert getattr(quick, "_quick", False)
    assert qt_start.quick_feature_scan()  # once: replacing again keeps the same function
    assert feature._mod_uses_pyside is quick

    import json

    import designer.model.layers
    import designer.ui.canvas.items
    import designer.ui.main_window

    for module, uses in ((designer.ui.main_window, True), (designer.ui.canvas.items, True),
                         (designer.model.layers, False), (json, False), (sys, False)):
        assert quick(module) is uses, module.__name__


def test_a_failure_while_filling_is_said_and_the_shell_closes(staged, qtbot, monkeypatch):
    from designer.ui.panels import palette

    def broken(*_a, **_k):
        raise OSError("no room for the palette")

    said = []
    monkeypatch.setattr(palette, "LayerPalette", broken)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: said.append(a[2]))
    staged.show()
    qtbot.waitUntil(lambda: bool(said), timeout=5000)
    assert "could not start" in said[0] and "OSError: no room for the palette" in said[0]
    qtbot.waitUntil(lambda: not staged.isVisible(), timeout=5000)
    assert not staged.ready


def test_main_with_a_malformed_file_says_why_and_keeps_a_new_design(run_main, tmp_path,
                                                                     monkeypatch):
    from designer.ui import recovery

    bad = tmp_path / "bad.convnet.json"
    bad.write_text('{"format": "convnet-designer", "version": 1, "network": {"nodes": 3}}')
    monkeypatch.setattr(recovery, "find_recoverable", lambda: [])
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: said.append(a[2]))
    seen = run_main([str(bad)], until=lambda w: bool(said),
                    record=lambda w: dict(order=list(w.doc.report.order), path=w.doc.path))
    assert "Could not open the design" in said[0] and "bad.convnet.json" in said[0]
    assert seen == {"order": ["input"], "path": None}


def test_the_window_s_file_suffix_is_the_design_file_s():
    # main_window keeps its own copy so that the shell goes up before the model is imported
    from designer.model.design_file import SUFFIX
    from designer.ui import main_window

    assert main_window.SUFFIX == SUFFIX


def test_qt_environment_asks_for_serial_fills_and_fusion_and_keeps_the_user_s(monkeypatch):
    from designer.app import qt_environment

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    monkeypatch.setenv("QT_STYLE_OVERRIDE", "windows")
    qt_environment()
    assert __import__("os").environ["QT_NO_GUI_THREADPOOL"] == "1"
    assert __import__("os").environ["QT_STYLE_OVERRIDE"] == "windows"  # the user's choice


_THREADS = r"""
import os, sys
from PySide6.QtWidgets import QApplication
import designer.app as app
kept = app._after_start
def after(window, collecting):
    kept(window, collecting)
    window.grab()  # the whole window painted again: fills of hundreds of rows
    print(sorted(open(f"/proc/self/task/{t}/comm").read().strip()
                 for t in os.listdir("/proc/self/task")))
    window.doc.undo_stack.setClean()
    QApplication.instance().quit()
app._after_start = after
sys.exit(app.main([]))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_the_window_paints_without_qt_s_fill_threads(tmp_path):
    """Qt's raster engine hands a fill of 96 rows or more to its GUI thread pool and waits;
    for a window's fills that costs more than it saves (BENCHMARKS.md, "Big networks"). The
    app turns the pool off before Qt reads the switch, so painting the filled window starts
    no "Thread (pooled)"."""
    import os
    import subprocess

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "XDG_DATA_HOME": str(tmp_path / "d")}
    env.pop("QT_NO_GUI_THREADPOOL", None)
    done = subprocess.run([sys.executable, "-c", _THREADS], capture_output=True, text=True,
                          timeout=120, cwd=str(PRESETS.parent), env=env)
    assert done.returncode == 0, done.stderr
    threads = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 (our child's list)
    assert "Thread (pooled)" not in threads
