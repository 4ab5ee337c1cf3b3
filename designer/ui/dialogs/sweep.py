"""Train → Sweep…: a design search on Optuna (designer/training/sweep.py) from the window.

The dialog asks for the trials, the memory budget, the MACs cap, the pruner and the storage,
lists the search space (the design's knobs and the training knobs, and the knobs that do not
apply), and runs the study in a background QThread with the Training panel's settings as the
base of every trial. Each finished trial is a row (its knob values, its accuracy, or why it was
pruned: by the analysis before training, or by the pruner); a bar counts the trials and a line
follows the trial in progress. Stop ends the sweep after the current batch. The best trial's
design is written beside the design file (<stem>.best.convnet.json) and Open best opens it.
With the window's TensorBoard setting on (Train → TensorBoard Logs), each trial writes the
CLI's log under <folder>/<design>/sweep <study>/trial_NNNN; where no log can be written the
dialog says why and the trials run without one.

The view formats what the sweep reports; the search itself, the analysis and the records are
training/sweep.py's. Neither torch nor optuna is imported in the window's thread.
"""

from __future__ import annotations

import atexit
import importlib.util
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ...model.network import Network
from ...model.units import format_bytes, format_count, parse_size
from ...training.events import TrainConfig
from ...training.sweep import INSTALL, PRUNERS, Sweep, SweepConfig, SweepError, TrialRecord

HEADERS = ("Trial", "State", "Accuracy", "Knobs", "Why")
_LIVE: set[SweepWorker] = set()  # started and not yet finished: never garbage while running


@atexit.register
def _stop_all() -> None:
    """A window closed with a sweep running: stop it and wait (a QThread destroyed while
    running aborts the process)."""
    for worker in list(_LIVE):
        worker.stop()
        worker.wait(60_000)


class SweepWorker(QObject):
    """Sweep.run() in its own QThread; the sweep's callbacks as signals."""

    trial_started = Signal(int, dict)
    trial_ended = Signal(object)  # TrialRecord
    batch = Signal(int, int, int)  # epoch, step, steps of the trial in progress
    finished = Signal(object, str)  # SweepResult or None, the error's message or ""

    def __init__(self, sweep: Sweep):
        super().__init__()
        self.sweep = sweep
        self._thread: QThread | None = None
        self.done = False

    def start(self) -> None:
        thread = self._thread = QThread()
        thread.setObjectName("SweepWorker")
        self.moveToThread(thread)
        thread.started.connect(self._run)
        _LIVE.add(self)
        thread.start()

    def stop(self) -> None:
        self.sweep.stop()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        done = self._thread is None or self._thread.wait(timeout_ms)
        if done:
            _LIVE.discard(self)
        return done

    def _run(self) -> None:
        result, message = None, ""
        try:
            import torch

            from ..train_worker import _leave_a_core_for_the_gui

            _leave_a_core_for_the_gui(torch)
            self.sweep.callbacks = self
            result = self.sweep.run()
        except SweepError as e:
            message = str(e)
        except Exception as e:  # noqa: BLE001 - a sweep never takes the window down
            message = f"the sweep stopped on an unexpected {type(e).__name__}: {e}"
        self.done = True
        self.moveToThread(QCoreApplication.instance().thread())
        self.finished.emit(result, message)
        QThread.currentThread().quit()

    # the sweep's callbacks, in the worker's thread

    def on_trial_start(self, number: int, params: dict) -> None:
        self.trial_started.emit(number, params)

    def on_trial_end(self, record: TrialRecord) -> None:
        self.trial_ended.emit(record)

    def on_batch(self, event: Any) -> None:
        self.batch.emit(event.epoch, event.step, event.steps)


class SweepDialog(QDialog):
    """The sweep's settings, its search space, its trials as they finish."""

    def __init__(self, network: Network, config: TrainConfig, design_path: str | None = None,
                 budget: int | None = None, parent=None, open_design=None, design=None,
                 tensorboard: str | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Sweep: {network.name}")
        self.resize(980, 640)
        self.network = network.copy()
        self.config = config
        self.design_path = design_path
        self.open_design = open_design  # callable(path) of the window, for Open best
        self.design = design  # the design file's record (its analysis settings go to the best)
        self.worker: SweepWorker | None = None
        self.sweep: Sweep | None = None
        self.result: Any = None
        self.records: list[TrialRecord] = []
        self.tensorboard = tensorboard  # the window's TensorBoard folder, or None (no logs)

        self.trials = QSpinBox()
        self.trials.setRange(1, 100_000)
        self.trials.setValue(20)
        self.budget = QLineEdit(format_bytes(budget).replace(" ", "") if budget else "")
        self.budget.setPlaceholderText("none (e.g. 8GB: bigger variants are pruned unseen)")
        self.max_macs = QLineEdit()
        self.max_macs.setPlaceholderText("none (e.g. 50M, 1.2G)")
        self.pruner = QComboBox()
        self.pruner.addItems(list(PRUNERS))
        self.storage = QLineEdit()
        self.storage.setPlaceholderText("sqlite beside the design (any RDB URL shares the "
                                        "study between processes)")
        form = QFormLayout()
        form.addRow("Trials", self.trials)
        form.addRow("Memory budget", self.budget)
        form.addRow("MACs cap", self.max_macs)
        form.addRow("Pruner", self.pruner)
        form.addRow("Storage", self.storage)

        data = config.data
        self.base_label = QLabel(
            f"Every trial starts from the Training panel's settings: {data.name} data, "
            f"{config.epochs} epoch(s), {config.device}; the knobs below change the rest.")
        self.base_label.setWordWrap(True)
        self.space_text = QPlainTextEdit()
        self.space_text.setReadOnly(True)
        self.space_text.setMaximumHeight(130)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m trials")
        self.status = QLabel("")
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)

        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.open_button = QPushButton("Open best")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.open_button.clicked.connect(self._open_best)
        self.stop_button.setEnabled(False)
        self.open_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.addButton(self.start_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.stop_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.open_button, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.base_label)
        layout.addWidget(QLabel("Search space"))
        layout.addWidget(self.space_text)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self._show_space()

    # -- settings ------------------------------------------------------------------------------

    def sweep_config(self) -> SweepConfig:
        """The settings as entered; SweepError names a field that cannot be read."""
        budget = max_macs = None
        if self.budget.text().strip():
            try:
                budget = parse_size(self.budget.text())
            except ValueError as e:
                raise SweepError(f"Memory budget: {e}") from None
        if self.max_macs.text().strip():
            from ...cli.sweep import parse_count

            try:
                max_macs = parse_count(self.max_macs.text())
            except ValueError as e:
                raise SweepError(f"MACs cap: {e}") from None
        return SweepConfig(trials=self.trials.value(), budget=budget, max_macs=max_macs,
                           pruner=self.pruner.currentText(),
                           storage=self.storage.text().strip() or None)

    def _make_sweep(self) -> Sweep:
        return Sweep(self.network, self.config, self.sweep_config(),
                     design_path=self.design_path, design=self.design)

    def _show_space(self) -> None:
        try:
            space = Sweep(self.network, self.config, SweepConfig(storage="sqlite://")).space()
        except SweepError as e:
            self.space_text.setPlainText(str(e))
            self.start_button.setEnabled(False)
            return
        self.space_text.setPlainText("\n".join(space.lines()))

    # -- running -------------------------------------------------------------------------------

    def start(self) -> bool:
        if self.worker is not None and not self.worker.done:
            return False
        if importlib.util.find_spec("optuna") is None:
            return self._say(INSTALL)
        try:
            self.sweep = self._make_sweep()
            where = self.sweep.storage_url
        except SweepError as e:
            if self.design_path is None and "no file" in str(e):
                return self._say("Save the design first (the study is kept beside it), or "
                                 "give a storage URL.")
            return self._say(str(e))
        logs = self._log_folder()
        self._say(f"Study {self.sweep.study_name} in {where}" + (f"; {logs}" if logs else ""))
        self.records = []
        self.table.setRowCount(0)
        self.progress.setRange(0, self.sweep.config.trials)
        self.progress.setValue(0)
        self.result = None
        worker = self.worker = SweepWorker(self.sweep)
        worker.trial_started.connect(self._trial_started)
        worker.trial_ended.connect(self._trial_ended)
        worker.batch.connect(self._batch)
        worker.finished.connect(self._finished)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.open_button.setEnabled(False)
        worker.start()
        return True

    def _log_folder(self) -> str:
        """With the window's TensorBoard setting on: each trial's log under
        <folder>/<design>/sweep <study>/trial_NNNN, or why there is none (the sweep runs)."""
        if not self.tensorboard:
            return ""
        from ...training.tensorboard import folder_problem, run_log_dir, tensorboard_missing

        problem = tensorboard_missing() or folder_problem(self.tensorboard)
        if problem:
            return f"{problem}; the trials run without a log"
        folder = run_log_dir(self.tensorboard, self.network.name or "design",
                             f"sweep {self.sweep.study_name}")
        self.sweep.config.tensorboard = str(folder)
        return f"TensorBoard logs in {folder}"

    def stop(self) -> None:
        if self.worker is not None and not self.worker.done:
            self.worker.stop()
            self.status.setText("stopping after this batch…")

    @property
    def running(self) -> bool:
        return self.worker is not None and not self.worker.done

    def _trial_started(self, number: int, params: dict) -> None:
        self._trial = number
        self.status.setText(f"trial {number}: {_knobs(params)}")

    def _batch(self, epoch: int, step: int, steps: int) -> None:
        self.status.setText(f"trial {self._trial}: epoch {epoch}/{self.config.epochs}, batch "
                            f"{step}/{steps}")

    def _trial_ended(self, record: TrialRecord) -> None:
        self.records.append(record)
        self.progress.setValue(min(self.progress.value() + 1, self.progress.maximum()))
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate(row_texts(record)):
            self.table.setItem(row, col, QTableWidgetItem(text))

    def _finished(self, result: Any, message: str) -> None:
        self.result = result
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if result is None:
            self._say(message)
            self.status.setText("")
            return
        if result.best is None:
            self.status.setText("no trial finished: no best design")
        else:
            where = f"; written to {result.best_path.name}" if result.best_path else ""
            self.status.setText(f"best: {result.best.line()}{where}")
            self.open_button.setEnabled(result.best_path is not None and
                                        self.open_design is not None)
        if result.stopped:
            self._say("The sweep was stopped.")

    def _open_best(self) -> None:
        if self.result is not None and self.result.best_path and self.open_design:
            self.open_design(str(self.result.best_path))

    def _say(self, text: str) -> bool:
        self.message.setText(text)
        return False

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.worker is not None and not self.worker.done:
            self.worker.stop()
            self.worker.wait(120_000)
        super().closeEvent(event)


def row_texts(r: TrialRecord) -> tuple[str, ...]:
    """The table's cells of one trial."""
    acc = f"{r.value:.1%}" if r.value is not None else "–"
    state = {"pruned": f"pruned ({r.pruned_by})" if r.pruned_by else "pruned"}.get(r.state,
                                                                                  r.state)
    cost = []
    if r.memory is not None:
        cost.append(f"step {format_bytes(r.memory)}")
    if r.macs is not None:
        cost.append(f"{format_count(r.macs)} MACs")
    knobs = _knobs(r.params) + (f" [{', '.join(cost)}]" if cost else "")
    return str(r.number), state, acc, knobs, r.reason


def _knobs(params: dict) -> str:
    from ...training.sweep import format_params

    return format_params(params)


def show_sweep(window: Any) -> SweepDialog:
    """Train → Sweep…: the dialog over the window's design and its Training panel's settings."""
    doc = window.doc
    dialog = SweepDialog(doc.network, window.training.config,
                         str(Path(doc.path)) if doc.path else None, doc.settings.get("budget"),
                         window, open_design=window.open_path, design=doc.design,
                         tensorboard=window.tensorboard_log.root)
    dialog.show()
    return dialog
