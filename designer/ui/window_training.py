"""The window's training side, a part of MainWindow: the Training dock (tabbed with the layer
table), the Train menu, Experiments, trying a hint's variant, and a close that stops a run
first. The panel and its TrainWorker do the work; the window only wires them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QWidget

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
        panel.status_message.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        panel.running_changed.connect(self._training_running_changed)
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
        self._training_running_changed(False)

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

        if self._training is None or not self._training.running:
            return True
        answer = QMessageBox.question(self, APP_NAME, "Training is running. Stop it and close?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer != QMessageBox.Yes:
            return False
        if not self.training.shutdown():
            QMessageBox.warning(self, APP_NAME, "Training did not stop in time; try again.")
            return False
        return True
