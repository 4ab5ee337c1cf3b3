"""Crash recovery: the open design is written to a recovery file a few seconds after each change
and removed when the window closes normally. A recovery file left behind at the next start means
the app did not close normally, and the window offers to restore it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSaveFile, QStandardPaths, QTimer

from ..model.design_file import from_dict, to_dict
from .document import Document

FORMAT = "convnet-designer-recovery"
DELAY_MS = 3000


def default_directory() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation)
    return Path(base or Path.home() / ".convnet-designer") / "recovery"


@dataclass
class Recovered:
    file: Path
    path: str | None  # the design's own file, if it had one
    name: str
    saved_at: float
    text: str  # the design, as .convnet.json text


class Recovery(QObject):
    """Autosaves one document to its own recovery file."""

    def __init__(self, doc: Document, directory: Path | None = None, delay_ms: int = DELAY_MS,
                 parent=None):
        super().__init__(parent)
        self.doc = doc
        self.directory = Path(directory or default_directory())
        self.file = self.directory / f"{os.getpid()}-{id(self):x}.json"
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.write)
        doc.changed.connect(self._schedule)
        doc.moved.connect(self._schedule)
        doc.file_changed.connect(self._file_changed)

    def _schedule(self, *_):
        if self.doc.modified:
            self.timer.start()

    def _file_changed(self):
        if not self.doc.modified:  # saved or freshly opened: nothing to recover
            self.timer.stop()
            self.discard()

    def write(self) -> None:
        if not self.doc.modified:
            return
        data = {"format": FORMAT, "path": self.doc.path, "saved_at": time.time(),
                "design": to_dict(self.doc.design)}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            f = QSaveFile(str(self.file))
            if f.open(QSaveFile.WriteOnly):
                # "replace": a lone surrogate in a name must not stop the autosave
                f.write(json.dumps(data, ensure_ascii=False).encode("utf-8", "replace"))
                f.commit()
        except OSError:
            pass  # recovery is best effort; it must never disturb editing

    def discard(self) -> None:
        try:
            self.file.unlink()
        except OSError:
            pass


def find_recoverable(directory: Path | None = None, skip_own: bool = True) -> list[Recovered]:
    """Recovery files left by sessions that did not close normally, newest first (this
    process's own are skipped unless skip_own is False). Unreadable files are skipped."""
    directory = Path(directory or default_directory())
    found = []
    for file in sorted(directory.glob("*.json")):
        if skip_own and file.name.startswith(f"{os.getpid()}-"):
            continue
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                continue
            design = from_dict(data["design"])
            text = json.dumps(data["design"], ensure_ascii=False)
            saved_at = data.get("saved_at", 0)
            if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)) or not (
                    0 <= saved_at < 2**33):  # (a time before 2242; beyond, localtime raises)
                saved_at = file.stat().st_mtime  # a damaged time: the file's own
        except Exception:  # noqa: BLE001 - a damaged recovery file is skipped, never fatal
            continue
        path = data.get("path") if isinstance(data.get("path"), str) else None
        found.append(Recovered(file, path, design.network.name, float(saved_at), text))
    return sorted(found, key=lambda r: -r.saved_at)
