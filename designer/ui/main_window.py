"""The main window: the canvas in the middle, dockable panels around it, menus, files.

It wires views to the Document and turns menu actions into document operations; it holds no
design state of its own and does no arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QDockWidget, QMainWindow, QStatusBar, QVBoxLayout, QWidget

from ..assets import PRESET_SUFFIX, list_examples, presets_dir
from .icons import icon
from .window_training import TrainingActions

__all__ = ["MainWindow", "list_examples"]

# (file_names.py is imported where a file is named: the shell goes up without it)

if TYPE_CHECKING:
    from .canvas.scene import CanvasScene
    from .canvas.view import CanvasView
    from .document import Document
    from .gpu_probe import GpuProbe
    from .panels.hints import HintsModel, HintsPanel
    from .panels.inspector import Inspector
    from .panels.palette import LayerPalette
    from .panels.readouts import IssuesPanel, LayerTable, TotalsPanel
    from .panels.training import TrainingPanel
    from .recovery import Recovery

SUFFIX = PRESET_SUFFIX  # design_file.SUFFIX: the shell goes up before the model is loaded
PRESETS = presets_dir()  # presets/ in a checkout, designer/presets in a wheel
APP_NAME = "ConvNet Designer"
FILE_FILTER = f"ConvNet designs (*{SUFFIX});;All files (*)"
NOTES_URL = "https://cs231n.github.io/convolutional-networks/"
# what the panels post as they are made, handled before a staged window's filled paint
_SETTLE = (QEvent.Type.PolishRequest, QEvent.Type.LayoutRequest, QEvent.Type.MetaCall)


class MainWindow(TrainingActions, QMainWindow):
    started = Signal()  # finish_start() has filled the window

    # made by finish_start()
    doc: Document
    scene: CanvasScene
    view: CanvasView
    palette: LayerPalette  # (the panel; QWidget.palette() is not used on the window)
    inspector: Inspector
    table: LayerTable
    totals: TotalsPanel  # (the warnings, a tab behind the table: `issues`, made when first seen)
    recovery: Recovery  # (made by _finish_rest(): a staged window's right after its filled paint)

    # (name, dock title, area) of the panels around the canvas
    PANELS = (("palette", "Layers", Qt.LeftDockWidgetArea),
              ("inspector", "Inspector", Qt.RightDockWidgetArea),
              ("totals", "Totals and memory", Qt.RightDockWidgetArea),
              ("table", "Layer table", Qt.BottomDockWidgetArea),
              ("issues", "Warnings", Qt.BottomDockWidgetArea))

    def __init__(self, document: Document | None = None, settings: QSettings | None = None,
                 recovery_dir: Path | None = None, *, staged: bool = False,
                 open_first: str | None = None):
        """`staged`: the window is put up as a shell (menus, toolbar, the docks in their
        places) and finish_start() fills it right after its first paint: the document, the
        canvas with the design, the panels; the export/import actions, the Inside dock and the
        recovery autosave follow the filled window's paint. app.main starts this way, so the
        window appears before the analysis, the canvas and the panels are even imported;
        `started` is emitted once they are there. Otherwise (the default) the window is
        complete when the constructor returns. `open_first`: a design file opened
        before the canvas and the panels are built (a bad one is said, and a new design
        stays), so that they show it from their first paint."""
        super().__init__()
        self.settings = settings or QSettings("ConvNetDesigner", APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1400, 880)
        self._document = document
        self._recovery_dir = recovery_dir
        self._open_first = open_first
        self.ready = False  # True once finish_start() has filled the window
        self._filling = False
        self._rest_after_paint = False  # finish_start() from the event loop: _finish_rest() later
        self._rest_done = False

        # The shell. The centre and each dock hold an empty widget that the canvas or the
        # panel goes into once it is made: the window's layout stays as it is.
        centre = _holder()
        centre.setBackgroundRole(QPalette.ColorRole.Base)  # the canvas's colour, without cards
        centre.setAutoFillBackground(True)
        self.setCentralWidget(centre)
        self._holders = {name: _holder() for name, _title, _area in self.PANELS}
        self.docks = {name: self._dock(title, self._holders[name], area)
                      for name, title, area in self.PANELS}
        self.tabifyDockWidget(self.docks["table"], self.docks["issues"])
        # Docks that start as a tab behind another are built when first shown (start-up time)
        self._builders: dict = {}
        self._issues: IssuesPanel | None = None
        self._hints: HintsModel | None = None
        self._hints_panel: HintsPanel | None = None
        self._training: TrainingPanel | None = None
        self._lazy_dock("hints", "Hints", self._build_hints_panel)
        self._lazy_dock("training", "Training", self._build_training_panel)
        # side panels run the full height; the table and warnings sit under the canvas only
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self._size_docks()
        # a status bar made here: no jump when it gets its first message, and QMainWindow's
        # own statusBar() costs PySide6 8 ms of type lookup the first time
        self.setStatusBar(QStatusBar())
        self._build_menus()
        self.docks["table"].raise_()  # the layer table in front of its tab group
        self.setWindowTitle(APP_NAME)
        if staged:
            self.installEventFilter(self)  # finish_start() after the first paint
        else:
            self.finish_start()

    def finish_start(self) -> None:
        """Fill the shell: the document, the canvas showing it, the panels around it, the
        actions on the design; then _finish_rest() (export/import actions, the Inside dock,
        the GPU probe, the recovery autosave) and, 150 ms on, the hints. Once; the constructor
        calls it unless the window is `staged`, and anything that needs the document before
        then calls it first."""
        if self.ready or self._filling:
            return
        self._filling = True
        from .canvas.scene import CanvasScene
        from .canvas.view import CanvasView
        from .document import Document
        from .panels.inspector import Inspector
        from .panels.palette import LayerPalette
        from .panels.readouts import LayerTable, TotalsPanel

        self.doc = self._document or Document()
        if self._open_first is not None:
            self.open_path(self._open_first, ask=False)
        self.scene = CanvasScene(self.doc)
        self.view = CanvasView(self.scene)
        # (the view fits the design as it is laid out: a scroll that Qt would paint at once,
        # with the whole window, before the filled paint; it is painted in that paint)
        self.view.setUpdatesEnabled(False)
        _fill(self.centralWidget(), self.view)
        self.palette = LayerPalette()
        self.inspector = Inspector(self.doc)
        self.table = LayerTable(self.doc)
        self.totals = TotalsPanel(self.doc)
        for name, _title, _area in self.PANELS:
            # into the dock's widget, not in its place: the docks keep their sizes
            if name != "issues":  # (a tab behind the table: made when first seen, below)
                _fill(self._holders[name], getattr(self, name))
        warnings = self.docks["issues"]
        warnings.visibilityChanged.connect(lambda seen: seen and self.issues)
        if warnings.isVisible() and not warnings.visibleRegion().isEmpty():
            self.issues  # noqa: B018 (made now: it is on show, not a tab behind another)

        self.palette.layer_activated.connect(self.view.add_layer)
        self.palette.block_activated.connect(self.view.insert_block)
        self.view.file_dropped.connect(self.open_path)
        self.doc.file_changed.connect(self._update_title)
        self.doc.error.connect(lambda msg: self.statusBar().showMessage(msg, 6000))
        self.doc.changed.connect(self._show_totals_in_status)
        self._build_design_menus()
        self._update_title()
        self._show_totals_in_status(self.doc.report)
        # the design hints (and their markers on the cards) once the window has been shown
        QTimer.singleShot(150, self, lambda: self.hints)
        self.ready = True
        if self._rest_after_paint:
            # Filled from the event loop (a staged start): what the widgets posted as they were
            # made (polish, layout, queued scene and view updates) is handled now, so that the
            # one repaint already asked for paints them laid out (else Qt paints the canvas and
            # the table, relays them out and paints them again); the rest follows that paint.
            for _ in range(3):
                for kind in _SETTLE:
                    QCoreApplication.sendPostedEvents(None, kind)
            self.view.setUpdatesEnabled(True)
            QTimer.singleShot(0, self, self._finish_rest)
        else:
            self.view.setUpdatesEnabled(True)
            self._finish_rest()
        self.started.emit()

    def _finish_rest(self) -> None:
        """What the filled window does not need for its first paint: the menus and the dock of
        their own modules (each loads its heavy parts when first used), the GPU probe and the
        recovery autosave. A staged window makes them right after that paint."""
        if self._rest_done:
            return
        self._rest_done = True
        from . import export_actions
        from .gpu_probe import GpuProbe
        from .panels.inside import dock as feature_maps
        from .recovery import Recovery

        # the detected GPUs join the budget choices once the window is up (gpu_probe.py: it
        # asks nvidia-smi a moment after the window is shown, never before)
        self._gpu_probe = GpuProbe(self.totals, parent=self)

        export_actions.install(self)  # Export project / ONNX / .pt2, Import, Compare
        feature_maps.install(self)  # Inside the network: feature maps, filters, confusion
        self.docks["table"].raise_()  # (a dock tabbed in comes in front: the table stays there)
        self.recovery = Recovery(self.doc, self._recovery_dir, parent=self)
        if self.doc.modified:  # changed before the autosave was there
            self.recovery._schedule()

    @property
    def gpu_probe(self) -> GpuProbe | None:
        """The probe of the GPUs (made with the rest, after a staged window's filled paint;
        asked for before, the rest is made now; None for a window closed before that)."""
        self.finish_start()
        self._finish_rest()
        return getattr(self, "_gpu_probe", None)

    def _finish_after_paint(self) -> None:
        self._rest_after_paint = True
        try:
            self.finish_start()
        except Exception as e:  # noqa: BLE001 - said, and the empty shell goes
            import traceback

            from PySide6.QtWidgets import QMessageBox

            traceback.print_exc()
            QMessageBox.critical(self, APP_NAME, f"{APP_NAME} could not start.\n\n"
                                 f"{type(e).__name__}: {e}")
            self.close()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        # a staged window: its first paint is on its way to the screen; the rest comes next
        if obj is self and event.type() == QEvent.Type.Paint:
            self.removeEventFilter(self)
            QTimer.singleShot(0, self, self._finish_after_paint)
        return False

    # ----------------------------------------------------------------------------- layout

    def _size_docks(self) -> None:
        self.resizeDocks([self.docks["inspector"], self.docks["totals"]], [420, 480], Qt.Vertical)
        self.resizeDocks([self.docks["table"]], [260], Qt.Vertical)
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]], [230, 360],
                         Qt.Horizontal)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _lazy_dock(self, name: str, title: str, build) -> QDockWidget:
        """A dock tabbed behind the warnings whose panel `build()` makes when it is first shown
        (or asked for)."""
        dock = self._dock(title, QWidget(), Qt.BottomDockWidgetArea)
        self.docks[name] = dock
        self.tabifyDockWidget(self.docks["issues"], dock)
        self._builders[name] = build
        dock.visibilityChanged.connect(lambda seen: seen and self._build_dock(name))
        return dock

    def _build_dock(self, name: str) -> None:
        self.finish_start()
        build = self._builders.pop(name, None)
        if build is not None:
            self.docks[name].setWidget(build())

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None,
                tip: str = "", needs_design: bool = True) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name:
            action.setIcon(icon(icon_name))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if needs_design:
            action.triggered.connect(lambda _checked=False: self._after_start(slot))
        else:
            action.triggered.connect(lambda _checked=False: slot())
        return action

    def _after_start(self, slot) -> None:
        """An action of the shell: the window is filled first if it is not yet."""
        self.finish_start()
        slot()

    def _build_menus(self) -> None:
        """The shell's menus and toolbar: what acts on the window and its files. The actions on
        the design (undo, editing, zoom, insert) come with it (_build_design_menus)."""
        bar = self.menuBar()
        self.toolbar = tools = self.addToolBar("Main")
        tools.setObjectName("Main toolbar")
        tools.setMovable(False)

        file = bar.addMenu("&File")
        self.act_new = self._action("&New", self.new, QKeySequence.New, "new")
        self.act_open = self._action("&Open…", self.open_dialog, QKeySequence.Open, "open")
        self.act_save = self._action("&Save", self.save, QKeySequence.Save, "save")
        self.act_save_as = self._action("Save &As…", self.save_as, QKeySequence.SaveAs)
        self.act_save_bare = self._action(
            "Save a Copy &Without Weights…", lambda: self.save_as(weights=False),
            tip="A copy of the design to share: its runs' curves, not their trained weights")
        file.addActions([self.act_new, self.act_open])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.examples_menu = file.addMenu("&Examples")
        self.examples_menu.aboutToShow.connect(self._fill_examples)
        file.addSeparator()
        file.addActions([self.act_save, self.act_save_as, self.act_save_bare])
        export = file.addMenu("&Export")
        self.export_actions = {
            "code": self._action("PyTorch code (.py)…", lambda: self.export("code")),
            "markdown": self._action("Summary as Markdown (.md)…",
                                     lambda: self.export("markdown")),
            "csv": self._action("Summary as CSV (.csv)…", lambda: self.export("csv")),
            "png": self._action("Diagram as PNG…", lambda: self.export("png")),
            "svg": self._action("Diagram as SVG…", lambda: self.export("svg")),
        }
        export.addActions(list(self.export_actions.values()))
        file.addSeparator()
        file.addAction(self._action("&Quit", self.close, QKeySequence.Quit, needs_design=False))

        self.edit_menu = bar.addMenu("&Edit")
        self.view_menu = view = bar.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        self.insert_menu = bar.addMenu("&Insert")

        self._build_train_menu(bar)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("The cs231n notes on ConvNets", _open_notes,
                                         needs_design=False))
        help_menu.addAction(self._action("&About", self._about, needs_design=False))

        tools.addActions([self.act_new, self.act_open, self.act_save])

    def _build_design_menus(self) -> None:
        """The actions on the design, into the shell's Edit, View and Insert menus and its
        toolbar: undo and redo of the document, the canvas's editing, zoom and insert."""
        edit = self.edit_menu
        self.act_undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.Undo)
        self.act_undo.setIcon(icon("undo"))
        self.act_redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(QKeySequence.Redo)
        self.act_redo.setIcon(icon("redo"))
        edit.addActions([self.act_undo, self.act_redo])
        edit.addSeparator()
        actions = self.view.actions_by_name
        for name in ("cut", "copy", "paste", "duplicate", "delete", "select_all"):
            edit.addAction(actions[name])

        self.act_layout = actions["auto_layout"]
        self.act_layout.setIcon(icon("layout"))
        actions["fit_all"].setIcon(icon("fit"))
        first = self.view_menu.actions()[0]  # the dock toggles stay below
        self.view_menu.insertActions(first, [actions["zoom_in"], actions["zoom_out"],
                                             actions["fit_all"], self.act_layout])
        self.view_menu.insertSeparator(first)

        for name in ("insert_inception", "insert_basic", "insert_bottleneck"):
            self.insert_menu.addAction(actions[name])
        from .canvas.arrange import add_to_menus
        add_to_menus(self)  # Group, Ungroup, Collapse, Expand in Edit; View → Layout

        tools = self.toolbar
        tools.addSeparator()
        self._toolbar_undo(tools)
        tools.addSeparator()
        tools.addActions([self.act_layout, actions["fit_all"]])

    def _toolbar_undo(self, tools) -> None:
        """Undo and redo on the toolbar: actions of their own, whose names stay (the buttons'
        tooltips say what they would undo). The undo stack renames its actions at every step,
        and every change of a toolbar's action sets its button's icon again, which has the
        toolbar and the whole window laid out anew: a tenth of expanding a stage."""
        stack = self.doc.undo_stack
        self.tool_undo = QAction(self.act_undo.icon(), "Undo", self)
        self.tool_redo = QAction(self.act_redo.icon(), "Redo", self)
        tools.addActions([self.tool_undo, self.tool_redo])
        for twin, act, can, changed, what, text_changed in (
                (self.tool_undo, stack.undo, stack.canUndo(), stack.canUndoChanged,
                 stack.undoText(), stack.undoTextChanged),
                (self.tool_redo, stack.redo, stack.canRedo(), stack.canRedoChanged,
                 stack.redoText(), stack.redoTextChanged)):
            twin.triggered.connect(act)
            twin.setEnabled(can)
            changed.connect(twin.setEnabled)  # (first: it sets the button's tooltip back)
            tip = _StepTip(tools.widgetForAction(twin), twin.text(), what)
            changed.connect(tip.refresh)
            text_changed.connect(tip.set_step)

    @property
    def issues(self) -> IssuesPanel:
        """The Warnings panel: a tab behind the layer table, made when first seen (or asked
        for)."""
        if self._issues is None:
            self.finish_start()
            from .panels.readouts import IssuesPanel

            self._issues = IssuesPanel(self.doc)
            _fill(self._holders["issues"], self._issues)
        return self._issues

    # ----------------------------------------------------------------------------- hints
    # The Hints dock (tabbed with the warnings) and the markers on the canvas cards; the
    # HintsModel (panels/hints.py) keeps the advisor's hints for the document.

    @property
    def hints(self) -> HintsModel:
        self.finish_start()
        if self._hints is None:
            from .panels.hints import HintsModel

            self._hints = HintsModel(self.doc, parent=self)
            self.scene.set_hints(self._hints)
        return self._hints

    @property
    def hints_panel(self) -> HintsPanel:
        self._build_dock("hints")
        return self._hints_panel

    def _build_hints_panel(self) -> QWidget:
        from .panels.hints import HintsPanel

        self._hints_panel = HintsPanel(self.hints)
        self._hints_panel.try_requested.connect(self.try_variant)
        return self._hints_panel

    # ----------------------------------------------------------------------------- files

    def maybe_save(self) -> bool:
        """Ask before unsaved changes are lost; False means the user cancelled."""
        from PySide6.QtWidgets import QMessageBox

        if not self.doc.modified:
            return True
        answer = QMessageBox.question(
            self, APP_NAME, f"Save the changes to “{self.doc.title}”?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def new(self) -> None:
        if self.maybe_save():
            self.doc.new()

    def open_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        if not self.maybe_save():
            return
        start = self.settings.value("last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open design", start, FILE_FILTER)
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str, ask: bool = True, example: bool = False) -> bool:
        """Open a design; a bad file leaves the current design untouched and says why.
        An example opens as a new design (its preset file stays as it is)."""
        from PySide6.QtWidgets import QMessageBox

        from ..model.design_file import DesignFileError

        self.finish_start()
        if ask and not self.maybe_save():
            return False
        try:
            self.doc.open(str(path))
        except DesignFileError as e:
            what = "example" if example else "design"
            QMessageBox.warning(self, APP_NAME, f"Could not open the {what}.\n\n{e}")
            return False
        if example:
            self.doc.forget_path()
        else:
            self._remember(path)
        if self.doc.weight_problems:
            QMessageBox.warning(self, APP_NAME, "The design opened without the trained weights "
                                "of some of its runs:\n\n" + "\n".join(self.doc.weight_problems))
        return True

    def open_example(self, path: Path) -> bool:
        return self.open_path(str(path), example=True)

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self, weights: bool = True) -> bool:
        """Save under a new name (weights=False: a copy without the runs' weights, the design
        keeping its own file)."""
        from PySide6.QtWidgets import QFileDialog

        from .file_names import file_stem

        start = self.doc.path or str(Path(self.settings.value("last_dir", str(Path.home())))
                                     / (file_stem(self.doc.network.name) + SUFFIX))
        if not weights:
            start = start.removesuffix(SUFFIX) + "_shared" + SUFFIX
        title = "Save design" if weights else "Save a copy without weights"
        path, _ = QFileDialog.getSaveFileName(self, title, start, FILE_FILTER)
        if not path:
            return False
        if not path.endswith(SUFFIX):
            path = path.removesuffix(".json") + SUFFIX
        return self._save_to(path, weights)

    def _save_to(self, path: str, weights: bool = True) -> bool:
        from PySide6.QtWidgets import QMessageBox

        try:
            self.doc.save(path) if weights else self.doc.save_without_weights(path)
        except OSError as e:
            QMessageBox.warning(self, APP_NAME, f"Could not save the design.\n\n{e}")
            return False
        self._remember(path)
        self.statusBar().showMessage(f"Saved {path}" + ("" if weights else " (no weights)"),
                                     4000)
        return True

    def export(self, kind: str, path: str | None = None) -> bool:
        """Export the design: code, markdown, csv, png or svg."""
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        from .file_names import file_stem, module_stem, write_text_file

        suffix = {"code": ".py", "markdown": ".md", "csv": ".csv", "png": ".png",
                  "svg": ".svg"}[kind]
        if path is None:
            name = self.doc.network.name
            stem = module_stem(name) if kind == "code" else file_stem(name)
            start = str(Path(self.settings.value("last_dir", str(Path.home()))) / (stem + suffix))
            path, _ = QFileDialog.getSaveFileName(self, f"Export {kind}", start,
                                                  f"*{suffix};;All files (*)")
            if not path:
                return False
        try:
            if kind in ("png", "svg"):
                from .canvas.export import render_png, render_svg

                (render_png if kind == "png" else render_svg)(self.scene, path)
            else:
                write_text_file(path, self._export_text(kind))
        except Exception as e:  # noqa: BLE001 - any failure is reported, the design is kept
            QMessageBox.warning(self, APP_NAME, f"Could not export.\n\n{e}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 4000)
        return True

    def _export_text(self, kind: str) -> str:
        from ..cli import report_text as summary

        net, report = self.doc.network, self.doc.report
        if kind == "code":
            from ..bridge.codegen import export_code

            return export_code(net)
        if kind == "markdown":
            return summary.render_markdown(net, report)
        return summary.render_csv(net, report)

    def _remember(self, path: str) -> None:
        from . import recent

        recent.remember(self.settings, path)

    def _recent(self) -> list[str]:
        from . import recent

        return recent.recent_paths(self.settings)

    def _fill_recent(self) -> None:
        from . import recent

        recent.fill_menu(self.recent_menu, self.settings, self.open_path)

    def _fill_examples(self) -> None:
        if self.examples_menu.actions():
            return
        for path, name, description in list_examples():
            action = self.examples_menu.addAction(name)
            action.setStatusTip(description)
            action.setToolTip(description)
            action.triggered.connect(lambda _=False, p=path: self.open_example(p))
        self.examples_menu.setToolTipsVisible(True)

    # ----------------------------------------------------------------------------- window

    _title_of: tuple[str | None, str] = (None, "")  # (path, its name on disk), looked up once

    def _update_title(self) -> None:
        path = self.doc.path
        if path is None:
            name = self.doc.title
        else:
            if self._title_of[0] != path:
                from .file_names import name_on_disk

                self._title_of = (path, name_on_disk(path))
            name = self._title_of[1]
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.doc.modified)

    def _show_totals_in_status(self, report) -> None:
        from ..model.units import format_count, plural

        t = report.totals
        state = (plural(t.errors, "error") if t.errors else
                 plural(t.warnings, "warning") if t.warnings else "sizes work out")
        bar = self.statusBar()
        # (QStatusBar.showMessage repaints at once, and with it everything else waiting to be
        # painted: the message is painted with the rest instead)
        bar.setUpdatesEnabled(False)
        try:
            bar.showMessage(f"{plural(t.layers, 'layer')} · {plural(t.params, 'parameter')} · "
                            f"{format_count(t.macs)} MACs · {state}")
        finally:
            bar.setUpdatesEnabled(True)

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, APP_NAME, f"<b>{APP_NAME}</b><p>Design, understand and train "
                          "convolutional networks, after the cs231n notes.</p>")

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if any(u.toLocalFile().endswith(".json") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.toLocalFile().endswith(".json"):
                self.open_path(url.toLocalFile())
                break

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self.ready:  # a shell still: nothing to save or stop
            event.accept()
            return
        if not self._stop_training_to_close():
            event.ignore()
            return
        if not self.maybe_save():
            event.ignore()
            return
        recovery = getattr(self, "recovery", None)
        if recovery is not None:
            recovery.close()
        self.doc.close()  # the session's run files not saved with the design
        self._rest_done = True  # closed before _finish_rest() came: no autosave after the close
        event.accept()


def _holder() -> QWidget:
    """A dock's widget: the panel goes into its layout once it is made."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    return holder


def _fill(holder: QWidget, widget: QWidget) -> None:
    holder.layout().addWidget(widget)
    widget.show()  # now, not when Qt's queued show for a visible holder comes


def _open_notes() -> None:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    QDesktopServices.openUrl(QUrl(NOTES_URL))


class _StepTip(QObject):
    """A toolbar button's tooltip: its name and the step it would undo or redo (a child of the
    button, so that its connections go with it)."""

    def __init__(self, button: QWidget, name: str, step: str):
        super().__init__(button)
        self.button, self.name, self.step = button, name, step
        self.refresh()

    def set_step(self, step: str) -> None:
        self.step = step
        self.refresh()

    def refresh(self, *_) -> None:
        self.button.setToolTip(f"{self.name} {self.step}" if self.step else self.name)
