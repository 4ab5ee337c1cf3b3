"""Document: the open design, its file, its undo stack and its latest analysis.

Views read `document.network` and `document.report` and listen to the signals; they never change
the network themselves. Every change goes through `edit()` (or `move()`), which pushes a command
on the undo stack, re-analyses and emits `changed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from ..atomic import clean_stale
from ..model.analysis import Report, analyze
from ..model.design_file import Design, DesignFileError, dumps, load, loads
from ..model.network import Network, NetworkError
from ..model.versions import structure_key
from .commands import MoveNodes, NetworkEdit

if TYPE_CHECKING:
    from ..training.store import RunStore

DEFAULT_SETTINGS = {"batch": 32, "dtype": "fp32", "optimizer": "sgd", "budget": None}


class Document(QObject):
    changed = Signal(object)  # Report: the network or the analysis settings changed
    moved = Signal(list)  # ids of layers whose canvas position changed
    selection_changed = Signal(list)  # ids of the selected layers
    file_changed = Signal()  # path or unsaved state changed
    error = Signal(str)  # an edit was refused: the reason, for the status bar

    def __init__(self, design: Design | None = None, path: str | None = None, parent=None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self._selection: list[str] = []
        self._settings_dirty = False
        self._store: RunStore | None = None  # (made when first needed: store)
        self.weight_problems: list[str] = []  # the runs' weights the last open missed
        self._set_design(design or new_design(), path)

    # ----------------------------------------------------------------------------- state

    @property
    def store(self) -> RunStore:
        """Where the runs' weights are (training/store.py); made when first asked for: a new
        design has no runs."""
        if self._store is None:
            from ..training.store import RunStore

            self._store = RunStore()
            self._store.design_path = self._path
        return self._store

    @property
    def network(self) -> Network:
        return self.design.network

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def title(self) -> str:
        return Path(self._path).name if self._path else self.network.name or "Untitled"

    @property
    def modified(self) -> bool:
        return self._settings_dirty or not self.undo_stack.isClean()

    @property
    def settings(self) -> dict[str, Any]:
        return {**DEFAULT_SETTINGS, **self.design.analysis}

    @property
    def selection(self) -> list[str]:
        return list(self._selection)

    def select(self, ids: Iterable[str]) -> None:
        ids = [i for i in ids if i in self.network.nodes]
        if ids != self._selection:
            self._selection = ids
            self.selection_changed.emit(list(ids))

    # ----------------------------------------------------------------------------- editing

    def edit(self, text: str, change: Callable[[Network], Any], merge_key: Any = None) -> Any:
        """Run `change` on the network as one undoable step. A refused edit (NetworkError)
        changes nothing, emits `error` and returns None. Consecutive edits with the same
        merge_key (e.g. a spin box's arrow held down) make one undo step."""
        before, blocks = dict(self.network.nodes), self.network.blocks
        try:
            result = change(self.network)
        except NetworkError as e:
            self.network.replace_nodes(before, blocks)
            self.error.emit(str(e))
            return None
        command = NetworkEdit(self, text, before, dict(self.network.nodes), merge_key,
                              (blocks, self.network.blocks))
        if command.is_empty():
            return result
        self.undo_stack.push(command)  # redo() of a fresh command only refreshes
        return result

    def move(self, positions: dict[str, tuple[float, float]], text: str = "Move") -> None:
        old = {nid: self.network.nodes[nid].pos for nid in positions if nid in self.network.nodes}
        new = {nid: (float(positions[nid][0]), float(positions[nid][1])) for nid in old}
        if any(old[n] != new[n] for n in new):
            self.undo_stack.push(MoveNodes(self, text, old, new))

    def set_settings(self, **changes: Any) -> None:
        """Batch size, dtype, optimizer, budget of the memory readouts (saved with the design,
        not undoable)."""
        effective = self.settings
        changes = {k: v for k, v in changes.items() if effective.get(k) != v}
        if changes:  # a value equal to what is shown already (a default) changes nothing
            merged = {**self.design.analysis, **changes}
            self.design.analysis = merged
            self._settings_dirty = True
            self.refresh()
            self.file_changed.emit()

    def refresh(self) -> Report:
        s = self.settings
        self.report = analyze(self.network, batch=s["batch"], dtype=s["dtype"],
                              optimizer=s["optimizer"], budget=s["budget"])
        kept = [i for i in self._selection if i in self.network.nodes]
        self.changed.emit(self.report)
        if kept != self._selection:
            self._selection = kept
            self.selection_changed.emit(list(kept))
        return self.report

    # ----------------------------------------------------------------------------- files

    def open(self, path: str) -> None:
        """Replace the design by the file's; raises DesignFileError and keeps the current one.
        The runs' weights are looked for beside it: `weight_problems` says what is missing."""
        design = load(path)
        self._set_design(design, str(path))
        self.weight_problems = self.store.problems(self.runs)

    def open_version(self, record: dict[str, Any], design_path: str | None) -> None:
        """The design as the run `record` trained it (the design text its checkpoint holds),
        as a new unsaved design with that run and its weights; ValueError (DesignFileError,
        CheckpointError) naming what could not be read."""
        from ..training import runs as checkpoints
        from ..training.store import RunStore

        store = RunStore(self.store.work_dir)  # where that run's files are: here or its file's
        store.design_path = design_path
        files = store.files(record)
        if not files:
            raise ValueError("the run's weights are not here (saved without weights?), so the "
                             "version it trained is not known")
        meta = checkpoints.read_info(next(iter(files.values())))
        design = loads(str(meta.get("design_file", "")), f"{next(iter(files.values()))}: design")
        when = record.get("id", "")[9:13]
        design.network.name = f"{design.network.name} (version of {when[:2]}:{when[2:]})"
        design.training = {"runs": [record]}
        self._set_design(design, None)
        self.store.design_path = design_path  # the weights stay where they are until saved
        self._settings_dirty = True
        self.file_changed.emit()

    def open_text(self, text: str, path: str | None = None, where: str = "<recovered>") -> None:
        self._set_design(loads(text, where), path)
        self._settings_dirty = True
        self.file_changed.emit()

    def save(self, path: str | None = None) -> None:
        """Write atomically to path (or the current file), the runs' weights into its weights
        folder first (training/store.py); raises OSError on failure."""
        target = path or self._path
        if target is None:
            raise ValueError("no file name: use Save As")
        runs = self.store.save(target, self.runs)  # first: the file names only what is there
        if runs:
            self.design.training = {**self.design.training, "runs": runs}
        self._write(target, self.design)
        self.store.design_path = str(target)
        self._path = str(target)
        self._settings_dirty = False
        self.undo_stack.setClean()
        self.file_changed.emit()

    def save_without_weights(self, path: str) -> None:
        """A copy of the design for sharing: its runs' curves and figures, no weights. The
        open design keeps its file, its weights and its unsaved state."""
        from ..training.store import without_weights

        training = {**self.design.training, "runs": without_weights(self.runs)}
        if not self.runs:
            training.pop("runs", None)
        self._write(path, replace(self.design, training=training))

    @staticmethod
    def _write(target: str, design: Design) -> None:
        """The design's text written atomically; OSError naming the file on failure."""
        from PySide6.QtCore import QSaveFile

        f = QSaveFile(str(target))
        if not f.open(QSaveFile.WriteOnly):
            raise OSError(f"cannot write {target}: {f.errorString()}")
        f.write(dumps(design).encode("utf-8"))
        if not f.commit():  # QSaveFile: an exclusive temporary file, flushed, renamed over it
            raise OSError(f"cannot write {target}: {f.errorString()}")
        clean_stale(target)  # what a killed save of ours (designer.atomic) left beside it

    # ----------------------------------------------------------------------------- runs

    @property
    def runs(self) -> list[dict[str, Any]]:
        """The runs the design keeps (training.runs; a damaged entry is left out)."""
        runs = self.design.training.get("runs")
        return [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []

    @property
    def version(self) -> str:
        """The design's version now (model/versions.py): what trained weights must match."""
        return structure_key(self.network)

    def trained_weights(self) -> tuple[dict[str, Any], Path] | None:
        """(the run, its weights file) of the latest run that trained this version of the
        design and whose weights are here; None when this version was never trained."""
        return self.store.weights_for(self.runs, self.version)

    def close(self) -> None:
        """The window closes: runs never saved give up their working files."""
        if self._store is not None:
            self._store.close()

    def mark_modified(self) -> None:
        """Something saved with the design but not undoable changed (training settings, runs)."""
        if not self._settings_dirty:
            self._settings_dirty = True
            self.file_changed.emit()

    def forget_path(self) -> None:
        """Keep the design but detach it from its file (an example opens as a new design)."""
        self._path = None
        self.file_changed.emit()

    def new(self) -> None:
        self._set_design(new_design(), None)

    def text(self) -> str:
        return dumps(self.design)

    def _clean_changed(self, _clean: bool) -> None:
        self.file_changed.emit()

    def _set_design(self, design: Design, path: str | None) -> None:
        self.design = design
        self._path = path
        if self._store is not None:
            self._store.design_path = path
        self.weight_problems = []
        self._selection = []
        self._settings_dirty = False
        self.undo_stack.clear()
        self.refresh()
        self.selection_changed.emit([])
        self.file_changed.emit()


def new_design() -> Design:
    """A new design: just an INPUT, CIFAR-10 sized."""
    net = Network("Untitled")
    net.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input", pos=(0.0, 0.0))
    return Design(net)


__all__ = ["Document", "DesignFileError", "new_design"]
