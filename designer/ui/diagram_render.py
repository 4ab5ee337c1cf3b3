"""The volumes figure (designer.model.diagram's SVG text) written as SVG, PDF or PNG.

    size = write_diagram(svg_text, "alexnet.pdf")     # .svg, .pdf (vector) or .png

PDF and PNG are drawn by Qt's SVG renderer (QtSvg + QtGui only, no widgets): a PDF page is the
figure's own size (1 SVG pixel = 0.75 pt, text stays text), a PNG has PNG_SCALE pixels per SVG
pixel on white. Headless: where no QGuiApplication exists one is made on Qt's offscreen platform.
The command line (designer/cli/export.py), which never imports Qt, runs this module as a program:

    python -m designer.ui.diagram_render IN.svg OUT.pdf|png     # exit 0 written, 2 refused
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

FORMATS = (".svg", ".pdf", ".png")
PNG_SCALE = 2.0  # pixels per SVG pixel (192 dpi where the figure is shown at 96)
MAX_PIXELS = 80_000_000  # a larger PNG is drawn at a smaller scale
PT_PER_PX = 0.75


class RenderError(ValueError):
    """The figure cannot be written (a bad suffix, an unreadable SVG, a file that cannot be
    written): the message names what."""


def check_suffix(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise RenderError(f"{path}: a diagram is written as .svg, .pdf or .png, not "
                          f"{suffix or 'a file without a suffix'}")
    return suffix


def write_diagram(svg: str, path: str | os.PathLike[str]) -> tuple[float, float]:
    """Write the figure; returns its size: SVG pixels, PDF points or PNG pixels."""
    from ..atomic import replacing, write_bytes, write_text

    suffix = check_suffix(path)
    try:
        if suffix == ".svg":
            write_text(path, svg)
            return _svg_size(svg)
        renderer = _renderer(svg)
        if suffix == ".png":
            data, size = _png(renderer)
            write_bytes(path, data)
            return size
        with replacing(path) as tmp:
            size = _pdf(renderer, tmp, Path(path).stem)
        return size
    except OSError as e:
        raise RenderError(f"cannot write {path}: {e.strerror or e}") from None


def _svg_size(svg: str) -> tuple[float, float]:
    import re

    found = re.search(r'<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"', svg)
    return (float(found[1]), float(found[2])) if found else (0.0, 0.0)


_APP = None  # the QGuiApplication made here, where there was none


def _app() -> None:
    global _APP
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _APP = QGuiApplication([sys.argv[0] if sys.argv else "diagram"])


def _renderer(svg: str):
    from PySide6.QtCore import QByteArray
    from PySide6.QtSvg import QSvgRenderer

    _app()
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid() or renderer.defaultSize().isEmpty():
        raise RenderError("the diagram's SVG could not be read")
    return renderer


def _png(renderer) -> tuple[bytes, tuple[float, float]]:
    from PySide6.QtCore import QBuffer, QIODevice, QRectF, QSize
    from PySide6.QtGui import QColor, QImage, QPainter

    view = renderer.viewBoxF()
    scale = min(PNG_SCALE, (MAX_PIXELS / (view.width() * view.height())) ** 0.5)
    size = QSize(max(1, round(view.width() * scale)), max(1, round(view.height() * scale)))
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing
                           | QPainter.RenderHint.TextAntialiasing)
    renderer.render(painter, QRectF(0, 0, size.width(), size.height()))
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("the PNG could not be encoded")
    return bytes(buffer.data()), (float(size.width()), float(size.height()))


def _pdf(renderer, path: Path, title: str) -> tuple[float, float]:
    from PySide6.QtCore import QMarginsF, QRectF, QSizeF
    from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter

    view = renderer.viewBoxF()
    points = QSizeF(view.width() * PT_PER_PX, view.height() * PT_PER_PX)
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(points, QPageSize.Unit.Point, "",
                                 QPageSize.SizeMatchPolicy.ExactMatch))
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
    writer.setResolution(300)
    writer.setTitle(title)
    writer.setCreator("ConvNet Designer")
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError("the PDF could not be started")
    try:
        renderer.render(painter, QRectF(0, 0, writer.width(), writer.height()))
    finally:
        painter.end()
    del writer
    if path.stat().st_size == 0:
        raise OSError("the PDF is empty")
    return points.width(), points.height()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m designer.ui.diagram_render IN.svg OUT.svg|pdf|png",
              file=sys.stderr)
        return 2
    try:
        svg = Path(args[0]).read_text(encoding="utf-8")
        write_diagram(svg, args[1])
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: {args[0]}: {e}", file=sys.stderr)
        return 2
    except RenderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
