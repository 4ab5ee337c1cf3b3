"""CompareDialog: two designs side by side (designer.model.compare formats every cell).

The totals on top (parameters, buffers, MACs, activations, both memory estimates, the output's
receptive field, layers: A, B, B − A), then the layers run by run: a row marked = where the two
designs make the same volume seeing the same field (three 3×3 CONVs against one 7×7), ≠ where
they differ. Copy puts the comparison on the clipboard as text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ...model.compare import (
    ROW_HEADERS,
    TOTAL_HEADERS,
    Comparison,
    render_text,
    row_cells,
    total_cells,
)

_RIGHT = Qt.AlignRight | Qt.AlignVCenter


class CompareDialog(QDialog):
    def __init__(self, comparison: Comparison, parent=None):
        super().__init__(parent)
        self.comparison = comparison
        self.setWindowTitle(f"Compare: {comparison.name_a} ↔ {comparison.name_b}")
        self.resize(1100, 640)
        c = comparison
        self.heading = QLabel(f"<b>A</b>: {_html(c.name_a)} &nbsp;&nbsp; <b>B</b>: "
                              f"{_html(c.name_b)} &nbsp;&nbsp; (batch {c.batch}, {c.dtype}, "
                              f"{c.optimizer})")
        self.heading.setTextFormat(Qt.RichText)
        self.totals = _table(TOTAL_HEADERS, [total_cells(m) for m in c.totals], {1, 2, 3})
        self.rows = _table(ROW_HEADERS, [row_cells(r) for r in c.rows],
                           set(range(5, len(ROW_HEADERS))))
        self.rows.setToolTip("= the two runs end at the same volume seeing the same receptive "
                             "field; ≠ they differ")
        tint = QBrush(QColor(255, 170, 0, 40))
        for i, r in enumerate(c.rows):
            if not r.aligned:
                for j in range(self.rows.columnCount()):
                    self.rows.item(i, j).setBackground(tint)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.totals)
        split.addWidget(self.rows)
        split.setSizes([220, 420])
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.copy_button = buttons.addButton("Copy as text", QDialogButtonBox.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)

    def text(self) -> str:
        return render_text(self.comparison)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(headers, rows, right: set[int]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    for i, cells in enumerate(rows):
        for j, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if j in right:
                item.setTextAlignment(_RIGHT)
            table.setItem(i, j, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeToContents)
    header.setStretchLastSection(False)
    return table
