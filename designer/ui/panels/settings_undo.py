"""Training settings changed as undo steps: the augmentation options and a learning rate the
finder suggests are set through the document's undo stack, so Ctrl+Z takes them back.

A SettingsEdit carries only the fields it changes, by path ("lr", "data.hflip"), each with its
value before and after, and hands them to `apply` (the training panel's `apply_settings`): undoing
it puts back those fields and leaves the other settings as they are now.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand, QUndoStack


def get_field(config: Any, path: str) -> Any:
    """config.data.hflip for 'data.hflip'."""
    for part in path.split("."):
        config = getattr(config, part)
    return config


def set_field(config: Any, path: str, value: Any) -> None:
    *owners, attr = path.split(".")
    for part in owners:
        config = getattr(config, part)
    setattr(config, attr, value)


class SettingsEdit(QUndoCommand):
    """Fields of the training settings, before and after; `apply(values)` sets them."""

    def __init__(self, text: str, changes: dict[str, tuple[Any, Any]],
                 apply: Callable[[dict[str, Any]], None]):
        super().__init__(text)
        self.changes = changes
        self._apply = weakref.WeakMethod(apply) if hasattr(apply, "__self__") else (
            lambda: apply)

    def redo(self) -> None:
        self._set(1)

    def undo(self) -> None:
        self._set(0)

    def _set(self, which: int) -> None:
        apply = self._apply()
        if apply is not None:
            apply({path: pair[which] for path, pair in self.changes.items()})


def push_settings(stack: QUndoStack, config: Any, text: str, values: dict[str, Any],
                  apply: Callable[[dict[str, Any]], None]) -> bool:
    """Set `values` (path -> value) of `config` as one undo step on `stack`; False (and no
    step) where every value is already set."""
    changes = {path: (get_field(config, path), value) for path, value in values.items()
               if get_field(config, path) != value or type(get_field(config, path)) is not
               type(value)}
    if not changes:
        return False
    stack.push(SettingsEdit(text, changes, apply))
    return True
