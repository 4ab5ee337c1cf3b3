"""Pictures of the whole design as the canvas shows it: PNG (raster, `scale` pixels per canvas
unit) and SVG (vector). (The publication figure, the volumes drawn as slabs, is
designer/model/diagram.py.)

Both draw the cards and wires on the canvas's background colour, as a picture for others: no
selection, no fix badges, no hint bulbs, every layer's id in full (a card's first line gives up
its long type name, then shrinks the id, rather than cut it), and the SVG names only the generic
font family (sans-serif), which every viewer has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtSvg import QSvgGenerator

from ...model.layers import CATALOGUE
from .items import CARD_H, CARD_W, _Fonts

MARGIN = 24.0
MAX_SIDE = 16000  # pixels: larger pictures are drawn at a smaller scale
MAX_PIXELS = 120_000_000
LOW_DETAIL = 0.4  # below this scale the cards are plain boxes (items.py): no ids to write
FONT_FAMILY = "sans-serif"
_FAMILY = re.compile(r'font-family="[^"]*"')


def _source(scene) -> QRectF:
    with scene.presentation():
        rect = scene.itemsBoundingRect()
    if rect.isEmpty():
        rect = scene.design_rect()
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


class _Ids:
    """Where each card's id goes on its first line, and the first line's title that leaves it
    room: the card's own layout (items.NodeCard._paint_text) measured with its fonts."""

    def __init__(self):
        fonts = _Fonts.get()  # the cards' own fonts
        self.title, self.small = fonts.title, fonts.small
        self.title_metrics, self.small_metrics = fonts.title_metrics, fonts.small_metrics
        self.inner = CARD_W - 20

    def room(self, title: str) -> float:
        return self.inner - min(self.title_metrics.horizontalAdvance(title), self.inner) - 8

    def plan(self, card) -> tuple[str, float]:
        """(the title to show, the id's font scale: 1 where it fits as the card writes it)."""
        node = card.node
        name = card.name
        need = max(1.0, self.small_metrics.horizontalAdvance(name))
        titles = list(dict.fromkeys(t for t in (card.title, node.type,
                                                CATALOGUE[node.type].alias) if t))
        for title in titles:
            if need <= self.room(title):
                return title, 1.0
        title = max(titles, key=self.room)
        return title, max(0.05, self.room(title)) / need


@contextmanager
def _picture(scene, ids: _Ids) -> Iterator[list]:
    """The scene as a picture for others: badges and bulbs hidden, the cards' ids blanked (the
    picture writes them in full); yields [(card, title, scale)] and puts everything back."""
    hidden, plans = [], []
    with scene.presentation():
        try:
            for card in scene.cards.values():
                if not card.isVisible():  # a layer inside a collapsed block: not drawn
                    continue
                for mark in (getattr(card, "badge", None), getattr(card, "hint_marker", None)):
                    if mark is not None and mark.isVisible():
                        mark.setVisible(False)
                        hidden.append(mark)
                title, scale = ids.plan(card)
                plans.append((card, card.title, card.name, title, scale))
                card.title, card.name = title, ""
                card.update()
            yield [(card, scale) for card, _, _, _, scale in plans]
        finally:
            for card, title, name, _, _ in plans:
                card.title, card.name = title, name
                card.update()
            for mark in hidden:
                mark.setVisible(True)


def _paint(scene, painter: QPainter, target: QRectF, source: QRectF) -> None:
    painter.setRenderHints(QPainter.RenderHint.Antialiasing
                           | QPainter.RenderHint.TextAntialiasing
                           | QPainter.RenderHint.SmoothPixmapTransform)
    palette = QGuiApplication.palette()
    painter.fillRect(target, palette.color(QPalette.ColorRole.Base))
    ids = _Ids()
    with _picture(scene, ids) as cards:
        scene.render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)
        scale = min(target.width() / source.width(), target.height() / source.height())
        if scale < LOW_DETAIL:
            return
        painter.save()
        painter.translate(target.left() + (target.width() - source.width() * scale) / 2,
                          target.top() + (target.height() - source.height() * scale) / 2)
        painter.scale(scale, scale)
        painter.translate(-source.left(), -source.top())
        dim = QColor(palette.color(QPalette.ColorRole.WindowText))
        dim.setAlphaF(0.62)
        painter.setPen(dim)
        for card, font_scale in cards:
            _write_id(painter, card, ids, font_scale)
        painter.restore()


def _write_id(painter: QPainter, card, ids: _Ids, font_scale: float) -> None:
    """The id right-aligned on the card's first line, after its title (as the card writes it
    where it fits), in a smaller font where it would not."""
    name = card.node.label or card.node.id
    font = QFont(ids.small)
    if font_scale < 1:
        font.setPointSizeF(ids.small.pointSizeF() * font_scale * 0.98)
    painter.setFont(font)
    left = -CARD_W / 2 + 10
    top = -CARD_H / 2 + 4
    line_h = (CARD_H - 8) / 3
    room = ids.room(card.title)
    pos = card.scenePos()
    rect = QRectF(pos.x() + left + ids.inner - room, pos.y() + top, room, line_h)
    painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)


def render_png(scene, path: str | Path, scale: float = 2.0) -> QSize:
    """Write the design as a PNG; returns the picture's size. Raises OSError when the file
    cannot be written."""
    source = _source(scene)
    scale = min(scale, MAX_SIDE / source.width(), MAX_SIDE / source.height(),
                (MAX_PIXELS / (source.width() * source.height())) ** 0.5)
    size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        _paint(scene, painter, QRectF(0, 0, size.width(), size.height()), source)
    finally:
        painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return size


def render_svg(scene, path: str | Path, title: str | None = None) -> QSize:
    """Write the design as an SVG drawing (1 canvas unit = 1 px); returns its size. Raises
    OSError when the file cannot be written."""
    from ...atomic import write_text

    source = _source(scene)
    size = QSize(round(source.width()), round(source.height()))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(title or scene.document.network.name or "ConvNet")
    generator.setDescription("Drawn by ConvNet Designer")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"cannot write {path}")
    try:
        _paint(scene, painter, QRectF(0, 0, size.width(), size.height()), source)
    finally:
        painter.end()
    buffer.close()
    text = bytes(data).decode("utf-8")
    if "<svg" not in text:
        raise OSError(f"cannot write {path}: Qt made no SVG")
    # the application's font is a name of this machine ("Sans Serif", "Segoe UI"): a viewer
    # elsewhere knows only the generic family
    text = _FAMILY.sub(f'font-family="{FONT_FAMILY}"', text)
    try:
        write_text(path, text)
    except OSError as e:
        raise OSError(f"cannot write {path}: {e.strerror or e}") from None
    return size
