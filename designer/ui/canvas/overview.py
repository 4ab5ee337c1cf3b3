"""OverviewMap: a small picture of the whole design in the canvas's corner, with the part the
view shows outlined; a click or a drag in it moves the view there.

It sits over the view's bottom-right corner (a child of the view, not of its viewport, so
scrolling does not move it) and is hidden while the whole design fits in the view. The design
is drawn as its shown cards' boxes in their colours (a collapsed block's card as one box), not
rendered item by item: the picture is made again only when the design's layout changed (a
timer folds a burst of changes into one; an edit that moved no card keeps it), while a scroll
or a zoom only moves the outline.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from .items import CARD_H, CARD_W

MAP_W = 200  # the map's largest side, in pixels
MAP_H = 150
INSET = 6  # the picture's margin inside the map
GAP = 12  # the map's distance from the view's corner


class OverviewMap(QWidget):
    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.scene = view.canvas
        self._pixmap: QPixmap | None = None
        self._world = QRectF()  # the scene rectangle the picture shows
        self._scale = 1.0  # pixels of the map per unit of the scene
        self._origin = QPointF()  # where the world's top-left corner lands in the map
        self._dragging = False
        self._drawn_epoch = -1  # the scene's geometry epoch the picture shows
        self._placed_epoch = -1  # the one it was last shown or hidden for
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self.setAttribute(Qt.WidgetAttribute.WA_NoMousePropagation)
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(0)
        self._redraw.timeout.connect(self._refresh_if_moved)
        doc = view.document
        doc.changed.connect(self._design_changed)
        doc.moved.connect(self._design_changed)
        self.scene.rebuilt.connect(self._design_changed)
        view.horizontalScrollBar().valueChanged.connect(self._view_changed)
        view.verticalScrollBar().valueChanged.connect(self._view_changed)
        view.zoom_changed.connect(self._view_changed)
        self.hide()

    # ----------------------------------------------------------------------------- geometry

    def visible_scene_rect(self) -> QRectF:
        """The part of the scene the view shows."""
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def frame_rect(self) -> QRectF:
        """The outline of the view's part, in the map's pixels (what is drawn)."""
        return self._to_map(self.visible_scene_rect())

    def scene_point(self, pos: QPointF) -> QPointF:
        """The scene point a point of the map stands for."""
        return QPointF(self._world.left() + (pos.x() - self._origin.x()) / self._scale,
                       self._world.top() + (pos.y() - self._origin.y()) / self._scale)

    def map_point(self, point: QPointF) -> QPointF:
        """Where a scene point is in the map."""
        return QPointF(self._origin.x() + (point.x() - self._world.left()) * self._scale,
                       self._origin.y() + (point.y() - self._world.top()) * self._scale)

    def _to_map(self, rect: QRectF) -> QRectF:
        top_left = self.map_point(rect.topLeft())
        return QRectF(top_left.x(), top_left.y(), rect.width() * self._scale,
                      rect.height() * self._scale)

    def fits(self) -> bool:
        """Whether the whole design is in view (then the map is not needed)."""
        return self.visible_scene_rect().contains(self.scene.design_rect())

    # ----------------------------------------------------------------------------- updates

    def _design_changed(self, *_args) -> None:
        self._redraw.start()  # (the picture is made again there if a card moved or came)

    def _view_changed(self, *_args) -> None:
        self._place()
        self.update()

    def refresh(self) -> None:
        """Draw the design again where its cards changed, and show or hide the map."""
        self._redraw.stop()
        self._place()
        self.update()

    def _refresh_if_moved(self) -> None:
        # the design changed: the map changes only where a card moved, came or went (an edit
        # of a layer's parameters leaves it as it is, and unpainted)
        if self._placed_epoch != self.scene.geometry_epoch:
            self.refresh()

    def _place(self) -> None:
        """Shown where the design does not fit, at the view's bottom-right corner."""
        self._placed_epoch = self.scene.geometry_epoch
        if not self.scene.cards or self.fits():
            self.hide()
            return
        if self._pixmap is None or self._drawn_epoch != self.scene.geometry_epoch:
            self._draw()
        vp = self.view.viewport().geometry()  # (in the view's coordinates)
        self.move(vp.right() - self.width() - GAP + 1, vp.bottom() - self.height() - GAP + 1)
        if not self.isVisible():
            self.show()
        self.raise_()

    def _draw(self) -> None:
        world = self.scene.design_rect().adjusted(-CARD_W / 4, -CARD_H / 2,
                                                  CARD_W / 4, CARD_H / 2)
        scale = min((MAP_W - 2 * INSET) / world.width(), (MAP_H - 2 * INSET) / world.height())
        w = max(40, round(world.width() * scale) + 2 * INSET)
        h = max(40, round(world.height() * scale) + 2 * INSET)
        if (self.width(), self.height()) != (w, h):
            self.resize(w, h)
        self._world, self._scale = world, scale
        self._origin = QPointF((w - world.width() * scale) / 2, (h - world.height() * scale) / 2)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(round(w * ratio), round(h * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pal = self.palette()
        back = QColor(pal.color(QPalette.ColorRole.Base))
        pixmap.fill(back)
        p = QPainter(pixmap)  # (boxes along the pixels: no antialiasing needed)
        p.setPen(QPen(QColor(pal.color(QPalette.ColorRole.Mid)), 1.0))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for frame in self.scene.blocks.frames.values():
            p.drawRect(self._to_map(frame.mapRectToScene(frame.rect)))
        colours: dict = {}  # a layer's kind -> its colour (None: a block's card)
        # (a card's box in the map's pixels, as _to_map gives it, in plain numbers: an expanded
        # stage draws a hundred)
        left = self._origin.x() - (world.left() + CARD_W / 2) * scale
        top = self._origin.y() - (world.top() + CARD_H / 2) * scale
        w_card, h_card = CARD_W * scale, CARD_H * scale
        for unit in self.scene.blocks.visible_units():
            kind = getattr(unit, "category", None)
            colour = colours.get(kind)
            if colour is None:
                colour = colours[kind] = unit.fill_colour()
            p.fillRect(QRectF(left + unit.x() * scale, top + unit.y() * scale, w_card, h_card),
                       colour)
        p.end()
        self._pixmap = pixmap
        self._drawn_epoch = self.scene.geometry_epoch

    # ----------------------------------------------------------------------------- painting

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._pixmap = None  # (light or dark: the boxes' colours)
            self.update()
        super().changeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._pixmap is None:
            self._draw()
        p = QPainter(self)
        p.drawPixmap(0, 0, self._pixmap)
        pal = self.palette()  # (rectangles along the pixels: no antialiasing)
        highlight = QColor(pal.color(QPalette.ColorRole.Highlight))
        fill = QColor(highlight)
        fill.setAlphaF(0.15)
        p.setPen(QPen(highlight, 1.5))
        p.setBrush(fill)
        p.drawRect(self.frame_rect().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        edge = QColor(pal.color(QPalette.ColorRole.WindowText))
        edge.setAlphaF(0.35)
        p.setPen(QPen(edge, 1.0))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        p.end()

    # ----------------------------------------------------------------------------- mouse

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._go(event.position())
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._dragging:
            self._go(event.position())
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._dragging = False
        event.accept()

    def _go(self, pos: QPointF) -> None:
        """Centre the view on the scene point under `pos`."""
        self.view.centerOn(self.scene_point(pos))
