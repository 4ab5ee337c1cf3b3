"""Canvas gestures as objects (after orange-canvas-core's document/interactions.py).

NewWireInteraction: press on a port, drag, release on another layer's port or card: a rubber
wire follows the mouse and the release connects the two (commands.connect; a refused connection
reaches the status bar through Document.error). LayerDrop: a layer type dragged from the palette
over the canvas shows where it would go and, dropped, adds it there. Rubber-band selection and
moving cards are Qt's own (QGraphicsView.RubberBandDrag, ItemIsMovable).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QPalette, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from .. import commands
from . import edits
from .items import CARD_H, CARD_W, NodeCard, PortItem, Wire, wire_path


class Interaction:
    """A mouse gesture the scene hands its events to until the gesture ends."""

    def __init__(self, scene):
        self.scene = scene

    def mouse_press(self, event) -> None:
        event.accept()

    def mouse_move(self, event) -> None:
        event.accept()

    def mouse_release(self, event) -> None:
        event.accept()
        self.end()

    def cancel(self) -> None:
        self.end()

    def end(self) -> None:
        if self.scene.interaction is self:
            self.scene.interaction = None


class NewWireInteraction(Interaction):
    """Drag a new wire out of a port onto another layer."""

    def __init__(self, scene, port: PortItem):
        super().__init__(scene)
        self.port = port
        self.card: NodeCard = port.card
        self.target: NodeCard | None = None
        self.target_port: PortItem | None = None
        self.rubber = QGraphicsPathItem()
        colour = QGuiApplication.palette().color(QPalette.ColorRole.Highlight)
        pen = QPen(colour, 2.2, Qt.PenStyle.DashLine)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.rubber.setPen(pen)
        self.rubber.setZValue(10)
        self.rubber.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        scene.addItem(self.rubber)
        port.set_highlighted(True)

    def _start(self) -> QPointF:
        return self.card.output_anchor() if self.port.kind == "out" else \
            self.card.input_anchor()

    def _target_at(self, pos: QPointF) -> tuple[NodeCard | None, PortItem | None]:
        for item in self.scene.items(pos):
            if item is self.rubber or isinstance(item, Wire):
                continue
            if isinstance(item, PortItem):
                if item.card is not self.card and item.kind != self.port.kind:
                    return item.card, item
                if item.card is not self.card:
                    return item.card, None
                return None, None
            if isinstance(item, NodeCard):
                return (item, None) if item is not self.card else (None, None)
            return None, None
        return None, None

    def _set_target(self, card: NodeCard | None, port: PortItem | None) -> None:
        if port is not self.target_port and self.target_port is not None:
            self.target_port.set_highlighted(False)
        if port is None and card is not None:  # a card: the port the wire would use
            port = card.in_port if self.port.kind == "out" else card.out_port
        self.target, self.target_port = card, port
        if port is not None:
            port.set_highlighted(True)

    def mouse_press(self, event) -> None:
        event.accept()
        self._draw(event.scenePos())

    def mouse_move(self, event) -> None:
        event.accept()
        card, port = self._target_at(event.scenePos())
        self._set_target(card, port)
        end = event.scenePos()
        if self.target_port is not None:
            end = self.target_port.anchor()
        self._draw(end)

    def _draw(self, end: QPointF) -> None:
        start = self._start()
        path = wire_path(start, end) if self.port.kind == "out" else wire_path(end, start)
        self.rubber.setPath(path)

    def mouse_release(self, event) -> None:
        event.accept()
        card, _ = self._target_at(event.scenePos())
        self.end()
        if card is None:
            return
        if self.port.kind == "out":
            src, dst = self.card.node_id, card.node_id
        else:
            src, dst = card.node_id, self.card.node_id
        commands.connect(self.scene.document, src, dst)

    def end(self) -> None:
        self.port.set_highlighted(False)
        if self.target_port is not None:
            self.target_port.set_highlighted(False)
        if self.rubber.scene() is not None:
            self.rubber.scene().removeItem(self.rubber)
        super().end()


class LayerDrop:
    """Where a layer dragged over the canvas would go, and adding it there on the drop.

    On a wire: inserted on that wire. On a card's output port or lower half, or in the gap
    just below a card (up to one card height): after that card (edits.drop_after: appended to
    a card nothing reads yet, inserted before its one consumer, a new branch beside a fork).
    On its input port or upper half: before it (on its single input wire). Elsewhere: an
    unconnected layer at the drop point. A block template goes after the layer it lands on.
    """

    GAP = CARD_H  # how far below a card a drop still means "after this card"

    def __init__(self, scene):
        self.scene = scene
        self._hinted: NodeCard | Wire | None = None

    def target(self, pos: QPointF) -> tuple[str, object]:
        for item in self.scene.items(QRectF(pos.x() - 3, pos.y() - 3, 6, 6)):
            if isinstance(item, PortItem):
                card = item.card
                if item.kind == "in" and len(card.wires_in) == 1:
                    return "wire", card.wires_in[0]
                return "after", card
            if isinstance(item, NodeCard):
                upper = pos.y() < item.y()
                if upper and len(item.wires_in) == 1 and item.y() - pos.y() > CARD_H / 6:
                    return "before", item
                return "after", item
            if isinstance(item, Wire) and item.shape().contains(pos):
                return "wire", item
        above = self._card_above(pos)
        if above is not None:
            return "after", above
        return "empty", None

    def _card_above(self, pos: QPointF) -> NodeCard | None:
        """The card whose bottom edge is at most GAP above `pos`, straight above it."""
        best, best_gap = None, None
        for item in self.scene.items(QRectF(pos.x() - 1, pos.y() - self.GAP, 2, self.GAP)):
            if not isinstance(item, NodeCard) or abs(item.x() - pos.x()) > CARD_W / 2:
                continue
            gap = pos.y() - (item.y() + CARD_H / 2)
            if 0 <= gap <= self.GAP and (best_gap is None or gap < best_gap):
                best, best_gap = item, gap
        return best

    def hover(self, pos: QPointF) -> str:
        kind, obj = self.target(pos)
        self.clear()
        if isinstance(obj, Wire):
            obj.set_drop_hint(True)
        elif kind == "before":
            obj.set_drop_hint("before")
        elif kind == "after":
            obj.set_drop_hint("after")
        self._hinted = obj
        return kind

    def clear(self) -> None:
        obj, self._hinted = self._hinted, None
        if obj is None or obj.scene() is None:
            return
        obj.set_drop_hint(False if isinstance(obj, Wire) else None)

    def drop(self, pos: QPointF, type_name: str) -> str | None:
        """Add the layer; returns its id (None where the edit was refused)."""
        kind, obj = self.target(pos)
        self.clear()
        doc = self.scene.document
        if kind == "wire":
            nid = edits.insert_on_wire(doc, self.scene, obj.src.node_id, obj.dst.node_id,
                                       type_name)
        elif kind == "before":
            wire = obj.wires_in[0]
            nid = edits.insert_on_wire(doc, self.scene, wire.src.node_id, obj.node_id,
                                       type_name)
        elif kind == "after":
            nid = edits.drop_after(doc, self.scene, type_name, obj.node_id)
        else:
            nid = edits.add_unconnected(doc, type_name, (pos.x(), pos.y()))
        if nid is not None:
            doc.select([nid])
        return nid

    def drop_block(self, pos: QPointF, kind: str) -> str | None:
        """A block template dropped on a card (or on a wire: after the wire's source) goes
        after that layer; returns the block's output id."""
        kind_at, obj = self.target(pos)
        self.clear()
        doc = self.scene.document
        if kind_at == "wire":
            after = obj.src.node_id
        elif kind_at == "before":
            after = obj.wires_in[0].src.node_id
        elif kind_at == "after":
            after = obj.node_id
        else:
            doc.error.emit(f"drop the {edits.BLOCKS[kind]} on the layer it should follow")
            return None
        return edits.insert_block(doc, self.scene, kind, after)

