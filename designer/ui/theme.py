"""Colours of the app, light and dark, following the system palette.

Layer cards are coloured by the catalogue's category; issues by severity. The two looks'
palettes (`light_palette`, `dark_palette`, made by app._apply_look) give helper text — the
muted headings, hints and captions, drawn in the disabled label colour or the placeholder
colour — a contrast of at least 4.5:1 (WCAG AA) against the backgrounds it sits on, and give
disabled buttons and fields dimmed colours of their own (the dark look had none: disabled
Undo, Pause and Stop looked enabled).
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


# ---------------------------------------------------------------------------------------------
# The looks' palettes

# muted text: 5.3:1 on the light window (#efefef), 6.2:1 on the dark one (#1f2329), more on
# their bases; the WCAG AA minimum for text is 4.5:1
HELPER_COLOURS = {"light": "#5f6368", "dark": "#9ca3af"}

# the dark look's disabled and bevel colours (the rest of the dark look is app._DARK)
_DARK_DISABLED = {"WindowText": HELPER_COLOURS["dark"], "Text": "#6b7280",
                  "ButtonText": "#6b7280", "Button": "#24282e", "Base": "#1b1e23",
                  "Highlight": "#374151", "HighlightedText": "#9ca3af", "Link": "#6b7280"}
_DARK_BEVELS = {"Light": "#3b424b", "Midlight": "#323840", "Mid": "#262a31", "Dark": "#121418",
                "Shadow": "#0b0c0e", "BrightText": "#ffffff"}


def helper_colour(dark: bool | None = None) -> QColor:
    """The colour of helper text (captions, hints): readable, but quieter than the text."""
    return QColor(HELPER_COLOURS["dark" if (is_dark() if dark is None else dark) else "light"])


def light_palette(standard: QPalette) -> QPalette:
    """The style's own light palette with readable helper text: the disabled label colour
    (the muted headings and hints are disabled labels) and the placeholder text."""
    p = QPalette(standard)
    helper = QColor(HELPER_COLOURS["light"])
    p.setColor(QPalette.Disabled, QPalette.WindowText, helper)
    for group in (QPalette.Active, QPalette.Inactive, QPalette.Disabled):
        p.setColor(group, QPalette.PlaceholderText, helper)
    return p


def dark_palette(colours: dict[str, str]) -> QPalette:
    """The dark look: `colours` (role name -> colour) for every group, dark bevels, and
    disabled colours of its own."""
    p = QPalette()
    for role, colour in {**_DARK_BEVELS, **colours}.items():
        p.setColor(getattr(QPalette, role), QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        p.setColor(QPalette.Disabled, getattr(QPalette, role), QColor(colour))
    for group in (QPalette.Active, QPalette.Inactive, QPalette.Disabled):
        p.setColor(group, QPalette.PlaceholderText, QColor(HELPER_COLOURS["dark"]))
    return p


def dimmed_icons_style(base):
    """`base` (a QStyle) drawing a disabled icon faded: Qt's disabled icon keeps a light icon
    on a dark ground light (the dark look's disabled Undo looked enabled)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
    from PySide6.QtWidgets import QProxyStyle

    class DimmedIcons(QProxyStyle):
        def generatedIconPixmap(self, mode, pixmap, option):  # noqa: N802 (Qt's name)
            if mode != QIcon.Mode.Disabled or pixmap.isNull():
                return super().generatedIconPixmap(mode, pixmap, option)
            image = pixmap.toImage().convertToFormat(QImage.Format_ARGB32_Premultiplied)
            faded = QImage(image.size(), QImage.Format_ARGB32_Premultiplied)
            faded.setDevicePixelRatio(image.devicePixelRatio())
            faded.fill(Qt.transparent)
            painter = QPainter(faded)
            painter.setOpacity(0.35)
            painter.drawImage(0, 0, image)
            painter.end()
            return QPixmap.fromImage(faded)

    return DimmedIcons(base)
