"""One editor widget per ParamSpec kind, all with the same small interface:

- `committed(value)` is emitted once per finished change (Enter, focus out, an arrow step, a
  click), never per keystroke, so each emission can be one undo step;
- `set_value(value)` shows a value without emitting anything;
- `refused(reason)` is emitted instead of `committed` when the value typed is outside the
  ParamSpec's minimum / maximum (e.g. "kernel_size: must be ≥ 1, got 0"): the field accepts any
  number while typing, shows the value the layer still has afterwards, and the panel says why.

The arrows and the wheel stay within the limits; the wheel only changes an editor that has
focus, so scrolling the inspector never edits a layer.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator, QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from ...model.layers import ParamError, ParamSpec

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


def refusal(spec: ParamSpec, value: Any) -> str | None:
    """Why the catalogue refuses `value` for this parameter (its own words), or None."""
    try:
        spec.validate(value)
    except ParamError as e:
        return f"{spec.name}: {e}"
    return None


class _FocusWheel:
    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


_INT_TEXT = re.compile(r"[-+]?\d{0,12}")
_FLOAT_TEXT = re.compile(r"[-+]?\d{0,12}([.,]\d{0,12})?([eE][-+]?\d{0,3})?")


class _TypedLimits:
    """A spin box that lets any number be typed, not only those within its range (Qt's own
    validator drops the keystroke that leaves the range: 100000 became 10000, 0 and −2 could not
    be typed at all). A finished value outside the ParamSpec's limits is refused with the
    catalogue's reason (`refused`), and the field shows the value the layer still has. The
    wheel changes it only while it has focus (as _FocusWheel)."""

    _spec: ParamSpec
    _text = _INT_TEXT

    def validate(self, text: str, pos: int):  # Qt's name
        body = self._body(text)
        if body in ("", "-", "+"):
            return QValidator.Intermediate, text, pos
        if self._text.fullmatch(body) is None:
            return QValidator.Invalid, text, pos
        return (QValidator.Acceptable if self._typed(text) is not None
                else QValidator.Intermediate), text, pos

    def _body(self, text: str) -> str:
        body = text
        if self.prefix() and body.startswith(self.prefix()):
            body = body[len(self.prefix()):]
        if self.suffix() and body.endswith(self.suffix()):
            body = body[: -len(self.suffix())]
        return body.strip().replace(self.locale().groupSeparator(), "")

    def _refuse_typed(self) -> bool:
        """The text typed is outside the range: say why (refused), show the layer's value."""
        value = self._typed(self.lineEdit().text())
        if value is None or self.minimum() <= value <= self.maximum():
            return False
        reason = refusal(self._spec, value) or (
            f"{self._spec.name}: must be from {self.textFromValue(self.minimum())} to "
            f"{self.textFromValue(self.maximum())}, got {value:g}")
        self.lineEdit().setText(self.textFromValue(self.value()))
        self.refused.emit(reason)
        return True

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and self._refuse_typed():
            self.selectAll()
            event.accept()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._refuse_typed()
        super().focusOutEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class IntEditor(_TypedLimits, QSpinBox):
    committed = Signal(object)
    refused = Signal(str)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self._spec = spec
        # the arrows and the wheel stay within the catalogue's limits; typing may go beyond
        # them, and is then refused with the reason
        self.setRange(int(spec.minimum if spec.minimum is not None else -INT_LIMIT),
                      int(min(spec.maximum if spec.maximum is not None else INT_LIMIT,
                              INT_LIMIT)))
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setAccelerated(True)
        self.valueChanged.connect(lambda v: self.committed.emit(int(v)))

    def _typed(self, text: str) -> int | None:
        try:
            return int(self._body(text))
        except ValueError:
            return None

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


class FloatEditor(_TypedLimits, QDoubleSpinBox):
    committed = Signal(object)
    refused = Signal(str)
    _text = _FLOAT_TEXT

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self._spec = spec
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

    def _typed(self, text: str) -> float | None:
        try:
            value = float(self._body(text).replace(self.locale().decimalPoint(), "."))
        except ValueError:
            return None
        return value if math.isfinite(value) else None

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
    refused = Signal(str)  # (never: a box has no value outside its limits)

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
    refused = Signal(str)  # (never: only the choices can be picked)

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
    """An editable combo: pick 0–3, "same" or "valid" from the list, or type any integer (one
    outside the ParamSpec's limits, e.g. −2, is refused with the reason)."""

    committed = Signal(object)
    refused = Signal(str)

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self._spec = spec
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.NoInsert)
        self.setFocusPolicy(Qt.StrongFocus)
        self.addItems(["0", "1", "2", "3", *PADDING_WORDS])
        self.setValidator(QRegularExpressionValidator(
            QRegularExpression(r"-?\d{1,6}|" + "|".join(PADDING_WORDS)), self))
        self._value: Any = spec.default
        self.lineEdit().editingFinished.connect(self._commit)
        self.activated.connect(lambda _i: self._commit())

    @staticmethod
    def parse(text: str) -> int | str | None:
        text = text.strip().lower()
        if text in PADDING_WORDS:
            return text
        try:
            return int(text)
        except ValueError:
            return None

    def _commit(self) -> None:
        value = self.parse(self.currentText())
        if value is None:  # an unfinished word: show the value the layer still has
            self.set_value(self._value)
            return
        reason = refusal(self._spec, value)
        if reason is not None:
            self.set_value(self._value)
            self.refused.emit(reason)
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
