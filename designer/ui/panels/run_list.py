"""The run list under the training curves: every run the design keeps, which version of the
design it trained, what it reached and whether its weights are here; Resume, Delete, and
whether the next run starts from the trained weights of the design on screen.

It reads the Document (runs, version, trained_weights) and asks the training panel to start;
deleting a run is a change of the design (saved with it, not undoable), like a finished run.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...training.imported import imported_from, is_imported
from ...training.store import kept_weights, run_started
from ..document import Document
from .run_info import utilisation_text
from .runs import format_duration

COLUMNS = ("Run", "Epochs", "Best val. acc.", "Result", "Version", "Weights")


class RunList(QWidget):
    """The design's runs, newest first; a run's row says what it trained and what it kept."""

    resume_requested = Signal(dict)  # the run record to continue

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.running = False
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setUniformRowHeights(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self.resume_selected())
        self.start_from = QCheckBox("Start the next run from the trained weights")
        self.start_from.setToolTip(
            "Train further from the weights of the latest run of this version of the design "
            "(fine-tuning); unticked, a run starts from fresh weights (the seed's)")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip(
            "Continue the selected run where it stopped: its settings, its optimizer and "
            "schedule, its data order (the design must be the version it trained)")
        self.resume_button.clicked.connect(self.resume_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Forget the selected run and its weights (when the "
                                      "design is saved)")
        self.delete_button.clicked.connect(self.delete_selected)
        # the check box on a line of its own: its text (which run it starts from) is long, and
        # beside the buttons it made the Training panel too wide for a 1400 px window
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.resume_button)
        row.addWidget(self.delete_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.start_from)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        doc.file_changed.connect(self.refill)
        doc.changed.connect(lambda _report: self.refill())
        self._shown: tuple = ()
        self.refill()

    # ----------------------------------------------------------------------------- reading

    def records(self) -> list[dict[str, Any]]:
        """The runs as listed: newest first."""
        return list(reversed(self.doc.runs))

    def selected(self) -> dict[str, Any] | None:
        rows = self.table.selectedItems()
        if not rows:
            return None
        i = self.table.indexOfTopLevelItem(rows[0])
        records = self.records()
        return records[i] if 0 <= i < len(records) else None

    def rows(self) -> list[list[str]]:
        """The table's text, as the user reads it (for tests)."""
        return [[self.table.topLevelItem(r).text(c) for c in range(len(COLUMNS))]
                for r in range(self.table.topLevelItemCount())]

    def resume_problem(self, record: dict[str, Any]) -> str | None:
        """Why `record` cannot be resumed now, in a sentence; None when it can."""
        if self.running:
            return "a run is training: stop it first"
        if record.get("version") != self.doc.version:
            when = run_started(record) or "another time"
            return (f"the run of {when} trained another version of the design: undo the "
                    "edits since, or open that version, to resume it")
        if is_imported(record):
            return ("its weights were imported, not trained here: start a new run from them "
                    "(Start the next run from the trained weights)")
        if "last" not in self.doc.store.files(record):
            return "its checkpoint is not here (the design was saved without weights?)"
        if not _unfinished(record):
            return "it finished all its epochs: start a new run from its weights instead"
        return None

    # ----------------------------------------------------------------------------- acting

    def resume_selected(self) -> None:
        record = self.selected()
        if record is not None and self.resume_problem(record) is None:
            self.resume_requested.emit(record)

    def delete_selected(self) -> None:
        record = self.selected()
        if record is None or self.running:
            return
        runs = [r for r in self.doc.runs if r is not record]
        self.doc.design.training = {**self.doc.design.training, "runs": runs}
        self.doc.mark_modified()
        self.refill(force=True)

    def set_running(self, running: bool) -> None:
        self.running = running
        self.refill(force=True)

    def refill(self, force: bool = False) -> None:
        records = self.records()
        version = self.doc.version
        trained = self.doc.trained_weights()
        shown = (tuple(id(r) for r in records), version, trained is not None, self.running)
        if shown == self._shown and not force:
            return
        self._shown = shown
        chosen = self.selected()
        self.table.clear()
        for record in records:
            item = QTreeWidgetItem([_cell(record, c, version, self.doc) for c in COLUMNS])
            for c in (1, 2):
                item.setTextAlignment(c, Qt.AlignRight | Qt.AlignVCenter)
            item.setToolTip(0, _tooltip(record))
            self.table.addTopLevelItem(item)
            if record is chosen:
                item.setSelected(True)
        for c in range(len(COLUMNS)):
            self.table.resizeColumnToContents(c)
        self.start_from.setEnabled(trained is not None and not self.running)
        if trained is None:
            self.start_from.setText("Start the next run from the trained weights (this "
                                    "version has none)")
        else:
            run, _path = trained
            whose = (f"imported from {imported_from(run)}" if is_imported(run) else
                     f"run of {run_started(run) or '?'}")
            self.start_from.setText(f"Start the next run from the trained weights ({whose})")
        self._update_buttons()

    def _update_buttons(self) -> None:
        record = self.selected()
        problem = None if record is None else self.resume_problem(record)
        self.resume_button.setEnabled(record is not None and problem is None)
        self.resume_button.setToolTip(problem or "Continue the selected run where it stopped")
        self.delete_button.setEnabled(record is not None and not self.running)


def _unfinished(record: dict[str, Any]) -> bool:
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    planned, done = config.get("epochs"), record.get("epochs_done")
    return (isinstance(planned, int) and isinstance(done, int) and done < planned) or \
        record.get("status") == "stopped"


def _cell(record: dict[str, Any], column: str, version: str, doc: Document) -> str:
    if column == "Run":
        return run_started(record) or str(record.get("finished_at", "–"))[:16]
    if column == "Epochs":
        config = record.get("config") if isinstance(record.get("config"), dict) else {}
        done, planned = record.get("epochs_done", "–"), config.get("epochs")
        return f"{done}/{planned}" if isinstance(planned, int) else str(done)
    if column == "Best val. acc.":
        acc = record.get("best_val_accuracy")
        return f"{100 * acc:.1f}%" if isinstance(acc, (int, float)) and math.isfinite(acc) \
            else "–"
    if column == "Result":
        status = str(record.get("status", "–"))
        seconds = record.get("seconds")
        took = format_duration(seconds) if isinstance(seconds, (int, float)) else ""
        result = f"{status} in {took}" if took and took != "–" else status
        speed = speed_text(record)
        return f"{result} · {speed}" if speed else result
    if column == "Version":
        if "version" not in record:
            return "–"
        return "this design" if record.get("version") == version else "another version"
    kinds = kept_weights(record)
    if not kinds:
        return "none"
    here = doc.store.files(record)
    missing = [k for k in kinds if k not in here]
    return " + ".join(kinds) + (" (missing)" if missing else "")


def speed_text(record: dict[str, Any]) -> str:
    """The model FLOP/s a run reached and their share of the device's peak, as recorded."""
    flops, share = record.get("model_flops_per_s"), record.get("utilisation")
    real = (int, float)
    return utilisation_text(flops if isinstance(flops, real) else None,
                            share if isinstance(share, real) else None).replace("&nbsp;", " ")


def _tooltip(record: dict[str, Any]) -> str:
    config = record.get("config") if isinstance(record.get("config"), dict) else {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    parts = [f"data: {data.get('name', '?')}", f"optimizer: {config.get('optimizer', '?')}",
             f"learning rate: {config.get('lr', '?')}", f"batch: {config.get('batch_size', '?')}"]
    notes = record.get("notes") if isinstance(record.get("notes"), list) else []
    parts += [n for n in notes if isinstance(n, str) and (
        n.startswith(("speed:", "torch.compile")))]
    compile_s = record.get("compile_s")
    if isinstance(compile_s, (int, float)):
        parts.append(f"torch.compile: {compile_s:.1f} s compiling")
    if record.get("resumed_from"):
        parts.append(f"resumes the run of {run_started({'id': record['resumed_from']})}")
    if record.get("started_from"):
        parts.append(f"started from the weights of the run of "
                     f"{run_started({'id': record['started_from']})}")
    return "\n".join(parts)
