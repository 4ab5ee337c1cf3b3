"""Colours of the app, light and dark, following the system palette.

Layer cards are coloured by the catalogue's category; issues by severity.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette

# category -> (light, dark) fill of a layer card
CATEGORY_COLOURS: dict[str, tuple[str, str]] = {
    "Input": ("#e8eaf6", "#283046"),
    "Convolution": ("#dbeafe", "#1e3a5f"),
    "Pooling": ("#dcfce7", "#1d4030"),
    "Activation": ("#fef9c3", "#4a4418"),
    "Normalization": ("#f3e8ff", "#3d2a55"),
    "Regularization": ("#f1f5f9", "#33393f"),
    "Reshape": ("#f1f5f9", "#33393f"),
    "Fully connected": ("#ffe4e6", "#5a2530"),
    "Merge": ("#e0f2fe", "#1c3d4f"),
}

SEVERITY_COLOURS: dict[str, str] = {"error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}


def is_dark(palette: QPalette | None = None) -> bool:
    if palette is None:
        app = QGuiApplication.instance()
        if app is None:
            return False
        palette = app.palette()
    return palette.color(QPalette.Window).lightness() < 128


def category_colour(category: str, dark: bool | None = None) -> QColor:
    light, dark_colour = CATEGORY_COLOURS.get(category, ("#f1f5f9", "#33393f"))
    return QColor(dark_colour if (is_dark() if dark is None else dark) else light)


def severity_colour(severity: str) -> QColor:
    return QColor(SEVERITY_COLOURS.get(severity, "#6b7280"))
