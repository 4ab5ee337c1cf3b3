"""The words of the "Inside the network" views: numbers, layer kinds, class names and a
sample's verdict as text, and the caption labels the views write them in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel

from ....model.layers import CATALOGUE
from ...theme import helper_colour


def layer_kind(type_name: str) -> str:
    """The notes' name where there is one: CONV, POOL, RELU, NORM, FC; else the type."""
    layer = CATALOGUE.get(type_name)
    return layer.alias if layer is not None and layer.alias else type_name


def fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else "–"


def class_name(names: Sequence[str], i: int | None) -> str:
    if i is None:
        return "?"
    return names[i] if 0 <= i < len(names) else str(i)


def sample_text(sample, names: Sequence[str], html: bool = False, lines: bool = False) -> str:
    """'validation sample 12: circle → predicted circle (97%) ✓' (lines: on two lines)."""
    b = (lambda s: f"<b>{s}</b>") if html else (lambda s: s)
    text = sample.name
    if sample.label is not None:
        text += f": {class_name(names, sample.label)}"
    if sample.predicted is not None:
        sure = f" ({100 * sample.confidence:.0f}%)" if sample.confidence is not None else ""
        verdict = ""
        if sample.label is not None:
            verdict = " ✓" if sample.label == sample.predicted else " ✗"
        cut = ("<br>" if html else "\n") if lines else " → "
        text += f"{cut}predicted {b(class_name(names, sample.predicted))}{sure}{verdict}"
    return text


def caption_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.RichText)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def faint_label() -> QLabel:
    label = QLabel(" ")
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    # the looks' helper colour, 4.5:1 on the window (palette(mid) was 1.8:1 in the light look)
    label.setStyleSheet(f"color: {helper_colour().name()};")
    return label


def plain(label: QLabel) -> str:
    """A rich-text label as the user reads it."""
    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText()
