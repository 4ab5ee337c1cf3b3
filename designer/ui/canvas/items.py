"""The canvas's graphics items: a layer card with its ports and fix badge, and a wire.

Items are thin: a card paints what its Node and LayerReport say (it formats, never computes a
shape) and forwards gestures to the scene (`request_fix`); the scene moves cards and re-routes
their wires. Card positions are the card's centre, the same numbers as `Node.pos`.

Built for 500-layer designs: no per-item effects or itemChange hooks, geometry in C++ where a
Qt item type fits (ports), cached bounding rectangles, tooltips made only when asked.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPathItem,
    QStyleOptionGraphicsItem,
)

from ...model.analysis import LayerReport
from ...model.layers import CATALOGUE
from ...model.network import Node
from ..theme import category_colour, severity_colour
from .texts import (  # noqa: F401 (re-exported: the card texts were defined here)
    _escape,
    _params_forms,
    hyper_text,
    params_text,
    shape_text,
    title_text,
    tooltip_text,
)

CARD_W = 170.0
CARD_H = 64.0
RADIUS = 8.0
PORT_R = 4.5
ROW = 100.0  # the layout's row height: wires longer than this are routed around cards

MIN_TEXT_PX = 9.0  # no text a card needs (its kind, its output volume) below this on screen
COMPACT_PX = 10.5  # the compact card's text on screen, whatever the zoom
_REF_PX = 100  # the compact font's metrics are measured at this size and scaled


def _palette() -> QPalette:
    return QGuiApplication.palette()


def text_px(font: QFont) -> float:
    """A font's size in canvas units: its pixel size on screen at 100 % zoom."""
    if font.pixelSize() > 0:
        return float(font.pixelSize())
    screen = QGuiApplication.primaryScreen()
    dpi = screen.logicalDotsPerInchY() if screen is not None else 96.0
    return font.pointSizeF() * dpi / 72.0


class _Fonts:
    """Fonts derived from the application font, made once a QApplication exists."""

    _made = False

    @classmethod
    def get(cls) -> type[_Fonts]:
        if not cls._made:
            base = QGuiApplication.font()
            size = base.pointSizeF() if base.pointSizeF() > 0 else 9.0
            cls.title = QFont(base)
            cls.title.setPointSizeF(size * 0.92)
            cls.title.setBold(True)
            cls.body = QFont(base)
            cls.body.setPointSizeF(size * 0.88)
            cls.small = QFont(base)
            cls.small.setPointSizeF(size * 0.8)
            cls.strong = QFont(cls.body)
            cls.strong.setWeight(QFont.Weight.DemiBold)
            cls.title_metrics = QFontMetricsF(cls.title)
            cls.small_metrics = QFontMetricsF(cls.small)
            cls.strong_metrics = QFontMetricsF(cls.strong)
            # the full card down to the zoom where its kind (title) or volume (strong) would
            # be drawn smaller than MIN_TEXT_PX on screen; the compact card below that
            cls.full_lod = MIN_TEXT_PX / min(text_px(cls.title), text_px(cls.strong))
            cls.compact_ref = QFont(base)
            cls.compact_ref.setWeight(QFont.Weight.DemiBold)
            cls.compact_ref.setPixelSize(_REF_PX)
            cls.compact_metrics = QFontMetricsF(cls.compact_ref)
            cls._compact: dict[int, QFont] = {}
            cls._made = True
        return cls

    @classmethod
    def compact(cls, px: int) -> QFont:
        font = cls._compact.get(px)
        if font is None:
            font = cls._compact[px] = QFont(cls.compact_ref)
            font.setPixelSize(px)
        return font


def compact_text(kind: str, volume: str, lod: float, width: float,
                 height: float) -> tuple[tuple[str, ...], QFont] | None:
    """The compact card's text at zoom `lod`: its kind and output volume at COMPACT_PX on
    screen (or no less than MIN_TEXT_PX), on two lines or one, in a box of width × height
    canvas units; None where even MIN_TEXT_PX does not fit (a plain box, zoomed far out)."""
    fonts = _Fonts.get()
    m = fonts.compact_metrics
    w_kind, w_volume = m.horizontalAdvance(kind), m.horizontalAdvance(volume)
    one = f"{kind}  {volume}" if volume else kind
    w_one = m.horizontalAdvance(one)
    for screen_px in (COMPACT_PX, MIN_TEXT_PX):
        px = math.ceil(screen_px / max(lod, 1e-6))
        scale = px / _REF_PX * 1.04  # (hinting: a little room)
        line = m.height() * scale
        if volume and 2 * line <= height and max(w_kind, w_volume) * scale <= width:
            return (kind, volume), fonts.compact(px)
        if line <= height and w_one * scale <= width:
            return (one,), fonts.compact(px)
    return None


def paint_compact(painter: QPainter, rect: QRectF, lines: tuple[str, ...], font: QFont,
                  colour: QColor) -> None:
    """The compact card's lines, centred in `rect`."""
    painter.setFont(font)
    painter.setPen(colour)
    fonts = _Fonts.get()
    h = fonts.compact_metrics.height() * font.pixelSize() / _REF_PX
    top = rect.center().y() - h * len(lines) / 2
    for i, line in enumerate(lines):
        painter.drawText(QRectF(rect.left() - 40, top + i * h, rect.width() + 80, h),
                         Qt.AlignmentFlag.AlignCenter, line)


# ------------------------------------------------------------------------------------- ports

class PortItem(QGraphicsEllipseItem):
    """A card's input (top) or output (bottom) port; dragging from one draws a new wire.
    (An ellipse item, so that its geometry stays in C++: a thousand of them index fast.)"""

    def __init__(self, card: NodeCard, kind: str):
        super().__init__(-8.0, -8.0, 16.0, 16.0, card)  # the hit area; the dot is smaller
        self.card = card
        self.kind = kind  # "in" | "out"
        self.hovered = False
        self.highlighted = False  # the target of a wire being drawn
        self.setPos(0.0, -CARD_H / 2 if kind == "in" else CARD_H / 2)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)

    def tooltip(self) -> str:
        return ("drag to another layer to connect this output" if self.kind == "out"
                else "drag to another layer to connect it to this input")

    def anchor(self) -> QPointF:
        return self.scenePos()

    def set_highlighted(self, on: bool) -> None:
        if on != self.highlighted:
            self.highlighted = on
            self.update()

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self.hovered = False
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pal = _palette()
        hot = self.hovered or self.highlighted
        r = PORT_R + (1.5 if hot else 0.0)
        colour = pal.color(QPalette.ColorRole.Highlight) if hot else self.card.border_colour()
        painter.setPen(QPen(colour, 1.6))
        painter.setBrush(colour if hot else pal.color(QPalette.ColorRole.Base))
        painter.drawEllipse(QPointF(0, 0), r, r)


class FixBadge(QGraphicsObject):
    """The small 'fix' pill on a card with a fixable issue; a click applies the first fix."""

    W, H = 28.0, 15.0
    _BOUNDS = QRectF(-W / 2 - 1, -H / 2 - 1, W + 2, H + 2)

    def __init__(self, card: NodeCard):
        super().__init__(card)
        self.card = card
        self.severity = "warning"
        self.setPos(CARD_W / 2 - self.W / 2 - 6, -CARD_H / 2)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setZValue(3)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._BOUNDS

    def tooltip(self) -> str:
        fix = self.card.fix
        return f"Fix: {fix.label}" if fix is not None else ""

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = QRectF(-self.W / 2, -self.H / 2, self.W, self.H)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(severity_colour(self.severity))
        painter.drawRoundedRect(rect, self.H / 2, self.H / 2)
        painter.setPen(QColor("white"))
        painter.setFont(_Fonts.get().small)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "fix")

    def mousePressEvent(self, event) -> None:  # noqa: N802
        event.accept()  # keep the press from selecting or dragging the card

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self.boundingRect().contains(event.pos()):
            scene = self.scene()
            if scene is not None and hasattr(scene, "request_fix"):
                scene.request_fix(self.card.node_id)


class HintMarker(QGraphicsObject):
    """A small lightbulb at a card's top-left corner: the layer has design hints (the Hints
    panel explains them); the tooltip lists their titles."""

    R = 6.0
    _BOUNDS = QRectF(-R - 1, -R - 1, 2 * R + 2, 2 * R + 4)
    COLOUR = "#eab308"

    def __init__(self, card: NodeCard):
        super().__init__(card)
        self.titles: tuple[str, ...] = ()
        self.setPos(-CARD_W / 2 + 2, -CARD_H / 2 + 2)
        self.setZValue(3)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._BOUNDS

    def tooltip(self) -> str:
        n = len(self.titles)
        head = f"<b>{n} design hint{'s' if n != 1 else ''}</b> (see the Hints panel)"
        return "<br>".join([head] + [f"💡 {_escape(t)}" for t in self.titles])

    def paint(self, painter: QPainter, option, widget=None) -> None:
        r = self.R
        colour = QColor(self.COLOUR)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour.darker(140), 1.0))
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(0, -1), r - 1.5, r - 1.5)  # the bulb
        painter.setPen(QPen(colour.darker(170), 1.6))
        painter.drawLine(QPointF(-2, r - 1.5), QPointF(2, r - 1.5))  # its base
        painter.drawLine(QPointF(-1.5, r + 0.8), QPointF(1.5, r + 0.8))


# ------------------------------------------------------------------------------------- cards

class NodeCard(QGraphicsObject):
    """One layer: a rounded box coloured by category with its type, hyperparameters, output
    volume and parameter count; outlined red on an error, amber on a warning."""

    _BOUNDS = QRectF(-CARD_W / 2 - 6, -CARD_H / 2 - 6, CARD_W + 12, CARD_H + 12)
    _RECT = QRectF(-CARD_W / 2, -CARD_H / 2, CARD_W, CARD_H)

    def __init__(self, node: Node, report: LayerReport | None):
        super().__init__()
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.wires_in: list[Wire] = []
        self.wires_out: list[Wire] = []
        self.in_port: PortItem | None = None
        self.out_port = PortItem(self, "out")
        self.badge: FixBadge | None = None
        self.hint_marker: HintMarker | None = None  # made when the layer first has hints
        self.drop_hint: str | None = None  # "after" | "before" while a layer is dragged over
        self.node: Node = node
        self.report: LayerReport | None = report
        self.set_content(node, report)

    # ------------------------------------------------------------------------- content

    @property
    def node_id(self) -> str:
        return self.node.id

    def set_content(self, node: Node, report: LayerReport | None) -> None:
        """Show this node and its report (the scene calls it only when either changed)."""
        self.node = node
        self.report = report
        layer = CATALOGUE[node.type]
        self.category = layer.category
        wants_in = layer.max_inputs != 0
        if wants_in and self.in_port is None:
            self.in_port = PortItem(self, "in")
        elif not wants_in and self.in_port is not None:
            port, self.in_port = self.in_port, None
            if port.scene() is not None:
                port.scene().removeItem(port)
            else:
                port.setParentItem(None)
        self.title = title_text(node)
        self.kind = layer.alias or node.type  # the compact card's word for it
        self.name = node.label or node.id
        self.hyper = hyper_text(node)
        self.shape_str = shape_text(report)
        self.params_str = params_text(report)
        self.params_forms = _params_forms(report)
        issues = report.issues if report is not None else ()
        self.severity = ("error" if any(i.severity == "error" for i in issues)
                         else "warning" if any(i.severity == "warning" for i in issues) else None)
        self.fix = next((f for i in issues if i.severity in ("error", "warning")
                         for f in i.fixes[:1]), None)
        if self.fix is not None:
            if self.badge is None:
                self.badge = FixBadge(self)
            self.badge.severity = "error" if self.severity == "error" else "warning"
            self.badge.setVisible(True)
            self.badge.update()
        elif self.badge is not None:
            self.badge.setVisible(False)
        self.update()

    def set_hints(self, titles: tuple[str, ...]) -> None:
        """Mark the card when the layer has design hints (their titles, for the tooltip)."""
        if titles and self.hint_marker is None:
            self.hint_marker = HintMarker(self)
        if self.hint_marker is not None:
            self.hint_marker.titles = titles
            self.hint_marker.setVisible(bool(titles))

    @property
    def hint_titles(self) -> tuple[str, ...]:
        marker = self.hint_marker
        return marker.titles if marker is not None and marker.isVisible() else ()

    def tooltip(self) -> str:
        """What the card's tooltip says: its name, type, what it does, and its issues with
        their reasons and fixes (made when asked: most cards are never hovered)."""
        return tooltip_text(self.node, self.report)

    def text_lines(self) -> list[str]:
        """The text the card shows, line by line."""
        return [f"{self.title}  {self.name}", self.hyper,
                f"{self.shape_str}  {self.params_str}".strip()]

    def set_drop_hint(self, hint: str | None) -> None:
        if hint != self.drop_hint:
            self.drop_hint = hint
            self.update()

    # ------------------------------------------------------------------------- geometry

    def input_anchor(self, index: int = 0, count: int = 1) -> QPointF:
        """Where input wire `index` of `count` ends: spread along the top for a merge."""
        step = min(18.0, (CARD_W - 60.0) / max(count, 1))
        return self.scenePos() + QPointF((index - (count - 1) / 2) * step, -CARD_H / 2)

    def output_anchor(self) -> QPointF:
        return self.scenePos() + QPointF(0.0, CARD_H / 2)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._BOUNDS

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._RECT, RADIUS, RADIUS)
        return path

    def update_wires(self) -> None:
        """Re-route the wires at this card (the scene calls it whenever the card moves)."""
        for wire in self.wires_in:
            wire.update_path()
        for wire in self.wires_out:
            wire.update_path()

    # ------------------------------------------------------------------------- painting

    def fill_colour(self) -> QColor:
        return category_colour(self.category)

    def border_colour(self) -> QColor:
        if self.severity is not None:
            return severity_colour(self.severity)
        fill = self.fill_colour()
        return fill.darker(150) if fill.lightness() > 128 else fill.lighter(170)

    def detail(self, lod: float) -> str:
        """How much the card shows at zoom `lod`: "full" (three lines: type and name,
        hyperparameters, volume and parameters), "compact" (its kind and output volume in a
        font of COMPACT_PX on screen, whatever the zoom) or "box" (too small for any text)."""
        if lod >= _Fonts.get().full_lod:
            return "full"
        return "compact" if self._compact(lod) is not None else "box"

    def _compact(self, lod: float):
        return compact_text(self.kind, self.shape_str, lod, CARD_W - 12, CARD_H - 6)

    def label_lines(self, lod: float) -> list[tuple[str, QFont]]:
        """The texts the card draws at zoom `lod`, each with its font (canvas units): what a
        person reads off it there."""
        detail = self.detail(lod)
        fonts = _Fonts.get()
        if detail == "full":
            return [(self.title, fonts.title), (self.hyper, fonts.body),
                    (self.shape_str, fonts.strong)]
        if detail == "compact":
            lines, font = self._compact(lod)
            return [(line, font) for line in lines]
        return []

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        pal = _palette()
        rect = self._RECT
        selected = self.isSelected()  # (option.state would build QStyle's enums at start-up)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if selected:
            pen = QPen(pal.color(QPalette.ColorRole.Highlight), 3.0)
            if lod < 0.5:  # stays visible zoomed out
                pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-3.5, -3.5, 3.5, 3.5), RADIUS + 3, RADIUS + 3)
        detail = "full" if lod >= _Fonts.get().full_lod else None
        compact = None if detail else self._compact(lod)
        if detail is None and compact is None:  # an overview: solid boxes, thin outlines
            pen = QPen(self.border_colour(), 2.0 if self.severity else 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(self.fill_colour().darker(112))
            painter.drawRect(rect)
            return
        pen = QPen(self.border_colour(), 2.4 if self.severity else 1.2)
        if detail is None:
            pen = QPen(self.border_colour(), 2.0 if self.severity else 1.0)
            pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(self.fill_colour())
        painter.drawRoundedRect(rect, RADIUS, RADIUS)
        if self.drop_hint is not None:
            y = CARD_H / 2 if self.drop_hint == "after" else -CARD_H / 2
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 4.0,
                                Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(QPointF(-CARD_W / 2 + 12, y), QPointF(CARD_W / 2 - 12, y))
        if compact is not None:
            paint_compact(painter, rect, *compact, pal.color(QPalette.ColorRole.WindowText))
        else:
            self._paint_text(painter, pal)

    def _paint_text(self, painter: QPainter, pal: QPalette) -> None:
        fonts = _Fonts.get()
        text = pal.color(QPalette.ColorRole.WindowText)
        dim = QColor(text)
        dim.setAlphaF(0.62)
        left = -CARD_W / 2 + 10
        inner = CARD_W - 20
        top = -CARD_H / 2 + 4
        line_h = (CARD_H - 8) / 3
        align_l = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        align_r = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

        # line 1: the type in bold, and the layer's name where it fits
        painter.setFont(fonts.title)
        painter.setPen(text)
        title_w = min(fonts.title_metrics.horizontalAdvance(self.title), inner)
        title = fonts.title_metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, inner)
        painter.drawText(QRectF(left, top, inner, line_h), align_l, title)
        badge = FixBadge.W if self.badge is not None and self.badge.isVisible() else 0.0
        room = inner - title_w - 8 - badge
        if room >= 56 or fonts.small_metrics.horizontalAdvance(self.name) <= room:
            painter.setFont(fonts.small)
            painter.setPen(dim)
            name = fonts.small_metrics.elidedText(self.name, Qt.TextElideMode.ElideLeft, room)
            painter.drawText(QRectF(left + title_w + 8, top, room, line_h), align_r, name)

        # line 2: the hyperparameters
        painter.setFont(fonts.body)
        painter.setPen(text)
        painter.drawText(QRectF(left, top + line_h, inner, line_h), align_l, self.hyper)

        # line 3: the output volume and the parameter count
        r3 = QRectF(left, top + 2 * line_h, inner, line_h)
        painter.setFont(fonts.strong)
        painter.setPen(text if self.report is not None and self.report.shape else dim)
        painter.drawText(r3, align_l, self.shape_str)
        if self.params_forms:
            room = inner - fonts.strong_metrics.horizontalAdvance(self.shape_str) - 8
            painter.setFont(fonts.small)
            painter.setPen(dim)
            for form in self.params_forms:
                if fonts.small_metrics.horizontalAdvance(form) <= room:
                    painter.drawText(r3, align_r, form)
                    break


# ------------------------------------------------------------------------------------- wires

def wire_path(p1: QPointF, p2: QPointF, side: float | None = None) -> QPainterPath:
    """A wire from an output port (p1) down to an input port (p2): a vertical S-curve; a wire
    spanning several rows runs straight down and bends in the last gap, or — where `side` is
    given because cards block the way — runs down at x = side."""
    x1, y1, x2, y2 = p1.x(), p1.y(), p2.x(), p2.y()
    dy = y2 - y1
    path = QPainterPath(p1)
    if side is not None:
        bend = min(28.0, max(dy / 4, 8.0))
        path.cubicTo(x1, y1 + bend, side, y1 + 4, side, y1 + bend * 1.6)
        path.lineTo(side, y2 - bend * 1.6)
        path.cubicTo(side, y2 - 4, x2, y2 - bend, x2, y2)
    elif dy > ROW * 1.5 and abs(x2 - x1) > 1.0:
        gap = ROW - CARD_H
        path.lineTo(x1, y2 - gap)
        k = gap * 0.6
        path.cubicTo(x1, y2 - gap + k, x2, y2 - k, x2, y2)
    elif dy >= 12.0:
        k = max(dy * 0.5, 10.0)
        path.cubicTo(x1, y1 + k, x2, y2 - k, x2, y2)
    else:  # the input is above the output: loop out and back in
        k = 60.0 + min(abs(dy), 200.0) * 0.3
        path.cubicTo(x1, y1 + k, x2, y2 - k, x2, y2)
    return path


_PICK = 6.0  # a wire is picked within this distance (half its pick stroke's width)


class Wire(QGraphicsPathItem):
    """The connection from `src`'s output to input `index` (of `count`) of `dst`."""

    def __init__(self, src: NodeCard, dst: NodeCard, index: int, count: int):
        super().__init__()
        self.src = src
        self.dst = dst
        self.index = index
        self.count = count
        self.hovered = False
        self.drop_hint = False
        self._styled_selected = False
        self._shape: QPainterPath | None = None  # (made when first asked for: shape())
        self._route: tuple | None = None  # the ends and the lane its path was made for
        self._bounds = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        src.wires_out.append(self)
        dst.wires_in.append(self)
        self.restyle()

    @property
    def key(self) -> tuple[str, str]:
        return (self.src.node_id, self.dst.node_id)

    def tooltip(self) -> str:
        return f"{self.src.node_id} → {self.dst.node_id} (select it and press Delete to remove)"

    def detach(self) -> None:
        if self in self.src.wires_out:
            self.src.wires_out.remove(self)
        if self in self.dst.wires_in:
            self.dst.wires_in.remove(self)

    def set_slot(self, index: int, count: int) -> None:
        if (index, count) != (self.index, self.count):
            self.index, self.count = index, count
            self.update_path()

    def update_path(self) -> None:
        p1 = self.src.output_anchor()
        p2 = self.dst.input_anchor(self.index, self.count)
        side = self._detour(p1, p2) if p2.y() - p1.y() > ROW * 1.5 else None
        route = (p1.x(), p1.y(), p2.x(), p2.y(), side)
        if route == self._route:
            return  # (its path is a function of these: a stage expanded again finds most so)
        self._route = route
        path = wire_path(p1, p2, side)
        self.prepareGeometryChange()
        # the area a click picks it by (a stroke 12 wide) is made when first asked for: an
        # expanded stage re-routes a hundred wires, and the mouse finds few of them
        self._shape = None
        self._bounds = path.boundingRect().adjusted(-_PICK, -_PICK, _PICK, _PICK)
        self.setPath(path)

    def _detour(self, p1: QPointF, p2: QPointF) -> float | None:
        """x of a free lane beside the cards that sit on the straight way down, or None."""
        scene = self.scene()
        top = p1.y() + 6
        bottom = p2.y() - (ROW - CARD_H) - 6
        if scene is None or bottom <= top or not hasattr(scene, "cards_across"):
            return None
        blockers = [c for c in scene.cards_across(p1.x(), top, bottom)
                    if c is not self.src and c is not self.dst]
        if not blockers:
            return None
        right = max(b.x() for b in blockers) + CARD_W / 2
        return max(right, p1.x(), p2.x()) + 22.0

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(2 * _PICK)
            self._shape = stroker.createStroke(self.path())
        return self._shape

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = self.pen()  # the pen shows the selection: no dashed box around it
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod * pen.widthF() < 1.0:  # zoomed far out: keep the wire a pixel wide
            pen = QPen(pen)
            pen.setCosmetic(True)
            pen.setWidthF(1.0)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())

    def set_drop_hint(self, on: bool) -> None:
        if on != self.drop_hint:
            self.drop_hint = on
            self.restyle()

    def hoverEnterEvent(self, event) -> None:  # noqa: N802
        self.hovered = True
        self.restyle()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self.hovered = False
        self.restyle()

    _plain: tuple[int, QPen] | None = None  # (the palette's key, the pen of a plain wire)

    def restyle(self) -> None:
        """Pick the pen for the wire's state (the scene calls it when the selection changes)."""
        pal = _palette()
        selected = self.isSelected()
        self._styled_selected = selected
        if not (selected or self.hovered or self.drop_hint):
            # (most wires: one pen for all, made again when the palette changes)
            plain = Wire._plain
            if plain is None or plain[0] != pal.cacheKey():
                colour = QColor(pal.color(QPalette.ColorRole.WindowText))
                colour.setAlphaF(0.45)
                pen = QPen(colour, 1.8)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                plain = Wire._plain = (pal.cacheKey(), pen)
            self.setPen(plain[1])
            return
        if selected or self.hovered or self.drop_hint:
            colour = pal.color(QPalette.ColorRole.Highlight)
            width = 3.2 if selected or self.drop_hint else 2.6
        else:
            colour = QColor(pal.color(QPalette.ColorRole.WindowText))
            colour.setAlphaF(0.45)
            width = 1.8
        pen = QPen(colour, width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        if self.drop_hint:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
