"""Runs compared: accuracy against a cost (parameters, MACs, memory, time) and the Pareto
front, the runs no other run beats on both. Pure Python.

    entries = run_entries(design_name, design_path, runs, version_now)  # one per run record
    front = pareto_front([(cost, accuracy), ...])                    # indices, cheapest first

A run record (ui/panels/runs.py) is read from a design file, so every field is checked: a run
without the figure asked for is left out of the plot, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# what a run can be plotted against: (key, what the axis says, the unit)
COSTS = (("params", "parameters", ""), ("macs", "MACs per image", ""),
         ("memory", "peak memory of a training step", "B"), ("seconds", "training time", "s"))


@dataclass(frozen=True)
class RunEntry:
    """One run as the experiments table and the trade-off plot show it."""

    design: str  # the design's name
    path: str | None  # its file (None: the design open now, never saved)
    run_id: str
    version: str  # the design version it trained ("" for runs before versions)
    current: bool  # that version is the design's version now
    data: str
    settings: str  # optimizer, learning rate, batch, epochs
    best_accuracy: float | None
    final_accuracy: float | None
    seconds: float | None
    epochs: int | None
    status: str
    costs: dict[str, float] = field(default_factory=dict)  # params, macs, memory, seconds

    def cost(self, key: str) -> float | None:
        return self.costs.get(key)


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def run_entries(design: str, path: str | None, runs: Iterable[Any],
                version_now: str) -> list[RunEntry]:
    """The runs of one design (its `training.runs` records) as entries, oldest first."""
    out = []
    for r in runs:
        if not isinstance(r, dict):
            continue
        config = r.get("config") if isinstance(r.get("config"), dict) else {}
        data = config.get("data") if isinstance(config.get("data"), dict) else {}
        history = [h for h in r.get("history") or [] if isinstance(h, dict)]
        final = _number(history[-1].get("val_accuracy")) if history else None
        memory = _number(r.get("peak_bytes")) or _number(r.get("estimated_bytes"))
        costs = {k: v for k, v in (("params", _number(r.get("params"))),
                                   ("macs", _number(r.get("macs"))), ("memory", memory),
                                   ("seconds", _number(r.get("seconds")))) if v is not None}
        settings = ", ".join(str(x) for x in (
            config.get("optimizer"), f"lr {config.get('lr')}" if "lr" in config else None,
            f"batch {config.get('batch_size')}" if "batch_size" in config else None,
            f"{config.get('epochs')} epochs" if "epochs" in config else None) if x)
        version = r.get("version") if isinstance(r.get("version"), str) else ""
        out.append(RunEntry(
            design=design, path=path, run_id=str(r.get("id", "")), version=version,
            current=bool(version) and version == version_now,
            data=str(data.get("name", "?")), settings=settings,
            best_accuracy=_number(r.get("best_val_accuracy")), final_accuracy=final,
            seconds=_number(r.get("seconds")),
            epochs=r.get("epochs_done") if isinstance(r.get("epochs_done"), int) else None,
            status=str(r.get("status", "")), costs=costs))
    return out


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """The indices of the points (cost, accuracy) that no other point beats: none is at most as
    costly and at least as accurate, and better in one of the two. Cheapest first; of equal
    points, the first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front
