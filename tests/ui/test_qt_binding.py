"""The Qt binding must not lose references on Signal.emit() (PySide6 6.12.0 does, and the app
then aborts with 'bool_dealloc' after a few thousand edits)."""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    plain = Signal()
    text = Signal(str)


def test_emitting_signals_keeps_reference_counts(qapp):
    o = _Emitter()
    o.plain.connect(lambda: None)
    before = sys.getrefcount(True)
    for _ in range(200):
        o.plain.emit()
        o.text.emit("x")
    assert sys.getrefcount(True) >= before
