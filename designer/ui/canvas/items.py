"""The canvas's graphics items: a layer card with its ports and fix badge, and a wire.

Items are thin: a card paints what its Node and LayerReport say (it formats, never computes a
shape) and forwards gestures to the scene (`request_fix`); the scene moves cards and re-routes
their wires. Card positions are the card's centre, the same numbers as `Node.pos`.

Built for 500-layer designs: no per-item effects or itemChange hooks, geometry in C++ where a
Qt item type fits (ports), cached bounding rectangles, tooltips made only when asked.
"""

from __future__ import annotations

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
from ...model.layers import CATALOGUE, fmt_shape
from ...model.network import Node
from ...model.units import format_count
from ..theme import category_colour, severity_colour

CARD_W = 170.0
CARD_H = 64.0
RADIUS = 8.0
PORT_R = 4.5
ROW = 100.0  # the layout's row height: wires longer than this are routed around cards

_LOW_DETAIL = 0.4  # below this zoom cards are drawn as plain boxes


def _palette() -> QPalette:
    return QGuiApplication.palette()


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
            cls._made = True
        return cls


# ------------------------------------------------------------------------------------- texts

def title_text(node: Node) -> str:
    """'CONV · Conv2d': the notes' name first, where the layer has one."""
    alias = CATALOGUE[node.type].alias
    return f"{alias} · {node.type}" if alias else node.type


_DESCRIPTIONS = {"ReLU": "max(0, x)", "Sigmoid": "σ(x)", "Tanh": "tanh(x)",
                 "BatchNorm2d": "per depth slice", "Flatten": "volume → vector"}


def hyper_text(node: Node) -> str:
    """The hyperparameters a person reads off a card: '3×3 /1 pad 1 · 64', '2×2 /2', '→ 10'."""
    p = node.params
    t = node.type
    if t == "Conv2d":
        k = p["kernel_size"]
        text = f"{k}×{k} /{p['stride']} pad {p['padding']}"
        if p["dilation"] != 1:
            text += f" dil {p['dilation']}"
        if p["groups"] != 1:
            text += f" groups {p['groups']}"
        return f"{text} · {p['out_channels']}"
    if t in ("MaxPool2d", "AvgPool2d"):
        k = p["kernel_size"]
        text = f"{k}×{k} /{p['stride']}"
        if p["padding"]:
            text += f" pad {p['padding']}"
        if p.get("ceil_mode"):
            text += " ceil"
        return text
    if t == "AdaptiveAvgPool2d":
        o = p["output_size"]
        return "global average" if o == 1 else f"→ {o}×{o}"
    if t == "Linear":
        return f"→ {p['out_features']}"
    if t == "Input":
        return "image"
    if t == "LeakyReLU":
        return f"slope {p['negative_slope']:g}"
    if t == "ELU":
        return f"α {p['alpha']:g}"
    if t == "GELU":
        return "x·Φ(x), tanh approx." if p["approximate"] == "tanh" else "x·Φ(x)"
    if t in ("Dropout", "Dropout2d"):
        return f"p = {p['p']:g}"
    if t == "LocalResponseNorm":
        return f"size {p['size']}"
    if t in ("Add", "Concat"):
        n = len(node.inputs)
        how = "sum" if t == "Add" else "along depth"
        return f"{how} of {n} input{'s' if n != 1 else ''}"
    return _DESCRIPTIONS.get(t, "")


def shape_text(report: LayerReport | None) -> str:
    return fmt_shape(report.shape if report is not None else None)


def params_text(report: LayerReport | None) -> str:
    if report is None or not report.params:
        return ""
    word = "frozen" if report.frozen else "param" if report.params == 1 else "params"
    return f"{format_count(report.params)} {word}"


def _params_forms(report: LayerReport | None) -> tuple[str, ...]:
    """The parameter count from the longest way of writing it to the shortest ("frozen" in
    place of "params" for a frozen layer's)."""
    if report is None or not report.params:
        return ()
    n = report.params
    short = format_count(n) if n >= 100_000 else f"{n / 1000:.3g} K" if n >= 1000 else str(n)
    if report.frozen:
        return (f"{format_count(n)} frozen", f"{short} frozen", "frozen")
    word = "param" if n == 1 else "params"
    return (f"{format_count(n)} {word}", f"{short} {word}", short)


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tooltip_text(node: Node, report: LayerReport | None) -> str:
    layer = CATALOGUE[node.type]
    lines = [f"<b>{_escape(node.label or node.id)}</b> — {_escape(title_text(node))}",
             _escape(layer.doc)]
    if node.frozen:
        lines.append("Frozen: a fine-tune keeps its weights as they are")
    if report is not None:
        for issue in report.issues:
            mark = {"error": "✖", "warning": "⚠"}.get(issue.severity, "•")
            lines.append(f"{mark} {_escape(issue.message)}")
            for fix in issue.fixes[:3]:
                lines.append(f"&nbsp;&nbsp;→ fix: {_escape(fix.label)}")
    return "<br>".join(lines)


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

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        pal = _palette()
        rect = self._RECT
        selected = self.isSelected()  # (option.state would build QStyle's enums at start-up)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if selected:
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 3.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-3.5, -3.5, 3.5, 3.5), RADIUS + 3, RADIUS + 3)
        if lod < _LOW_DETAIL:  # an overview: solid boxes, outlines a pixel or two wide
            pen = QPen(self.border_colour(), 2.0 if self.severity else 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(self.fill_colour().darker(112))
            painter.drawRect(rect)
            return
        painter.setPen(QPen(self.border_colour(), 2.4 if self.severity else 1.2))
        painter.setBrush(self.fill_colour())
        painter.drawRoundedRect(rect, RADIUS, RADIUS)
        if self.drop_hint is not None:
            y = CARD_H / 2 if self.drop_hint == "after" else -CARD_H / 2
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 4.0,
                                Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(QPointF(-CARD_W / 2 + 12, y), QPointF(CARD_W / 2 - 12, y))
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
        self._shape = QPainterPath()
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
        path = wire_path(p1, p2, side)
        self.prepareGeometryChange()
        stroker = QPainterPathStroker()
        stroker.setWidth(12.0)
        self._shape = stroker.createStroke(path)
        self._bounds = self._shape.boundingRect()
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

    def restyle(self) -> None:
        """Pick the pen for the wire's state (the scene calls it when the selection changes)."""
        pal = _palette()
        selected = self.isSelected()
        self._styled_selected = selected
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
