"""The window's training side, a part of MainWindow: the Training dock (tabbed with the layer
table), the Train menu, Experiments, trying a hint's variant, the TensorBoard setting (runs and
sweeps write the CLI's log: tensorboard_log.py), and a close that stops a run first. The panel
and its TrainWorker do the work; the window only wires them in.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QWidget

from .tensorboard_log import LoggedTrainers, TensorBoardLog

if TYPE_CHECKING:
    from .panels.training import TrainingPanel

APP_NAME = "ConvNet Designer"


class TrainingActions:
    """Mixed into MainWindow (it provides docks, _build_dock, _action, statusBar, doc)."""

    @property
    def training(self) -> TrainingPanel:
        self._build_dock("training")
        return self._training

    def _build_training_panel(self) -> QWidget:
        from .panels.training import TrainingPanel

        panel = self._training = TrainingPanel(self.doc)
        panel.trainer_factory = self._logged_trainers = LoggedTrainers(self.tensorboard_log,
                                                                       panel.trainer_factory)
        panel.status_message.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        panel.running_changed.connect(self._training_running_changed)
        panel.running_changed.connect(self._tensorboard_run_changed)
        # the panel is wide (its settings and three plots): the Totals dock beside the canvas
        # keeps the width its figures need rather than being squeezed under them
        self.totals.setMinimumWidth(self.totals.sizeHint().width())
        dock = self.docks["training"]
        dock.visibilityChanged.connect(lambda seen: seen and panel.ensure_plots())
        if dock.isVisible():
            QTimer.singleShot(0, panel, panel.ensure_plots)
        return panel

    def _build_train_menu(self, bar) -> None:
        menu = bar.addMenu("&Train")
        self.act_train_start = self._action("&Start training", self._start_training, "F5", "play",
                                            tip="Train the design (settings in the Training "
                                                "panel)")
        self.act_train_pause = self._action("&Pause", self._pause_training, "F6", "pause",
                                            tip="Pause or resume the run")
        self.act_train_stop = self._action("S&top", lambda: self.training.stop(), "Shift+F5",
                                           "stop", tip="End the run after the current batch")
        menu.addActions([self.act_train_start, self.act_train_pause, self.act_train_stop])
        menu.addSeparator()
        menu.addAction(self._action("&Experiments…", self.show_experiments, tip="Every run of "
                                    "your designs, and accuracy against cost"))
        menu.addAction(self._action("S&weep…", self.show_sweep, tip="Search the design's knobs "
                                    "and the training settings with Optuna"))
        menu.addSeparator()
        self.tensorboard_log = TensorBoardLog(self.settings)
        self._logged_trainers = None  # the Training panel's factory, once it is made
        act = self.act_tensorboard = QAction("&TensorBoard Logs", self)
        act.setCheckable(True)
        act.triggered.connect(self._toggle_tensorboard)
        self.act_tensorboard_folder = self._action(
            "TensorBoard Log &Folder…", self.choose_tensorboard_folder, needs_design=False,
            tip="Choose the folder the runs' TensorBoard logs go to (tensorboard --logdir it)")
        menu.addActions([act, self.act_tensorboard_folder])
        self._show_tensorboard_setting()
        self._training_running_changed(False)

    # -- TensorBoard ---------------------------------------------------------------------------

    def _toggle_tensorboard(self, checked: bool) -> None:
        if checked and not self.tensorboard_log.folder:
            self.choose_tensorboard_folder()  # turns it on where a folder is chosen
        else:
            self.set_tensorboard(checked)

    def choose_tensorboard_folder(self) -> bool:
        """Ask for the log folder; choosing one turns the logs on. False: cancelled."""
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(
            self, "Folder for TensorBoard logs", self.tensorboard_log.folder or
            str(self.settings.value("last_dir", "")))
        if not folder:
            self._show_tensorboard_setting()
            return False
        self.set_tensorboard(True, folder)
        return True

    def set_tensorboard(self, on: bool, folder: str | None = None) -> None:
        """Turn the runs' TensorBoard logs on or off (in `folder`), remembered for next time;
        the status bar says the setting, or why no log can be written (the runs still train)."""
        self.tensorboard_log.set(on, folder)
        if self._logged_trainers is not None:
            self._logged_trainers.update()
        self._show_tensorboard_setting()
        problem = self.tensorboard_log.problem()
        text = self.tensorboard_log.describe()
        self.statusBar().showMessage(f"{problem}; runs train without a log" if problem
                                     else text, 8000)

    def _show_tensorboard_setting(self) -> None:
        """The action's check and tip, and while logs are on, a note at the status bar's right
        naming the folder."""
        log = self.tensorboard_log
        self.act_tensorboard.setChecked(log.on)
        label = getattr(self, "tensorboard_label", None)
        if label is None and log.on:
            label = self.tensorboard_label = QLabel()
            self.statusBar().addPermanentWidget(label)
        if label is not None:
            label.setText(f"TensorBoard: {Path(log.folder).name or log.folder}")
            label.setToolTip(log.describe())
            label.setVisible(log.on)
        tip = (log.describe() if log.on else
               "Write each run's TensorBoard log: loss, accuracy, lr, the model graph, the "
               "first CONV's filters (as --tensorboard DIR on the command line)")
        self.act_tensorboard.setStatusTip(tip)
        self.act_tensorboard.setToolTip(tip)

    def _tensorboard_run_changed(self, running: bool) -> None:
        """Before a run: where its log cannot be written, say so (it trains without one).
        After: what went wrong with its log while it trained."""
        factory = self._logged_trainers
        if running:
            problem = self.tensorboard_log.problem()
            if problem:
                self.statusBar().showMessage(f"{problem}; this run trains without a log", 8000)
        elif factory is not None and factory.last_notes:
            said = self.statusBar().currentMessage()
            notes = "; ".join(factory.last_notes)
            self.statusBar().showMessage(f"{said} · {notes}" if said else notes, 12000)

    def show_experiments(self):
        from .dialogs.experiments import show_experiments

        self.experiments = show_experiments(self)
        return self.experiments

    def show_sweep(self):
        from .dialogs.sweep import show_sweep

        self.sweep_dialog = show_sweep(self)
        return self.sweep_dialog

    def try_variant(self, hint) -> bool:
        """A hint's Try: train the design with the hint applied, the design on screen kept."""
        self.show_training()
        return self.training.try_variant(hint)

    def _start_training(self) -> None:
        self.show_training()
        self.training.start()

    def _pause_training(self) -> None:
        self.training.toggle_pause()
        paused = self.training.worker is not None and self.training.worker.paused
        self.act_train_pause.setText("&Resume" if paused else "&Pause")

    def show_training(self) -> None:
        """Bring the Training dock forward, tall enough for its curves."""
        dock = self.docks["training"]
        dock.show()
        dock.raise_()
        if not dock.isFloating() and dock.height() < 380:
            self.resizeDocks([dock], [380], Qt.Vertical)

    def _training_running_changed(self, running: bool) -> None:
        if not hasattr(self, "act_train_start"):
            return
        self.act_train_start.setEnabled(not running)
        self.act_train_pause.setEnabled(running)
        self.act_train_pause.setText("&Pause")
        self.act_train_stop.setEnabled(running)
        if running:
            self.show_training()

    def _stop_training_to_close(self) -> bool:
        """Ask before a run is stopped by closing; stop its thread cleanly. False: keep open."""
        from PySide6.QtWidgets import QMessageBox

        if self._training is None:
            return True
        if not self._training.running:  # a finder or a preview may still work: end them
            self._training.shutdown(10_000)
            return True
        answer = QMessageBox.question(self, APP_NAME, "Training is running. Stop it and close?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer != QMessageBox.Yes:
            return False
        if not self.training.shutdown():
            QMessageBox.warning(self, APP_NAME, "Training did not stop in time; try again.")
            return False
        return True
