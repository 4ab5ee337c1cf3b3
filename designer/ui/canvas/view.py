"""CanvasView: the widget that shows a CanvasScene.

Viewing: the wheel scrolls (Shift+wheel sideways), Ctrl+wheel and a trackpad's pinch zoom around
the cursor, Ctrl+= / Ctrl+- / Ctrl+0 (fit the design), panning with the middle button or
Space+drag (and the scroll bars), rubber-band selection on empty space.
Drag and drop: a layer type from the palette (MIME application/x-convnet-layer, the type name in
UTF-8) lands where it is dropped (see interactions.LayerDrop), a block template
(application/x-convnet-block: inception, basic, bottleneck) goes after the layer it is dropped
on; a dropped *.convnet.json file is announced with `file_dropped(path)` for the main window to
open.

Where the design does not fit, an overview map in the bottom-right corner shows all of it
with the visible part outlined; clicking or dragging in it moves the view (overview.py).

Another design opened (File → Open, an example, a recovery) is fitted to the view, never
magnified beyond 100 %. An empty canvas says what to do (`EMPTY_HINT`, painted over the view,
not part of the design or its exports).

Editing actions are QActions on the view (`actions_by_name`), with the standard shortcuts active
while the canvas has focus, so the main window can also put them in its menus.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from ...model import layout
from ...model.design_file import DesignFileError
from .. import commands
from . import arrange, edits
from .edits import BLOCK_MIME, BLOCKS, LAYER_MIME, NODES_MIME, layer_type_name
from .interactions import LayerDrop
from .overview import OverviewMap
from .scene import CanvasScene

DESIGN_SUFFIX = ".convnet.json"
EMPTY_HINT = ("Drag layers here from the Layers panel\n"
              "or open an example: File → Examples")


class CanvasView(QGraphicsView):
    file_dropped = Signal(str)  # a design file was dropped on the canvas: open it
    zoom_changed = Signal(float)  # the zoom factor (1.0 = 100 %)

    MIN_ZOOM = 0.02
    MAX_ZOOM = 4.0
    STEP = 1.25

    def __init__(self, scene: CanvasScene, parent=None):
        super().__init__(scene, parent)
        # A viewport made here, not Qt's own: the first QWidget that Qt made reaching Python
        # makes PySide6 set up every widget class it might be (message boxes, wizards, file
        # dialogs...: 20 ms of the start-up, in the first fit's viewport()).
        self.setViewport(QWidget())
        if scene.parent() is None:
            scene.setParent(self)  # the scene lives as long as the view showing it
        self.canvas = scene
        self.document = scene.document
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._drop = LayerDrop(scene)
        self._pan_from: QPointF | None = None
        self._space = False
        self._paste_count = 0
        self._needs_reset = True
        self._grid: tuple[tuple, QBrush] | None = None
        self.actions_by_name: dict[str, QAction] = {}
        self._make_actions()
        scene.rebuilt.connect(self._on_rebuilt)
        scene.scroll_rect_changed.connect(self.setSceneRect)
        if not scene.scroll_rect.isNull():
            self.setSceneRect(scene.scroll_rect)
        self._was_empty = not scene.cards
        self.document.changed.connect(self._check_empty)
        scene.external_selection.connect(self._reveal)
        scene.selectionChanged.connect(self._update_actions)
        QGuiApplication.clipboard().dataChanged.connect(self._update_actions)
        self._update_actions()
        self.overview = OverviewMap(self)  # the whole design in a corner, where it does not fit

    # ----------------------------------------------------------------------------- zoom

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom` keeping the scene point under `anchor` (viewport coordinates; default
        the centre) where it is."""
        zoom = max(self.MIN_ZOOM, min(self.MAX_ZOOM, zoom))
        factor = zoom / self.zoom()
        if abs(factor - 1.0) < 1e-9:
            return
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        point = anchor.toPoint()
        before = self.mapToScene(point)
        self.scale(factor, factor)
        after = self.mapToScene(point)
        self._scroll_by_scene(after - before)
        self.zoom_changed.emit(self.zoom())

    def _scroll_by_scene(self, delta: QPointF) -> None:
        z = self.zoom()
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(delta.x() * z))
        v.setValue(v.value() - round(delta.y() * z))

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * self.STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / self.STEP)

    def fit_all(self, readable: bool = False) -> None:
        """Show the whole design (never magnified beyond 100 %). `readable` (a design opened):
        never below the zoom where every shown card still writes its kind and output volume
        (readable_zoom); a design too big for that shows its start, the INPUT's corner, and
        the overview map the rest. Fit Design itself (Ctrl+0) shows it all at any zoom."""
        rect = self.canvas.design_rect().adjusted(-30, -30, 30, 30)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        elif self.zoom() < self.MIN_ZOOM:
            self.set_zoom(self.MIN_ZOOM)
        least = self.readable_zoom() if readable else 0.0
        if self.zoom() < least:
            self.set_zoom(least)
            z, port = self.zoom(), self.viewport().rect()
            half_w, half_h = port.width() / z / 2, port.height() / z / 2
            x = rect.center().x() if rect.width() <= 2 * half_w else rect.left() + half_w
            y = rect.center().y() if rect.height() <= 2 * half_h else rect.top() + half_h
            self.centerOn(x, y)
        else:
            self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom())

    def readable_zoom(self) -> float:
        """The least zoom at which every shown card (a layer's or a collapsed block's) writes
        at least its kind and output volume, at MIN_TEXT_PX or more on screen (items.py)."""
        cards = [c for c in self.canvas.cards.values() if c.isVisible()]
        cards += [c for c in self.canvas.blocks.cards.values() if c.isVisible()]
        least = 0.0
        seen: set = set()
        for card in cards:
            key = (type(card), card.kind, card.shape_str)
            if key in seen:
                continue
            seen.add(key)
            low, high = least, 1.0  # (readable at 100 %: the full card)
            if low > 0 and card._compact(low) is not None:
                continue
            for _ in range(12):  # to within 1/4096 of the zoom range
                mid = (low + high) / 2
                if card._compact(mid) is None:
                    low = mid
                else:
                    high = mid
            least = max(least, high)
        return min(least, 1.0)

    def _on_rebuilt(self) -> None:
        """Another design was opened: fit it to the view, whatever the last one's zoom was."""
        if self.isVisible() and self.viewport().width() > 50:
            self.fit_all(readable=True)
        else:
            self._needs_reset = True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._needs_reset:
            self._needs_reset = False
            self.fit_all(readable=True)
        self.overview.refresh()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.overview.refresh()

    def _reveal(self, ids: list) -> None:
        if len(ids) == 1:
            card = self.canvas.blocks.unit(ids[0])  # (a hidden layer: its block's card)
            if card is not None:
                self.ensureVisible(card, 40, 40)

    # ----------------------------------------------------------------------------- mouse

    def wheelEvent(self, event) -> None:  # noqa: N802
        """The wheel scrolls, as everywhere in Qt; with Ctrl held it zooms around the cursor."""
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
            return
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            delta = event.pixelDelta().y()
        if delta:
            self.set_zoom(self.zoom() * 1.0015 ** delta, event.position())
        event.accept()

    def viewportEvent(self, event) -> bool:  # noqa: N802
        """A trackpad's pinch zooms around the fingers."""
        if (event.type() == QEvent.Type.NativeGesture
                and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture):
            self.set_zoom(self.zoom() * (1.0 + event.value()), event.position())
            event.accept()
            return True
        return super().viewportEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self.canvas.interaction is not None:
            self.canvas.interaction.cancel()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space = False
        super().focusOutEvent(event)

    # ----------------------------------------------------------------------------- drag & drop

    @staticmethod
    def _dragged_layer(mime: QMimeData) -> str | None:
        if not mime.hasFormat(LAYER_MIME):
            return None
        return layer_type_name(bytes(mime.data(LAYER_MIME)).decode("utf-8", "replace"))

    @staticmethod
    def _dragged_block(mime: QMimeData) -> str | None:
        if not mime.hasFormat(BLOCK_MIME):
            return None
        kind = bytes(mime.data(BLOCK_MIME)).decode("utf-8", "replace").strip()
        return kind if kind in BLOCKS else None

    @staticmethod
    def _dragged_file(mime: QMimeData) -> str | None:
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile().lower().endswith(DESIGN_SUFFIX):
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if self._dragged_layer(mime) or self._dragged_block(mime) or self._dragged_file(mime):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if self._dragged_layer(mime) or self._dragged_block(mime):
            self._drop.hover(self.mapToScene(event.position().toPoint()))
        elif not self._dragged_file(mime):
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._drop.clear()
        event.accept()

    def dropEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        layer = self._dragged_layer(mime)
        if layer is not None:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self._drop.drop(self.mapToScene(event.position().toPoint()), layer)
            self.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        block = self._dragged_block(mime)
        if block is not None:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self._drop.drop_block(self.mapToScene(event.position().toPoint()), block)
            self.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        path = self._dragged_file(mime)
        if path is not None:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.file_dropped.emit(path)
            return
        event.ignore()

    # ----------------------------------------------------------------------------- actions

    def _make_actions(self) -> None:
        key = QKeySequence
        spec = [
            ("delete", "&Delete", [key(key.StandardKey.Delete), key(Qt.Key.Key_Backspace)],
             self.delete_selection,
             "Delete the selected layers (their neighbours are reconnected) or wires"),
            ("cut", "Cu&t", [key(key.StandardKey.Cut)], self.cut_selection,
             "Copy the selected layers and delete them"),
            ("copy", "&Copy", [key(key.StandardKey.Copy)], self.copy_selection,
             "Copy the selected layers and the wires among them"),
            ("paste", "&Paste", [key(key.StandardKey.Paste)], self.paste,
             "Paste the copied layers beside the originals"),
            ("duplicate", "D&uplicate", [key("Ctrl+D")], self.duplicate,
             "Copy and paste the selected layers in one go"),
            ("select_all", "Select &All", [key(key.StandardKey.SelectAll)], self.select_all,
             "Select every layer"),
            ("auto_layout", "Auto &Layout", [key("Ctrl+Shift+L")], self.auto_layout,
             "Arrange the layers top to bottom, branches side by side (undoable)"),
            ("fit_all", "&Fit Design", [key("Ctrl+0")], self.fit_all,
             "Zoom to show the whole design"),
            ("zoom_in", "Zoom &In", [key("Ctrl+="), key(key.StandardKey.ZoomIn)],
             self.zoom_in, "Zoom in"),
            ("zoom_out", "Zoom &Out", [key("Ctrl+-"), key(key.StandardKey.ZoomOut)],
             self.zoom_out, "Zoom out"),
            ("insert_inception", "Insert &Inception Module", [],
             lambda: self.insert_block("inception"),
             "GoogLeNet's four-branch module after the selected layer"),
            ("insert_basic", "Insert ResNet &Basic Block", [],
             lambda: self.insert_block("basic"),
             "Two 3×3 CONVs with a skip connection after the selected layer"),
            ("insert_bottleneck", "Insert ResNet Bottlenec&k Block", [],
             lambda: self.insert_block("bottleneck"),
             "1×1, 3×3, 1×1 CONVs with a skip connection after the selected layer"),
        ]
        for name, text, shortcuts, slot, tip in spec:
            action = QAction(text, self)
            unique = []
            for s in shortcuts:
                if not s.isEmpty() and s not in unique:
                    unique.append(s)
            action.setShortcuts(unique)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setStatusTip(tip)
            action.setToolTip(tip)
            action.triggered.connect(slot)
            self.addAction(action)
            self.actions_by_name[name] = action
        self.actions_by_name["fit"] = self.actions_by_name["fit_all"]  # the same action
        arrange.install(self)  # Group, Ungroup, Collapse, Expand, the layouts

    def _update_actions(self) -> None:
        if not self.actions_by_name:
            return
        has_cards = bool(self.canvas.selected_cards()) or bool(
            self.canvas.blocks.selected_members())
        anything = has_cards or bool(self.canvas.selected_wires())
        self.actions_by_name["delete"].setEnabled(anything)
        for name in ("cut", "copy", "duplicate", "insert_inception", "insert_basic",
                     "insert_bottleneck"):
            self.actions_by_name[name].setEnabled(has_cards)
        mime = QGuiApplication.clipboard().mimeData()
        self.actions_by_name["paste"].setEnabled(mime is not None
                                                 and mime.hasFormat(NODES_MIME))

    def _selected_ids(self) -> list[str]:
        """Selected layers, in the design's order."""
        chosen = {c.node_id for c in self.canvas.selected_cards()}
        chosen.update(self.canvas.blocks.selected_members())
        return [nid for nid in self.document.network.nodes if nid in chosen]

    def delete_selection(self) -> None:
        """Delete the selected layers (a layer inside a stack: its neighbours are reconnected)
        and the selected wires, as one undo step."""
        ids = self._selected_ids()
        gone = set(ids)
        wires = [w.key for w in self.canvas.selected_wires()
                 if w.key[0] not in gone and w.key[1] not in gone]
        if not ids and not wires:
            return
        doc = self.document
        many = bool(ids) + len(wires) > 1
        if many:
            doc.undo_stack.beginMacro("Delete")
        try:
            for src, dst in wires:
                commands.disconnect(doc, src, dst)
            if ids:
                commands.remove_layers(doc, ids)
        finally:
            if many:
                doc.undo_stack.endMacro()

    def copy_selection(self) -> bool:
        ids = self._selected_ids()
        if not ids:
            return False
        text = edits.nodes_to_json(self.document.network, ids,
                                   {i: self.canvas.position_of(i) for i in ids})
        mime = QMimeData()
        mime.setData(NODES_MIME, text.encode("utf-8"))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_count = 0
        return True

    def cut_selection(self) -> None:
        if self.copy_selection():
            commands.remove_layers(self.document, self._selected_ids())

    def paste(self) -> list[str]:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(NODES_MIME):
            return []
        try:
            nodes = edits.nodes_from_json(bytes(mime.data(NODES_MIME)).decode("utf-8"))
        except (DesignFileError, UnicodeDecodeError) as e:
            self.document.error.emit(f"cannot paste: {e}")
            return []
        self._paste_count += 1
        step = 40.0 * self._paste_count
        return edits.paste_nodes(self.document, nodes, (step, step))

    def duplicate(self) -> list[str]:
        ids = self._selected_ids()
        if not ids:
            return []
        net = self.document.network
        placed = {i: self.canvas.position_of(i) for i in ids}
        return edits.paste_nodes(self.document, [net.nodes[i] for i in ids], (40.0, 40.0),
                                 placed)

    def select_all(self) -> None:
        self.document.select(list(self.document.network.nodes))

    def auto_layout(self) -> None:
        """Lay the whole design out again: one undoable move of every card."""
        self.document.move(layout.arrange(self.document.network, "top-down"), "Auto layout")

    def insert_block(self, kind: str) -> str | None:
        """An Inception module ("inception") or a ResNet block ("basic", "bottleneck") after
        the selected layer."""
        selected = [i for i in self.document.selection if self.canvas.card(i) is not None]
        if not selected:
            self.document.error.emit("select the layer to put the block after")
            return None
        return edits.insert_block(self.document, self.canvas, kind, selected[-1])

    def add_layer(self, type_name: str) -> str | None:
        """Add a layer as a double-click in the palette would: after the selected layer, or
        unconnected in the middle of the view."""
        name = layer_type_name(type_name) or type_name
        selected = [i for i in self.document.selection if self.canvas.card(i) is not None]
        if selected:
            nid = edits.add_after(self.document, self.canvas, name, selected[-1])
        else:
            centre = self.mapToScene(self.viewport().rect().center())
            nid = edits.add_unconnected(self.document, name, (centre.x(), centre.y()))
        if nid is not None:
            self.document.select([nid])
        return nid

    # ----------------------------------------------------------------------------- painting

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        pal = self.palette()
        painter.fillRect(rect, pal.color(QPalette.ColorRole.Base))
        world = painter.worldTransform()
        scale = world.m11()
        if scale < 0.45 or world.type().value > QTransform.TransformationType.TxScale.value:
            return
        # The dots, filled in device pixels from a tile made at this zoom: a texture fill that
        # is only moved is some 6x cheaper than one scaled (the whole viewport is filled again
        # whenever the scroll rect changes, as when a block opens). A dot every 20 units,
        # their spacing rounded to whole pixels; the lattice moves with the design.
        dpr = self.viewport().devicePixelRatioF()
        brush = QBrush(self._grid_brush(max(4, round(20 * scale * dpr)), scale * dpr, dpr))
        origin = world.map(QPointF(0.0, 0.0))
        brush.setTransform(QTransform.fromTranslate(origin.x(), origin.y()))
        painter.save()
        painter.resetTransform()
        painter.fillRect(world.mapRect(rect), brush)
        painter.restore()

    def _grid_brush(self, period: int, scale: float, dpr: float) -> QBrush:
        """A tile of `period` device pixels with a dot at each corner (1.2 units across the
        corners' quarters make one dot where four tiles meet), kept while the colour, the
        period and the pixel ratio stay."""
        colour = QColor(self.palette().color(QPalette.ColorRole.WindowText))
        colour.setAlphaF(0.16)
        key = (colour.rgba(), period, round(scale, 3), dpr)
        if self._grid is None or self._grid[0] != key:
            tile = QPixmap(period, period)
            tile.fill(Qt.GlobalColor.transparent)
            p = QPainter(tile)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour)
            radius = max(0.8, 1.2 * scale)
            for x in (0.0, float(period)):
                for y in (0.0, float(period)):
                    p.drawEllipse(QPointF(x, y), radius, radius)
            p.end()
            tile.setDevicePixelRatio(dpr)
            self._grid = (key, QBrush(tile))
        return self._grid[1]

    def empty_hint(self) -> str:
        """The text the canvas shows over an empty design ("" once there is a layer)."""
        return "" if self.canvas.cards else EMPTY_HINT

    def _check_empty(self, _report=None) -> None:
        empty = not self.canvas.cards
        if empty != self._was_empty:
            self._was_empty = empty
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        text = self.empty_hint()
        if not text:
            return
        painter.save()
        painter.resetTransform()  # viewport pixels: the same size at any zoom
        colour = QColor(self.palette().color(QPalette.ColorRole.WindowText))
        colour.setAlphaF(0.6)
        painter.setPen(colour)
        font = painter.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(QRectF(self.viewport().rect()), Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        if not self.canvas.cards:  # the hint stays put: repaint rather than scroll its pixels
            self.viewport().update()

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange:
            self._grid = None
            self.resetCachedContent()
            for card in self.canvas.cards.values():
                card.update()
            for wire in self.canvas.wires.values():
                wire.restyle()
        super().changeEvent(event)
