"""Train → Experiments: every run of the open design and of the designs opened lately, in a
table (design, version, data, settings, accuracy, time, parameters, MACs, memory) and on a
trade-off plot — accuracy against parameters, MACs, memory or time, the Pareto front drawn
(the runs no other run beats on both). A hint's variant (its Try) is named in the Version
column. Double-click a row or a point to open that design version with its weights. The
figures come from model/tradeoff.py; this view only shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ...model.design_file import DesignFileError, load
from ...model.tradeoff import COSTS, RunEntry, pareto_front, run_entries
from ...model.units import format_bytes, format_count
from ...model.versions import structure_key
from ...training.store import run_started
from ..panels.runs import format_duration

HEADERS = ("Design", "Run", "Version", "Data", "Settings", "Best acc.", "Final acc.", "Time",
           "Params", "MACs", "Memory")
_RIGHT = Qt.AlignRight | Qt.AlignVCenter
VERSION_WIDTH = 260  # px at most: a hint's title is elided (the tooltip has it all)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def collect(doc: Any, recent: list[str]) -> list[tuple[RunEntry, dict]]:
    """(entry, its run record) of the open design's runs and those of the recent design files
    (a file that cannot be read is left out), oldest first per design."""
    out = [(e, r) for e, r in zip(run_entries(doc.network.name, doc.path, doc.runs,
                                              doc.version), doc.runs)]
    here = str(Path(doc.path).resolve()) if doc.path else None
    for path in recent:
        if path == here or not Path(path).is_file():
            continue
        try:
            design = load(path)
        except (DesignFileError, OSError):
            continue
        runs = design.training.get("runs")
        runs = [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []
        version = structure_key(design.network)
        out.extend(zip(run_entries(design.network.name, path, runs, version), runs))
    return out


class ExperimentsDialog(QDialog):
    """The table and the trade-off plot of `entries` ((RunEntry, record) pairs)."""

    open_requested = Signal(object, dict)  # the RunEntry and its record

    def __init__(self, entries: list[tuple[RunEntry, dict]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Experiments: runs of your designs")
        self.resize(1200, 720)
        self.entries = entries
        self.table = QTableWidget(len(entries), len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.cellDoubleClicked.connect(lambda row, _c: self.open_row(row))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        designs = sorted({(e.design, e.path or "") for e, _ in entries})
        self._colour = {d: COLOURS[i % len(COLOURS)] for i, d in enumerate(designs)}
        for row, (e, r) in enumerate(entries):
            cells = _cells(e)
            variant = r.get("variant") if isinstance(r, dict) else None
            if isinstance(variant, str) and variant:  # a hint's Try: which hint
                cells[2] = f"{cells[2]}: hint “{variant}”"
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col >= 5:
                    item.setTextAlignment(_RIGHT)
                if col == 0:
                    item.setToolTip(e.path or "the design open now (not saved)")
                if col == 2:
                    item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(2, min(self.table.columnWidth(2), VERSION_WIDTH))

        self.axis = QComboBox()
        for key, text, _unit in COSTS:
            self.axis.addItem(f"against {text}", key)
        self.axis.currentIndexChanged.connect(lambda _i: self.draw())
        fg = self.palette().color(QPalette.WindowText)
        faint = QColor(fg)
        faint.setAlpha(70)
        self.plot = pg.PlotWidget(background=self.palette().color(QPalette.Base))
        self.plot.setLabel("left", "best validation accuracy (%)", color=fg.name())
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getPlotItem().hideButtons()
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setPen(pg.mkPen(faint))
            self.plot.getAxis(name).setTextPen(pg.mkPen(fg))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.plot.setLogMode(x=True, y=False)  # costs span decades
        self.scatter = pg.PlotDataItem(pen=None)
        self.scatter.sigPointsClicked.connect(self._clicked)
        self.front = pg.PlotDataItem(pen=pg.mkPen(fg, width=1.5, style=Qt.DashLine))
        self.plot.addItem(self.front)
        self.plot.addItem(self.scatter)
        self.open_button = QPushButton("Open this version")
        self.open_button.setToolTip("Open the design as the selected run trained it, with its "
                                    "weights")
        self.open_button.clicked.connect(lambda: self.open_row(self.table.currentRow()))
        top = QHBoxLayout()
        top.addWidget(self.axis)
        top.addWidget(self.note, 1)
        top.addWidget(self.open_button)
        plot_side = QVBoxLayout()
        plot_side.setContentsMargins(0, 0, 0, 0)
        plot_side.addLayout(top)
        plot_side.addWidget(self.plot, 1)
        holder = QLabel()  # a plain widget to hold the plot's layout
        holder.setLayout(plot_side)
        split = QSplitter(Qt.Vertical)
        split.addWidget(holder)
        split.addWidget(self.table)
        split.setSizes([420, 260])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.shown: list[int] = []  # the entries drawn, in the scatter's order
        self.front_rows: list[int] = []
        self.draw()
        self._selection_changed()

    # ----------------------------------------------------------------------------- plot

    @property
    def cost_key(self) -> str:
        return self.axis.currentData()

    def draw(self) -> None:
        key = self.cost_key
        unit = next(u for k, _t, u in COSTS if k == key)
        self.shown = [i for i, (e, _r) in enumerate(self.entries)
                      if e.best_accuracy is not None and (e.cost(key) or 0) > 0]
        points = [(self.entries[i][0].cost(key), 100 * self.entries[i][0].best_accuracy)
                  for i in self.shown]
        entries = [self.entries[i][0] for i in self.shown]
        self.scatter.setData(
            [x for x, _y in points], [y for _x, y in points], data=list(self.shown),
            symbol=["o" if e.current else "t" for e in entries], symbolSize=11,
            symbolBrush=[pg.mkBrush(self._colour[(e.design, e.path or "")]) for e in entries],
            symbolPen=None)
        front = pareto_front(points)
        self.front_rows = [self.shown[k] for k in front]
        self.front.setData([points[k][0] for k in front], [points[k][1] for k in front])
        text = next(t for k, t, _u in COSTS if k == key)
        self.plot.setLabel("bottom", f"{text} (log scale{', ' + unit if unit else ''})")
        self.plot.getAxis("bottom").setTicks(None)
        left_out = len(self.entries) - len(self.shown)
        self.note.setText(
            f"{len(self.shown)} run{'s' if len(self.shown) != 1 else ''} drawn, "
            f"{len(front)} on the Pareto front (dashed: no other run is both cheaper and more "
            "accurate); ● this version of its design, ▼ another"
            + (f"; {left_out} without this figure or an accuracy left out" if left_out else ""))

    def _clicked(self, _item, points, *_args) -> None:
        if len(points):
            row = points[0].data()
            self.table.selectRow(row)

    def _selection_changed(self) -> None:
        row = self.table.currentRow()
        self.open_button.setEnabled(0 <= row < len(self.entries))
        if self.shown:
            self.scatter.setSymbolSize([16 if i == row else 11 for i in self.shown])

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            entry, record = self.entries[row]
            self.open_requested.emit(entry, record)

    def rows(self) -> list[list[str]]:
        """The table's text, as the user reads it (for tests)."""
        return [[self.table.item(r, c).text() for c in range(len(HEADERS))]
                for r in range(self.table.rowCount())]


def _cells(e: RunEntry) -> list[str]:
    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    memory = e.cost("memory")
    return [e.design, run_started({"id": e.run_id}) or "–",
            "this version" if e.current else ("another version" if e.version else "–"),
            e.data, e.settings, pct(e.best_accuracy), pct(e.final_accuracy),
            format_duration(e.seconds) if e.seconds is not None else "–",
            format_count(int(e.cost("params"))) if e.cost("params") is not None else "–",
            format_count(int(e.cost("macs"))) if e.cost("macs") is not None else "–",
            format_bytes(int(memory)) if memory is not None else "–"]


def show_experiments(window: Any) -> ExperimentsDialog:
    """Train → Experiments: the dialog over the window's design and its recent files."""
    from .. import recent

    dialog = ExperimentsDialog(collect(window.doc, recent.recent_paths(window.settings)), window)
    dialog.open_requested.connect(lambda entry, record: open_entry(window, entry, record))
    dialog.show()
    return dialog


def open_entry(window: Any, entry: RunEntry, record: dict) -> bool:
    """Open the design version `record` trained, with its weights: its file where that is the
    version; else the design its checkpoint holds, as a new design (the window asks to save
    the one open first)."""
    from PySide6.QtWidgets import QMessageBox

    doc = window.doc
    here = str(Path(doc.path).resolve()) if doc.path else None
    if entry.path and entry.path != here and not window.open_path(entry.path):
        return False
    if record.get("version") == doc.version:
        window.statusBar().showMessage(
            f"{doc.network.name}: the version of the run of {run_started(record)}", 6000)
        return True
    if not window.maybe_save():
        return False
    try:
        doc.open_version(record, entry.path or here)
    except ValueError as e:
        QMessageBox.warning(window, "ConvNet Designer",
                            f"Could not open the version that run trained.\n\n{e}")
        return False
    window.statusBar().showMessage(f"Opened {doc.network.name}, with its weights", 6000)
    return True
