"""File → Open Recent: the designs opened or saved last, kept in the window's QSettings (as
JSON: a list of absolute paths, the newest first), and the folder the file dialogs start in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

MAX_RECENT = 10


def remember(settings: QSettings, path: str) -> None:
    path = str(Path(path).resolve())
    recent = [p for p in recent_paths(settings) if p != path]
    settings.setValue("recent", json.dumps([path] + recent[: MAX_RECENT - 1]))
    settings.setValue("last_dir", str(Path(path).parent))


def recent_paths(settings: QSettings) -> list[str]:
    """The recent designs; a damaged setting is an empty list."""
    try:
        value = json.loads(settings.value("recent", "[]"))
        return [p for p in value if isinstance(p, str)]
    except (TypeError, ValueError):
        return []


def fill_menu(menu: QMenu, settings: QSettings, open_path: Callable[[str], object]) -> None:
    menu.clear()
    recent = recent_paths(settings)
    if not recent:
        menu.addAction("(none)").setEnabled(False)
    for p in recent:
        action = menu.addAction(Path(p).name)
        action.setStatusTip(p)
        action.setToolTip(p)
        action.triggered.connect(lambda _=False, p=p: open_path(p))
