"""GPU detection for the memory budget, without importing torch at start.

Once the window has been shown, GpuProbe runs `nvidia-smi` in a QProcess (the GUI thread never
waits on it) and offers each GPU it lists as a budget in the totals panel. It only adds the
options: the budget stays what the design says until the user picks one. No nvidia-smi on PATH,
a failure, unreadable output or no answer within three seconds: nothing is added, quietly.
"""

from __future__ import annotations

import shutil
from typing import NamedTuple

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

from ..model.units import format_bytes

QUERY = ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
START_DELAY_MS = 250  # after the window's Show event: its first paint comes first
TIMEOUT_MS = 3000


class Gpu(NamedTuple):
    name: str
    memory: int  # bytes

    @property
    def label(self) -> str:
        return f"{self.name} ({format_bytes(self.memory)})"


def parse_gpus(text: str) -> list[Gpu]:
    """`nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` lines (name,
    MiB) -> one Gpu per distinct model and size, in the order listed; other lines are skipped."""
    found: list[Gpu] = []
    for line in text.splitlines():
        name, _, mib = line.rpartition(",")
        name = name.strip()
        try:
            memory = int(float(mib.strip()) * 1024**2)
        except ValueError:  # "[N/A]", an error message, a blank line
            continue
        if name and memory > 0 and Gpu(name, memory) not in found:
            found.append(Gpu(name, memory))
    return found


class GpuProbe(QObject):
    """Runs nvidia-smi once, after `window` (the parent) is first shown, and adds each GPU to
    `totals` with add_budget_option. `finished` carries what was found (empty: nothing)."""

    finished = Signal(list)  # [Gpu]

    def __init__(self, totals, parent: QObject | None = None,
                 delay_ms: int = START_DELAY_MS, timeout_ms: int = TIMEOUT_MS):
        super().__init__(parent)
        self.totals = totals
        self.delay_ms = delay_ms
        self.timeout_ms = timeout_ms
        self.gpus: list[Gpu] = []
        self.process = None
        self.done = False
        self._scheduled = False
        self._timer: QTimer | None = None
        if parent is not None and hasattr(parent, "isVisible"):
            parent.installEventFilter(self)
            if parent.isVisible():  # made for a window already on screen (a staged start)
                self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(self.delay_ms, self.start)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind == QEvent.Type.Show:
            self._schedule()
        elif kind == QEvent.Type.Close and self.process is not None:
            QTimer.singleShot(0, self._closed)  # the close may yet be refused
        return False

    def _closed(self) -> None:
        if not self.parent().isVisible():
            self.stop()

    def start(self) -> None:
        """Run the query (once); returns at once."""
        if self.process is not None or self.done:
            return
        program = shutil.which("nvidia-smi")
        if program is None:
            self._finish([])
            return
        from PySide6.QtCore import QProcess

        self.process = QProcess(self)
        self.process.finished.connect(self._read)
        self.process.errorOccurred.connect(self._failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.stop)
        self._timer.start(self.timeout_ms)
        self.process.start(program, QUERY)

    def stop(self) -> None:
        """Give up on the query (the window closes, or no answer in time)."""
        if self.done:
            return
        if self.process is not None:
            self.process.blockSignals(True)
            self.process.kill()
            self.process.waitForFinished(500)
        self._finish([])

    def _read(self, code: int, status) -> None:
        from PySide6.QtCore import QProcess

        if self.done:
            return
        ok = status == QProcess.ExitStatus.NormalExit and code == 0
        out = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        gpus = parse_gpus(out) if ok else []
        for gpu in reversed(gpus):  # each goes to the top of the list: the first GPU ends first
            self.totals.add_budget_option(gpu.label, gpu.memory)
        self._finish(gpus)

    def _failed(self, error) -> None:
        from PySide6.QtCore import QProcess

        if error == QProcess.ProcessError.FailedToStart:  # no finished() follows
            self._finish([])

    def _finish(self, gpus: list[Gpu]) -> None:
        if self.done:
            return
        self.done = True
        self.gpus = gpus
        if self._timer is not None:
            self._timer.stop()
        parent = self.parent()
        if parent is not None and hasattr(parent, "isVisible"):
            parent.removeEventFilter(self)
        self.finished.emit(list(gpus))
