"""The training panel: settings, Start / Pause / Stop, progress and the live curves.

The settings are read from and written to `document.design.training["config"]` (saved with the
design; augmentation.py's options and lr_finder.py's Apply are undo steps, settings_undo.py, the
form's other fields not); the batch size is the design's one batch (batch.py: the Totals panel's,
`design.analysis["batch"]`), which the config's batch_size follows. Before a run starts, a
batch whose estimated peak exceeds the device's free memory is questioned (memory_check.py).
Each run ends as a record in `document.design.training["runs"]` (runs.py) — the RunResult
without anything bulky, with its per-epoch history and a downsampled loss curve — and earlier
runs are drawn faintly behind the current one.

Training runs in a TrainWorker (a QThread); this panel only shows what it reports. Neither torch
nor pyqtgraph is imported until they are needed: the plots are made when the panel is first
shown, torch is imported by the worker's thread.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...training.events import (
    DEVICES,
    OPTIMIZERS,
    SCHEDULES,
    EpochEvent,
    RunResult,
    StartEvent,
    TrainConfig,
)
from ..document import Document
from ..train_worker import Progress, TrainWorker
from ..widgets.decor import choose as _choose
from ..widgets.decor import float_edit as _float_edit
from ..widgets.decor import section, vertical_scroll
from ..widgets.fault_box import FaultBox
from . import run_info
from . import training_names as names
from .augmentation import AugmentationBox
from .batch import adopt_file_batch, design_batch, follow_in_training
from .compile_phase import CompilePhase
from .lr_finder import LRFinder
from .memory_check import ask_before_start
from .run_list import RunList
from .runs import MAX_RUNS_KEPT, RunStart, format_duration, resume_settings, run_record
from .settings_undo import push_settings, set_field
from .speed_settings import SpeedSettings


class TrainingPanel(QWidget):
    """Settings, controls and curves for training the Document's design."""

    status_message = Signal(str)  # for the window's status bar
    running_changed = Signal(bool)

    def __init__(self, doc: Document, parent: QWidget | None = None, trainer_factory=None,
                 datasets=None):
        super().__init__(parent)
        self.doc = doc
        self.trainer_factory = trainer_factory  # None: the real Trainer (tests may pass another)
        self.datasets = datasets
        self.worker: TrainWorker | None = None
        self.plots = None  # made on first show (pyqtgraph is slow to import)
        self._design = None
        self._config = TrainConfig()
        self._loading = False
        self._start: StartEvent | None = None
        self._steps_per_epoch: int | None = None
        self._history: list[EpochEvent] = []
        self._last_result: RunResult | None = None
        self._run_design = None
        self._run: RunStart | None = None  # the run in progress: its id, version, folder

        self._build_controls()
        self._build_settings()
        self.plot_holder = QWidget()
        self._plot_layout = QVBoxLayout(self.plot_holder)
        self._plot_layout.setContentsMargins(0, 0, 0, 0)
        self.run_list = RunList(doc)
        self.run_list.resume_requested.connect(self.resume)
        self.plot_area = QSplitter(Qt.Vertical)
        self.plot_area.addWidget(self.lr_finder)
        self.plot_area.addWidget(self.plot_holder)
        self.plot_area.addWidget(self.run_list)
        for i, stretch in enumerate((2, 3, 1)):
            self.plot_area.setStretchFactor(i, stretch)
        self.plot_area.setCollapsible(1, False)
        self.plot_area.setSizes([300, 500, 160])

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.settings_area)
        splitter.addWidget(self.plot_area)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
        splitter.setSizes([330, 900])
        self.splitter = splitter

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(self._controls)
        layout.addWidget(self.info_label)
        layout.addWidget(self.compiling.note)
        layout.addWidget(self.edit_notice)
        layout.addWidget(self.fault_box)
        layout.addWidget(splitter, 1)

        doc.file_changed.connect(self._design_maybe_replaced)
        doc.changed.connect(self._follow_batch)
        doc.changed.connect(self._check_version)
        self._design_maybe_replaced()
        self._set_running(False)

    # ----------------------------------------------------------------------------- building

    def _build_controls(self) -> None:
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train the design on the chosen data set (F5)")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause between two batches; press again to resume")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the run after the current batch; its results are kept")
        self.stop_button.clicked.connect(self.stop)
        style = self.style()
        for b, glyph in ((self.start_button, QStyle.SP_MediaPlay),
                         (self.pause_button, QStyle.SP_MediaPause),
                         (self.stop_button, QStyle.SP_MediaStop)):
            b.setIcon(style.standardIcon(glyph))
            b.setMinimumWidth(80)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("Not started")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.state_label = QLabel("ready")
        self.state_label.setMinimumWidth(70)
        self.state_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.lr_finder = LRFinder()  # its button beside Stop, its curve above the plots
        self.lr_finder.attach(self)
        self._controls = QHBoxLayout()
        self._controls.setSpacing(6)
        for b in (self.start_button, self.pause_button, self.stop_button, self.lr_finder.button):
            self._controls.addWidget(b)
        self._controls.addWidget(self.progress, 1)
        self._controls.addWidget(self.state_label)

        self.info_label = QLabel()
        self.info_label.setTextFormat(Qt.RichText)
        self.info_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.info_label.setWordWrap(True)
        self.compiling = CompilePhase(self.state_label, self.progress, self)
        self.compiling.status_message.connect(self.status_message)

        self.fault_box = FaultBox()
        self.edit_notice = QLabel()  # a structural edit while a run trains another version
        self.edit_notice.setWordWrap(True)
        self.edit_notice.hide()

    def _build_settings(self) -> None:
        self.dataset = QComboBox()
        for name, text in names.DATASETS:
            self.dataset.addItem(text, name)
        self.dataset.setToolTip("Synthetic shapes need nothing; the standard sets are read from "
                                "a folder of their files or downloaded into the cache")
        self.dataset.activated.connect(self._edited)
        self.path = QLineEdit()
        self.path.setClearButtonEnabled(True)
        self.path.editingFinished.connect(self._edited)
        self.browse = QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose the folder or file")
        self.browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.setSpacing(2)
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)
        self.download = QCheckBox("Download")
        self.download.setToolTip("Download the standard files when they are missing (checked "
                                 "against their checksums) into the cache, or the folder above")
        self.download.toggled.connect(self._edited)
        self.samples = QSpinBox()
        self.samples.setRange(0, 10_000_000)
        self.samples.setSingleStep(1000)
        self.samples.setSpecialValueText("all")
        self.samples.setToolTip("Training images to use (synthetic: to make); 'all' for the "
                                "whole set or the default")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100_000)
        self.batch = QSpinBox()
        self.batch.setRange(1, 65536)
        self.batch.setToolTip("Images per training step: the design's batch size, the same as "
                              "the Totals panel's (its memory estimate is for this batch)")
        self.batch.setKeyboardTracking(False)
        self.batch.valueChanged.connect(lambda v: self.doc.set_settings(batch=int(v)))
        self.optimizer = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer.addItem(names.OPTIMIZER_NAMES.get(name, name), name)
        self.lr = _float_edit("Learning rate, e.g. 0.01 or 3e-4")
        self.weight_decay = _float_edit("L2 penalty on the weights (0: none)")
        self.schedule = QComboBox()
        for name in SCHEDULES:
            self.schedule.addItem(names.SCHEDULE_NAMES.get(name, name), name)
        self.schedule.setToolTip("How the learning rate changes over the run")
        self.device = QComboBox()
        for name in DEVICES:
            self.device.addItem(name, name)
        self.device.setToolTip("auto: CUDA, then Apple MPS, then the CPU")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        for spin in (self.samples, self.epochs, self.seed):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._edited)
        for combo in (self.optimizer, self.schedule, self.device):
            combo.activated.connect(self._edited)
        for edit in (self.lr, self.weight_decay):
            edit.editingFinished.connect(self._edited)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Data"), 0, 0)
        grid.addWidget(self.dataset, 0, 1, 1, 3)
        grid.addWidget(QLabel("Path"), 1, 0)
        grid.addLayout(path_row, 1, 1, 1, 3)
        grid.addWidget(QLabel("Images"), 2, 0)
        grid.addWidget(self.samples, 2, 1)
        grid.addWidget(self.download, 2, 2, 1, 2)
        rows = ((("Epochs", self.epochs), ("Batch", self.batch)),
                (("Optimizer", self.optimizer), None),
                (("LR", self.lr), ("Decay", self.weight_decay)),
                (("Schedule", self.schedule), None),
                (("Device", self.device), ("Seed", self.seed)))
        for r, (left, right) in enumerate(rows, start=3):
            grid.addWidget(QLabel(left[0]), r, 0)
            grid.addWidget(left[1], r, 1, 1, 1 if right else 3)
            if right:
                if right[0]:
                    grid.addWidget(QLabel(right[0]), r, 2)
                    grid.addWidget(right[1], r, 3)
                else:
                    grid.addWidget(right[1], r, 2, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        for w in (self.dataset, self.optimizer, self.schedule, self.device):
            w.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(4)
            w.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

        content = QWidget()
        box = QVBoxLayout(content)
        box.setContentsMargins(0, 0, 6, 0)
        box.setSpacing(2)
        heading = section("Settings")
        heading.setContentsMargins(0, 2, 0, 2)
        box.addWidget(heading)
        box.addLayout(grid)
        self.speed = SpeedSettings(self.doc)  # precision, memory format, cuDNN, compile, data
        self.speed.settings_requested.connect(self.change_settings)
        box.addWidget(self.speed)
        self.augmentation = AugmentationBox(self.doc)
        self.augmentation.settings_requested.connect(self.change_settings)
        box.addWidget(self.augmentation)
        box.addStretch(1)
        self.settings_form = content
        scroll = vertical_scroll(content)
        # as wide as the settings need (a narrow column cut the Batch field off), and the
        # scroll bar beside them
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(max(260, content.minimumSizeHint().width() + bar))
        self.settings_area = scroll

    # ----------------------------------------------------------------------------- settings

    @property
    def config(self) -> TrainConfig:
        return self._config

    def _design_maybe_replaced(self) -> None:
        """A new or opened design brings its own settings and runs."""
        if self.doc.design is self._design:
            return
        adopt_file_batch(self.doc)  # (an older file's training batch becomes the design's)
        self._design = self.doc.design
        try:
            self._config = TrainConfig.from_dict(self._design.training.get("config") or {},
                                                 from_file=True)
        except ValueError:
            self._config = TrainConfig()  # a hand-edited file: start from the defaults
        self._config.batch_size = design_batch(self.doc)
        self._show_config()
        if self.plots is not None and not self.running:
            self.plots.begin_run(1)
            self.plots.show_earlier_runs(self.runs)

    def _show_config(self) -> None:
        c = self._config
        self._loading = True
        try:
            _choose(self.dataset, c.data.name)
            self.path.setText(c.data.path or "")
            self.download.setChecked(c.data.download)
            self.samples.setValue(c.data.train_size or 0)
            self.epochs.setValue(c.epochs)
            self.batch.setValue(design_batch(self.doc))
            _choose(self.optimizer, c.optimizer)
            self.lr.setText(f"{c.lr:g}")
            self.weight_decay.setText(f"{c.weight_decay:g}")
            _choose(self.schedule, c.schedule)
            _choose(self.device, c.device)
            self.seed.setValue(c.seed)
        finally:
            self._loading = False
        self._update_enabled()

    def _edited(self, *_args) -> None:
        if not self._loading:
            self._save_training(config=self.read_form().to_dict())

    def read_form(self) -> TrainConfig:
        """The settings as the form shows them (a half-typed number counts), saved or not."""
        c = self._config
        c.data.name = self.dataset.currentData()
        c.data.path = self.path.text().strip() or None
        c.data.download = self.download.isChecked()
        c.data.train_size = self.samples.value() or None
        c.epochs = self.epochs.value()
        c.batch_size = design_batch(self.doc)
        c.optimizer = self.optimizer.currentData()
        for edit, attr in ((self.lr, "lr"), (self.weight_decay, "weight_decay")):
            try:
                value = float(edit.text())
            except ValueError:
                value = float("nan")
            if math.isfinite(value) and value >= 0:
                setattr(c, attr, value)
            else:
                self.status_message.emit(f"Not a number: {edit.text()!r}")
            edit.setText(f"{getattr(c, attr):g}")
        c.schedule = self.schedule.currentData()
        c.device = self.device.currentData()
        c.seed = self.seed.value()
        c.data.seed = c.seed
        self._update_enabled()
        return c

    def set_config(self, config: TrainConfig) -> None:
        """Use these settings (shown in the form and saved with the design); their batch size
        becomes the design's."""
        self._config = config
        self.doc.set_settings(batch=int(config.batch_size))
        self._show_config()
        self._save_training(config=config.to_dict())

    def _follow_batch(self, _report=None) -> None:
        """The design's batch changed (here or in the Totals panel): show it, train with it."""
        if self.doc.design is not self._design:
            return  # another design is opening: _design_maybe_replaced takes it in
        batch = self._config.batch_size = design_batch(self.doc)
        if self.batch.value() != batch:
            blocked = self.batch.blockSignals(True)
            self.batch.setValue(batch)
            self.batch.blockSignals(blocked)
        follow_in_training(self.doc)

    def _update_enabled(self) -> None:
        name = self.dataset.currentData()
        for w in (self.path, self.browse):
            w.setEnabled(name != "synthetic")
        self.download.setEnabled(name in names.STANDARD)
        self.path.setPlaceholderText(names.path_hint(name))
        self.augmentation.show_config(self._config)
        self.speed.show_config(self._config)

    def _browse(self) -> None:
        path = names.browse_data(self, self.dataset.currentData(), self.path.text())
        if path:
            self.path.setText(path)
            self._edited()

    def change_settings(self, text: str, values: dict[str, Any]) -> bool:
        """Set fields of the settings ({'lr': 0.002, 'data.hflip': True}) as one undo step."""
        self._edited()  # what the form shows first (a half-typed number counts)
        return push_settings(self.doc.undo_stack, self._config, text, values, self.apply_settings)

    def apply_settings(self, values: dict[str, Any]) -> None:
        """The undo steps' way in: set these fields, show them, save them with the design."""
        for path, value in values.items():
            set_field(self._config, path, value)
        self._show_config()
        self._save_training(config=self._config.to_dict())

    def _save_training(self, **changes: Any) -> None:
        """Settings and runs are saved with the design but are not undoable."""
        design = self._run_design if "runs" in changes and self._run_design else self.doc.design
        training = dict(design.training)
        training.update(changes)
        if training == design.training:
            return
        design.training = training
        if design is self.doc.design:
            self.doc.mark_modified()

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.doc.runs

    # ----------------------------------------------------------------------------- running

    @property
    def running(self) -> bool:
        return self.worker is not None

    def ensure_plots(self) -> None:
        if self.plots is None:
            from .plots import TrainingPlots  # imports pyqtgraph

            self.plots = TrainingPlots()
            self._plot_layout.addWidget(self.plots)
            self.plots.show_earlier_runs(self.runs)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Make the plots when the panel is really seen: a dock tabbed behind another is
        'shown' with the window but shows nothing (its dock's visibilityChanged says when)."""
        super().showEvent(event)
        if self.plots is None:
            QTimer.singleShot(0, self._plots_if_seen)

    def _plots_if_seen(self) -> None:
        if self.plots is None and self.isVisible() and not self.visibleRegion().isEmpty():
            self.ensure_plots()

    def resume(self, record: dict[str, Any]) -> bool:
        """Continue the run `record` from its last checkpoint (the run list's Resume): its
        settings (the checkpoint's), as many epochs as it was to train."""
        problem = self.run_list.resume_problem(record)
        path = self.doc.store.files(record).get("last")
        if problem is None and path is not None:
            try:
                config = resume_settings(path, self._config)
            except ValueError as e:
                problem = str(e)
        if problem is not None or path is None:
            self._show_fault("This run cannot be resumed.", problem or "its checkpoint is gone")
            return False
        return self.start(config=config, resume=(record, path))

    def try_variant(self, hint) -> bool:
        """Train the variant a hint proposes (the design with its edit applied) with the same
        data and settings; the design on screen stays as it is. Its run is recorded with the
        design, as a version of its own (Train → Experiments compares them)."""
        from ...model.network import NetworkError

        variant = self.doc.network.copy()
        try:
            hint.apply(variant)
        except NetworkError as e:
            self._show_fault("This hint's variant cannot be made.", str(e))
            return False
        return self.start(network=variant, variant=hint.title)

    def start(self, config: TrainConfig | None = None,
              resume: tuple[dict[str, Any], Any] | None = None, network=None,
              variant: str = "") -> bool:
        """Start a run (`config`: these settings, not the form's; `resume`: (the run, its
        checkpoint) to continue; `network`: a variant to train instead of the design, called
        `variant`); False (and the reason shown) when the design cannot be trained."""
        if self.running or self.lr_finder.busy:
            if self.lr_finder.busy:
                self.status_message.emit("Not started: the learning-rate finder is running")
            return False
        network = network if network is not None else self.doc.network
        report = run_info.analysis(network) if variant else self.doc.report
        error = report.first_error()
        if error is not None:
            self._show_fault("The design has errors, so it cannot be trained.", error)
            self.status_message.emit(f"Cannot train: {error}")
            return False
        self._edited()  # a half-typed learning rate counts
        config = TrainConfig.from_dict((config or self._config).to_dict())
        if not ask_before_start(self, network, config, config.batch_size):
            self.status_message.emit("Not started: lower the batch size, or start anyway")
            return False
        self.ensure_plots()
        self.fault_box.hide()
        self._start = None
        self._history = []
        self._steps_per_epoch = None
        self._run_design = self.doc.design
        self.plots.show_earlier_runs(self.runs)
        self.plots.begin_run(1, config.epochs)
        trained = self.doc.trained_weights() if (
            self.run_list.start_from.isChecked() and not variant) else None
        run = self._run = RunStart.begin(self.doc, resume, trained,
                                         network if variant else None, variant)
        config.checkpoint_dir = str(run.folder)
        worker = TrainWorker(network, config, datasets=self.datasets,
                             trainer_factory=self.trainer_factory,
                             resume=run.resume_path, start_from=run.start_path)
        worker.run_id = run.run_id  # the Inside tab keys the model it leaves by its run
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.epoch.connect(self._on_epoch)
        worker.finished.connect(self._on_finished)
        worker.data_progress.connect(self._on_data)
        worker.phase.connect(self.compiling.on_phase)
        self.compiling.begin_run()
        self.worker = worker
        self.progress.setRange(0, 0)  # busy until the trainer says how long
        self.progress.setFormat("Preparing the data and the model…")
        self.info_label.setText("Starting…")
        self._set_state("starting")
        self._set_running(True)
        self._check_version()  # a variant says so at once
        worker.start()
        self.status_message.emit("Training started")
        return True

    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.worker.paused:
            self.worker.resume()
            self._set_state("running")
            self.pause_button.setText("Pause")
        else:
            self.worker.pause()
            self._set_state("paused")
            self.pause_button.setText("Resume")

    def stop(self) -> None:
        if self.worker is not None:
            stopping = self.worker.stop()
            long = getattr(stopping, "long", False)  # a step of a second or more
            self._set_state(stopping.text() if long else "stopping")
            self.stop_button.setEnabled(False)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop a run, the finder and the preview and wait for their threads (the window closes
        after this). The run's last reports are taken in first, so its results reach the design."""
        self.augmentation.shutdown(timeout_ms)
        ok = self.worker is None or self.worker.shutdown(timeout_ms)
        ok = self.lr_finder.shutdown(timeout_ms) and ok
        QCoreApplication.sendPostedEvents(self, QEvent.MetaCall)
        return ok

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and not self.lr_finder.busy)
        self.lr_finder.set_training(running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.settings_form.setEnabled(not running)
        self.run_list.set_running(running)
        self.running_changed.emit(running)

    def _check_version(self, _report=None) -> None:
        """While a run trains, say so when the design on screen is no longer what it trains."""
        text = self._run.edit_notice(self.doc) if self._run is not None else ""
        self.edit_notice.setText(text)
        self.edit_notice.setVisible(bool(text))
        if text and self.edit_notice.property("said") != self._run.run_id:
            self.edit_notice.setProperty("said", self._run.run_id)
            self.status_message.emit(text)

    def _set_state(self, state: str) -> None:
        self.state_label.setText(state)

    # ----------------------------------------------------------------------------- reports

    def _on_data(self, done: int, total: int | None, message: str) -> None:
        """Loading or downloading the data set, before the first batch."""
        if self.worker is None or self._start is not None:
            return
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(min(int(done), int(total)))
        else:
            self.progress.setRange(0, 0)
        self.progress.setFormat(message or "Loading the data…")

    @property
    def _epochs(self) -> int:
        """The running run's epochs (the form may say something else by now)."""
        return self.worker.config.epochs if self.worker is not None else self._config.epochs

    def _on_started(self, event: StartEvent) -> None:
        self._start = event
        self._steps_per_epoch = event.steps_per_epoch
        self.plots.begin_run(event.steps_per_epoch, self._epochs)
        total = max(1, event.steps_per_epoch * self._epochs)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setFormat(f"Epoch 1/{self._epochs}")
        if self.state_label.text() == "starting":
            self._set_state("running")
        self.info_label.setText(self._info_text(None))
        notes = getattr(event, "notes", None)
        self.compiling.notes(notes or [])
        if notes:
            self.info_label.setToolTip("\n".join(notes))
            self.status_message.emit("; ".join(notes))

    def _on_progress(self, update: Progress) -> None:
        if self.worker is None:  # a late report of a finished run
            return
        b = update.batch
        self.plots.add_points(update.points)
        self.progress.setRange(0, max(1, b.steps * self._epochs))
        self.progress.setValue(b.global_step)
        self.progress.setFormat(f"Epoch {b.epoch}/{self._epochs} · step {b.step}/"
                                f"{b.steps} · {format_duration(b.eta_s)} left")
        self.info_label.setText(self._info_text(b))

    def _on_epoch(self, event: EpochEvent) -> None:
        if self.plots is not None:
            self.plots.add_epoch(event)
        self._history.append(event)

    def _info_text(self, b) -> str:
        return run_info.during(b, self._history, self._start, self._estimate())

    def _estimate(self) -> int | None:
        if self._start is not None and self._start.estimated_bytes is not None:
            return self._start.estimated_bytes
        network = self.worker.network if self.worker is not None else self.doc.network
        return run_info.estimate(network, self._config)

    def _on_finished(self, result: RunResult) -> None:
        worker = self.worker
        if worker is None:
            return
        worker.wait()
        self._last_result = result
        self.compiling.end()
        self._set_state(result.status)
        loss_curve = self.plots.smoothed_loss_curve() if self.plots else []
        lr_curve = self.plots.learning_rate_curve() if self.plots else []
        if result.status != "failed" or result.epochs_done or loss_curve:
            runs = [r for r in (self._run_design.training.get("runs") or [])
                    if isinstance(r, dict)]
            run = self._run
            record = run_record(result, loss_curve, lr_curve, self._steps_per_epoch,
                                run.origin if run else None, run.folder if run else None)
            if self._start is not None and self._start.estimated_bytes is not None:
                record["estimated_bytes"] = self._start.estimated_bytes
            runs.append(record)
            self._save_training(runs=runs[-MAX_RUNS_KEPT:])
        self._run_design = self._run = None
        self.edit_notice.hide()
        self.progress.setRange(0, max(1, self.progress.maximum()))
        best = (f" · best val. accuracy {100 * result.best_val_accuracy:.1f}%"
                if result.best_val_accuracy is not None else "")
        summary = (f"{result.status.capitalize()} after {result.epochs_done} "
                   f"epoch{'s' if result.epochs_done != 1 else ''} in "
                   f"{format_duration(result.seconds)}{best}")
        self.progress.setFormat(summary)
        if result.fault is not None and result.status == "failed":
            self._show_fault(result.fault.message, result.fault.advice,
                             getattr(result.fault, "detail", ""), result.fault.kind)
            self.status_message.emit(f"Training failed: {result.fault.message}")
        else:
            self.status_message.emit(f"Training {summary[0].lower()}{summary[1:]}")
        if self._start is not None or result.device:
            self.info_label.setText(self._final_info(result))
        self.worker = None
        self._set_running(False)  # last: a listener may start the next run from here

    def _final_info(self, result: RunResult) -> str:
        return run_info.after(result, self._start, self._estimate())

    def _show_fault(self, message: str, advice: str, detail: str = "", kind: str = "") -> None:
        self.fault_box.show_fault(message, advice, detail, kind)

    @property
    def fault_text(self) -> str:
        """The fault shown, or '' (what the user reads in the panel)."""
        return self.fault_box.text

