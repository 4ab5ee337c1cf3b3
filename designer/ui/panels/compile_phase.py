"""The compile phase of a run, as the training panel shows it: while torch.compile builds a step
(a PhaseEvent "compiling" that has begun, training/compiling.py) the run's status reads
"compiling… N s", counting, and the progress bar says which step; at its end the line under the
controls says how long it took, or, where it failed, that the run goes on in eager mode and why
(in the warning colour, and in the status bar).

The Trainer reports only the phase's start and end (through TrainWorker.phase); the seconds in
between are the GUI's clock, shown twice a second.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from ..theme import SEVERITY_COLOURS

TICK_MS = 500


class CompilePhase(QObject):
    """Drives `state` (the run's status label), `progress` and `note` (a label of its own)
    from the run's PhaseEvents."""

    status_message = Signal(str)

    def __init__(self, state: QLabel, progress: QProgressBar, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.progress = state, progress
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        self.active = False
        self._before = "running"  # the status to go back to
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._said: list[str] = []
        self._failed = False

    def begin_run(self) -> None:
        """A new run: nothing said yet."""
        self._timer.stop()
        self.active = False
        self._said, self._failed = [], False
        self.note.clear()
        self.note.hide()

    def notes(self, notes: list[str]) -> None:
        """The run's notes at its start: torch.compile refused before the first step."""
        for note in notes:
            if note.startswith("torch.compile") and "eager mode" in note:
                self._say(note, failed=True)

    def on_phase(self, event) -> None:
        if event.phase != "compiling":
            return
        if not event.done:
            self.active = True
            self._before = self.state.text() if not self.state.text().startswith(
                "compiling") else "running"
            self._clock.start()
            self.progress.setFormat(f"torch.compile: compiling the {event.what} step (the "
                                    "steps after it run faster)…")
            self._tick()
            self._timer.start()
            return
        self.end()
        if event.note == "compiled":
            self._say(f"torch.compile: the {event.what} step compiled in "
                      f"{event.seconds:.1f} s", failed=False)
        else:
            self._say(event.note, failed=True)

    def end(self) -> None:
        """The phase is over (its end, or the run's)."""
        if self.active:
            self._timer.stop()
            self.active = False
            if self.state.text().startswith("compiling"):
                self.state.setText(self._before)

    def _tick(self) -> None:
        text = self.state.text()
        if self.active and (text in ("starting", "running") or text.startswith("compiling")):
            self.state.setText(f"compiling… {self._clock.elapsed() // 1000} s")

    def _say(self, text: str, failed: bool) -> None:
        self._said.append(text)
        self._failed = self._failed or failed
        self.note.setText("\n".join(self._said))
        # a fallback in the warning colour, a compile that worked muted
        self.note.setStyleSheet(f"color: {SEVERITY_COLOURS['warning']};" if self._failed else "")
        self.note.setEnabled(self._failed)
        self.note.show()
        if failed:
            self.status_message.emit(text)
