"""Pictures of the whole design: PNG (raster, `scale` pixels per canvas unit) and SVG (vector).

Both draw the scene as it looks, without the selection, on the canvas's background colour.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtSvg import QSvgGenerator

MARGIN = 24.0
MAX_SIDE = 16000  # pixels: larger pictures are drawn at a smaller scale
MAX_PIXELS = 120_000_000


def _source(scene) -> QRectF:
    with scene.presentation():
        rect = scene.itemsBoundingRect()
    if rect.isEmpty():
        rect = scene.design_rect()
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def _paint(scene, painter: QPainter, target: QRectF, source: QRectF) -> None:
    painter.setRenderHints(QPainter.RenderHint.Antialiasing
                           | QPainter.RenderHint.TextAntialiasing
                           | QPainter.RenderHint.SmoothPixmapTransform)
    painter.fillRect(target, QGuiApplication.palette().color(QPalette.ColorRole.Base))
    with scene.presentation():
        scene.render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)


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
    source = _source(scene)
    size = QSize(round(source.width()), round(source.height()))
    generator = QSvgGenerator()
    generator.setFileName(str(path))
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
    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        raise OSError(f"cannot write {path}")
    return size
