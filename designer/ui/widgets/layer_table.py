"""The per-layer table, like torchinfo's summary: layer, type, output volume, parameters, MACs,
receptive field, the layer's activation memory for the chosen batch and dtype, and its issues.

Rows are report_text.layer_row (the CLI's table) written lazily: a refresh after an edit only tells
the view its cells changed (or resets it when layers came or went), and the rows are formatted the
first time the view asks for one, each layer's only when its node or report changed. Selection
follows the Document both ways.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QTableView, QWidget

from ...cli.report_text import layer_row
from ...model.analysis import DTYPE_BYTES, Report
from ...model.layers import CATALOGUE
from ...model.units import format_bytes
from ..document import Document
from ..theme import severity_colour
from .decor import category_icon
from .formatting import activation_bytes, worst

COLUMNS = ("layer", "type", "output W×H×D", "params", "MACs", "receptive field", "memory",
           "notes")
_ROW_FIELD = (1, 2, 3, 4, 5, 6, None, 7)  # column -> report_text.layer_rows field
_HEADER_TIPS = {
    2: "The output volume, W×H×D, as the notes write it",
    3: "Trainable parameters (weights and biases)",
    4: "Multiply-accumulates per image (FLOPs = 2·MACs)",
    5: "Receptive field in input pixels (W×H) /jump (the product of the strides so far)",
    6: "The layer's output volume for the whole batch, in the chosen dtype",
    7: "Errors and warnings from the analysis",
}

# data() runs a few thousand times per repaint: compare roles with plain ints (looking up
# PySide's enum shortcuts such as Qt.DisplayRole costs microseconds each).
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_USER = int(Qt.ItemDataRole.UserRole.value)
_LEFT = int((Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_ALIGNS = (_LEFT, _LEFT, _LEFT, _RIGHT, _RIGHT, _LEFT, _RIGHT, _LEFT)
_MEMORY, _NOTES = 6, 7
_MAX_RUNS = 16  # runs of changed rows said apart; more are said as one range


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """[(first, last)] of each run of consecutive row numbers in the sorted `rows`."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r - 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


class LayerTableModel(QAbstractTableModel):
    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.report: Report = doc.report
        self.order: tuple[str, ...] = self.report.order
        self.rows_by_id = {nid: i for i, nid in enumerate(self.order)}
        self._row_cache: dict[str, tuple] = {}  # id -> (node, report, row)
        # colours, not brushes: the view takes either, and QBrush's enums cost start-up time
        self._brushes = {s: severity_colour(s) for s in ("error", "warning", "info")}
        self._icons: dict[str, object] = {}
        self._muted = QApplication.palette().color(QPalette.ColorRole.PlaceholderText)

    def set_report(self, report: Report) -> None:
        old, self.report = self.report, report
        if report.order == self.order:
            # The analysis hands back the very same LayerReport for a layer it did not change,
            # so only the changed rows need repainting: each run of them is said apart (one
            # range from the first to the last would repaint every row on show between them,
            # as an edit's layers and a far-off layer whose fixes were tried again are)
            if not self.order:
                return
            last = len(COLUMNS) - 1
            if (report.batch, report.dtype) != (old.batch, old.dtype):
                self.dataChanged.emit(self.index(0, _MEMORY),
                                      self.index(len(self.order) - 1, _MEMORY))
            new_layers, old_layers = report.layers, old.layers
            changed = [i for i, nid in enumerate(self.order)
                       if new_layers[nid] is not old_layers.get(nid)]
            runs = _runs(changed)
            if len(runs) > _MAX_RUNS:
                runs = [(changed[0], changed[-1])]
            for first, end in runs:
                self.dataChanged.emit(self.index(first, 0), self.index(end, last))
            return
        self.beginResetModel()
        self.order = report.order
        self.rows_by_id = {nid: i for i, nid in enumerate(self.order)}
        self._row_cache.clear()  # (a row's number is its place: the order changed)
        self.endResetModel()

    def row(self, row: int) -> tuple[str, ...]:
        """The CLI summary's row of the layer at `row` for the current report, written when
        first asked for: a layer whose node and report are those its row was written from
        keeps it (an edit rewrites the rows of the layers it changed, and those only when
        they are shown)."""
        nid = self.order[row]
        node, rep = self.doc.network.nodes[nid], self.report.layers[nid]
        hit = self._row_cache.get(nid)
        if hit is None or hit[0] is not node or hit[1] is not rep:
            hit = self._row_cache[nid] = (node, rep, (str(row + 1),) + layer_row(nid, node, rep))
        return hit[2]

    def rows(self) -> list[tuple[str, ...]]:
        """Every row (see row())."""
        return [self.row(i) for i in range(len(self.order))]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=_DISPLAY):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == _DISPLAY:
            return COLUMNS[section]
        if role == _TOOLTIP:
            return _HEADER_TIPS.get(section)
        if role == _ALIGNMENT:
            return _ALIGNS[section]
        return None

    def data(self, index: QModelIndex, role=_DISPLAY):
        if role == _DISPLAY:
            row, col = index.row(), index.column()
            if col == _MEMORY:
                return self._memory(row)
            return self.row(row)[_ROW_FIELD[col]]
        if role == _ALIGNMENT:
            return _ALIGNS[index.column()]
        if role == _FOREGROUND:
            col = index.column()
            if col == _NOTES:
                severity = worst(self.report.layers[self.order[index.row()]].issues)
                return self._brushes.get(severity) if severity else None
            if col == _MEMORY and self.report.layers[self.order[index.row()]].in_place:
                return self._muted
            return None
        if role == _DECORATION:
            if index.column() == 0:
                category = CATALOGUE[self.report.layers[self.order[index.row()]].type].category
                icon = self._icons.get(category)
                if icon is None:
                    icon = self._icons[category] = category_icon(category)
                return icon
            return None
        if role == _TOOLTIP:
            return self._tooltip(index.row(), index.column())
        if role == _USER:
            return self.order[index.row()]
        return None

    def _memory(self, row: int) -> str:
        rep = self.report.layers[self.order[row]]
        if rep.shape is None:
            return ""
        return "in place" if rep.in_place else format_bytes(activation_bytes(self.report, rep))

    def _tooltip(self, row: int, col: int) -> str | None:
        rep = self.report.layers[self.order[row]]
        if col == _NOTES and rep.issues:
            return "<br><br>".join(f"<b>{i.severity}</b>: {i.message}" for i in rep.issues)
        if col == _MEMORY and rep.shape is not None:
            if rep.in_place:
                return ("Elementwise, so counted with the volume it acts on (as the notes "
                        "count RELU)")
            r = self.report
            return (f"{rep.activations:,} values × batch {r.batch:,} × "
                    f"{DTYPE_BYTES[r.dtype]} bytes ({r.dtype})")
        return None


class LayerTable(QTableView):
    """The per-layer table; its selection follows the Document's and sets it on a click."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self._syncing = False
        self.table_model = LayerTableModel(doc, self)
        self.setModel(self.table_model)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        vh = self.verticalHeader()
        vh.hide()
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hh = self.horizontalHeader()
        hh.setHighlightSections(False)
        hh.setStretchLastSection(True)
        hh.setDefaultAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        # Widths for typical contents, fixed: sizing to contents would measure every row on
        # every edit (ResNet-152 has 516). The notes take what is left.
        fm = self.fontMetrics()
        for col, sample in enumerate(("layer4_2_conv3", "BatchNorm2d (NORM)", "224×224×512",
                                      "102,764,544", "1.85 G", "404×404 /32", "1023 MiB")):
            self.setColumnWidth(col, max(fm.horizontalAdvance(sample),
                                         fm.horizontalAdvance(COLUMNS[col])) + 18
                                + (20 if col == 0 else 0))
        self.selectionModel().selectionChanged.connect(self._rows_selected)
        doc.changed.connect(self._report_changed)
        doc.selection_changed.connect(self.select_layers)

    def _report_changed(self, report: Report) -> None:
        reset = report.order != self.table_model.order
        self.table_model.set_report(report)
        if reset:
            self.select_layers(self.doc.selection)

    def _rows_selected(self, *_args) -> None:
        if self._syncing:
            return
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        self.doc.select([self.table_model.order[r] for r in rows])

    def select_layers(self, ids: list[str]) -> None:
        rows = [self.table_model.rows_by_id[i] for i in ids if i in self.table_model.rows_by_id]
        selection = QItemSelection()
        last = len(COLUMNS) - 1
        for r in rows:
            selection.select(self.table_model.index(r, 0), self.table_model.index(r, last))
        self._syncing = True
        try:
            self.selectionModel().select(
                selection, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
            if rows:
                self.selectionModel().setCurrentIndex(self.table_model.index(rows[0], 0),
                                                      QItemSelectionModel.NoUpdate)
                self.scrollTo(self.table_model.index(rows[0], 0))
        finally:
            self._syncing = False
