"""Train → TensorBoard Logs: the window's runs and sweeps write the log `--tensorboard DIR` writes
on the command line (designer/training/tensorboard.py), one folder per run:
<folder>/<design name>/<run id>, a sweep's trials under <folder>/<design name>/sweep <study>/.

The setting (on or off, and the folder) is remembered in the window's QSettings. A run is never
stopped by its log: where the tensorboard package is missing or the folder cannot be written,
the run trains without one and the window says why (the run's notes, in the status bar).

    log = TensorBoardLog(settings)          # the remembered setting
    log.set(True, "/home/me/runs")          # remembered at once
    panel.trainer_factory = LoggedTrainers(log, panel.trainer_factory)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..training.tensorboard import (
    Tee,
    TensorBoardCallbacks,
    TensorBoardError,
    TensorBoardMissing,
    folder_problem,
    run_log_dir,
    tensorboard_missing,
)

KEY_ON = "tensorboard/on"
KEY_FOLDER = "tensorboard/folder"


class TensorBoardLog:
    """The window's TensorBoard setting, kept in a QSettings."""

    def __init__(self, settings: Any):
        self.settings = settings

    @property
    def folder(self) -> str:
        return str(self.settings.value(KEY_FOLDER, "") or "")

    @property
    def on(self) -> bool:
        value = self.settings.value(KEY_ON, False)
        on = value if isinstance(value, bool) else str(value).lower() in ("true", "1")
        return on and bool(self.folder)

    def set(self, on: bool, folder: str | None = None) -> None:
        if folder is not None:
            self.settings.setValue(KEY_FOLDER, str(folder))
        self.settings.setValue(KEY_ON, bool(on))
        self.settings.sync()

    @property
    def root(self) -> str | None:
        """The folder runs log into now, or None (off)."""
        return self.folder if self.on else None

    def problem(self) -> str:
        """'' where logging is off or can be done; else what stands in the way, said plainly."""
        if not self.on:
            return ""
        return tensorboard_missing() or folder_problem(self.folder)

    def describe(self) -> str:
        """The setting in words (the action's tip, the status bar)."""
        if not self.on:
            return "TensorBoard logs: off"
        return f"TensorBoard logs in {self.folder} (a folder per run)"

    def sweep_dir(self, design_name: str, study: str) -> str | None:
        """The folder of a sweep's trials (trial_0007/ below it), or None (off)."""
        root = self.root
        return str(run_log_dir(root, design_name, f"sweep {study}")) if root else None


class _Notes:
    """Adds the window's notes about the log to the run's StartEvent (the panel says them)."""

    def __init__(self, notes: list[str]):
        self.notes = notes

    def on_start(self, event: Any) -> None:
        notes = getattr(event, "notes", None)
        if isinstance(notes, list):  # first: the status bar shows the start of the notes
            notes[:0] = [n for n in self.notes if n not in notes]


class LoggedTrainers:
    """A TrainWorker's trainer factory: the Trainers `base` makes (None: the window's usual
    one), with a TensorBoard log where the setting is on. Called in the worker's thread with
    the worker as the callbacks (its run_id names the run's folder)."""

    def __init__(self, log: TensorBoardLog, base: Any = None):
        self.log = log
        self.base = base
        self.root: str | None = log.root  # read in the worker's thread: kept up to date here
        self.last_folder: Path | None = None  # the latest run's log, where one was written
        self.last_notes: list[str] = []  # what went wrong with it while the run trained

    def update(self) -> None:
        """The setting changed (GUI thread)."""
        self.root = self.log.root

    def __call__(self, network: Any, config: Any, callbacks: Any, datasets: Any = None,
                 **weights: Any) -> Any:
        from .train_worker import _default_factory

        make = self.base or _default_factory
        root = self.root
        self.last_folder, self.last_notes = None, []
        if not root:
            return make(network, config, callbacks, datasets, **weights)
        run_id = getattr(callbacks, "run_id", None) or time.strftime("%Y%m%d-%H%M%S")
        folder = run_log_dir(root, network.name or "design", run_id)
        try:
            tb = TensorBoardCallbacks(folder)
        except (TensorBoardMissing, TensorBoardError) as e:
            note = f"{e}; this run trains without a TensorBoard log"
            return make(network, config, Tee(_Notes([note]), callbacks), datasets, **weights)
        try:
            trainer = make(network, config, Tee(_Notes([f"TensorBoard log in {folder}"]),
                                                callbacks, tb), datasets, **weights)
        except BaseException:
            tb.close()
            raise
        tb.attach(trainer)
        self.last_folder, self.last_notes = folder, tb.notes
        return trainer
