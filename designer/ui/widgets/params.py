"""One editor widget per ParamSpec kind, all with the same small interface:

- `committed(value)` is emitted once per finished change (Enter, focus out, an arrow step, a
  click), never per keystroke, so each emission can be one undo step;
- `set_value(value)` shows a value without emitting anything.

The wheel only changes an editor that has focus, so scrolling the inspector never edits a layer.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from ...model.layers import ParamSpec

INT_LIMIT = 2**31 - 1
PADDING_WORDS = ("same", "valid")


def _tooltip(spec: ParamSpec) -> str:
    lines = [f"<b>{spec.name}</b>" + (f": {spec.doc}" if spec.doc else "")]
    if spec.kind in ("int", "float", "padding") and (spec.minimum is not None
                                                     or spec.maximum is not None):
        lo = "−∞" if spec.minimum is None else f"{spec.minimum:g}"
        hi = "∞" if spec.maximum is None else f"{spec.maximum:g}"
        lines.append(f"from {lo} to {hi}" + (', or "same" / "valid"'
                                            if spec.kind == "padding" else ""))
    lines.append(f"default {spec.default}")
    return "<br>".join(lines)


class _FocusWheel:
    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class IntEditor(_FocusWheel, QSpinBox):
    committed = Signal(object)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(int(spec.minimum if spec.minimum is not None else -INT_LIMIT),
                      int(min(spec.maximum if spec.maximum is not None else INT_LIMIT,
                              INT_LIMIT)))
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAccelerated(True)
        self.valueChanged.connect(lambda v: self.committed.emit(int(v)))

    def set_value(self, value: Any) -> None:
        if self.value() == int(value):
            return  # (setting it again repaints the box on every edit of the design)
        self.blockSignals(True)
        self.setValue(int(value))
        self.blockSignals(False)


def float_decimals(value: float) -> int:
    """Enough decimals to show `value` and two more digits of it: 1e-4 -> 6, 0.1 -> 3."""
    if value <= 0 or not math.isfinite(value):
        return 3
    return min(max(3, 2 - math.floor(math.log10(value))), 10)


class FloatEditor(_FocusWheel, QDoubleSpinBox):
    committed = Signal(object)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self._base = float_decimals(float(spec.default))
        self.setDecimals(self._base)
        self.setRange(spec.minimum if spec.minimum is not None else -1e12,
                      spec.maximum if spec.maximum is not None else 1e12)
        default = float(spec.default)
        self.setSingleStep(min(10.0 ** math.floor(math.log10(default)), 0.1)
                           if default > 0 else 0.1)
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.StrongFocus)
        self.valueChanged.connect(lambda v: self.committed.emit(float(v)))

    def set_value(self, value: Any) -> None:
        decimals = max(self._base, float_decimals(abs(float(value))))
        if self.value() == float(value) and self.decimals() == decimals:
            return  # (setting it again repaints the box on every edit of the design)
        self.blockSignals(True)
        # a value from a file may need more decimals than the default does
        self.setDecimals(decimals)
        self.setValue(float(value))
        self.blockSignals(False)


class BoolEditor(QCheckBox):
    committed = Signal(object)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.toggled.connect(lambda on: self.committed.emit(bool(on)))

    def set_value(self, value: Any) -> None:
        if self.isChecked() == bool(value):
            return
        self.blockSignals(True)
        self.setChecked(bool(value))
        self.blockSignals(False)


class ChoiceEditor(_FocusWheel, QComboBox):
    committed = Signal(object)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.addItems(list(spec.choices))
        self.setFocusPolicy(Qt.StrongFocus)
        self.activated.connect(lambda _i: self.committed.emit(self.currentText()))

    def set_value(self, value: Any) -> None:
        self.blockSignals(True)
        self.setCurrentText(str(value))
        self.blockSignals(False)


class PaddingEditor(_FocusWheel, QComboBox):
    """An editable combo: pick 0–3, "same" or "valid" from the list, or type any integer."""

    committed = Signal(object)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.NoInsert)
        self.setFocusPolicy(Qt.StrongFocus)
        self.addItems(["0", "1", "2", "3", *PADDING_WORDS])
        self.setValidator(QRegularExpressionValidator(
            QRegularExpression(r"\d{1,5}|" + "|".join(PADDING_WORDS)), self))
        self._value: Any = spec.default
        self.lineEdit().editingFinished.connect(self._commit)
        self.activated.connect(lambda _i: self._commit())

    @staticmethod
    def parse(text: str) -> int | str | None:
        text = text.strip().lower()
        if text in PADDING_WORDS:
            return text
        return int(text) if text.isdigit() else None

    def _commit(self) -> None:
        value = self.parse(self.currentText())
        if value is None:  # an unfinished word: show the value the layer still has
            self.set_value(self._value)
        elif value != self._value:
            self._value = value
            self.committed.emit(value)

    def set_value(self, value: Any) -> None:
        self._value = value
        self.blockSignals(True)
        self.setCurrentText(str(value))
        self.blockSignals(False)


EDITORS = {"int": IntEditor, "float": FloatEditor, "bool": BoolEditor, "choice": ChoiceEditor,
           "padding": PaddingEditor}


def make_editor(spec: ParamSpec, parent: QWidget | None = None):
    editor = EDITORS[spec.kind](spec, parent)
    editor.setToolTip(_tooltip(spec))
    editor.setObjectName(f"param_{spec.name}")
    return editor
