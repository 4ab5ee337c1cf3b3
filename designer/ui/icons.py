"""Icons from resources/icons (SVG; designer.assets finds them in any install), tinted for dark
themes."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from ..assets import icon_file


@cache
def icon(name: str) -> QIcon:
    from .theme import is_dark

    path = icon_file(name)
    if not path.exists():
        return QIcon()
    if not is_dark():
        return QIcon(str(path))
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QPixmap

    svg = path.read_text(encoding="utf-8").replace("#4b5563", "#d1d5db")
    pixmap = QPixmap()
    pixmap.loadFromData(QByteArray(svg.encode("utf-8")), "SVG")
    return QIcon(pixmap)
