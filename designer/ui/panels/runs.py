"""The runs a design keeps: what a finished run leaves in `design.training["runs"]` (the
training panel's records, at most MAX_RUNS_KEPT), and how long a run took, as the panel writes
it."""

from __future__ import annotations

import math
import time
from typing import Any

from ...training.events import RunResult

MAX_RUNS_KEPT = 20


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_record(result: RunResult, loss_curve: list, lr_curve: list,
               steps_per_epoch: int | None) -> dict[str, Any]:
    """What a design file keeps of a run: small enough to keep twenty."""
    record = result.to_dict()
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    record["steps_per_epoch"] = steps_per_epoch
    record["loss_curve"] = loss_curve
    record["lr_curve"] = lr_curve
    if record.get("fault"):
        record["fault"].pop("detail", None)  # a traceback: the log's business, not the file's
    for h in record.get("history", []):
        for key, value in list(h.items()):
            if isinstance(value, float):
                h[key] = float(f"{value:.6g}") if math.isfinite(value) else None
    return record
