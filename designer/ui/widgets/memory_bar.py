"""The memory bar: one training step's memory as proportional segments (the notes' parts:
activations and their gradients, weights, their gradients, optimizer state, the data batch), with
a marker where the budget is. Paints what a MemoryEstimate says; the exact figures are in the
tooltip and in the legend beside it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from ...cli.report_text import memory_rows
from ...model.analysis import MemoryEstimate
from ...model.units import format_bytes

PART_COLOURS: dict[str, str] = {
    "activations": "#2563eb",
    "activation gradients": "#93c5fd",
    "weights": "#d97706",
    "weight gradients": "#fcd34d",
    "optimizer state": "#9333ea",
    "buffers": "#c4b5fd",
    "data batch": "#059669",
    "saved for backward": "#2563eb",
    "gradients in flight": "#93c5fd",
    "workspace": "#64748b",
    "16-bit weight copies": "#b45309",
    "optimizer temporaries": "#d8b4fe",
}
OVER_BUDGET = "#dc2626"


def part_colour(name: str) -> QColor:
    return QColor(PART_COLOURS.get(name, "#94a3b8"))


def estimate_tooltip(est: MemoryEstimate, value_bytes: int | None, title: str) -> str:
    """An HTML table of every part: values, bytes and share of the total."""
    total = est.total or 1
    rows = "".join(
        f"<tr><td><span style='color:{part_colour(name).name()}'>■</span> {name}</td>"
        f"<td align=right>{values}</td><td align=right>{size}</td>"
        f"<td align=right>{100 * est.part(name) / total:.1f}%</td></tr>"
        for name, values, size in memory_rows(est, value_bytes))
    budget = "" if est.budget is None else (
        f"<tr><td>budget</td><td></td><td align=right>{format_bytes(est.budget)}</td>"
        "<td></td></tr>")
    return (f"<b>{title}</b> (batch {est.batch:,})<table cellspacing=4>{rows}"
            f"<tr><td><b>total</b></td><td></td><td align=right><b>{format_bytes(est.total)}"
            f"</b></td><td></td></tr>{budget}</table>")


class MemoryBar(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.estimate: MemoryEstimate | None = None
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumWidth(120)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(240, 26)

    def set_estimate(self, est: MemoryEstimate, value_bytes: int, title: str) -> None:
        self.estimate = est
        self.setToolTip(estimate_tooltip(est, value_bytes, title))
        self.update()

    def segments(self) -> list[tuple[str, float, float]]:
        """(part, start, end) as fractions of the bar's width; the bar spans the larger of the
        total and the budget, so the budget marker is always on it."""
        est = self.estimate
        if est is None:
            return []
        scale = max(est.total, est.budget or 0) or 1
        out, x = [], 0.0
        for name, b in est.parts:
            if b > 0:
                out.append((name, x, x + b / scale))
                x += b / scale
        return out

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        pal = self.palette()
        bar = QRectF(0.5, 4.5, self.width() - 1.0, self.height() - 9.0)
        clip = QPainterPath()
        clip.addRoundedRect(bar, 3, 3)
        p.fillPath(clip, pal.color(QPalette.Base))
        p.save()
        p.setClipPath(clip)
        for name, a, b in self.segments():
            p.fillRect(QRectF(bar.left() + a * bar.width(), bar.top(),
                              max((b - a) * bar.width(), 0.5), bar.height()), part_colour(name))
        p.restore()
        p.setPen(QPen(pal.color(QPalette.Mid), 1))
        p.setBrush(Qt.NoBrush)
        p.drawPath(clip)
        est = self.estimate
        if est is not None and est.budget is not None:
            scale = max(est.total, est.budget) or 1
            x = round(bar.left() + est.budget / scale * bar.width()) - 0.5
            over = est.total > est.budget
            colour = QColor(OVER_BUDGET) if over else pal.color(QPalette.WindowText)
            p.setPen(QPen(colour, 2))
            p.drawLine(QRectF(x, 0, 0, self.height()).topLeft(),
                       QRectF(x, 0, 0, self.height()).bottomLeft())
        p.end()


class MemoryLegend(QWidget):
    """A swatch, name, value count and size per part, in two columns of rows."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(1)
        self.grid.setColumnStretch(2, 1)
        self._labels: list[QLabel] = []

    def set_estimate(self, est: MemoryEstimate, value_bytes: int) -> None:
        rows = memory_rows(est, value_bytes)
        while len(self._labels) < 3 * len(rows):
            i = len(self._labels) // 3
            for col in range(3):
                label = QLabel()
                if col == 2:
                    label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.grid.addWidget(label, i, col)
                self._labels.append(label)
        for i, label in enumerate(self._labels):
            label.setVisible(i < 3 * len(rows))
        for i, (name, values, size) in enumerate(rows):
            swatch, title, amount = self._labels[3 * i: 3 * i + 3]
            swatch.setText(f"<span style='color:{part_colour(name).name()}'>■</span>")
            title.setText(name)
            amount.setText(size)
            title.setToolTip(values)
            amount.setToolTip(values)

    def text(self) -> str:
        """What the legend says, row by row (for tests and accessibility)."""
        cells = [label.text() for label in self._labels[1::3] if label.isVisibleTo(self)]
        sizes = [label.text() for label in self._labels[2::3] if label.isVisibleTo(self)]
        return "\n".join(f"{c} {s}" for c, s in zip(cells, sizes))
