"""The window's actions for other tools: File → Export → Diagram (volumes figure) / Training
project / ONNX / torch.export, File → Import model…, File → Compare with a file… / with the last
saved version.

`install(window)` adds them to the window's menus (the File menu and its Export sub-menu, found
by their titles, made where missing). The work is done by designer.bridge (project.py, onnx.py,
pt2.py, importer.py) and designer.model.compare; exports and imports run in a background thread
(torch and onnx are imported there, never when the app starts), the window shows the outcome in
the status bar or, for a failure, in a message that names what and where.

Importing a Python file runs its code: the Import dialog (dialogs/import_options.py) says so.
Pickled models are refused.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu

# The dialogs (QFileDialog, QMessageBox, ImportOptions) are imported when an action runs: making
# their classes costs milliseconds the window's start-up does not spend.

APP_NAME = "ConvNet Designer"
MODEL_FILTER = ("Models (*.onnx *.pt2 *.py);;ONNX (*.onnx);;torch.export program (*.pt2);;"
                "PyTorch code (*.py);;All files (*)")
DESIGN_FILTER = "ConvNet designs (*.convnet.json);;All files (*)"


def install(window) -> ExportActions:
    """Add the actions to `window`'s menus (once) and return them."""
    existing = getattr(window, "_export_actions", None)
    if existing is not None:
        return existing
    actions = ExportActions(window)
    window._export_actions = actions
    return actions


def _title(menu: QMenu) -> str:
    return menu.title().replace("&", "").strip().lower()


def _menu(parent, title: str, before: QAction | None = None) -> QMenu:
    """The sub-menu of `parent` (a QMenuBar or QMenu) with this title, made where missing."""
    for action in parent.actions():
        sub = action.menu()
        if sub is not None and _title(sub) == title.replace("&", "").lower():
            return sub
    if before is not None:
        menu = QMenu(title, parent)
        parent.insertMenu(before, menu)
        return menu
    return parent.addMenu(title)


class _Job(QObject):
    """Runs fn() in a thread; `done(result, error)` arrives in the GUI thread."""

    done = Signal(object, object)

    def __init__(self, fn, parent=None):
        super().__init__(parent)
        self._fn = fn
        self.thread = threading.Thread(target=self._run, name="export-job", daemon=True)

    def _run(self) -> None:
        try:
            result, error = self._fn(), None
        except BaseException as e:  # noqa: BLE001 - handed to the GUI thread
            result, error = None, e
        try:
            self.done.emit(result, error)
        except RuntimeError:  # the window closed meanwhile: nobody to tell
            pass


class ExportActions(QObject):
    """The actions, their handlers and the jobs they run."""

    finished = Signal(str)  # the status message of a finished export or import (tests wait)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.jobs: list[_Job] = []
        w = window
        self.act_diagram = self._action("Diagram (volumes figure)…", self.export_diagram,
                                        "The design as the notes and papers draw it: a box per "
                                        "output volume W×H×D, kernels on the arrows (SVG, PDF "
                                        "or PNG)")
        self.act_project = self._action("Training project (folder)…", self.export_project,
                                        "model.py, train.py (one device or torchrun with "
                                        "DistributedDataParallel), config.json, README")
        self.act_onnx = self._action("ONNX (.onnx)…", self.export_onnx,
                                     "The design as an ONNX graph, checked with onnx.checker")
        self.act_pt2 = self._action("torch.export program (.pt2)…", self.export_pt2,
                                    "The design as an ExportedProgram (torch.export)")
        self.act_import = self._action("&Import model…", self.import_model,
                                       "A PyTorch model (.py, .pt2) or an ONNX file as a design")
        self.act_compare_file = self._action("Compare with a &file…", self.compare_with_file,
                                             "This design beside another one, layer by layer")
        self.act_compare_saved = self._action("Compare with the last &saved version",
                                              self.compare_with_saved,
                                              "The saved file beside the design as it is now")
        bar = w.menuBar()
        file = _menu(bar, "&File")
        export = _menu(file, "&Export", before=_first_separator(file))
        export.addAction(self.act_diagram)  # beside the canvas's own pictures
        export.addSeparator()
        export.addActions([self.act_project, self.act_onnx, self.act_pt2])
        anchor = export.menuAction()
        file.insertAction(anchor, self.act_import)
        self.compare_menu = QMenu("&Compare with", file)
        self.compare_menu.addActions([self.act_compare_file, self.act_compare_saved])
        file.insertMenu(anchor, self.compare_menu)
        file.insertSeparator(anchor)
        self.menus = {"file": file, "export": export}

    def _action(self, text: str, slot, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda _=False: slot())
        return action

    # ----------------------------------------------------------------------------- helpers

    @property
    def doc(self):
        finish = getattr(self.window, "finish_start", None)
        if finish is not None:  # a window put up as a shell gets its document first
            finish()
        return self.window.doc

    def _start_dir(self) -> str:
        settings = getattr(self.window, "settings", None)
        if self.doc.path:
            return str(Path(self.doc.path).parent)
        value = settings.value("last_dir", str(Path.home())) if settings is not None else None
        return str(value or Path.home())

    def _stem(self) -> str:
        name = self.doc.network.name.strip().lower()
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
        return stem or "design"

    def _status(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _warn(self, text: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(self.window, APP_NAME, text)

    def _run(self, what: str, fn, on_done, on_error=None) -> _Job:
        """Run fn in a thread with the export actions off; on_done(result) -> status message in
        the GUI thread; an exception becomes a message that says what failed (unless
        on_error(error) deals with it and returns True)."""
        job = _Job(fn, self)
        self.jobs.append(job)
        self._set_busy(True)
        self._status(f"{what}…", 0)
        QApplication.setOverrideCursor(Qt.BusyCursor)

        def finish(result, error) -> None:
            QApplication.restoreOverrideCursor()
            self.jobs.remove(job)
            self._set_busy(False)
            job.deleteLater()
            if error is not None:
                if on_error is not None and on_error(error):
                    return
                self._status(f"{what} failed", 6000)
                self._warn(f"{what} failed.\n\n{_message(error)}")
                self.finished.emit("")
                return
            message = on_done(result)
            if message:
                self._status(message)
            self.finished.emit(message or "")

        job.done.connect(finish, Qt.QueuedConnection)
        job.thread.start()
        return job

    def _set_busy(self, busy: bool) -> None:
        for action in (self.act_project, self.act_onnx, self.act_pt2, self.act_import):
            action.setEnabled(not busy)

    def _design_ok(self) -> bool:
        error = self.doc.report.first_error()
        if error is not None:
            self._warn(f"Could not export: the design has an error.\n\n{error}")
            return False
        return True

    def _trained_weights(self) -> str | None:
        """The weights file of the latest run that trained this version of the design (its
        best epoch, else its last): exports carry them; None where this version was never
        trained (the export then has the weights a run would start from)."""
        found = self.doc.trained_weights()
        return None if found is None else str(found[1])

    # ----------------------------------------------------------------------------- exports

    def export_project(self, folder: str | None = None) -> bool:
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        if not self._design_ok():
            return False
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(
                self.window, "Export a training project into a folder", self._start_dir())
            if not chosen:
                return False
            folder = chosen
            if any(Path(folder).iterdir()):
                folder = str(Path(folder) / f"{self._stem()}_project")
        target = Path(folder)
        force = False
        if target.is_dir() and any(target.iterdir()):
            answer = QMessageBox.question(
                self.window, APP_NAME, f"{target} is not empty. Replace the project's files in "
                "it (model.py, train.py, config.json, README.md, ...)?",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return False
            force = True
        from ..model.design_file import loads

        design = loads(self.doc.text(), "<design>")  # a copy: editing goes on meanwhile

        def work():
            from ..bridge.project import export_project

            return export_project(design, target, force=force)

        self._run("Exporting the training project", work,
                  lambda r: f"Exported the training project {r.folder}: python train.py, or "
                            f"torchrun --nproc_per_node=N train.py")
        return True

    def export_diagram(self, path: str | None = None) -> bool:
        """The volumes figure (designer/model/diagram.py) as SVG, PDF or PNG, by the file's
        suffix; drawn at once (milliseconds, even for ResNet-152)."""
        from PySide6.QtWidgets import QFileDialog

        from ..model.diagram import DiagramError, volumes_svg
        from .diagram_render import FORMATS, RenderError, write_diagram

        if not self._design_ok():
            return False
        if path is None:
            start = str(Path(self._start_dir()) / f"{self._stem()}_volumes.svg")
            path, chosen = QFileDialog.getSaveFileName(
                self.window, "Export the volumes figure", start,
                "SVG (*.svg);;PDF (*.pdf);;PNG (*.png)")
            if not path:
                return False
            if Path(path).suffix.lower() not in FORMATS:  # the filter's suffix
                path += "." + (chosen.split("*.")[-1].rstrip(")") if "*." in chosen else "svg")
        try:
            svg = volumes_svg(self.doc.network, self.doc.report)
            write_diagram(svg, path)
        except (DiagramError, RenderError) as e:
            self._warn(f"Could not export the diagram.\n\n{e}")
            self.finished.emit("")
            return False
        message = f"Exported {path} (the volumes figure)"
        self._status(message)
        self.finished.emit(message)
        return True

    def export_onnx(self, path: str | None = None) -> bool:
        return self._export_file("onnx", path)

    def export_pt2(self, path: str | None = None) -> bool:
        return self._export_file("pt2", path)

    def _export_file(self, kind: str, path: str | None) -> bool:
        from PySide6.QtWidgets import QFileDialog

        if not self._design_ok():
            return False
        suffix = ".onnx" if kind == "onnx" else ".pt2"
        label = "ONNX" if kind == "onnx" else "torch.export program"
        if path is None:
            start = str(Path(self._start_dir()) / (self._stem() + suffix))
            path, _ = QFileDialog.getSaveFileName(self.window, f"Export {label}", start,
                                                  f"*{suffix};;All files (*)")
            if not path:
                return False
        weights_path = self._trained_weights()
        network = self.doc.network.copy()

        def work():
            weights = None
            if weights_path:
                from ..training.runtime import load_checkpoint

                weights, _ = load_checkpoint(weights_path)
            if kind == "pt2":
                from ..bridge.pt2 import export_pt2

                export_pt2(network, path, weights=weights)
                return f"Exported {path} (torch.export, dynamic batch)"
            import torch

            from ..bridge.onnx import check_outputs, export_onnx
            from ..model.analysis import analyze

            result = export_onnx(network, path, weights=weights)
            shape = analyze(network).layers[result.model.input_id].shape
            diff = check_outputs(path, result.model, torch.randn(2, *shape))
            agree = ("" if diff is None else
                     f"; onnxruntime matches torch within {diff:.1g}")
            return (f"Exported {path} (ONNX opset {result.opset}, "
                    f"{result.nodes} node{'s' if result.nodes != 1 else ''}; "
                    f"onnx.checker passed{agree})")

        def unchecked(error) -> bool:
            """The file is written, but onnxruntime could not check it: say both."""
            if type(error).__name__ != "OutputCheckError":
                return False
            self._status(f"Exported {path}; its outputs could not be checked", 8000)
            self._warn(f"Exported {path}, but its outputs could not be compared with "
                       f"PyTorch's.\n\n{error}")
            self.finished.emit(f"Exported {path}; outputs not checked")
            return True

        said = self._weights_said()
        self._run(f"Exporting {label}", work, lambda message: message + said, unchecked)
        return True

    def _weights_said(self) -> str:
        """How an export's message names the weights it carries."""
        from ..training.imported import imported_from, is_imported
        from ..training.store import run_started

        found = self.doc.trained_weights()
        if found is None:  # the weights a run would start from
            return ""
        record, path = found
        if is_imported(record):
            return f" with the trained weights imported from {imported_from(record)}"
        return f" with the trained weights of the run of {run_started(record)} ({path.stem})"

    # ----------------------------------------------------------------------------- import

    def import_model(self, spec: str | None = None, shape: str | None = None,
                     asked: bool = False) -> bool:
        """Open a model as a new design with its trained weights, a run of kind "imported"
        (training/imported.py) that the Inside tab, the exports and the next run's "start from
        the trained weights" use; the current design is kept if the user cancels or the import
        fails."""
        from PySide6.QtWidgets import QFileDialog

        from .dialogs.import_options import ImportOptions

        if spec is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Import model", self._start_dir(),
                                                  MODEL_FILTER)
            if not path:
                return False
            spec = path
            if path.lower().endswith(".py"):
                options = ImportOptions.ask(self.window, path)
                if options is None:
                    return False
                attr, shape = options
                if attr:
                    spec = f"{path}:{attr}"
        maybe_save = getattr(self.window, "maybe_save", None)
        if not asked and maybe_save is not None and not maybe_save():
            return False

        from ..training.store import new_run_id

        # the weights go to the session's working folder, as a new run's checkpoints do (that
        # folder is made here, in the GUI thread), and beside the design when it is saved
        run_id = new_run_id()
        folder = self.doc.store.new_run_folder(run_id)

        def work():
            from ..bridge.importer import import_model_weights
            from ..model.design_file import dumps
            from ..training.imported import keep_imported

            imported = import_model_weights(spec, shape)
            design, why = imported.design, imported.note
            try:
                record = keep_imported(imported, spec, folder, run_id)
            except (OSError, ValueError) as e:  # ValueError: runs.CheckpointError
                record, why = None, f"writing them failed ({e})"
            if record is not None:
                design.training = {**design.training, "runs": [record]}
            return design, dumps(design), record, why, imported.weights == {}

        def done(result) -> str:
            design, text, record, why, no_layer_has_weights = result
            self.doc.open_text(text, None, where=spec)
            n = len(design.network.nodes)
            said = f"Imported {n} layer{'s' if n != 1 else ''} from " \
                   f"{Path(spec.split(':')[0]).name}"
            if record is not None:
                training = getattr(self.window, "training", None)  # the next run starts there
                start_from = getattr(getattr(training, "run_list", None), "start_from", None)
                if start_from is not None:
                    start_from.setChecked(True)
                return f"{said} with its trained weights"
            if no_layer_has_weights:
                return f"{said} (structure only: {why})"
            return f"{said} (structure only: its weights could not be taken: {why})"

        def failed(error) -> bool:
            """A graph without a fixed input size: ask for it and try again."""
            from ..bridge.importer import ModelImportError

            if isinstance(error, ModelImportError) and "give the input shape" in str(error):
                options = ImportOptions.ask(self.window, spec, shape_only=True, why=str(error))
                if options is not None and options[1]:
                    self.import_model(spec, options[1], asked=True)
                return True
            return False

        self._run(f"Importing {Path(spec.split(':')[0]).name}", work, done, failed)
        return True

    # ----------------------------------------------------------------------------- compare

    def compare_with_file(self, path: str | None = None):
        from PySide6.QtWidgets import QFileDialog

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Compare with a design",
                                                  self._start_dir(), DESIGN_FILTER)
            if not path:
                return None
        return self._compare_with(path, f"{Path(path).name}", other_first=False)

    def compare_with_saved(self):
        if self.doc.path is None:
            self._warn("This design has not been saved yet: there is no saved version to "
                       "compare with.")
            return None
        return self._compare_with(self.doc.path, f"{Path(self.doc.path).name} (saved)",
                                  other_first=True)

    def _compare_with(self, path: str, label: str, other_first: bool):
        from ..model.analysis import analyze
        from ..model.compare import compare
        from ..model.design_file import DesignFileError, load
        from .dialogs.compare import CompareDialog

        try:
            other = load(path)
        except DesignFileError as e:
            self._warn(f"Could not compare.\n\n{e}")
            return None
        s = self.doc.settings
        settings = dict(batch=s["batch"], dtype=s["dtype"], optimizer=s["optimizer"])
        here = self.doc.report
        if (here.batch, here.dtype, here.optimizer) != (settings["batch"], settings["dtype"],
                                                        settings["optimizer"]):
            here = analyze(self.doc.network, **settings)
        there = analyze(other.network, **settings)
        name = self.doc.network.name or "this design"
        if other_first:
            cmp = compare(there, here, label, f"{name} (now)")
        else:
            cmp = compare(here, there, name, label)
        dialog = CompareDialog(cmp, self.window)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        self.dialog = dialog
        return dialog


def _first_separator(menu: QMenu) -> QAction | None:
    for action in menu.actions():
        if action.isSeparator():
            return action
    return None


def _message(error: BaseException) -> str:
    text = str(error).strip()
    kind = type(error).__name__
    if kind in ("ModelImportError", "BuildError", "OnnxExportError", "Pt2ExportError",
                "ProjectError", "DesignFileError"):
        return text
    return f"{kind}: {text}" if text else kind


__all__ = ["ExportActions", "install"]
