"""Crash recovery: the open design is written to a recovery file a few seconds after each change
(and at most MAX_DELAY_MS after the first change not yet written, however often the changes
come) and removed when the window closes normally. A recovery file left behind at the next
start means the app did not close normally, and the window offers to restore it.

Each recovery file has a lock file beside it (`<file>.lock`, a QLockFile) held by the process
that writes it. A file whose lock is held by a live process belongs to a running instance: it
is neither offered nor deleted by another one. The lock of a process that died (a crash, a
kill -9) is stale, and QLockFile takes it over; the instance that offers the file holds the
lock until the file is handled, so two instances starting together never offer the same file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QSaveFile, QStandardPaths, QTimer

from ..model.design_file import from_dict, to_dict
from .document import Document

FORMAT = "convnet-designer-recovery"
DELAY_MS = 3000  # written this long after the last change...
MAX_DELAY_MS = 10000  # ...or this long after the first change not yet written, if sooner
LOCK_SUFFIX = ".lock"


def default_directory() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation)
    return Path(base or Path.home() / ".convnet-designer") / "recovery"


def _lock_for(file: Path) -> QLockFile:
    lock = QLockFile(str(file) + LOCK_SUFFIX)
    # stale only when its process is gone, never by age: an instance may run for days
    lock.setStaleLockTime(0)
    return lock


@dataclass
class Recovered:
    file: Path
    path: str | None  # the design's own file, if it had one
    name: str
    saved_at: float
    text: str  # the design, as .convnet.json text
    # held from find_recoverable() until the file is handled (discard) or left (release)
    lock: QLockFile | None = field(default=None, repr=False, compare=False)

    def discard(self) -> None:
        """The file was offered and answered: delete it and its lock."""
        try:
            self.file.unlink()
        except OSError:
            pass
        self.release()

    def release(self) -> None:
        """Keep the file (it is offered again at the next start) and let go of its lock."""
        if self.lock is not None and self.lock.isLocked():
            self.lock.unlock()


class Recovery(QObject):
    """Autosaves one document to its own recovery file.

    Every change of the document (re)starts the quiet timer (`delay_ms`); the first change
    after a write also starts the deadline (`max_delay_ms`), which later changes do not
    restart. Whichever fires first writes. Whether there is anything to write is decided
    then, not when the change is signalled: QUndoStack.push() runs the command's redo(), which
    emits `changed`, before the stack stops being clean."""

    def __init__(self, doc: Document, directory: Path | None = None,
                 delay_ms: int | None = None, max_delay_ms: int | None = None, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.directory = Path(directory or default_directory())
        self.file = self.directory / f"{os.getpid()}-{id(self):x}.json"
        self.lock = _lock_for(self.file)
        self._closed = False
        self.timer = self._single_shot(DELAY_MS if delay_ms is None else delay_ms)
        self.deadline = self._single_shot(MAX_DELAY_MS if max_delay_ms is None
                                          else max_delay_ms)
        doc.changed.connect(self._schedule)
        doc.moved.connect(self._schedule)
        doc.file_changed.connect(self._file_changed)

    def _single_shot(self, ms: int) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(self.write)
        return timer

    def _schedule(self, *_) -> None:
        if self._closed:
            return
        self.timer.start()
        if not self.deadline.isActive():
            self.deadline.start()

    def _file_changed(self) -> None:
        if self.doc.modified:  # e.g. training settings (mark_modified emits only this)
            self._schedule()
        else:  # saved, freshly opened or undone to the saved state: nothing to recover
            self._stop()
            self.discard()

    def _stop(self) -> None:
        self.timer.stop()
        self.deadline.stop()

    def write(self) -> None:
        self._stop()
        if self._closed:
            return
        if not self.doc.modified:
            self.discard()
            return
        data = {"format": FORMAT, "path": self.doc.path, "saved_at": time.time(),
                "design": to_dict(self.doc.design)}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not self.lock.isLocked():
                self.lock.tryLock(0)  # the file's own name: only a stale lock can be there
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
        if self.lock.isLocked():
            self.lock.unlock()  # removes the lock file

    def close(self) -> None:
        """The window closes normally: nothing to recover, and nothing more is written."""
        self._closed = True
        self._stop()
        self.discard()


def find_recoverable(directory: Path | None = None, skip_own: bool = True) -> list[Recovered]:
    """Recovery files left by sessions that did not close normally, newest first (this
    process's own are skipped unless skip_own is False). Files of running instances (their
    lock is held by a live process) and unreadable files are skipped. Each one found is locked
    by this process until it is discarded or released (or the Recovered is garbage)."""
    directory = Path(directory or default_directory())
    found = []
    for file in sorted(directory.glob("*.json")):
        if skip_own and file.name.startswith(f"{os.getpid()}-"):
            continue
        lock = _lock_for(file)
        if not lock.tryLock(0):  # a running instance's, or being offered by another one
            continue
        rec = _read(file, lock)
        if rec is None:
            lock.unlock()
        else:
            found.append(rec)
    _remove_stale_locks(directory)
    return sorted(found, key=lambda r: -r.saved_at)


def _read(file: Path, lock: QLockFile) -> Recovered | None:
    try:
        if not file.exists():  # handled by another instance before the lock was ours
            return None
        data = json.loads(file.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        design = from_dict(data["design"])
        text = json.dumps(data["design"], ensure_ascii=False)
        saved_at = data.get("saved_at", 0)
        if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)) or not (
                0 <= saved_at < 2**33):  # (a time before 2242; beyond, localtime raises)
            saved_at = file.stat().st_mtime  # a damaged time: the file's own
    except Exception:  # noqa: BLE001 - a damaged recovery file is skipped, never fatal
        return None
    path = data.get("path") if isinstance(data.get("path"), str) else None
    return Recovered(file, path, design.network.name, float(saved_at), text, lock)


def _remove_stale_locks(directory: Path) -> None:
    """Locks left without their file by instances that died before writing one."""
    for name in directory.glob("*.json" + LOCK_SUFFIX):
        if not Path(str(name).removesuffix(LOCK_SUFFIX)).exists():
            lock = _lock_for(Path(str(name).removesuffix(LOCK_SUFFIX)))
            if lock.tryLock(0):  # the process is gone
                lock.unlock()
