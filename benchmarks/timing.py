"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, repeat: int, before=None) -> float:
    """Median wall time of fn() in ms over `repeat` calls; before(i) runs untimed first."""
    times = []
    for i in range(repeat):
        if before:
            before(i)
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3
