"""Small pieces of look shared by the panels: the category swatch beside a layer's name, the
section headings, the scroll area a panel's content sits in, the selectable figures, and how a
replaced widget goes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QLineEdit, QScrollArea, QWidget

from ..theme import category_colour

_CACHE: dict[tuple[str, str], QIcon] = {}


def category_icon(category: str) -> QIcon:
    """A rounded square in the category's card colour (light or dark, as the palette is)."""
    colour = category_colour(category)
    key = (category, colour.name())
    icon = _CACHE.get(key)
    if icon is None:
        pix = QPixmap(14, 14)
        pix.fill(Qt.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(colour.darker(170))
        p.setBrush(colour.darker(112))
        p.drawRoundedRect(1.5, 1.5, 11, 11, 3, 3)
        p.end()
        icon = _CACHE[key] = QIcon(pix)
    return icon


def section(title: str) -> QLabel:
    """A small, muted capitalised heading between groups of a panel."""
    label = QLabel(title.upper())
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setBold(True)
    font.setLetterSpacing(QFont.PercentageSpacing, 108)
    label.setFont(font)
    label.setEnabled(False)
    label.setContentsMargins(0, 8, 0, 0)
    return label


def vertical_scroll(content: QWidget) -> QScrollArea:
    """`content` in a frameless area that scrolls up and down only: a short dock scrolls its
    rows rather than squeezing them, a narrow one wraps them."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    scroll.setWidget(content)
    return scroll


def discard(widget: QWidget, layout) -> None:
    """A widget replaced: out of its layout and off the screen now, deleted when the event loop
    gets to it (until then the layout would still measure it, wrapped text and all, and a frame
    could show it beside what replaced it)."""
    widget.hide()
    layout.removeWidget(widget)
    widget.deleteLater()


class WrappingLabel(QLabel):
    """A label that may wrap its text, remembering the height it needs at a width. QLabel lays
    its text out again each time a layout asks (and the item asking keeps no answer of its
    own), so a label whose text changes made its layout measure every wrapping label in it
    anew: most of an edit's relayout of the totals and the inspector."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self._heights: dict[tuple[int, str], int] = {}

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        key = (width, self.text())
        height = self._heights.get(key)
        if height is None:
            if len(self._heights) > 32:
                self._heights.clear()
            height = self._heights[key] = super().heightForWidth(width)
        return height

    def setWordWrap(self, on: bool) -> None:  # noqa: N802 (Qt's name)
        self._heights.clear()
        super().setWordWrap(on)

    def setIndent(self, indent: int) -> None:  # noqa: N802 (Qt's name)
        self._heights.clear()
        super().setIndent(indent)

    def setMargin(self, margin: int) -> None:  # noqa: N802 (Qt's name)
        self._heights.clear()
        super().setMargin(margin)

    def setTextFormat(self, text_format) -> None:  # noqa: N802 (Qt's name)
        self._heights.clear()
        super().setTextFormat(text_format)

    def setTextInteractionFlags(self, flags) -> None:  # noqa: N802 (Qt's name)
        self._heights.clear()  # (a selectable label lays its text out as a document)
        super().setTextInteractionFlags(flags)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() in _MEASURES:  # the font, the contents margins
            self._heights.clear()
        super().changeEvent(event)


_MEASURES = {QEvent.FontChange, QEvent.ContentsRectChange}  # (a style sheet: these)


class Figure(WrappingLabel):
    """A label whose text a user may select and copy, made selectable only while the mouse is
    over it. A selectable label lays its text out as a document at every change (four times
    the work of a plain one, and an edit changes a dozen figures), so most of the time it is
    plain; the selection is kept while there is one."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self._plain = self.textInteractionFlags()

    def enterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self.hasSelectedText():
            self.setTextInteractionFlags(self._plain)
        super().leaveEvent(event)


def float_edit(tip: str) -> QLineEdit:
    """A number such as 0.01 or 3e-4 (checked when the edit is finished)."""
    edit = QLineEdit()
    edit.setToolTip(tip)
    return edit


def choose(combo: QComboBox, data: object) -> None:
    """Select the combo box's item whose data is `data` (the first item when none is)."""
    combo.setCurrentIndex(max(0, combo.findData(data)))
