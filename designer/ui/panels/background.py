"""Job: one function run in its own QThread, its result and its progress sent back as signals.

The training panel's shorter pieces of work use it (the augmentation preview, the learning-rate
finder); a run has its TrainWorker. The function never touches a widget: it gets `report`, which
it may call from its thread with any value; the latest value goes out as `step` at most
1 / interval_s times a second (the last one always, before `done`). The function's return value
goes out as `done`, an exception it raises as `failed`: never into the event loop.

A Job runs once. `wait()` after `done` or `failed` lets the QThread go; a job still running
when the program ends is cancelled (where it says how) and waited for (a QThread destroyed
while running aborts the process).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

UPDATES_PER_S = 20
_LIVE: set[Job] = set()  # started and not yet waited for


@atexit.register
def _wait_all() -> None:
    for job in list(_LIVE):
        if job.cancel is not None:
            job.cancel()
        job.wait(10_000)


class _Thread(QThread):
    def __init__(self, job: Job):
        super().__init__()
        self._job = job

    def run(self) -> None:
        self._job._run()


class Job(QObject):
    """Lives in the thread that made it (the GUI's) and emits from its worker thread: every
    slot, a widget's method or a lambda, is called in the GUI thread (a queued connection)."""

    step = Signal(object)  # the latest value the function reported
    done = Signal(object)  # what the function returned
    failed = Signal(object)  # the exception it raised

    def __init__(self, fn: Callable[[Callable[[Any], None]], Any], name: str = "Job",
                 interval_s: float = 1.0 / UPDATES_PER_S,
                 cancel: Callable[[], None] | None = None):
        super().__init__()
        self._fn = fn
        self.cancel = cancel  # asks fn to end soon (a program that ends calls it)
        self._name = name
        self.interval_s = interval_s
        self._thread: QThread | None = None
        self._lock = threading.Lock()
        self._latest: Any = None
        self._has_latest = False
        self._last_emit = 0.0
        self.finished = False  # done or failed has been sent

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a Job runs once; make a new one to run again")
        thread = _Thread(self)
        thread.setObjectName(self._name)
        self._thread = thread
        _LIVE.add(self)
        thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self.finished

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is None:
            return True
        ended = self._thread.wait(timeout_ms)
        if ended:
            _LIVE.discard(self)
        return ended

    # ----------------------------------------------------------------------------- its thread

    def report(self, value: Any) -> None:
        with self._lock:
            self._latest, self._has_latest = value, True
        now = time.monotonic()
        if now - self._last_emit >= self.interval_s:
            self._last_emit = now
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            value, has = self._latest, self._has_latest
            self._latest, self._has_latest = None, False
        if has:
            self.step.emit(value)

    def _run(self) -> None:
        try:
            result, error = self._fn(self.report), None
        except Exception as e:  # noqa: BLE001 - the window shows it; it never ends the app
            result, error = None, e
        self._flush()
        self.finished = True
        if error is None:
            self.done.emit(result)
        else:
            self.failed.emit(error)
