"""A grid of small images, each scaled up with nearest neighbour (a pixel stays a square, as
the network sees it) and its class name under it: the augmentation preview's samples."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

CELL = 64  # px on screen a sample is drawn at, at most (an integer multiple of its size)
GAP = 6


class SampleGrid(QWidget):
    def __init__(self, columns: int = 4, parent: QWidget | None = None):
        super().__init__(parent)
        self.columns = columns
        self._images: list[QImage] = []
        self.array = None  # the samples shown, uint8 (n, H, W, C), as given
        self.names: list[str] = []  # the class name under each sample, as shown
        self.image_size: tuple[int, int] = (0, 0)  # (H, W) of a sample
        self.scale = 1  # screen px per sample pixel
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        font = self.font()  # the class names a little smaller: more of them fit a cell
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.setFont(font)

    @property
    def count(self) -> int:
        return len(self._images)

    def set_samples(self, images, names: Sequence[str]) -> None:
        """`images`: uint8 (n, H, W, C), C 1 or 3 (a NumPy array); `names`: one per image."""
        self._images = []
        self.array = images
        n, h, w, c = images.shape
        for k in range(n):
            if c == 1:
                data = images[k, :, :, 0].copy()
                fmt = QImage.Format_Grayscale8
                line = w
            else:
                data = images[k, :, :, :3].copy()
                fmt = QImage.Format_RGB888
                line = 3 * w
            # QImage keeps no reference to the bytes: copy() makes it own them
            self._images.append(QImage(data.tobytes(), w, h, line, fmt).copy())
        self.names = [str(s) for s in names][:n]
        self.image_size = (int(h), int(w))
        side = max(h, w, 1)
        self.scale = max(1, CELL // side) if side <= CELL else CELL / side
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self._images, self.names, self.array = [], [], None
        self.updateGeometry()
        self.update()

    def _cell(self) -> QSize:
        h, w = self.image_size
        return QSize(round(w * self.scale), round(h * self.scale))

    def _text_height(self) -> int:
        return QFontMetrics(self.font()).height()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        if not self._images:
            return QSize(0, 0)
        cell = self._cell()
        width = max(cell.width(), 40)
        rows = -(-len(self._images) // self.columns)
        return QSize(self.columns * (width + GAP) - GAP,
                     rows * (cell.height() + self._text_height() + GAP))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def index_at(self, x: int, y: int) -> int | None:
        """The sample whose cell (picture and name) holds the point, or None."""
        if not self._images:
            return None
        cell = self._cell()
        col = x // (max(cell.width(), 40) + GAP)
        row = y // (cell.height() + self._text_height() + GAP)
        k = row * self.columns + col
        return k if 0 <= col < self.columns and 0 <= k < len(self._images) else None

    def event(self, event) -> bool:
        """A sample's tooltip: its class name in full (under it, a long one is elided)."""
        if event.type() == QEvent.ToolTip:
            k = self.index_at(event.pos().x(), event.pos().y())
            if k is not None and k < len(self.names):
                QToolTip.showText(event.globalPos(), self.names[k], self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def paintEvent(self, _event) -> None:  # noqa: N802
        if not self._images:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)  # nearest neighbour
        cell = self._cell()
        width = max(cell.width(), 40)
        text_h = self._text_height()
        metrics = QFontMetrics(self.font())
        p.setPen(self.palette().color(QPalette.WindowText))
        for k, image in enumerate(self._images):
            r, c = divmod(k, self.columns)
            x = c * (width + GAP)
            y = r * (cell.height() + text_h + GAP)
            target = QRect(x + (width - cell.width()) // 2, y, cell.width(), cell.height())
            p.drawImage(target, image)
            name = self.names[k] if k < len(self.names) else ""
            p.drawText(QRect(x, y + cell.height(), width, text_h), Qt.AlignHCenter | Qt.AlignTop,
                       metrics.elidedText(name, Qt.ElideRight, width))
        p.end()
