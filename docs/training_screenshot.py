"""Make docs/training.png: the window training the CIFAR-10 example on the synthetic set, with
an earlier run drawn faintly behind the current one.

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/training_screenshot.py [OUT]
"""

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.app import _apply_look  # noqa: E402
from designer.training.events import DataConfig, TrainConfig  # noqa: E402
from designer.ui.main_window import MainWindow  # noqa: E402

EARLIER_EPOCHS = 8
SHOT_AFTER_EPOCHS = 5


def config(epochs: int, lr: float) -> TrainConfig:
    return TrainConfig(DataConfig("synthetic", train_size=4096, val_size=1024), epochs=epochs,
                       batch_size=64, optimizer="momentum", lr=lr, schedule="cosine",
                       device="auto")


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "training.png")
    app = QApplication([])
    _apply_look(app)
    tmp = Path(tempfile.mkdtemp(prefix="convnet-training-shot-"))
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp / "rec")
    window.resize(1600, 1000)
    window.open_example(ROOT / "presets" / "cifar10_example.convnet.json")
    window.show()
    panel = window.training
    panel.set_config(config(EARLIER_EPOCHS, 0.003))  # the earlier, slower run
    def wait_for_epochs() -> None:
        if panel.plots.epoch_point_count >= SHOT_AFTER_EPOCHS:
            poll.stop()
            QTimer.singleShot(300, grab)

    def second_run(running: bool) -> None:
        if running or panel.worker is not None:
            return
        panel.running_changed.disconnect(second_run)
        panel.set_config(config(30, 0.02))
        window._start_training()
        poll.start(100)

    def grab() -> None:
        window.grab().save(out)
        panel.shutdown()
        window.maybe_save = lambda: True  # nothing to keep: close without asking
        app.quit()

    poll = QTimer()
    poll.timeout.connect(wait_for_epochs)
    panel.running_changed.connect(second_run)
    QTimer.singleShot(300, window._start_training)
    app.exec()


if __name__ == "__main__":
    main()
