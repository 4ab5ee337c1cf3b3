"""The canvas's blocks: a collapsed block is one card (BlockCard) with the block's name, its
in → out volume, parameters, MACs, receptive field and the issues inside it; an expanded block is
a frame behind its layers (BlockFrame). Both have a ▸/▾ toggle that collapses or expands the
block with one click (scene.request_toggle).

The figures are the Report's, summed by model/blocks.summary: the items only format them.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem

from ...model.blocks import Block, BlockSummary
from ...model.layers import fmt_shape
from ...model.units import format_count, plural
from ..theme import is_dark, severity_colour
from .items import (
    CARD_H,
    CARD_W,
    RADIUS,
    NodeCard,
    _escape,
    _Fonts,
    _palette,
    compact_text,
    paint_compact,
)

BLOCK_COLOURS = ("#ede9fe", "#34305a")  # light, dark
_TX_SCALE = QTransform.TransformationType.TxScale.value
FRAME_PAD = 12.0
HEADER_H = 18.0


def block_colour() -> QColor:
    return QColor(BLOCK_COLOURS[1] if is_dark() else BLOCK_COLOURS[0])


_TIGHT: list = []


def _tight() -> QFont:
    """The volumes' font with its letters closer (88 %), for a long in -> out line."""
    if not _TIGHT:
        font = QFont(_Fonts.get().strong)
        font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 88)
        _TIGHT[:] = [font, QFontMetricsF(font)]
    return _TIGHT[0]


def _tight_metrics() -> QFontMetricsF:
    _tight()
    return _TIGHT[1]


def _volumes_line(in_str: str, out_str: str, width: float) -> tuple[QFont, str]:
    """'in → out' in the volumes' font; without the spaces; with the letters closer; else
    elided from the left (the output volume is kept)."""
    strong, tight = _Fonts.get().strong, _tight()
    close = f"{in_str}→{out_str}"
    for font, line in ((strong, f"{in_str} → {out_str}"), (strong, close), (tight, close)):
        if QFontMetricsF(font).horizontalAdvance(line) <= width:
            return font, line
    return tight, _tight_metrics().elidedText(close, Qt.TextElideMode.ElideLeft, width)


def _fitting(metrics, width: float, texts, elide) -> str:
    """The first of `texts` that fits `width`, else the last one elided."""
    texts = list(texts) or [""]
    for t in texts:
        if metrics.horizontalAdvance(t) <= width:
            return t
    return metrics.elidedText(texts[-1], elide, width)


def field_text(field: tuple | None) -> str:
    if not field:
        return ""
    h, w = field[0], field[1]
    return f"RF {w}" if w == h else f"RF {w}×{h}"


class BlockToggle(QGraphicsObject):
    """The ▸ (collapsed) or ▾ (expanded) mark: one click expands or collapses the block."""

    SIZE = 16.0
    _BOUNDS = QRectF(-SIZE / 2, -SIZE / 2, SIZE, SIZE)

    def __init__(self, parent: QGraphicsItem, block_id: str):
        super().__init__(parent)
        self.block_id = block_id
        self.collapsed = True
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setZValue(3)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._BOUNDS

    def tooltip(self) -> str:
        return "Expand the block in place" if self.collapsed else "Collapse the block to one card"

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_palette().color(QPalette.ColorRole.WindowText))
        r = 4.5
        if self.collapsed:  # ▸
            points = [QPointF(-r * 0.6, -r), QPointF(r, 0), QPointF(-r * 0.6, r)]
        else:  # ▾
            points = [QPointF(-r, -r * 0.6), QPointF(r, -r * 0.6), QPointF(0, r)]
        painter.drawPolygon(points)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        event.accept()  # not a press on the card: no selection, no drag

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self.boundingRect().contains(event.pos()):
            scene = self.scene()
            if scene is not None and hasattr(scene, "request_toggle"):
                scene.request_toggle(self.block_id)


class BlockCard(QGraphicsObject):
    """A collapsed block: one card that stands for its layers; wires to and from them attach
    here. Drawn as a stack of cards, with the block's figures."""

    _BOUNDS = QRectF(-CARD_W / 2 - 6, -CARD_H / 2 - 6, CARD_W + 12, CARD_H + 12)
    _RECT = QRectF(-CARD_W / 2, -CARD_H / 2, CARD_W, CARD_H)

    def __init__(self, block: Block, summary: BlockSummary | None):
        super().__init__()
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.wires_in: list = []
        self.wires_out: list = []
        self._look = 0  # what it shows, counted up at each change (set_content)
        self._drawn: tuple | None = None  # (key, pixmap, its offset): paint()
        self._compact_at: tuple | None = None  # (look, zoom, the compact text): _compact()
        self.toggle = BlockToggle(self, block.id)
        self.toggle.setPos(-CARD_W / 2 + 11, -CARD_H / 2 + 12)
        self.set_content(block, summary)

    @property
    def node_id(self) -> str:
        return self.block.id

    @property
    def members(self) -> tuple[str, ...]:
        return self.block.members

    def set_content(self, block: Block, summary: BlockSummary | None) -> None:
        self.block = block
        self.summary = summary
        self.toggle.block_id = block.id
        # what the block is: its kind, or for a plain group its name ("stem", "head")
        self.kind = block.name if block.kind == "group" and block.name else block.title
        self.name = block.name or block.id
        s = summary
        self.shape_str = fmt_shape(s.out_shape) if s is not None else fmt_shape(None)
        self.in_str = fmt_shape(s.in_shape) if s is not None else fmt_shape(None)
        figures = []
        if s is not None:
            if s.params:
                figures.append(f"{format_count(s.params)} params")
            if s.macs:
                figures.append(f"{format_count(s.macs)} MACs")
            if s.field:
                figures.append(field_text(s.field))
        self.figures = " · ".join(figures)
        self.errors = s.errors if s is not None else 0
        self.warnings = s.warnings if s is not None else 0
        self.severity = "error" if self.errors else "warning" if self.warnings else None
        self._look += 1  # (what paint() keeps drawn is out of date)
        self.update()

    def issues_text(self) -> str:
        """'2 ⚠' style count of the issues inside ('' when there are none)."""
        parts = []
        if self.errors:
            parts.append(f"{self.errors} ✖")
        if self.warnings:
            parts.append(f"{self.warnings} ⚠")
        return "  ".join(parts)

    def text_lines(self) -> list[str]:
        return [f"{self.kind}  {self.name}", f"{self.in_str} → {self.shape_str}",
                self.figures, self.issues_text()]

    def tooltip(self) -> str:
        s = self.summary
        lines = [f"<b>{_escape(self.name)}</b> — {_escape(self.kind)}, "
                 f"{plural(len(self.block.members), 'layer')} (collapsed)",
                 f"{_escape(self.in_str)} → {_escape(self.shape_str)}"]
        if s is not None:
            lines.append(_escape(self.figures))
            if s.errors or s.warnings:
                lines.append(f"{plural(s.errors, 'error')}, {plural(s.warnings, 'warning')} "
                             "inside")
        lines.append("Click ▸ (or double-click) to expand it in place")
        return "<br>".join(lines)

    # ------------------------------------------------------------------------- geometry

    # a layer's card's: wires end where they do on it, it is as big (its own _BOUNDS, _RECT)
    input_anchor = NodeCard.input_anchor
    output_anchor = NodeCard.output_anchor
    boundingRect = NodeCard.boundingRect  # noqa: N815 (Qt's name)
    shape = NodeCard.shape
    update_wires = NodeCard.update_wires

    # ------------------------------------------------------------------------- level of detail

    def _compact(self, lod: float):
        known = self._compact_at  # (the text is measured: once per zoom and content)
        if known is None or known[0] != self._look or known[1] != lod:
            known = self._compact_at = (self._look, lod, compact_text(
                self.kind, self.shape_str, lod, CARD_W - 30, CARD_H - 6))
        return known[2]

    def detail(self, lod: float) -> str:
        if lod >= _Fonts.get().full_lod:
            return "full"
        return "compact" if self._compact(lod) is not None else "box"

    def label_lines(self, lod: float) -> list[tuple[str, QFont]]:
        detail = self.detail(lod)
        fonts = _Fonts.get()
        if detail == "full":
            return [(f"{self.kind}  {self.name}", fonts.title),
                    (f"{self.in_str} → {self.shape_str}", fonts.strong),
                    (self.figures, fonts.small)]
        if detail == "compact":
            lines, font = self._compact(lod)
            return [(line, font) for line in lines]
        return []

    # ------------------------------------------------------------------------- painting

    def fill_colour(self) -> QColor:
        return block_colour()

    def border_colour(self) -> QColor:
        if self.severity is not None:
            return severity_colour(self.severity)
        fill = self.fill_colour()
        return fill.darker(160) if fill.lightness() > 128 else fill.lighter(180)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        """The card as last drawn at this zoom and pixel phase, drawn again only when what it
        shows, its selection or the palette changed. (Qt's own device cache of the item is
        dropped whenever the card is hidden: a stage expanded again would draw every card of
        it anew.)"""
        world = painter.worldTransform()
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(world)
        full = lod >= _Fonts.get().full_lod
        compact = None if full else self._compact(lod)
        self.toggle.setVisible(full or compact is not None)
        device = painter.device()
        if device is None or world.type().value > _TX_SCALE:  # (turned or sheared: drawn)
            self._draw(painter, lod, full, compact)
            return
        dpr = device.devicePixelRatioF()
        dx, dy = world.dx(), world.dy()
        key = (self._look, self.isSelected(), world.m11(), world.m22(), dpr,
               round((dx - math.floor(dx)) * 64), round((dy - math.floor(dy)) * 64),
               _palette().cacheKey())
        drawn = self._drawn
        if drawn is None or drawn[0] != key:
            bounds = world.mapRect(self.boundingRect())  # in device pixels
            left, top = math.floor(bounds.left()) - 1, math.floor(bounds.top()) - 1
            width = math.ceil(bounds.right()) + 1 - left
            height = math.ceil(bounds.bottom()) + 1 - top
            pixmap = QPixmap(max(1, round(width * dpr)), max(1, round(height * dpr)))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            p = QPainter(pixmap)
            p.setRenderHints(painter.renderHints())
            p.setTransform(world * QTransform.fromTranslate(-left, -top))
            self._draw(p, lod, full, compact)
            p.end()
            drawn = self._drawn = (key, pixmap, left - dx, top - dy)
        painter.save()
        painter.resetTransform()
        painter.drawPixmap(QPointF(round(dx + drawn[2]), round(dy + drawn[3])), drawn[1])
        painter.restore()

    def _draw(self, painter: QPainter, lod: float, full: bool, compact) -> None:
        pal = _palette()
        rect = self._RECT
        fonts = _Fonts.get()
        if self.isSelected():
            pen = QPen(pal.color(QPalette.ColorRole.Highlight), 3.0)
            pen.setCosmetic(lod < 0.5)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-3.5, -3.5, 3.5, 3.5), RADIUS + 3, RADIUS + 3)
        pen = QPen(self.border_colour(), 2.4 if self.severity else 1.2)
        if not full:
            pen = QPen(self.border_colour(), 2.0 if self.severity else 1.0)
            pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(self.fill_colour().darker(108))
        painter.drawRoundedRect(rect.translated(4, 4), RADIUS, RADIUS)  # the stack behind
        painter.setBrush(self.fill_colour())
        painter.drawRoundedRect(rect, RADIUS, RADIUS)
        text = pal.color(QPalette.ColorRole.WindowText)
        if compact is not None:
            paint_compact(painter, rect.adjusted(18, 0, 0, 0), *compact, text)
            return
        if not full:
            return
        dim = QColor(text)
        dim.setAlphaF(0.62)
        left, inner = -CARD_W / 2 + 22, CARD_W - 30
        line_h = (CARD_H - 8) / 3
        top = -CARD_H / 2 + 4
        align_l = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        align_r = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.setFont(fonts.title)
        painter.setPen(text)
        title_w = min(fonts.title_metrics.horizontalAdvance(self.kind), inner)
        painter.drawText(QRectF(left, top, inner, line_h), align_l, self.kind)
        room = inner - title_w - 8
        if room > 20:
            painter.setFont(fonts.small)
            painter.setPen(dim)
            name = fonts.small_metrics.elidedText(self.name, Qt.TextElideMode.ElideLeft, room)
            painter.drawText(QRectF(left + title_w + 8, top, room, line_h), align_r, name)
        # the lines under the title run the card's whole width (the toggle is on the first)
        left2, inner2 = -CARD_W / 2 + 8, CARD_W - 16
        painter.setPen(text)
        font, volumes = _volumes_line(self.in_str, self.shape_str, inner2)
        painter.setFont(font)
        painter.drawText(QRectF(left2, top + line_h, inner2, line_h), align_l, volumes)
        painter.setFont(fonts.small)
        painter.setPen(dim)
        r3 = QRectF(left2, top + 2 * line_h, inner2, line_h)
        issues = self.issues_text()
        issues_w = fonts.small_metrics.horizontalAdvance(issues) + 6 if issues else 0.0
        # the receptive field, then the MACs give way (both are in the tooltip)
        parts = self.figures.split(" · ")
        figures = _fitting(fonts.small_metrics, inner2 - issues_w,
                           [" · ".join(parts[:n]) for n in range(len(parts), 0, -1)],
                           Qt.TextElideMode.ElideRight)
        painter.drawText(r3, align_l, figures)
        if issues:
            painter.setPen(severity_colour(self.severity or "warning"))
            painter.drawText(r3, align_r, issues)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        scene = self.scene()
        if scene is not None and hasattr(scene, "request_toggle"):
            scene.request_toggle(self.block.id)
        event.accept()


class BlockFrame(QGraphicsObject):
    """An expanded block: a tinted frame behind its layers, its name and a ▾ toggle on top."""

    def __init__(self, block: Block):
        super().__init__()
        self.setZValue(-1)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.block = block
        self.rect = QRectF()
        self.toggle = BlockToggle(self, block.id)
        self.toggle.collapsed = False
        self.toggle.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)

    @property
    def block_id(self) -> str:
        return self.block.id

    def set_rect(self, rect: QRectF) -> None:
        """The members' extent (cards' rectangles, canvas units), with the margins added."""
        framed = rect.adjusted(-FRAME_PAD, -FRAME_PAD - HEADER_H, FRAME_PAD, FRAME_PAD)
        if framed != self.rect:
            self.prepareGeometryChange()
            self.rect = framed
            self.toggle.setPos(framed.left() + 10, framed.top() + HEADER_H / 2 + 2)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.rect.adjusted(-2, -2, 2, 2)

    def tooltip(self) -> str:
        return (f"<b>{_escape(self.block.name)}</b> — {_escape(self.block.title)}, "
                f"{plural(len(self.block.members), 'layer')}: click ▾ to collapse it")

    def paint(self, painter: QPainter, option, widget=None) -> None:
        fill = QColor(block_colour())
        fill.setAlphaF(0.45)
        pen = QPen(block_colour().darker(150) if not is_dark() else block_colour().lighter(170),
                   1.2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(self.rect, RADIUS + 4, RADIUS + 4)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod * HEADER_H < 9:
            return
        fonts = _Fonts.get()
        painter.setFont(fonts.title)
        painter.setPen(_palette().color(QPalette.ColorRole.WindowText))
        head = QRectF(self.rect.left() + 20, self.rect.top() + 2, self.rect.width() - 24,
                      HEADER_H)
        painter.drawText(head, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{self.block.title}  {self.block.name}")
