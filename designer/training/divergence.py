"""Whether a run's training loss is running away: the Trainer hands every reading of the loss
(the mean over the batches since the reading before) to a DivergenceWatch, which answers why the
run diverged, or None. Plain Python: no torch, so the rules are tested on their own.

Two rules, both measured against the loss the run started from (its first reading: the first
batch, before any step has changed the weights), floored at ln(classes), the loss of a guess:

- far above: the loss, smoothed over about five batches (one wild batch is not enough), exceeds
  FAR_FACTOR × that start. A learning rate of 1e6 gets there at the second batch;
- rising: the mean loss of each window of batches (about a quarter of an epoch) rose window after
  window RISING_WINDOWS times in a row and ends well above the lowest window so far (1.5 × it, and
  at least 0.2 × ln(classes) above it): a learning rate a little too high for the design.

A healthy run, noisy as it is, trips neither: its loss falls from the start and a window above the
previous one is followed by one below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FAR_FACTOR = 10.0
SMOOTH_PER_BATCH = 0.8  # the smoothed loss keeps this much of itself per batch (~5 batches)
RISING_WINDOWS = 4  # windows in a row, each above the one before
RISE_FACTOR = 1.5  # the last window against the lowest
RISE_FLOOR = 0.2  # ... and at least this × ln(classes) above it
WINDOW_MIN = 5  # batches


@dataclass
class Diverged:
    """Why the watch says the run diverged: `value` (the loss that shows it), `start` (the loss
    it is compared with: the run's first, floored at ln(classes)) and the rule in words."""

    value: float
    start: float
    why: str


class DivergenceWatch:
    """Reads of the training loss in, a Diverged out when the run is running away.

    classes: the data set's classes (ln(classes) is the floor of the start);
    steps_per_epoch: the windows of the rising rule are a quarter of an epoch (at least
    WINDOW_MIN batches)."""

    def __init__(self, classes: int, steps_per_epoch: int):
        self.floor = math.log(max(int(classes), 2))
        self.window = max(int(steps_per_epoch) // 4, WINDOW_MIN)
        self.start: float | None = None
        self.smoothed = math.nan
        self._sum = 0.0  # the window being filled
        self._n = 0
        self._windows: list[float] = []  # means of the full windows, the latest last
        self._lowest = math.inf

    def add(self, loss: float, batches: int = 1) -> Diverged | None:
        """A reading: `loss`, the mean over `batches` batches. Non-finite losses are the NaN
        check's, not this one's: they are ignored here."""
        if not math.isfinite(loss) or batches < 1:
            return None
        if self.start is None:
            self.start = max(loss, self.floor)
            self.smoothed = loss
        else:
            keep = SMOOTH_PER_BATCH ** batches
            self.smoothed = keep * self.smoothed + (1 - keep) * loss
        if self.smoothed > FAR_FACTOR * self.start:
            return Diverged(loss, self.start, f"over {FAR_FACTOR:g} times where it started "
                                              f"({self.start:.3g})")
        self._sum += loss * batches
        self._n += batches
        if self._n < self.window:
            return None
        mean = self._sum / self._n
        self._sum, self._n = 0.0, 0
        self._windows.append(mean)
        self._lowest = min(self._lowest, mean)
        recent = self._windows[-(RISING_WINDOWS + 1):]
        if len(recent) == RISING_WINDOWS + 1 and all(b > a for a, b in zip(recent, recent[1:])) \
                and mean >= RISE_FACTOR * self._lowest \
                and mean - self._lowest >= RISE_FLOOR * self.floor:
            return Diverged(mean, self.start,
                            f"rising for {RISING_WINDOWS} checks in a row (every "
                            f"{self.window} batches), up from {self._lowest:.3g}")
        return None
