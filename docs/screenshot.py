"""Make docs/screenshot.png: the window with the VGG-16 example open.

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshot.py [PRESET] [OUT]
"""

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.app import _apply_look  # noqa: E402
from designer.ui.main_window import MainWindow  # noqa: E402


def main() -> None:
    preset = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "presets" / "vgg16.convnet.json")
    out = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "docs" / "screenshot.png")
    app = QApplication([])
    _apply_look(app)
    scratch = Path(tempfile.mkdtemp(prefix="convnet-screenshot-"))  # no user settings touched
    settings = QSettings(str(scratch / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=scratch / "recovery")
    window.resize(1600, 1000)
    window.open_example(Path(preset))
    window.show()
    ids = list(window.doc.network.nodes)
    window.doc.select([ids[min(3, len(ids) - 1)]])
    window.doc.set_settings(budget=12 * 1024**3)

    def grab():
        window.grab().save(out)
        window.maybe_save = lambda: True  # nothing to keep: close without asking
        app.quit()

    QTimer.singleShot(800, grab)
    app.exec()


if __name__ == "__main__":
    main()
