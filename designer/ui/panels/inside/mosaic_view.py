"""The widgets that show tiles in the "Inside the network" dock: MosaicView, a zoomable picture
of tiles that says what lies under the mouse, and TilesView, a MosaicView with a caption, a
choice of colour scale and the hover line (what the feature-map and filter views share).

pyqtgraph is imported here, so this module is imported only when the dock is shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QVBoxLayout, QWidget

from .text import caption_label, faint_label, plain
from .tiles import Mosaic


class MosaicView(QWidget):
    """A mosaic in a pyqtgraph view: wheel zooms, drag pans, double-click shows it all; the
    mouse over a tile calls describe(tile, row, column) and shows the text it returns."""

    hovered = Signal(str)
    hovered_at = Signal(object)  # (tile, row, column) under the mouse, or None off the tiles
    reshaped = Signal()  # its shape changed enough that another grid may fit better

    def __init__(self, parent: QWidget | None = None, min_size: int = 120):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(self.palette().color(QPalette.Base))
        self.graphics.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        self.graphics.setMinimumSize(min_size, min_size)
        self.graphics.setFocusPolicy(Qt.NoFocus)
        self.graphics.scene().sigMouseMoved.connect(self._moved)
        self.mosaic: Mosaic | None = None
        self.describe: Callable[[int, int, int], str] | None = None
        self.hover_text = ""
        self.hover_at: tuple[int, int, int] | None = None
        self._aspect = self.aspect
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

    def set_mosaic(self, mosaic: Mosaic | None,
                   describe: Callable[[int, int, int], str] | None = None,
                   keep_view: bool = False) -> None:
        same_size = (self.mosaic is not None and mosaic is not None
                     and self.mosaic.image.shape == mosaic.image.shape)
        self.mosaic, self.describe = mosaic, describe
        if mosaic is None:
            self.item.clear()
            return
        self.item.setImage(mosaic.image, autoLevels=False, levels=None)
        if not (keep_view and same_size):
            h, w = mosaic.image.shape[:2]
            self.box.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    @property
    def aspect(self) -> float:
        """Width / height of the area the grid is drawn in."""
        w, h = self.graphics.width(), self.graphics.height()
        return w / h if w > 10 and h > 10 else 1.6

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        a = self.aspect
        if abs(math.log(a / self._aspect)) > 0.15:
            self._aspect = a
            self.reshaped.emit()

    def text_at(self, x: float, y: float) -> str:
        """What hovering picture position (x, y) says ('' off the tiles)."""
        if self.mosaic is None or self.describe is None:
            return ""
        where = self.mosaic.locate(x, y)
        return self.describe(*where) if where is not None else ""

    def outline(self, box: tuple[int, int, int, int] | None) -> None:
        """A rectangle over the picture around pixels (top, bottom, left, right), edges, bottom
        and right exclusive (None: no rectangle)."""
        from PySide6.QtGui import QColor, QPen
        from PySide6.QtWidgets import QGraphicsRectItem

        if box is None:
            if getattr(self, "_outline", None) is not None:
                self._outline.hide()
            return
        if getattr(self, "_outline", None) is None:
            self._outline = QGraphicsRectItem()
            pen = QPen(QColor("#ff2bd6"), 2)
            pen.setCosmetic(True)  # two screen pixels at any zoom
            self._outline.setPen(pen)
            self._outline.setZValue(10)
            self.box.addItem(self._outline)
        top, bottom, left, right = box
        self._outline.setRect(left, top, right - left, bottom - top)
        self._outline.show()

    def tint(self, field) -> None:
        """A magenta veil over the picture, as opaque as `field` ((H, W) in 0..1) is high;
        None removes it."""
        import numpy as np

        if field is None:
            if getattr(self, "_tint", None) is not None:
                self._tint.hide()
            return
        if getattr(self, "_tint", None) is None:
            self._tint = pg.ImageItem(axisOrder="row-major")
            self._tint.setZValue(5)
            self.box.addItem(self._tint)
        veil = np.zeros((*field.shape, 4), np.uint8)
        veil[..., 0], veil[..., 2] = 255, 214
        veil[..., 3] = np.rint(np.clip(field, 0, 1) * 220).astype(np.uint8)
        self._tint.setImage(veil, autoLevels=False, levels=None)
        self._tint.show()

    @property
    def tinted(self) -> bool:
        return getattr(self, "_tint", None) is not None and self._tint.isVisible()

    @property
    def outlined(self) -> tuple[int, int, int, int] | None:
        """The rectangle shown as (top, bottom, left, right), or None."""
        item = getattr(self, "_outline", None)
        if item is None or not item.isVisible():
            return None
        r = item.rect()
        return int(r.top()), int(r.bottom()), int(r.left()), int(r.right())

    def _moved(self, scene_pos) -> None:
        if self.mosaic is None:
            return
        p = self.box.mapSceneToView(scene_pos)
        where = self.mosaic.locate(p.x(), p.y())
        if where != self.hover_at:
            self.hover_at = where
            self.hovered_at.emit(where)
        text = self.text_at(p.x(), p.y())
        if text != self.hover_text:
            self.hover_text = text
            self.hovered.emit(text)


class TilesView(QWidget):
    """A caption with a choice of colour scale, a grid of tiles, and the value under the mouse:
    what the feature-map and filter views share. Subclasses draw in `_redraw(keep_view)`."""

    def __init__(self, scales: Sequence[tuple[str, bool]], parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = caption_label()
        self.scale = QComboBox()
        for text, per_tile in scales:
            self.scale.addItem(text, per_tile)
        self.scale.currentIndexChanged.connect(lambda _i: self._redraw(keep_view=True))
        self.mosaic = MosaicView()
        self.mosaic.reshaped.connect(lambda: self._redraw(keep_view=False))
        self.hover = faint_label()
        self.mosaic.hovered.connect(lambda t: self.hover.setText(t or " "))
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.scale, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.mosaic, 1)
        layout.addWidget(self.hover)

    @property
    def tile_count(self) -> int:
        m = self.mosaic.mosaic
        return m.tiles if m is not None else 0

    @property
    def caption_text(self) -> str:
        return plain(self.caption)

    def _redraw(self, keep_view: bool) -> None:
        raise NotImplementedError
