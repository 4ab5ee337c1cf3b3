"""How fast the window answers: an edit until every readout is repainted, opening ResNet-152,
and process start until the window is filled (and first shown), against a bare PySide6 window
in the same run.

    python benchmarks/bench_gui.py [--edits 30] [--opens 5] [--starts 5] [--json]
    python benchmarks/bench_gui.py --xvfb      # the real X11 platform (xcb) under xvfb-run

Runs on Qt's offscreen platform unless told otherwise (QT_QPA_PLATFORM, or --xvfb, which re-runs
the script under `xvfb-run` with QT_QPA_PLATFORM=xcb when there is no DISPLAY). Timings are
medians. The window of the edit, expand and open figures is made as the app makes it:
app.qt_environment() before the QApplication (Qt's fills serial, Fusion), the app's look;
`--qt-fill-threads` leaves Qt's fill threads on, for the A/B against Qt's default.

How each figure is measured:

* edit → every readout repainted (VGG-16, ResNet-152). A MainWindow (1400×900) is shown with
  the preset open and every readout visible: the warnings dock, normally a tab behind the layer
  table, goes to the left column under the layer palette. The conv in the middle of the network
  is selected (so the inspector shows it, and the canvas scrolls to its card) and its
  out_channels alternates between two values. One sample is `commands.set_params(...)` (undo
  command, analysis, every view's refresh), then `QApplication.processEvents()` twice: the
  queued scene update, the layout requests, and Qt's repaint of what the edit changed, in the
  window's backing store and flushed to the platform, as in the app. An event filter on every
  visible widget of the five readouts (the layer table, totals, inspector, warnings, canvas)
  checks that each readout repainted in every sample (the table says "NOT painted" otherwise;
  the warnings are left out of that check: the edit changes none, so they have nothing to
  repaint): the figure is the time until the user sees every readout with the new numbers.
  A stress row gives the same edit with update() called on every visible widget of the five
  readouts first
  (the list taken before the clock starts), so every pixel of every readout is painted again,
  changed or not; an event filter on one widget per readout checks that too.
* collapse / expand a ResNet-152 stage (issue 19): the preset open as it comes (stem, four
  stages and head collapsed), the 36-block stage 3 expanded in place (its 36 bottleneck cards
  shown, what follows moved down: one undo step, scene.request_toggle as a click on its ▸ does)
  and collapsed again, alternately, each until `processEvents()` twice has repainted the canvas;
  medians of each, wall and CPU time.
* opening ResNet-152: `window.open_path(preset)` (parse, analysis, the scene's cards and wires
  laid out and fitted to the view, table, totals, warnings, inspector emptied), then update()
  on every visible widget
  of the window and `processEvents()` twice: the first paint of the whole window with the new
  design. The analysis's rule memo is emptied before each open, so each open is as cold as the
  first of a session; VGG-16 is opened between samples so each open replaces a whole design.
* process start to window filled (the headline) and shown: `python -c ...` children, four kinds
  alternated. The app child runs designer.app.main() as `python main.py` does (QApplication,
  look, icon, the window put up as a shell: menus, toolbar, the docks in their places; shown;
  after its first paint it is filled with the document, the canvas and the panels; then the
  export/import actions, the Inside dock, the recovery autosave and the recovery check). The
  bare child creates a QApplication and a QMainWindow of the same size and shows it. The app
  imports PySide6 with its start-up cache in place (designer/ui/qt_start.py: shiboken's support
  modules, which PySide6 compiles from source at every start, and the regular expressions they
  compile, kept from the first start); a second bare child imports PySide6 the same way, which
  shows how much of the gap to the bare window that alone closes. The floor (which imports
  PySide6 that way too: it bounds the app's window)
  builds the same kind of window from the Qt classes the app's shell uses, empty, with no code
  of ours (PySide6 makes a class's Python enums when the class is first touched: the Qt
  namespace alone is tens of milliseconds a bare window never pays). The floor of the filled
  window first makes every Qt class PySide6 had made by the time the app's window was filled
  (the app child reports them; the first round runs the app first), then the same empty window:
  PySide6's own cost for the classes the filled window needs, the bound under "filled". In all,
  QMainWindow.show is wrapped (as PySide6.QtWidgets is loaded, by whichever import comes
  first: the app child imports PySide6 itself, as `python main.py` does) to put an event filter
  on the window; at its first Paint event it
  posts an event of high priority, which Qt delivers once that paint pass and its flush to the
  platform are over, and that notes time.time() and the CPU time: "shown", the first frame
  complete. For the app's window the child also watches a widget of each panel (the canvas's
  viewport, the palette's list, the inspector, the memory bar, the layer table); once each has
  painted after the window was filled, the same posted event marks the end of that frame:
  "filled", the window as a user works in it. The figures are those times minus the parent's
  time.time() just before spawning; ratios are medians over medians against the bare window of
  the same run. The child also reports whether torch or pyqtgraph had been imported by the
  time the window was filled (they must not be). Settings and recovery files go to a temporary
  XDG_CONFIG_HOME / XDG_DATA_HOME so that no stored state changes what the children do.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRESETS = ROOT / "presets"
VGG16 = PRESETS / "vgg16.convnet.json"
RESNET152 = PRESETS / "resnet152.convnet.json"
WINDOW_SIZE = (1400, 900)

# issue 19: ResNet-152 opens grouped (stem, four stages, head collapsed); its edit, its open and
# fit, and a stage collapsed or expanded in place each within a frame or two
TARGETS_MS = {"edit_vgg16": 16.0, "edit_resnet152": 16.0, "open_resnet152": 300.0,
              "toggle_resnet152": 16.0}
START_RATIO_TARGET = 1.5  # the window shown (the shell)
FILLED_RATIO_TARGET = 1.6  # the window filled: the headline

# Run in a child process: wrap QMainWindow.show so that the shown window notes its first paint
# ("shown") and, for the app's window, the moment every panel has painted with the design in it
# ("filled"); the child quits then. The hook goes in as PySide6.QtWidgets is loaded, by whoever
# imports it first: the app child imports PySide6 itself, as `python main.py` does (its start-up
# cache is in place by then, designer/ui/qt_start.py), the others at their first line.
_HOOK_BODY = r"""
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

_show = QMainWindow.show
_painted = []
_filled = []
_loaded = {{}}
_made = {{}}  # the Qt classes PySide6 had made when the window was filled: module -> names

def _note(into):
    into.append(time.time())
    into.append(time.process_time())
    _loaded.update((m, _loaded.get(m, False) or m in sys.modules) for m in ("torch", "pyqtgraph"))

class _Marker(QObject):
    # notes the time when Qt delivers it: posted from a Paint event with a high priority, it
    # comes right after the paint pass (and its flush to the platform) is over, before any
    # other posted work: the frame is complete then, not when its first widget starts painting
    def __init__(self):
        super().__init__()
        self.waiting = []

    def event(self, event):
        if event.type() != QEvent.Type.User:
            return super().event(event)
        into, quit_after = self.waiting.pop(0)
        if not into:
            _note(into)
            if into is _filled:
                _made.update((name, sorted(k for k, v in vars(module).items()
                                           if isinstance(v, type)))
                             for name, module in list(sys.modules.items())
                             if name.startswith("PySide6.Qt"))
            if quit_after:
                QTimer.singleShot(0, QApplication.instance().quit)
        return True

_marker = _Marker()

def _after_frame(into, quit_after):
    _marker.waiting.append((into, quit_after))
    QApplication.postEvent(_marker, QEvent(QEvent.Type.User), 1)  # 1: Qt.HighEventPriority

def _panels(window):
    # a widget of each panel that paints (created in Python: no type lookup on the way)
    return [window.view.viewport(), window.palette.tree, window.inspector, window.totals.bar,
            window.table]

class _Filled(QObject):
    def __init__(self, widgets):
        super().__init__()
        self.left = list(widgets)
        for widget in self.left:
            widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and any(w is obj for w in self.left):
            self.left = [w for w in self.left if w is not obj]
            obj.removeEventFilter(self)
            if not self.left:
                _after_frame(_filled, True)
        return False

class _FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            app_window = hasattr(obj, "started")
            _after_frame(_painted, not app_window)
            if not app_window:  # not the app's window: shown is filled
                _filled.append(None)
        return False

_filter = _FirstPaint()
_watch = []

def _hooked_show(self):
    self.installEventFilter(_filter)
    if hasattr(self, "started"):
        watch = lambda: _watch.append(_Filled(_panels(self)))
        watch() if self.ready else self.started.connect(watch)
    _show(self)

QMainWindow.show = _hooked_show
"""


def child_hook(extra: str = "") -> str:
    """The hook's code, a template (root, made): `extra` runs right after the hook's body."""
    return r"""
import importlib.machinery, json, sys, time
sys.path.insert(0, {root!r})
_HOOK = r'''""" + _HOOK_BODY + extra + r"""'''

class _AfterQtWidgets:  # (a finder consulted first: the hook once QtWidgets is loaded)
    def find_spec(self, name, path=None, target=None):
        if name != "PySide6.QtWidgets":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        real = spec.loader

        class Loader:
            def create_module(self, spec):
                return real.create_module(spec)

            def exec_module(self, module):
                real.exec_module(module)
                exec(_HOOK, globals())

        spec.loader = Loader()
        return spec

sys.meta_path.insert(0, _AfterQtWidgets())
"""


_CHILD_HOOK = child_hook()

_CHILD_APP = _CHILD_HOOK + r"""
from designer.app import main
main([])
"""

_CHILD_BARE = _CHILD_HOOK + r"""
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1400, 880)
window.show()
app.exec()
"""

# PySide6 imported as the app imports it: shiboken's support modules from the app's start-up
# cache (designer/ui/qt_start.py), compiled once instead of at every start. The floors start
# this way (they bound the app's window), and so does a second bare window, which shows what
# that alone saves.
_PYSIDE_AS_THE_APP = r"""
from designer.ui import qt_start
qt_start.quick_compiles(generated=False)
qt_start.pyside_import()
qt_start.stdlib_compiles()
"""

_CHILD_BARE_CACHED = _CHILD_BARE.replace(_CHILD_HOOK, _CHILD_HOOK + _PYSIDE_AS_THE_APP, 1)

# The floor: a window made of the Qt classes the app's window uses (graphics view, tree, table,
# docks, toolbar, menus, painter, fonts, pens, brushes, icons, the Qt namespace), empty, with no
# code of ours. PySide6 builds each class's Python enums when the class is first touched, which
# a bare QMainWindow never does; this shows how much of the app's start that alone costs.
_CHILD_FLOOR = _CHILD_HOOK + _PYSIDE_AS_THE_APP + r"""
from PySide6.QtWidgets import QApplication, QMainWindow
from PySide6.QtCore import Qt, QSettings, QTimer, QSize, QRectF, QPointF, QAbstractTableModel
from PySide6.QtGui import (QAction, QKeySequence, QPainter, QFont, QPen, QBrush, QColor, QIcon,
                           QPalette, QPainterPath)
from PySide6.QtWidgets import (QDockWidget, QGraphicsView, QGraphicsScene, QGraphicsObject,
    QGraphicsPathItem, QTreeWidget, QTreeWidgetItem, QTableView, QHeaderView, QLabel, QLineEdit,
    QSpinBox, QComboBox, QFormLayout, QPushButton, QToolBar, QVBoxLayout, QWidget,
    QStyleOptionGraphicsItem, QSizePolicy, QFrame, QScrollArea, QCheckBox)
app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1400, 880)
window.setCentralWidget(QGraphicsView(QGraphicsScene()))
for title, w, area in (("Layers", QTreeWidget(), Qt.LeftDockWidgetArea),
                       ("Inspector", QLabel("-"), Qt.RightDockWidgetArea),
                       ("Totals", QLabel("-"), Qt.RightDockWidgetArea),
                       ("Table", QTableView(), Qt.BottomDockWidgetArea)):
    dock = QDockWidget(title, window)
    dock.setWidget(w)
    window.addDockWidget(area, dock)
window.addToolBar("Main")
window.menuBar().addMenu("&File").addAction(QAction("New", window))
window.show()
app.exec()
"""

# The floor of the filled window: every Qt class PySide6 had made by the time the app's window
# was filled (the app child reports them; PySide6 makes a class, and its enums, when it is first
# touched), made here, then the floor's empty window: what PySide6 alone costs for the classes
# the filled window needs, none of our modules, no design, no panel painted.
_CHILD_FILLED_FLOOR = _CHILD_FLOOR.replace("app = QApplication(sys.argv)\n", r"""
app = QApplication(sys.argv)
import importlib
for _module, _names in {made!r}.items():
    _module = importlib.import_module(_module)
    for _name in _names:
        getattr(_module, _name)
""", 1)

_CHILD_REPORT = r"""
if _filled[:1] == [None]:  # a bare or floor window: filled is shown
    _filled[:] = _painted
print(json.dumps({"shown": _painted[0] if _painted else None,
                  "cpu": _painted[1] if _painted else None,
                  "filled": _filled[0] if _filled else None,
                  "filled_cpu": _filled[1] if _filled else None,
                  "torch": _loaded.get("torch"), "pyqtgraph": _loaded.get("pyqtgraph"),
                  "made": _made,
                  "torch_at_exit": "torch" in sys.modules,
                  "platform": QApplication.instance().platformName() if QApplication.instance()
                  else None}))
"""


# ------------------------------------------------------------------------------------- window

def _window(tmp: Path):
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from designer.ui.main_window import MainWindow

    settings = QSettings(str(tmp / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=tmp / "recovery")
    window.recovery.timer.setInterval(10**9)  # no autosave writes inside the timings
    # every readout visible: the warnings dock leaves the table's tab group for the left
    # column, under the layer palette (the table keeps its usual size)
    issues = window.docks["issues"]
    window.removeDockWidget(issues)
    window.splitDockWidget(window.docks["palette"], issues, Qt.Vertical)
    issues.show()
    window.resize(*WINDOW_SIZE)
    window.show()
    app = QApplication.instance()
    deadline = time.perf_counter() + 5
    while not (window.windowHandle() and window.windowHandle().isExposed()):
        app.processEvents()
        if time.perf_counter() > deadline:
            raise SystemExit("the window was never exposed")
    for _ in range(3):
        app.processEvents()
    return window


def _readouts(window) -> dict:
    """name -> (the readout's widget, a widget inside it whose Paint events prove it painted)."""
    return {
        "table": (window.docks["table"], window.table.viewport()),
        "totals": (window.docks["totals"], window.totals.bar),
        "inspector": (window.docks["inspector"], window.inspector),
        "issues": (window.docks["issues"], window.issues.summary),
        "canvas": (window.view.viewport(), window.view.viewport()),
    }


def _paint_counter(widgets: dict):
    """Counts Paint events per name; `widgets` maps a name to a widget or a list of widgets
    (a readout counts as painted when any of its widgets was)."""
    from PySide6.QtCore import QEvent, QObject

    groups = {name: (w if isinstance(w, list) else [w]) for name, w in widgets.items()}

    class PaintCounter(QObject):
        def __init__(self):
            super().__init__()
            self.counts = dict.fromkeys(groups, 0)
            self._names = {id(w): name for name, ws in groups.items() for w in ws}
            for ws in groups.values():
                for w in ws:
                    w.installEventFilter(self)

        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                name = self._names.get(id(obj))
                if name is not None:
                    self.counts[name] += 1
            return False

        def reset(self):
            self.counts = dict.fromkeys(self.counts, 0)

        def remove(self):
            for ws in groups.values():
                for w in ws:
                    w.removeEventFilter(self)

    return PaintCounter()


def _visible_widgets(readouts) -> list:
    """Every visible widget of the readouts: a parent's update() does not repaint its opaque
    children (scroll areas' viewports, for one), so a full repaint marks each one."""
    from PySide6.QtWidgets import QWidget

    found = []
    for top in readouts:
        found.append(top)
        found.extend(w for w in top.findChildren(QWidget) if w.isVisible())
    return found


def bench_edit(window, preset: Path, repeat: int, full: bool) -> dict:
    from PySide6.QtWidgets import QApplication

    from designer.ui import commands

    app = QApplication.instance()
    window.open_path(str(preset), ask=False)
    doc = window.doc
    convs = [nid for nid, node in doc.network.nodes.items() if node.type == "Conv2d"]
    target = convs[len(convs) // 2]
    width = int(doc.network.nodes[target].params["out_channels"])
    values = (width + width // 2, width)
    doc.select([target])
    for _ in range(3):
        app.processEvents()
    window.view.ensureVisible(window.scene.card(target), 40, 40)
    app.processEvents()
    window.repaint()

    readouts = _readouts(window)
    tops = [top for top, _ in readouts.values()]
    if full:
        counter = _paint_counter({name: probe for name, (_, probe) in readouts.items()})
    else:  # what the edit changed may be any widget of a readout: watch them all
        counter = _paint_counter({name: _visible_widgets([top])
                                  for name, (top, _) in readouts.items()})
    times, cpu, missed = [], [], set()
    try:
        for i in range(repeat + 2):  # the first two are warm-up
            counter.reset()
            widgets = _visible_widgets(tops) if full else ()
            t, c = time.perf_counter(), time.process_time()
            commands.set_params(doc, target, out_channels=values[i % 2])
            for w in widgets:  # the full repaint: all of every readout, not only what changed
                w.update()
            app.processEvents()
            app.processEvents()
            elapsed, used = time.perf_counter() - t, time.process_time() - c
            if i >= 2:
                times.append(elapsed)
                cpu.append(used)
                missed.update(name for name, n in counter.counts.items()
                              if n == 0 and (full or name != "issues"))
    finally:
        counter.remove()
    if doc.network.nodes[target].params["out_channels"] != width:
        commands.set_params(doc, target, out_channels=width)
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
            "cpu_ms": statistics.median(cpu) * 1e3, "layers": len(doc.network), "layer": target,
            "values": list(values), "not_painted": sorted(missed)}


def bench_toggle(window, repeat: int) -> dict:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    window.open_path(str(RESNET152), ask=False)
    for _ in range(3):
        app.processEvents()
    scene = window.scene
    canvas = {"canvas": [window.view.viewport()]}
    counter = _paint_counter(canvas)
    times: dict[str, list[float]] = {"expand": [], "collapse": []}
    cpu: dict[str, list[float]] = {"expand": [], "collapse": []}
    missed = False
    try:
        for i in range(2 * repeat + 2):
            opening = scene.document.network.blocks["layer3"].collapsed
            counter.reset()
            t, c = time.perf_counter(), time.process_time()
            scene.request_toggle("layer3")
            app.processEvents()
            app.processEvents()
            elapsed, used = time.perf_counter() - t, time.process_time() - c
            if i >= 2:
                times["expand" if opening else "collapse"].append(elapsed)
                cpu["expand" if opening else "collapse"].append(used)
                missed = missed or counter.counts["canvas"] == 0
    finally:
        counter.remove()
    if not scene.document.network.blocks["layer3"].collapsed:
        scene.request_toggle("layer3")
    return {"expand_ms": statistics.median(times["expand"]) * 1e3,
            "collapse_ms": statistics.median(times["collapse"]) * 1e3,
            "expand_cpu_ms": statistics.median(cpu["expand"]) * 1e3,
            "collapse_cpu_ms": statistics.median(cpu["collapse"]) * 1e3,
            "cards": 36, "not_painted": ["canvas"] if missed else []}


def bench_open(window, repeat: int) -> dict:
    from PySide6.QtWidgets import QApplication

    import designer.model.analysis as analysis_module

    app = QApplication.instance()
    readouts = _readouts(window)
    counter = _paint_counter({name: probe for name, (_, probe) in readouts.items()})
    times, cpu, missed = [], [], set()
    try:
        for _ in range(repeat):
            window.open_path(str(VGG16), ask=False)
            app.processEvents()
            memo = getattr(analysis_module, "_MEMO", None)
            if memo is not None:
                memo.clear()
            counter.reset()
            t, c = time.perf_counter(), time.process_time()
            window.open_path(str(RESNET152), ask=False)
            for w in _visible_widgets([window]):
                w.update()
            app.processEvents()
            app.processEvents()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            missed.update(name for name, n in counter.counts.items() if n == 0)
    finally:
        counter.remove()
    return {"median_ms": statistics.median(times) * 1e3, "first_ms": times[0] * 1e3,
            "min_ms": min(times) * 1e3, "cpu_ms": statistics.median(cpu) * 1e3,
            "not_painted": sorted(missed)}


# ------------------------------------------------------------------------------------ startup

def _other_app_child(tree: Path) -> str:
    """The app child of another checkout's bench_gui.py (its hook, its report), rooted there."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_gui_other",
                                                  tree / "benchmarks" / "bench_gui.py")
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    return (other._CHILD_APP.format(root=str(tree.resolve()), made={})
            + other._CHILD_REPORT)


def bench_start(repeat: int, env: dict, against: Path | None = None) -> dict:
    kinds = ("app", "floor", "filled_floor", "bare", "bare_cached") + (
        ("against",) if against else ())
    with tempfile.TemporaryDirectory() as home:
        # bytecode is cached (in the temporary directory) as it is for a user: the warm-up
        # round compiles, the measured rounds load .pyc files
        env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(XDG_CONFIG_HOME=str(Path(home) / "config"),
                   XDG_DATA_HOME=str(Path(home) / "data"),
                   PYTHONPYCACHEPREFIX=str(Path(home) / "pycache"))
        codes = {"app": _CHILD_APP, "bare": _CHILD_BARE, "floor": _CHILD_FLOOR,
                 "filled_floor": _CHILD_FILLED_FLOOR, "bare_cached": _CHILD_BARE_CACHED}
        if against:
            codes["against"] = _other_app_child(against)
        made: dict = {}  # the Qt classes of the app's filled window (its first child reports)
        samples: dict[str, list[float]] = {k: [] for k in kinds}  # shown (bare, floors: all)
        cpu: dict[str, list[float]] = {k: [] for k in kinds}
        filled: list[float] = []  # the app's window: every panel painted with the design
        filled_cpu: list[float] = []
        against_filled: list[float] = []  # the other checkout's app window, filled
        imported = {"torch": False, "pyqtgraph": False, "torch_at_exit": False}
        platform = None
        for i in range(repeat + 1):  # the first round warms the file and bytecode caches
            for kind in kinds[::-1] if i % 2 else kinds:  # (the app first in the first round)
                code = (codes[kind] if kind == "against" else
                        codes[kind].format(root=str(ROOT), made=made) + _CHILD_REPORT)
                t = time.time()
                done = subprocess.run([sys.executable, "-c", code], env=env,
                                      cwd=str(against if kind == "against" else ROOT),
                                      capture_output=True, text=True, timeout=120)
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
                if done.returncode != 0 or not lines:
                    raise SystemExit(f"{kind} child failed ({done.returncode}):\n"
                                     f"{done.stdout}\n{done.stderr}")
                result = json.loads(lines[-1])
                if result["shown"] is None or result["filled"] is None:
                    raise SystemExit(f"{kind} child never painted its window (shown "
                                     f"{result['shown']}, filled {result['filled']}):\n"
                                     f"{done.stderr}")
                platform = result["platform"]
                if kind == "app":
                    for module in imported:
                        imported[module] |= bool(result[module])
                    made = made or result["made"]
                if i:
                    samples[kind].append(result["shown"] - t)
                    cpu[kind].append(result["cpu"])
                    if kind == "app":
                        filled.append(result["filled"] - t)
                        filled_cpu.append(result["filled_cpu"])
                    elif kind == "against":
                        against_filled.append(result["filled"] - t)
    med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    med_cpu = {k: statistics.median(v) * 1e3 for k, v in cpu.items()}
    filled_ms, filled_cpu_ms = statistics.median(filled) * 1e3, statistics.median(filled_cpu) * 1e3
    bare_ms, bare_cpu = med["bare"], med_cpu["bare"]
    return {"filled_ms": filled_ms, "filled_ratio": filled_ms / bare_ms,
            "filled_cpu_ms": filled_cpu_ms, "filled_cpu_ratio": filled_cpu_ms / bare_cpu,
            "app_ms": med["app"], "ratio": med["app"] / bare_ms,
            "app_cpu_ms": med_cpu["app"], "cpu_ratio": med_cpu["app"] / bare_cpu,
            "bare_ms": bare_ms, "bare_cpu_ms": bare_cpu,
            "bare_cached_ms": med["bare_cached"], "bare_cached_cpu_ms": med_cpu["bare_cached"],
            "bare_cached_ratio": med["bare_cached"] / bare_ms,
            "filled_to_bare_cached": filled_ms / med["bare_cached"],
            "floor_ms": med["floor"], "floor_ratio": med["floor"] / bare_ms,
            "floor_cpu_ms": med_cpu["floor"], "floor_cpu_ratio": med_cpu["floor"] / bare_cpu,
            "filled_floor_ms": med["filled_floor"],
            "filled_floor_ratio": med["filled_floor"] / bare_ms,
            "filled_floor_cpu_ms": med_cpu["filled_floor"],
            "filled_floor_cpu_ratio": med_cpu["filled_floor"] / bare_cpu,
            "filled_floor_classes": sum(len(v) for v in made.values()),
            "filled_samples_ms": [round(s * 1e3, 1) for s in filled],
            "app_samples_ms": [round(s * 1e3, 1) for s in samples["app"]],
            "bare_samples_ms": [round(s * 1e3, 1) for s in samples["bare"]],
            "torch_imported": imported["torch"], "pyqtgraph_imported": imported["pyqtgraph"],
            "torch_imported_at_exit": imported["torch_at_exit"], "platform": platform,
            **({"against": str(against), "against_filled_ms":
                statistics.median(against_filled) * 1e3,
                "filled_to_against": filled_ms / (statistics.median(against_filled) * 1e3)}
               if against else {})}


# ------------------------------------------------------------------------------------- report

def _verdict(ok: bool) -> str:
    return "ok" if ok else "NOT met"


def _rows(results: dict) -> list[tuple[str, ...]]:
    """(what, median wall ms, median CPU ms, target, ratio / verdict) per line."""
    rows = []
    for key, name in (("edit_vgg16", "edit → every readout repainted, VGG-16"),
                      ("edit_resnet152", "edit → every readout repainted, ResNet-152")):
        n = results.get(key + "_natural")
        if n:
            target = TARGETS_MS[key]
            painted = ("" if not n["not_painted"] else
                       f"; NOT painted: {', '.join(n['not_painted'])}")
            rows.append((name, f"{n['median_ms']:.1f}", f"{n['cpu_ms']:.1f}", f"< {target:g} ms",
                         f"{n['median_ms'] / target:.2f}× of target, "
                         f"{_verdict(n['median_ms'] < target and not n['not_painted'])}"
                         + painted))
        if key in results:
            r = results[key]
            painted = ("" if not r["not_painted"] else
                       f"; NOT painted: {', '.join(r['not_painted'])}")
            rows.append(("  same, every widget of every readout forced to repaint",
                         f"{r['median_ms']:.1f}", f"{r['cpu_ms']:.1f}", "",
                         "stress, informative" + painted))
    if "toggle_resnet152" in results:
        r, target = results["toggle_resnet152"], TARGETS_MS["toggle_resnet152"]
        painted = "" if not r["not_painted"] else "; NOT painted"
        for what in ("expand", "collapse"):
            ms = r[f"{what}_ms"]
            rows.append((f"{what} a ResNet-152 stage in place (36 blocks) → canvas repainted",
                         f"{ms:.1f}", f"{r[f'{what}_cpu_ms']:.1f}", f"< {target:g} ms",
                         f"{ms / target:.2f}× of target, {_verdict(ms < target)}" + painted))
    if "open_resnet152" in results:
        r, target = results["open_resnet152"], TARGETS_MS["open_resnet152"]
        painted = "" if not r["not_painted"] else f"; NOT painted: {', '.join(r['not_painted'])}"
        rows.append(("open ResNet-152 (parse, analyse, lay out, fit, first paint)",
                     f"{r['median_ms']:.1f}", f"{r['cpu_ms']:.1f}", f"< {target:g} ms",
                     f"{r['median_ms'] / target:.2f}× of target, "
                     f"{_verdict(r['median_ms'] < target and not r['not_painted'])}; "
                     f"first sample {r['first_ms']:.0f} ms" + painted))
    if "start" in results:
        r = results["start"]
        rows.append(("process start → window shown, bare PySide6 (baseline)",
                     f"{r['bare_ms']:.1f}", f"{r['bare_cpu_ms']:.1f}", "", ""))
        rows.append(("  the same, PySide6 imported as the app does (its support modules cached)",
                     f"{r['bare_cached_ms']:.1f}", f"{r['bare_cached_cpu_ms']:.1f}", "",
                     f"{r['bare_cached_ratio']:.2f}× bare; the filled window is "
                     f"{r['filled_to_bare_cached']:.2f}× this one"))
        clean = not r["torch_imported"] and not r["pyqtgraph_imported"]
        rows.append(("process start → window FILLED (headline): the design on the canvas, "
                     "every panel painted", f"{r['filled_ms']:.1f}", f"{r['filled_cpu_ms']:.1f}",
                     f"≤ {FILLED_RATIO_TARGET:g}× bare",
                     f"{r['filled_ratio']:.2f}× bare ({r['filled_cpu_ratio']:.2f}× in CPU time), "
                     f"{_verdict(r['filled_ratio'] <= FILLED_RATIO_TARGET)}"))
        rows.append((f"  its floor: the {r['filled_floor_classes']} Qt classes it makes, made, "
                     "and an empty window (no code of ours)", f"{r['filled_floor_ms']:.1f}",
                     f"{r['filled_floor_cpu_ms']:.1f}", "",
                     f"{r['filled_floor_ratio']:.2f}× bare ({r['filled_floor_cpu_ratio']:.2f}× "
                     "in CPU time): what bounds the filled window"))
        rows.append(("process start → window shown: the shell (menus, toolbar, docks)",
                     f"{r['app_ms']:.1f}", f"{r['app_cpu_ms']:.1f}",
                     f"≤ {START_RATIO_TARGET:g}× bare",
                     f"{r['ratio']:.2f}× bare ({r['cpu_ratio']:.2f}× in CPU time), "
                     f"{_verdict(r['ratio'] <= START_RATIO_TARGET)}"))
        rows.append(("  its floor: the same Qt widgets, empty, no code of ours",
                     f"{r['floor_ms']:.1f}", f"{r['floor_cpu_ms']:.1f}", "",
                     f"{r['floor_ratio']:.2f}× bare ({r['floor_cpu_ratio']:.2f}× in CPU time)"))
        if "against" in r:
            rows.append((f"  the same, the app of {r['against']} (interleaved)",
                         f"{r['against_filled_ms']:.1f}", "", "",
                         f"{r['against_filled_ms'] / r['bare_ms']:.2f}× bare; this tree's is "
                         f"{r['filled_to_against']:.2f}× that"))
        rows.append(("  torch / pyqtgraph imported by the time the window is filled", "", "",
                     "neither", f"torch {'YES' if r['torch_imported'] else 'no'}, pyqtgraph "
                     f"{'YES' if r['pyqtgraph_imported'] else 'no'}, {_verdict(clean)}"))
    return rows


def _print_table(rows, platform: str) -> None:
    head = ("what", "median ms", "CPU ms", "target", "ratio / verdict")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"Qt platform: {platform}. Medians; wall-clock time is judged, CPU time (this process "
          "and its threads; for a start, the child's) shows what a busy machine added.")
    for j, row in enumerate([head, *rows]):
        print("  ".join(cell.rjust(widths[i]) if i in (1, 2) else cell.ljust(widths[i])
                        for i, cell in enumerate(row)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def _rerun_under_xvfb() -> None:
    if os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        raise SystemExit("--xvfb: no DISPLAY and xvfb-run is not installed")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    argv = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
    sys.exit(subprocess.call(argv, env=env))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edits", type=int, default=30, help="edits per design (median)")
    ap.add_argument("--opens", type=int, default=5, help="opens of ResNet-152 (median)")
    ap.add_argument("--starts", type=int, default=5, help="process starts of each kind")
    ap.add_argument("--toggles", type=int, default=10, help="expands and collapses (median)")
    ap.add_argument("--only", choices=("edit", "open", "toggle", "start"), action="append",
                    help="run only these parts (repeatable)")
    ap.add_argument("--xvfb", action="store_true",
                    help="run on the X11 platform (xcb), under xvfb-run if there is no DISPLAY")
    ap.add_argument("--qt-fill-threads", action="store_true",
                    help="edit, toggle and open with Qt's default of handing big fills to its "
                         "GUI thread pool (the app turns it off: app.qt_environment)")
    ap.add_argument("--start-against", type=Path, metavar="DIR",
                    help="a checkout of another commit (git worktree add DIR REV): its app "
                         "child joins the start-up's, interleaved (the A/B of a change)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if args.xvfb:
        _rerun_under_xvfb()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    parts = set(args.only or ("edit", "open", "toggle", "start"))

    results: dict = {}
    platform = os.environ["QT_QPA_PLATFORM"]
    if parts & {"edit", "open", "toggle"}:
        from PySide6.QtCore import qInstallMessageHandler
        from PySide6.QtWidgets import QApplication

        def quiet(_mode, _context, message: str) -> None:  # the offscreen platform's chatter
            if "propagateSizeHints" not in message:
                print(message, file=sys.stderr)

        qInstallMessageHandler(quiet)

        from designer.app import _apply_look, qt_environment

        qt_environment()  # what the app sets before its QApplication is made
        if args.qt_fill_threads:  # (the A/B against Qt's default)
            os.environ.pop("QT_NO_GUI_THREADPOOL", None)
        app = QApplication.instance() or QApplication([sys.argv[0]])
        _apply_look(app)
        platform = app.platformName()
        with tempfile.TemporaryDirectory() as tmp:
            window = _window(Path(tmp))
            if "edit" in parts:
                for key, preset in (("edit_vgg16", VGG16), ("edit_resnet152", RESNET152)):
                    results[key] = bench_edit(window, preset, args.edits, full=True)
                    results[key + "_natural"] = bench_edit(window, preset, args.edits,
                                                           full=False)
            if "toggle" in parts:
                results["toggle_resnet152"] = bench_toggle(window, args.toggles)
            if "open" in parts:
                results["open_resnet152"] = bench_open(window, args.opens)
            window.doc.undo_stack.setClean()
            window.close()
            window.deleteLater()
            app.processEvents()
        if platform == "offscreen":  # its clipboard crashes at exit if it holds data
            app.clipboard().clear()
    if "start" in parts:
        results["start"] = bench_start(args.starts, dict(os.environ), args.start_against)
        platform = results["start"]["platform"] or platform
    results["platform"] = platform

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(_rows(results), platform)
    return 0


if __name__ == "__main__":
    sys.exit(main())
