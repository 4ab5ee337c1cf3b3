"""Make docs/feature_maps.png: the window training the CIFAR-10 example on the synthetic set,
with the "Inside the network" dock showing the CONV layer's feature maps of one validation
sample, refreshed at the end of every epoch.

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/feature_maps_screenshot.py [OUT]
"""

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.app import _apply_look  # noqa: E402
from designer.training.events import DataConfig, TrainConfig  # noqa: E402
from designer.ui.main_window import MainWindow  # noqa: E402
from designer.ui.panels.inside import dock as feature_maps  # noqa: E402

SHOT_AFTER_EPOCHS = 4
SAMPLE = 3  # a cross (synthetic class 3): its edges make clear feature maps
LAYER = "conv"


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "feature_maps.png")
    app = QApplication([])
    _apply_look(app)
    tmp = Path(tempfile.mkdtemp(prefix="convnet-feature-maps-shot-"))
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp / "rec")
    if getattr(window, "inside", None) is None:
        feature_maps.install(window)
    window.resize(1600, 1000)
    window.open_example(ROOT / "presets" / "cifar10_example.convnet.json")
    window.show()
    window.training.set_config(TrainConfig(
        DataConfig("synthetic", train_size=4096, val_size=1024), epochs=30, batch_size=64,
        optimizer="momentum", lr=0.02, schedule="cosine", device="auto"))
    panel = window.inside.show_panel()
    window.resizeDocks([window.inside], [560], Qt.Vertical)
    panel.sample.setValue(SAMPLE)
    window.doc.select([LAYER])

    def start() -> None:
        window._start_training()
        window.inside.show_panel()  # the Training tab came forward: this one goes in front
        poll.start(100)

    def wait_for_epochs() -> None:
        r = panel.report
        if r is not None and r.step is None and (r.epoch or 0) >= SHOT_AFTER_EPOCHS:
            poll.stop()
            QTimer.singleShot(400, grab)

    def grab() -> None:
        window.grab().save(out)
        window.training.shutdown()
        window.maybe_save = lambda: True  # nothing to keep: close without asking
        app.quit()

    poll = QTimer()
    poll.timeout.connect(wait_for_epochs)
    QTimer.singleShot(1500, start)
    app.exec()


if __name__ == "__main__":
    main()
