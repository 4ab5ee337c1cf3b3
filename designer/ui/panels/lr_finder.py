"""The learning-rate finder in the Training tab: "Find learning rate" sweeps the rate on a copy of
the design with the form's settings (training/lr_find.py's find_lr, in a background Job), draws
the smoothed loss against the rate (log axis) as it goes, marks the suggestion with a vertical
line and its value, and "Apply" sets the learning rate to it as one undo step.

The panel owns the button (`button`, beside Start) and places this widget above its curves; it
is hidden until a sweep starts and ✕ puts it away. While a run trains the button is disabled
(`set_training`); while the finder runs, `busy_changed(True)` tells the panel to hold Start.
pyqtgraph and torch are imported when the first sweep starts, not before.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QTextDocumentFragment
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...training.events import TrainConfig
from ..theme import SEVERITY_COLOURS
from .background import Job

CURVE = "#2563eb"
MARKER = "#059669"


def rounded(lr: float) -> float:
    """A suggestion as one types it: two significant digits (0.0021544 -> 0.0022)."""
    return float(f"{lr:.2g}")


class LRFinder(QWidget):
    busy_changed = Signal(bool)
    apply_requested = Signal(float)  # the learning rate to set (one undo step, the panel's)
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: Any = None  # the last LRFindResult
        self.suggestion: float | None = None  # rounded, as shown and applied
        self.plot = self.curve = self.marker = self.marker_text = None
        self._job: Job | None = None
        self._stop = threading.Event()
        self._lrs: list[float] = []  # the curve so far, appended by the Job's thread
        self._smoothed: list[float] = []
        self._training = False

        self.button = QPushButton("Find learning rate")
        self._tip = ("Train a copy of the design for a few batches while the learning rate "
                     "grows from 1e-7 to 10, and suggest where the loss falls fastest")
        self.button.setToolTip(self._tip)
        self.button.clicked.connect(self._start_clicked)
        self._settings = None  # () -> (network, TrainConfig, datasets): attach() sets it

        title = QLabel("<b>Learning-rate finder</b>")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the sweep after the current batch (the curve so far "
                                    "is kept, with a suggestion where it shows one)")
        self.stop_button.clicked.connect(self.stop)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Put the finder away (a sweep in progress is stopped)")
        self.close_button.clicked.connect(self.dismiss)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(title)
        top.addWidget(self.progress, 1)
        top.addWidget(self.stop_button)
        top.addWidget(self.apply_button)
        top.addWidget(self.close_button)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 4)
        self._layout.setSpacing(2)
        self._layout.addLayout(top)
        self._layout.addWidget(self.summary)
        self.hide()

    def attach(self, panel) -> None:
        """Work for the training panel: a sweep trains its design with its form's settings
        (`read_form`: nothing is saved, the design stays unmodified) and data sets, Apply is its
        `change_settings`, Start waits for the finder (its `_set_running` reads `busy`) and the
        status bar hears the result."""
        self._settings = lambda: (panel.doc.network, panel.read_form(), panel.datasets)
        self.busy_changed.connect(lambda _busy: panel._set_running(panel.running))
        self.apply_requested.connect(
            lambda lr: panel.change_settings("Learning rate from the finder", {"lr": lr}))
        self.status_message.connect(panel.status_message)
        # another design opened: this one's curve and Apply would be its, so they go
        self._design = lambda: panel.doc.design
        self._shown_for = None
        panel.doc.file_changed.connect(self._design_maybe_replaced)

    def _design_maybe_replaced(self) -> None:
        if self._shown_for is not None and self._design() is not self._shown_for:
            self._shown_for = None
            self.dismiss()

    # ----------------------------------------------------------------------------- state

    @property
    def busy(self) -> bool:
        return self._job is not None

    def set_training(self, training: bool) -> None:
        """A run trains: no sweep meanwhile (both would share the machine and the data)."""
        self._training = training
        self._enable()

    def _enable(self) -> None:
        self.button.setEnabled(not self._training and not self.busy)
        self.button.setToolTip(self._tip if not self._training else "Not while a run trains")
        self.stop_button.setEnabled(self.busy)
        self.apply_button.setEnabled(not self.busy and self.suggestion is not None)
        self.apply_button.setToolTip(
            f"Set the learning rate to {self.suggestion:g} (Ctrl+Z undoes it)"
            if self.suggestion is not None else "No suggestion to apply")

    # ----------------------------------------------------------------------------- sweep

    def _start_clicked(self) -> None:
        if self._settings is not None:
            self._shown_for = self._design()
            self.start(*self._settings())

    def start(self, network, config: TrainConfig, datasets=None) -> bool:
        """Sweep on a copy of `network` with a copy of `config`; False while busy or training."""
        if self.busy or self._training:
            return False
        network = network.copy()
        config = TrainConfig.from_dict(config.to_dict())
        config.checkpoint_dir = None  # (the finder writes nothing, but be sure)
        self._ensure_plot()
        self.result = self.suggestion = None
        self._lrs, self._smoothed = [], []
        self._stop = stop = threading.Event()
        self.curve.setData([], [])
        self.plot.getPlotItem().enableAutoRange()
        self.marker.hide()
        self.marker_text.hide()
        self.progress.setRange(0, 0)
        self.progress.setFormat("Preparing the data and the model…")
        self.summary.setText("Training a copy of the design while the learning rate grows; "
                             "nothing of the design changes.")
        self.summary.setStyleSheet("")
        lrs, smoothed = self._lrs, self._smoothed

        def sweep(report):
            from ...training.lr_find import find_lr  # torch: in the Job's thread only

            def on_step(step):
                lrs.append(step.lr)
                smoothed.append(step.smoothed)
                report(step)

            return find_lr(network, config, stop=stop, on_step=on_step,
                           on_data=lambda done, total, message: report((done, total, message)),
                           datasets=datasets)

        job = self._job = Job(sweep, "LRFinder", cancel=stop.set)
        job.step.connect(self._on_step)
        job.done.connect(self._on_done)
        job.failed.connect(self._on_failed)
        self.show()
        QTimer.singleShot(0, self._make_room)
        self._enable()
        self.busy_changed.emit(True)
        job.start()
        return True

    def _make_room(self) -> None:
        """In the panel's splitter, take room for the curve from the plots below (shown after
        being hidden, the finder gets only what it asks at least)."""
        splitter = self.parentWidget()
        if not isinstance(splitter, QSplitter) or not self.isVisible():
            return
        i, sizes = splitter.indexOf(self), splitter.sizes()
        want = max(300, sum(sizes) * 2 // 5)
        if i + 1 < len(sizes) and sizes[i] < want:
            give = min(want - sizes[i], sizes[i + 1] - 160)
            if give > 0:
                sizes[i] += give
                sizes[i + 1] -= give
                splitter.setSizes(sizes)

    def stop(self) -> None:
        self._stop.set()
        if self.busy:
            self.stop_button.setEnabled(False)
            self.progress.setFormat("Stopping after this batch…")

    def dismiss(self) -> None:
        self.stop()
        self.hide()

    def _on_step(self, value: Any) -> None:
        if isinstance(value, tuple):  # the data set loading: (done, total, message)
            done, total, message = value
            if total:
                self.progress.setRange(0, int(total))
                self.progress.setValue(min(int(done), int(total)))
            self.progress.setFormat(message or "Loading the data…")
            return
        n = min(len(self._lrs), len(self._smoothed))
        self.curve.setData(self._lrs[:n], self._smoothed[:n])
        self.progress.setRange(0, value.steps)
        self.progress.setValue(value.step)
        self.progress.setFormat(f"batch {value.step}/{value.steps} · learning rate "
                                f"{value.lr:.2g} · loss {value.smoothed:.3g}")

    def _end(self) -> None:
        job = self._job
        if job is not None:
            job.wait()
        self._job = None
        self.busy_changed.emit(False)

    def _on_done(self, result) -> None:
        self._end()
        self.result = result
        # at the end the curve the suggestion was read from: centred, without the running
        # average's lag (the live curve can only be the running average)
        final = result.centred if len(result.centred) == len(result.lrs) else result.smoothed
        self.curve.setData(result.lrs, final)
        self._fit_loss(final)
        self.progress.setRange(0, max(1, len(result.lrs)))
        self.progress.setValue(len(result.lrs))
        self.progress.setFormat(f"{result.status} after {len(result.lrs)} batches")
        if result.suggestion is not None:
            self.suggestion = rounded(result.suggestion)
            self._mark(self.suggestion)
        parts = []
        if self.suggestion is not None:
            parts.append(f"Suggested learning rate: <b>{self.suggestion:g}</b> ({result.method})")
        if result.fault is not None:
            parts.append(_red(f"{result.fault.message}. {result.fault.advice}"))
        parts += [n[0].upper() + n[1:] for n in result.notes if n]
        if result.ended:
            parts.append(f"The sweep {_verb(result.ended)} ({result.device}).")
        self.summary.setText("<br>".join(parts))
        self._enable()
        said = (f"Learning-rate finder: suggests {self.suggestion:g}" if self.suggestion
                is not None else f"Learning-rate finder: {result.status}, no suggestion")
        self.status_message.emit(said)

    def _on_failed(self, error: Exception) -> None:
        self._end()
        self.progress.setRange(0, 1)
        self.progress.setFormat("failed")
        self.summary.setText(_red(f"The finder could not run: {type(error).__name__}: {error}"))
        self._enable()

    def apply(self) -> None:
        if self.suggestion is not None and not self.busy:
            self.apply_requested.emit(self.suggestion)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        self._stop.set()
        return self._job.wait(timeout_ms) if self._job is not None else True

    # ----------------------------------------------------------------------------- plot

    def _ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg  # slow to import: only when a sweep starts

        fg = self.palette().color(QPalette.WindowText)
        bg = self.palette().color(QPalette.Base)
        plot = pg.PlotWidget(background=bg)
        item = plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.showGrid(x=True, y=True, alpha=0.15)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("bottom", "learning rate (log)", color=fg.name(), size="8pt")
        item.setLabel("left", "smoothed loss", color=fg.name(), size="8pt")
        for name in ("left", "bottom"):
            item.getAxis(name).setTextPen(pg.mkPen(fg))
            item.getAxis(name).enableAutoSIPrefix(False)  # a rate reads 0.001, not 1 (×0.001)
        plot.setMinimumHeight(160)
        plot.setFocusPolicy(Qt.NoFocus)
        self.curve = plot.plot([], [], pen=pg.mkPen(CURVE, width=2))
        self.marker = pg.InfiniteLine(angle=90, movable=False,
                                      pen=pg.mkPen(MARKER, width=2, style=Qt.DashLine))
        self.marker_text = pg.TextItem(color=MARKER, anchor=(-0.05, 0))
        item.addItem(self.marker, ignoreBounds=True)
        item.addItem(self.marker_text, ignoreBounds=True)
        self.plot = plot
        self._layout.addWidget(plot, 1)

    def _fit_loss(self, smoothed: list[float]) -> None:
        """The loss axis from the lowest loss to a little above the first: the explosion at
        the end would flatten the descent that matters."""
        values = [v for v in smoothed if math.isfinite(v)]
        if len(values) >= 2:
            low, high = min(values), max(values[0], min(values)) * 1.25
            self.plot.getPlotItem().setYRange(low - 0.05 * (high - low), high, padding=0)

    def _mark(self, lr: float) -> None:
        """The vertical line at `lr` (the axis is log10 of the rate) with its value."""
        x = math.log10(lr)
        self.marker.setValue(x)
        self.marker.show()
        self.marker_text.setText(f"{lr:g}")
        top = self.plot.getPlotItem().viewRange()[1][1]
        self.marker_text.setPos(x, top)
        self.marker_text.show()

    @property
    def summary_text(self) -> str:
        """The line under the finder's title, as plain text."""
        return QTextDocumentFragment.fromHtml(self.summary.text()).toPlainText()

    @property
    def marker_lr(self) -> float | None:
        """The learning rate the vertical line marks, or None where none is shown."""
        if self.marker is None or not self.marker.isVisible():
            return None
        return 10 ** self.marker.value()


def _red(text: str) -> str:
    import html

    return f'<span style="color:{SEVERITY_COLOURS["error"]}">{html.escape(text)}</span>'


def _verb(ended: str) -> str:
    """'reached the end of the range' reads after 'The sweep'; 'the loss exploded at ...' and
    'stopped at batch 12' too, with 'ended:' where needed."""
    return ended if ended.startswith(("reached", "stopped")) else f"ended: {ended}"
