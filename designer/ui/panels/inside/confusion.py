"""The confusion-matrix view of the "Inside the network" dock: the validation set's confusion
matrix with each class's accuracy, and the samples of the cell clicked.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...theme import is_dark
from .gallery import SampleGallery
from .text import caption_label, plain

MAX_CELL_SAMPLES = 120  # a confusion cell lists at most this many samples


class ConfusionView(QWidget):
    """Rows: the true class; columns: the predicted class; the last column each class's
    accuracy. Clicking a cell lists its samples below, the most confident first."""

    sample_chosen = Signal(int)
    evaluate_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = caption_label()
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Classify the whole validation set with the weights "
                                        "shown now")
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        # The sections are sized once, after the matrix is written (ResizeToContents re-laid
        # the headers on every cell, and the table was filled with its updates disabled: its
        # header was seen painted outside the table, over the Inspector, until repainted).
        # Without a matrix there are no headers to show.
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.Interactive)
            header.hide()
        self.table.cellClicked.connect(self.show_cell)
        self.cell_caption = caption_label()
        self.gallery = SampleGallery()
        self.gallery.sample_chosen.connect(self.sample_chosen)
        self.report = None
        self.cell: tuple[int, int] | None = None
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.evaluate_button, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.cell_caption)
        layout.addWidget(self.gallery, 2)

    @property
    def caption_text(self) -> str:
        return plain(self.caption)

    @property
    def cell_text(self) -> str:
        return plain(self.cell_caption)

    def counts(self) -> list[list[int]]:
        """The matrix as the table shows it."""
        k = self.table.rowCount()
        return [[int(self.table.item(r, c).text()) for c in range(k)] for r in range(k)]

    def show_report(self, report) -> None:
        self.report = report
        e = report.evaluation
        if e is None:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.table.horizontalHeader().hide()
            self.table.verticalHeader().hide()
            self.gallery.clear()
            self.cell_caption.setText("")
            self.caption.setText("The confusion matrix of the validation set comes at the end "
                                 "of every epoch of training, or press <b>Evaluate</b>.")
            return
        k = e.classes
        names = e.class_names
        dark = is_dark()
        fg = self.palette().color(QPalette.Text)
        hot, good = QColor("#2563eb"), QColor("#16a34a")
        rows = e.confusion.sum(axis=1)
        acc = e.per_class_accuracy
        self.table.clear()
        self.table.setRowCount(k)
        self.table.setColumnCount(k + 1)
        self.table.setHorizontalHeaderLabels([f"→ {_short(n)}" for n in names] + ["accuracy"])
        for c, n in enumerate(names):
            self.table.horizontalHeaderItem(c).setToolTip(f"predicted {n}")
        self.table.setVerticalHeaderLabels(list(names))
        for r in range(k):
            for c in range(k):
                n = int(e.confusion[r, c])
                item = QTableWidgetItem(str(n))
                item.setTextAlignment(Qt.AlignCenter)
                share = n / rows[r] if rows[r] else 0.0
                colour = QColor(good if r == c else hot)
                colour.setAlphaF(min(1.0, 0.08 + 0.8 * share) if n else 0.0)
                item.setBackground(QBrush(colour))
                if share > 0.55 and not dark:
                    item.setForeground(QBrush(QColor("white")))
                else:
                    item.setForeground(QBrush(fg))
                item.setToolTip(f"{n} sample{'s' if n != 1 else ''} of {names[r]} "
                                f"predicted as {names[c]}"
                                + ("" if r == c else " — click to see them"))
                self.table.setItem(r, c, item)
            a = acc[r]
            item = QTableWidgetItem("–" if not math.isfinite(a) else f"{100 * a:.1f}%")
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            item.setFlags(item.flags() & ~Qt.ItemIsSelectable)
            self.table.setItem(r, k, item)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        self.table.horizontalHeader().show()
        self.table.verticalHeader().show()
        when = f" · {report.weights}" if report.weights else ""
        self.caption.setText(f"Validation set: <b>{e.size:,}</b> "
                             f"sample{'s' if e.size != 1 else ''}, accuracy "
                             f"<b>{100 * e.accuracy:.1f}%</b>{when}. Rows: the true class; "
                             f"columns: the prediction. Click a cell to see its samples.")
        if self.cell is not None and max(self.cell) < k:
            self.show_cell(*self.cell)
        else:
            self.gallery.clear()
            self.cell_caption.setText("")

    def show_cell(self, true: int, predicted: int) -> None:
        report = self.report
        e = report.evaluation if report is not None else None
        if e is None or true >= e.classes or predicted >= e.classes:
            return
        self.cell = (true, predicted)
        idx = e.cell(true, predicted)
        names = e.class_names
        shown = idx[:MAX_CELL_SAMPLES]
        samples = _read_samples(report, shown, e)
        what = (f"{names[true]} predicted correctly" if true == predicted
                else f"{names[true]} predicted as {names[predicted]}")
        more = f" (the {len(shown)} most confident shown)" if len(idx) > len(shown) else ""
        self.cell_caption.setText(f"<b>{len(idx)}</b> sample(s) of {what}{more}, most "
                                  "confident first.")
        self.gallery.set_samples(samples, names, report.mean, report.std)


def _short(name: str, limit: int = 9) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _read_samples(report, indices, evaluation) -> list:
    """Thumbnails of validation samples, read from the split the report came with."""
    from ....training.probes import Sample, thumbnail

    data = report.data
    out = []
    if data is None:
        return out
    for i in indices:
        i = int(i)
        x, y = data[i]
        out.append(Sample(thumbnail(x), f"validation sample {i}", index=i, label=int(y),
                          predicted=int(evaluation.predictions[i]),
                          confidence=float(evaluation.confidence[i])))
    return out
