"""Make docs/experiments.png: Train → Experiments after real runs in the window. A copy of the
CIFAR-10 example is trained on the synthetic set, 2 epochs each (Adam, the defaults): as it is,
with the hint "Getting rid of pooling" tried (its Try button), with its CONV 4 and 32 filters
wide (edits through the undo stack); then, undone back to itself, with plain SGD at 0.01 (the
former defaults). The dialog then shows the five runs and their Pareto front.

    Xvfb :24 -screen 0 1600x1000x24 &
    DISPLAY=:24 python docs/experiments_screenshot.py [OUT]
"""

import shutil
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

EPOCHS = 2
HINT = "Getting rid of pooling"


def config(**settings) -> TrainConfig:
    return TrainConfig(DataConfig("synthetic", train_size=2048, val_size=512), epochs=EPOCHS,
                       batch_size=64, seed=0, device="auto", **settings)


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "experiments.png")
    app = QApplication([])
    _apply_look(app)
    tmp = Path(tempfile.mkdtemp(prefix="convnet-experiments-shot-"))
    design = tmp / "cifar10_example.convnet.json"
    shutil.copy(ROOT / "presets" / "cifar10_example.convnet.json", design)
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp / "rec")
    window.resize(1600, 1000)
    window.show()
    window.open_path(str(design))
    panel = window.training
    panel.set_config(config())

    def as_it_is() -> None:
        window._start_training()

    def try_hint() -> None:
        window.docks["hints"].show()
        hints = window.hints_panel
        hints.fill_effects()
        card = next(c for c in hints.cards if c.hint.title.startswith(HINT))
        card.try_button.click()

    def widths(filters: int):
        def run() -> None:
            window.doc.edit(f"{filters} filters",
                            lambda net: net.set_params("conv", out_channels=filters))
            window._start_training()
        return run

    def with_sgd() -> None:
        window.doc.undo_stack.undo()  # the design as it is again: "this version"
        window.doc.undo_stack.undo()
        panel.set_config(config(optimizer="sgd", lr=0.01, schedule="none"))
        window._start_training()

    steps = [as_it_is, try_hint, widths(4), widths(32), with_sgd]
    count = len(steps)

    def next_step(running: bool = False) -> None:
        if running or panel.worker is not None:
            return
        if steps:
            step = steps.pop(0)
            print(f"run {count - len(steps)}/{count}: {step.__name__}", flush=True)
            QTimer.singleShot(200, step)
            return
        panel.running_changed.disconnect(next_step)
        window._save_to(str(design))
        dialog = window.show_experiments()
        dialog.resize(1200, 660)
        dialog.table.selectRow(1)  # the hint's variant: its point drawn larger
        QTimer.singleShot(800, lambda: grab(dialog))

    def grab(dialog) -> None:
        dialog.grab().save(out)
        print("\n".join(" | ".join(row) for row in dialog.rows()), flush=True)
        print(dialog.note.text(), flush=True)
        window.maybe_save = lambda: True
        app.quit()

    panel.running_changed.connect(next_step)
    QTimer.singleShot(300, next_step)
    app.exec()


if __name__ == "__main__":
    main()
