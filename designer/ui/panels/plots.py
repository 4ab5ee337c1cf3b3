"""The training curves, drawn with pyqtgraph: loss per batch (raw, faint, and smoothed) with the
validation loss per epoch, accuracy per epoch (train and validation), and the learning rate.

The x axis is in epochs everywhere (step / steps per epoch), so a validation point sits at the end
of its epoch and earlier runs with another batch size still line up. Earlier runs are drawn
faintly behind the current one.

pyqtgraph takes most of a second to import: only the training panel imports this module, and only
when it is first shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...training.events import EpochEvent
from ..theme import is_dark

TRAIN = "#2563eb"
VALIDATION = "#ea580c"
LR = "#059669"
MAX_OVERLAID_RUNS = 5


def smoothing_for(steps_per_epoch: int) -> float:
    """EMA weight: about a fifth of an epoch of memory, within sensible bounds."""
    return min(0.98, max(0.6, 1.0 - 5.0 / max(1, steps_per_epoch)))


class Series:
    """A growing pair of float arrays (amortised appends, views handed to pyqtgraph)."""

    def __init__(self) -> None:
        self._x = np.empty(256)
        self._y = np.empty(256)
        self.n = 0

    def extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        k = len(xs)
        if self.n + k > len(self._x):
            size = max(2 * len(self._x), self.n + k)
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n:self.n + k] = xs
        self._y[self.n:self.n + k] = ys
        self.n += k

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def clear(self) -> None:
        self.n = 0


def _finite(v: float) -> float:
    return v if math.isfinite(v) else float("nan")


def downsample(xs: Sequence[float], ys: Sequence[float], limit: int = 200) -> list[list[float]]:
    """At most `limit` evenly spaced [x, y] points (the last one kept), rounded for a file."""
    n = len(xs)
    if n == 0:
        return []
    idx = range(n) if n <= limit else sorted({round(i * (n - 1) / (limit - 1))
                                             for i in range(limit)})
    out = []
    for i in idx:
        y = float(ys[i])
        if math.isfinite(y):
            out.append([round(float(xs[i]), 4), float(f"{y:.5g}")])
    return out


class TrainingPlots(QWidget):
    """Three plots side by side. Feed it with `begin_run`, `add_points`, `add_epoch`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        dark = is_dark()
        fg = self.palette().color(QPalette.WindowText)
        bg = self.palette().color(QPalette.Base)
        self._faint = QColor(fg)
        self._faint.setAlpha(60)
        self._grid = 0.12 if not dark else 0.18

        # The key is a label of its own above the plots: in the loss plot's title it made the
        # plot wider than its view at a narrow width, which cut its right side (the key's
        # "validation" and the last epochs) off.
        self.legend = QLabel(f"{_key(TRAIN, 'train')} &nbsp; {_key(VALIDATION, 'validation')}")
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)
        self.legend.setToolTip("The colours of the loss and accuracy curves; faint lines are "
                               "earlier runs")
        self.loss_plot = self._plot("Loss", bg, fg)
        self.accuracy_plot = self._plot("Accuracy %", bg, fg)  # same colours as the loss
        self.lr_plot = self._plot("Learning rate", bg, fg)
        for plot in (self.accuracy_plot, self.lr_plot):
            plot.setXLink(self.loss_plot)  # one epoch axis: zoom one, see all three there
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.loss_plot, 3)
        row.addWidget(self.accuracy_plot, 2)
        row.addWidget(self.lr_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addLayout(row, 1)

        raw = QColor(TRAIN)
        raw.setAlpha(70)
        self.loss_raw = self.loss_plot.plot(pen=pg.mkPen(raw, width=1), connect="finite")
        self.loss_smooth = self.loss_plot.plot(pen=pg.mkPen(TRAIN, width=2), name="train",
                                               connect="finite")
        self.loss_val = self.loss_plot.plot(pen=pg.mkPen(VALIDATION, width=2), symbol="o",
                                            symbolSize=6, symbolBrush=VALIDATION,
                                            symbolPen=None, name="validation")
        for curve in (self.loss_raw, self.loss_smooth):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
        self.acc_train = self.accuracy_plot.plot(pen=pg.mkPen(TRAIN, width=2), symbol="o",
                                                 symbolSize=5, symbolBrush=TRAIN, symbolPen=None,
                                                 name="train")
        self.acc_val = self.accuracy_plot.plot(pen=pg.mkPen(VALIDATION, width=2), symbol="o",
                                               symbolSize=5, symbolBrush=VALIDATION,
                                               symbolPen=None, name="validation")
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen(LR, width=2))
        self._overlays: list[Any] = []

        self._raw = Series()
        self._smooth = Series()
        self._val = Series()
        self._acc_train = Series()
        self._acc_val = Series()
        self._lr = Series()
        self._steps = 1
        self._epochs: int | None = None
        self._alpha = smoothing_for(1)
        self._ema = 0.0
        self._ema_n = 0
        # The ranges are set here, not by pyqtgraph's auto-range: a range that moves with every
        # update re-lays every axis (the costliest part of a repaint). They grow in steps; a
        # user who zooms or pans takes over until the next run.
        self._follow = True
        self._x_top = 0.0
        self._loss_top = 0.0
        self._lr_top = 0.0
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            plot.getViewBox().sigRangeChangedManually.connect(self._user_took_over)
        self.accuracy_plot.setYRange(0, 100, padding=0.02)
        self._set_ranges(reset=True)

    def _plot(self, title: str, bg: QColor, fg: QColor):
        plot = pg.PlotWidget(background=bg, axisItems={"left": _Axis("left"),
                                                       "bottom": _Axis("bottom")})
        item = plot.getPlotItem()
        item.setTitle(title, color=fg.name(), size="9pt")
        item.showGrid(x=True, y=True, alpha=self._grid)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.layout.setContentsMargins(2, 2, 8, 2)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(self._faint))
            axis.setTextPen(pg.mkPen(fg))
        item.getAxis("left").setWidth(42)
        item.setLabel("bottom", "epoch", color=fg.name(), size="8pt")
        item.disableAutoRange()
        # (no item cache on the axes: painted from a cached pixmap they showed the tick labels
        # of the size before a resize of the dock; pyqtgraph keeps their picture until the
        # range or the size changes anyway)
        plot.setMinimumSize(160, 120)
        plot.setFocusPolicy(Qt.NoFocus)
        return plot

    # ----------------------------------------------------------------------------- feeding

    def begin_run(self, steps_per_epoch: int, epochs: int | None = None) -> None:
        """Forget the current curves (earlier runs stay) and set the x scale."""
        for s in (self._raw, self._smooth, self._val, self._acc_train, self._acc_val, self._lr):
            s.clear()
        self._steps = max(1, int(steps_per_epoch))
        self._epochs = epochs
        self._alpha = smoothing_for(self._steps)
        self._ema, self._ema_n = 0.0, 0
        self._follow = True
        self._redraw_batches()
        self._redraw_epochs()
        self._set_ranges(reset=True)

    def add_points(self, points: Iterable[tuple[int, float, float, float]]) -> None:
        """(global_step, loss, accuracy, lr) per batch."""
        xs, losses, smooth, lrs = [], [], [], []
        a = self._alpha
        for step, loss, _acc, lr in points:
            xs.append(step / self._steps)
            loss = _finite(loss)
            losses.append(loss)
            if not math.isnan(loss):
                self._ema = a * self._ema + (1 - a) * loss
                self._ema_n += 1
            smooth.append(self._ema / (1 - a ** self._ema_n) if self._ema_n else float("nan"))
            lrs.append(lr)
        if xs:
            self._raw.extend(xs, losses)
            self._smooth.extend(xs, smooth)
            self._lr.extend(xs, lrs)
            self._redraw_batches()
            self._set_ranges(x=xs[-1], loss=_top(losses), lr=_top(lrs))

    def add_epoch(self, e: EpochEvent) -> None:
        self._val.extend([e.epoch], [_finite(e.val_loss)])
        self._acc_train.extend([e.epoch], [100 * _finite(e.train_accuracy)])
        self._acc_val.extend([e.epoch], [100 * _finite(e.val_accuracy)])
        self._redraw_epochs()
        self._set_ranges(x=e.epoch, loss=_top([_finite(e.val_loss)]))

    def _set_ranges(self, x: float = 0.0, loss: float = 0.0, lr: float = 0.0,
                    reset: bool = False) -> None:
        """Grow the views to show x (epochs), loss and lr: x to the next power of two (at most
        the run's epochs, at least the earlier runs' extent), y to a rounded top."""
        if reset:
            self._x_top = self._loss_top = self._lr_top = 0.0
            for plot, item in self._overlays:
                xs, ys = item.getData()
                if xs is not None and len(xs):
                    x = max(x, float(np.nanmax(xs)))
                    if plot is self.loss_plot:
                        loss = max(loss, _top(ys))
                    elif plot is self.lr_plot:
                        lr = max(lr, _top(ys))
        if not self._follow:
            return
        if x > self._x_top or reset:
            top = 2.0 ** math.ceil(math.log2(max(x, 1.0)))
            if self._epochs:
                top = max(min(top, float(self._epochs)), x)
            self._x_top = top
            self.loss_plot.setXRange(0, top, padding=0.02)
        # an empty plot shows 0 to 1 but keeps a top of 0, so that the first values set the
        # range (a learning rate of 0.01 was a flat line at the bottom of 0 to 1)
        if loss > self._loss_top or reset:
            self._loss_top = _nice_top(loss) if loss > 0 else 0.0
            self.loss_plot.setYRange(0, self._loss_top or 1.0, padding=0.02)
        if lr > self._lr_top or reset:
            self._lr_top = _nice_top(lr) if lr > 0 else 0.0
            self.lr_plot.setYRange(0, self._lr_top or 1.0, padding=0.02)

    def _user_took_over(self, *_args) -> None:
        self._follow = False

    def _redraw_batches(self) -> None:
        self.loss_raw.setData(self._raw.x, self._raw.y)
        self.loss_smooth.setData(self._smooth.x, self._smooth.y)
        self.lr_curve.setData(self._lr.x, self._lr.y)

    def _redraw_epochs(self) -> None:
        self.loss_val.setData(self._val.x, self._val.y)
        self.acc_train.setData(self._acc_train.x, self._acc_train.y)
        self.acc_val.setData(self._acc_val.x, self._acc_val.y)

    # ----------------------------------------------------------------------------- reading

    @property
    def loss_point_count(self) -> int:
        """Batches drawn on the loss plot."""
        return _count(self.loss_raw)

    @property
    def epoch_point_count(self) -> int:
        """Epochs drawn on the accuracy plot."""
        return _count(self.acc_val)

    def smoothed_loss_curve(self, limit: int = 200) -> list[list[float]]:
        """The smoothed loss, downsampled, [[epoch, loss], ...]: what a saved run keeps."""
        return downsample(self._smooth.x, self._smooth.y, limit)

    def learning_rate_curve(self, limit: int = 100) -> list[list[float]]:
        return downsample(self._lr.x, self._lr.y, limit)

    # ----------------------------------------------------------------------------- earlier runs

    def show_earlier_runs(self, runs: Sequence[dict[str, Any]]) -> None:
        """Draw saved runs faintly: their smoothed loss, validation accuracy and learning rate."""
        for plot, item in self._overlays:
            plot.removeItem(item)
        self._overlays = []
        pen = pg.mkPen(self._faint, width=1.5)
        for run in list(runs)[-MAX_OVERLAID_RUNS:]:
            curve = _xy(run.get("loss_curve"))
            if curve:
                self._overlay(self.loss_plot, curve, pen)
            history = [h for h in run.get("history") or [] if isinstance(h, dict)]
            acc = [(h.get("epoch"), 100 * h.get("val_accuracy", float("nan"))) for h in history
                   if isinstance(h.get("val_accuracy"), (int, float))]
            if acc:
                self._overlay(self.accuracy_plot, acc, pen)
            lr = _xy(run.get("lr_curve"))
            if lr:
                self._overlay(self.lr_plot, lr, pen)
        if not self._raw.n:
            self._set_ranges(reset=True)

    def _overlay(self, plot, points, pen) -> None:
        xs, ys = zip(*points)
        item = pg.PlotDataItem(list(xs), list(ys), pen=pen, connect="finite")
        item.setZValue(-10)
        plot.addItem(item)
        self._overlays.append((plot, item))

    @property
    def overlaid_runs(self) -> int:
        return sum(1 for plot, _ in self._overlays if plot is self.loss_plot)


EPOCH_LABEL_PX = 36  # the room an epoch number takes on its axis, with its gap
_NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 100_000)


class _Axis(pg.AxisItem):
    """pyqtgraph's axis, except that the epoch axis leaves the corner's 0 to the value axis
    beside it (two zeros a few pixels apart read as one axis showing 0 twice), and a value axis
    whose numbers are too long for its width (a learning rate of 0.0002) writes them short
    (2e-4), every level of ticks alike."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 N803 (pyqtgraph's names)
        """The epoch axis ticks whole epochs, as many as fit with room for their labels (at a
        narrow width pyqtgraph's own ticks, 0.2 0.4 0.6 0.8, ran into one another)."""
        span = maxVal - minVal
        if self.orientation != "bottom" or not span > 0:
            return super().tickSpacing(minVal, maxVal, size)
        room = max(2, int(size // EPOCH_LABEL_PX))
        step = next(s for s in _NICE_STEPS if span / s <= room or s == _NICE_STEPS[-1])
        return [(float(step), 0.0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        if self.orientation == "bottom":
            strings = super().tickStrings(values, scale, spacing)
            return ["" if abs(v) < 1e-9 else s for v, s in zip(values, strings)]
        top = max(abs(float(v)) for v in self.range) * scale
        if 0 < top < 0.01:
            return [_short_number(v * scale, spacing * scale) for v in values]
        return super().tickStrings(values, scale, spacing)


def _short_number(v: float, spacing: float) -> str:
    """1.5e-3 rather than 0.0015, with the digits the tick spacing needs."""
    tolerance = abs(spacing) * 1e-3
    if abs(v) <= tolerance:
        return "0"
    text = f"{v:.6e}"
    for digits in range(6):
        text = f"{v:.{digits}e}"
        if abs(float(text) - v) <= tolerance:
            break
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _top(values: Iterable[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else 0.0


def _nice_top(v: float) -> float:
    """The next 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k above v (so a new top is rare)."""
    scale = 10.0 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * scale >= v * 1.05:
            return m * scale
    return 10 * scale


def _key(colour: str, text: str) -> str:
    """A legend in the title: a coloured dash and a name."""
    return f'<span style="color:{colour}">&#9644;</span>&nbsp;<small>{text}</small>'


def _count(curve) -> int:
    xs = curve.getData()[0]
    return 0 if xs is None else len(xs)


def _xy(value: Any) -> list[tuple[float, float]]:
    out = []
    for p in value or []:
        if (isinstance(p, (list, tuple)) and len(p) == 2
                and all(isinstance(v, (int, float)) for v in p)):
            out.append((float(p[0]), float(p[1])))
    return out
