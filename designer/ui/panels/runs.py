"""The runs a design keeps: what a finished run leaves in `design.training["runs"]` (the
training panel's records, at most MAX_RUNS_KEPT), and how long a run took, as the panel writes
it.

A record is the RunResult (its history, figures and settings) with a downsampled loss curve,
and what ties it to its weights (training/store.py): "id" (its folder of checkpoints), "version"
(the structure it trained: model/versions.py), "weights" (the files it left: "last", "best"),
and "resumed_from" / "started_from" (the run whose checkpoint or weights it began with)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...training.events import RunResult
from ...training.store import new_run_id, run_started

MAX_RUNS_KEPT = 20


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_record(result: RunResult, loss_curve: list, lr_curve: list,
               steps_per_epoch: int | None, origin: dict[str, Any] | None = None,
               folder: Path | None = None) -> dict[str, Any]:
    """What a design file keeps of a run: small enough to keep twenty. `origin`: its id,
    version and where it began (RunStart.origin); `folder`: where it wrote its checkpoints."""
    record = {**(origin or {}), **result.to_dict()}
    if isinstance(record.get("config"), dict):
        record["config"].pop("checkpoint_dir", None)  # a folder of this session, not the file's
    if folder is not None:
        record["weights"] = [k for k in ("best", "last") if (folder / f"{k}.safetensors").is_file()]
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


@dataclass
class RunStart:
    """A run as it starts: its id and checkpoint folder (training/store.py), the version of the
    design it trains, and the checkpoint it resumes or the weights it starts from."""

    run_id: str
    version: str
    folder: Path
    origin: dict[str, Any] = field(default_factory=dict)  # what its record starts with
    resume_path: str | None = None
    start_path: str | None = None

    variant: str = ""  # a hint's variant of the design, by the hint's title

    @classmethod
    def begin(cls, doc: Any, resume: tuple[dict, Any] | None = None,
              trained: tuple[dict, Any] | None = None, network: Any = None,
              variant: str = "") -> RunStart:
        """A new run of `doc`'s design as it is now (a Document: its store and version), or
        of `network`, the variant of it called `variant`."""
        from ...model.analysis import analyze
        from ...model.versions import structure_key

        run_id = new_run_id()
        version = structure_key(network) if network is not None else doc.version
        run = cls(run_id, version, doc.store.new_run_folder(run_id), variant=variant)
        # what the run's design costs (the experiments' plot)
        totals = (analyze(network) if network is not None else doc.report).totals
        run.origin = {"id": run_id, "version": run.version, "params": totals.params,
                      "macs": totals.macs}
        if variant:
            run.origin["variant"] = variant
        if resume is not None:
            record, path = resume
            run.origin["resumed_from"] = record.get("id")
            run.resume_path = str(path)
        elif trained is not None:
            record, path = trained
            run.origin["started_from"] = record.get("id")
            run.start_path = str(path)
        return run

    def edit_notice(self, doc: Any) -> str:
        """What the window says while the design on screen is not the version this run trains
        ('' while it is)."""
        if self.variant:
            return (f"Training the variant “{self.variant}”; the design on screen is as it "
                    "was. Its run joins the others in Train → Experiments.")
        if doc.version == self.version:
            return ""
        return (f"Training the version of {run_started({'id': self.run_id})}; edits apply to "
                "the next run (undo them to look at this run's weights as it trains).")


def resume_settings(path: Any, form: Any) -> Any:
    """The settings a run resumes with: its checkpoint's (the form's device and workers, which
    a resumed run may change); ValueError naming the file when they cannot be read."""
    from ...training import runs
    from ...training.events import TrainConfig

    try:
        saved = runs.read_info(path)["config"]
        config = TrainConfig.from_dict(saved, from_file=True)
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: the checkpoint has no usable settings ({e})") from None
    config.device = form.device
    config.num_workers = form.num_workers
    return config
