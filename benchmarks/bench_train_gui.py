"""GUI event-loop latency while training: does the window stay responsive?

The whole window (1400×900) with the CIFAR-10 example open and its Training panel showing the
live plots; training is started from the panel (a TrainWorker: the real Trainer in a QThread, on
the synthetic set). A probe QTimer asks for a tick every 10 ms; each tick's lateness is the time
since the previous tick minus 10 ms, i.e. how long the event loop was busy or starved (by
repaints, by the GIL held by the training thread). Baseline: the same probe, same window, idle,
in the same run.

Also printed: the GUI update rate (the worker's progress signals per second, target ≤ 20) and
the batches per second behind it.

    python benchmarks/bench_train_gui.py [--seconds 15] [--device auto|cpu|cuda] [--batch 64]
                                         [--json]

Runs on Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise (offscreen still paints
every widget into its backing store, so repaint costs are counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PRESET = ROOT / "presets" / "cifar10_example.convnet.json"
PERIOD_MS = 10
TARGET_MS = 50.0


def gui_latency(seconds: float = 15.0, device: str = "auto", batch: int = 64) -> dict:
    """Latency of a 10 ms QTimer while the window trains; the same probe idle as the baseline."""
    import tempfile

    from designer.training.events import DataConfig, TrainConfig
    from designer.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-gui-"))
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp / "rec")
    window.resize(1400, 900)
    window.open_example(PRESET)
    window.show()
    window.show_training()
    app.processEvents()
    panel = window.training

    def probe(duration_s: float, until=None) -> list[float]:
        clock = QElapsedTimer()
        late: list[float] = []
        last = [0.0]

        def tick() -> None:
            now = clock.nsecsElapsed() / 1e6
            late.append(max(0.0, now - last[0] - PERIOD_MS))
            last[0] = now
            if now > duration_s * 1000 or (until is not None and until()):
                timer.stop()
                app.exit()

        timer = QTimer()
        timer.setTimerType(Qt.PreciseTimer)
        timer.timeout.connect(tick)
        clock.start()
        timer.start(PERIOD_MS)
        app.exec()
        return late[1:]

    idle = probe(min(3.0, seconds))

    panel.set_config(TrainConfig(
        DataConfig("synthetic", train_size=50_000, val_size=2_000), epochs=1000,
        batch_size=batch, optimizer="momentum", lr=0.01, device=device))
    started = [0.0]
    panel.start()
    worker = panel.worker
    worker.started.connect(lambda _e: started.__setitem__(0, time.monotonic()))
    # wait out the start (torch import, data), then measure while batches run
    probe(120.0, until=lambda: panel.plots.loss_point_count > 0)
    updates0, batches0, t0 = worker.updates, panel.plots.loss_point_count, time.monotonic()
    training = probe(seconds)
    dt = time.monotonic() - t0
    updates, batches = worker.updates - updates0, panel.plots.loss_point_count - batches0
    device_name = panel._start.device if panel._start else device
    panel.shutdown()
    window.doc.undo_stack.setClean()
    window.maybe_save = lambda: True
    window.close()

    def stats(values: list[float]) -> dict:
        values = sorted(values)
        return {"ticks": len(values), "median_ms": statistics.median(values),
                "p95_ms": values[int(0.95 * (len(values) - 1))], "max_ms": values[-1]}

    return {"device": device_name, "batch": batch, "seconds": dt,
            "idle": stats(idle), "training": stats(training),
            "updates_per_s": updates / dt, "batches_per_s": batches / dt,
            "images_per_s": batches * batch / dt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = gui_latency(args.seconds, args.device, args.batch)
    if args.json:
        print(json.dumps(r, indent=1))
        return
    i, t = r["idle"], r["training"]
    print(f"GUI event-loop latency while training the CIFAR-10 example ({r['device']}, "
          f"batch {r['batch']}, {r['seconds']:.1f} s, Qt platform {QApplication.platformName()})")
    print(f"  probe: a {PERIOD_MS} ms QTimer, lateness per tick")
    print(f"  {'':10} {'ticks':>6} {'median':>9} {'p95':>9} {'max':>9}")
    for name, s in (("idle", i), ("training", t)):
        print(f"  {name:10} {s['ticks']:6d} {s['median_ms']:7.2f}ms {s['p95_ms']:7.2f}ms "
              f"{s['max_ms']:7.2f}ms")
    verdict = "ok" if t["p95_ms"] < TARGET_MS else "OVER"
    print(f"  training p95 {t['p95_ms']:.1f} ms vs target < {TARGET_MS:.0f} ms: {verdict} "
          f"(max {t['max_ms']:.1f} ms)")
    print(f"  GUI updates {r['updates_per_s']:.1f}/s (≤ 20) for {r['batches_per_s']:.0f} "
          f"batches/s ({r['images_per_s']:,.0f} images/s)")


if __name__ == "__main__":
    main()
