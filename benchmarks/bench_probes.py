"""What refreshing the feature maps costs training: images/s with the per-epoch probe on vs off.

1. Trainer (default), same model, data tensors, batch, optimizer, seed and process:
   - alternating epochs: one run probes at the end of every other epoch (unthrottled); the
     fastest probed epoch's images/s against the fastest plain epoch's (and the medians'), so
     that a machine busy with other work slows both alike. A probed epoch's time includes what
     the probe adds to validation (collecting every prediction for the confusion matrix) and
     the probe itself: one sample's maps of every layer, the first CONV's filters and
     thumbnails of the 24 most confidently wrong samples (what the window's "Inside the
     network" dock asks for).
   - separate runs: a run with a probe at every epoch end against one without, alternating,
     best of --rounds each (as bench_train.py times the Trainer).
   - the cost alone, timed apart from training (the fastest of --reps): a validation pass with
     and without collecting the predictions, and one probe; their sum as a share of the fastest
     plain epoch. On a shared machine this is the steadiest of the three figures.
   Printed: the ratios (target ≥ 0.95: the probe costs < 5 % of the throughput) and the share.
2. The window (--gui): the whole app offscreen, training started from the Training panel
   (a TrainWorker), with the Inside the network dock shown and drawing every report vs not
   shown; the worker skips an epoch-end probe that would cost more than PROBE_SHARE (3 %) of the
   time since the last one. Epochs are timed in the training thread.

    python benchmarks/bench_probes.py [--designs cifar10_example resnet20_cifar] [--batch 64]
        [--epochs 8] [--rounds 3] [--train-size 4096] [--val-size 512] [--device auto]
        [--gui] [--json FILE|-]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_train import (  # noqa: E402
    EpochTimer,
    input_shape,
    load_design,
    make_data,
    write_json,
)
from torch.utils.data import TensorDataset  # noqa: E402

from designer.bridge.module import build_module  # noqa: E402
from designer.model.analysis import analyze  # noqa: E402
from designer.training.events import ProbeRequest, TrainConfig  # noqa: E402
from designer.training.probes import Collector, Prober  # noqa: E402
from designer.training.runtime import pick_device, seed_everything  # noqa: E402
from designer.training.trainer import Trainer  # noqa: E402

TARGET = 0.95


class ProbingTimer(EpochTimer):
    """The same, and a probe at the end of every epoch (every other one: `alternate`)."""

    def __init__(self, alternate: bool = False):
        super().__init__()
        self.alternate = alternate
        self.reports = []
        self.probed: list[int] = []  # epochs that were probed

    def probe_request(self):
        epoch = len(self.marks) + 1  # asked before the epoch's validation
        if self.alternate and epoch % 2:
            return None
        self.probed.append(epoch)
        return ProbeRequest(sample=0, evaluation=True, wrong=24)

    def on_probe(self, report):
        if report.error:
            raise SystemExit(f"the probe failed: {report.error}")
        self.reports.append(report)


def run(net, data, cfg: TrainConfig, timer: EpochTimer) -> EpochTimer:
    (xt, yt), (xv, yv) = data
    result = Trainer(net, cfg, timer, datasets=(TensorDataset(xt, yt), TensorDataset(xv, yv),
                                                None)).run()
    if result.status != "finished":
        raise SystemExit(f"the Trainer did not finish: {result.fault}")
    return timer


def design_and_data(name: str, args):
    """The preset and its random (train, validation) tensors, the same for every measurement."""
    net = load_design(name)
    shape = input_shape(net)
    report = analyze(net)
    classes = report.layers[report.output].shape[0]
    return net, (make_data(shape, classes, args.train_size, 1),
                 make_data(shape, classes, args.val_size, 2))


def trainer_rows(args, device: torch.device) -> list[dict]:
    rows = []
    for name in args.designs:
        net, data = design_and_data(name, args)
        per_epoch = args.train_size // args.batch * args.batch
        cfg = TrainConfig(epochs=args.epochs + 1, batch_size=args.batch, optimizer="momentum",
                          lr=0.01, device=device.type, seed=0)
        # 1. alternating epochs in one run (epoch 1 is the warm-up)
        on_epochs, off_epochs, probe_s, payload = [], [], [], 0
        for _ in range(args.rounds):
            timer = run(net, data, cfg, ProbingTimer(alternate=True))
            for epoch in range(2, cfg.epochs + 1):
                rate = per_epoch / (timer.marks[epoch - 1] - timer.marks[epoch - 2])
                (on_epochs if epoch in timer.probed else off_epochs).append(rate)
            probe_s += [r.seconds for r in timer.reports]
            payload = sum(m.maps.nbytes for m in timer.reports[-1].maps.values())
        # the fastest epoch of each kind: what the probe costs when nothing else runs (a
        # shared machine slows epochs at random, by up to several times)
        alternating = max(on_epochs) / max(off_epochs)
        alternating_median = statistics.median(on_epochs) / statistics.median(off_epochs)
        # 2. separate runs
        timed = cfg.epochs - 1
        off, on = [], []
        for _ in range(args.rounds):
            t = run(net, data, cfg, EpochTimer())
            off.append(per_epoch * timed / (t.marks[-1] - t.marks[0]))
            t = run(net, data, cfg, ProbingTimer())
            on.append(per_epoch * timed / (t.marks[-1] - t.marks[0]))
        epoch_s = per_epoch / max(off_epochs)
        cost = cost_alone(net, data, args.batch, device, args.reps)
        share = (cost["collect_ms"] + cost["probe_ms"]) / 1000 / epoch_s
        row = {"design": name, "layers": len(net), "device": device.type,
               "batch": args.batch, "train_images": args.train_size,
               "val_images": args.val_size, "epochs_timed": args.epochs, "rounds": args.rounds,
               "alternating_ratio": alternating, "alternating_median_ratio": alternating_median,
               "probed_epoch_images_per_s": max(on_epochs),
               "plain_epoch_images_per_s": max(off_epochs),
               "runs_off_images_per_s": max(off), "runs_on_images_per_s": max(on),
               "runs_ratio": max(on) / max(off),
               "runs_median_paired_ratio": statistics.median(b / a for a, b in zip(off, on)),
               "probe_ms_median": 1000 * statistics.median(probe_s), "epoch_s": epoch_s,
               "cost_alone": cost, "share": share, "payload_bytes": payload,
               "all_on_epochs": on_epochs, "all_off_epochs": off_epochs, "all_runs_off": off,
               "all_runs_on": on}
        rows.append(row)
        verdict = "ok" if alternating >= TARGET else "BELOW TARGET"
        print(f"{name:<18} {row['layers']:>3} layers  alternating epochs: probed "
              f"{row['probed_epoch_images_per_s']:>7,.0f} img/s vs "
              f"{row['plain_epoch_images_per_s']:>7,.0f}, ratio {alternating:.3f} ({verdict}; "
              f"of the medians {alternating_median:.3f})"
              f"  |  separate runs: {max(on):,.0f} vs {max(off):,.0f} img/s, ratio "
              f"{row['runs_ratio']:.3f} (median of paired {row['runs_median_paired_ratio']:.3f})"
              f"  |  alone: validation {cost['validate_ms']:.1f} ms + {cost['collect_ms']:.1f} ms "
              f"collecting, probe {cost['probe_ms']:.1f} ms = {100 * share:.2f} % of a "
              f"{epoch_s:.2f} s epoch; maps {payload / 1024:,.0f} KiB", flush=True)
    return rows


def cost_alone(net, data, batch: int, device: torch.device, reps: int) -> dict:
    """The fastest of `reps`: a validation pass (eval, no_grad, loss and accuracy on the device,
    as the Trainer's) without and with the Collector, and one probe of every layer with the
    evaluation's thumbnails. Milliseconds."""
    import torch.nn.functional as F

    seed_everything(0)
    model = build_module(net).to(device).eval()
    xv, yv = data[1]
    batches = [(xv[i:i + batch].to(device), yv[i:i + batch].to(device))
               for i in range(0, len(yv), batch)]

    def validate(collector):
        loss = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        with torch.no_grad():
            for x, y in batches:
                out = model(x)
                if out.dim() > 2:
                    out = out.flatten(1)
                loss += F.cross_entropy(out, y, reduction="sum")
                correct += (out.argmax(1) == y).sum()
                if collector is not None:
                    collector.add(y, out)
        loss.item(), correct.item()
        return collector.evaluation([]) if collector is not None else None

    def best(fn) -> float:
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - t)
        return 1000 * min(times)

    validate(None)
    plain = best(lambda: validate(None))
    collected = best(lambda: validate(Collector()))
    evaluation = validate(Collector())
    prober = Prober(model, net, TensorDataset(xv, yv))
    request = ProbeRequest(sample=0, evaluation=True, wrong=24)
    probe = best(lambda: prober.probe(request, evaluation=evaluation))
    return {"validate_ms": plain, "collect_ms": max(0.0, collected - plain), "probe_ms": probe}


# ---------------------------------------------------------------------------------------------
# The window


def gui_rows(args) -> list[dict]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    rows = []
    for name in args.designs:
        net, data = design_and_data(name, args)
        cfg = TrainConfig(epochs=args.epochs + 1, batch_size=args.batch, optimizer="momentum",
                          lr=0.01, device=args.device, seed=0)
        results: dict[str, list[float]] = {"off": [], "on": []}
        probes = []
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                rate, n = window_run(app, name, data, cfg, dock=mode == "on")
                results[mode].append(rate)
                if mode == "on":
                    probes.append(n)
        off, on = results["off"], results["on"]
        row = {"design": name, "mode": "window", "batch": args.batch,
               "off_images_per_s": max(off), "on_images_per_s": max(on),
               "ratio": max(on) / max(off),
               "median_paired_ratio": statistics.median(b / a for a, b in zip(off, on)),
               "epoch_end_probes": probes, "epochs": cfg.epochs, "all_off": off, "all_on": on}
        rows.append(row)
        verdict = "ok" if row["median_paired_ratio"] >= TARGET else "BELOW TARGET"
        print(f"{name:<18} window: dock hidden {max(off):>8,.0f} img/s  dock drawing "
              f"{max(on):>8,.0f} img/s  ratio {row['ratio']:.3f} (median of paired rounds "
              f"{row['median_paired_ratio']:.3f}; {verdict}); epoch-end probes per run "
              f"{probes} of {cfg.epochs}", flush=True)
    return rows


def window_run(app, name: str, data, cfg: TrainConfig, dock: bool) -> tuple[float, int]:
    """One run from the window's Training panel: (images/s of the timed epochs, epoch-end
    probes drawn), with the Inside the network dock shown (dock) or never built."""
    import tempfile

    from PySide6.QtCore import QSettings, Qt

    from designer.ui.main_window import MainWindow
    from designer.ui.panels.inside import dock as feature_maps

    (xt, yt), (xv, yv) = data
    tmp = Path(tempfile.mkdtemp(prefix="bench-probes-"))
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.IniFormat),
                        recovery_dir=tmp / "rec")
    if getattr(window, "inside", None) is None:
        feature_maps.install(window)
    window.resize(1400, 900)
    window.open_example(ROOT / "presets" / f"{name}.convnet.json")
    window.show()
    panel = window.training
    panel.datasets = (TensorDataset(xt, yt), TensorDataset(xv, yv), None)
    panel.set_config(cfg)
    if dock:
        inside = window.inside.show_panel()
        _spin(app, lambda: inside.report is not None and not inside.busy, 120)
    else:
        window.show_training()
    marks: list[float] = []
    got: list = []
    panel.start()
    worker = panel.worker
    worker.epoch.connect(lambda _e: marks.append(time.perf_counter()),
                         Qt.DirectConnection)  # timed in the training thread
    worker.probed.connect(got.append, Qt.DirectConnection)
    _spin(app, lambda: not panel.running, 3600)
    if dock:
        _spin(app, lambda: not inside.busy, 120)
    images = len(yt) // cfg.batch_size * cfg.batch_size * (cfg.epochs - 1)
    window.maybe_save = lambda: True
    window.close()
    app.processEvents()
    return images / (marks[-1] - marks[0]), len([r for r in got if r.step is None])


def _spin(app, done, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.005)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", nargs="+", default=["cifar10_example", "resnet20_cifar"])
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=8, help="timed epochs (after a warm-up one)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=15, help="timings of the cost alone")
    ap.add_argument("--train-size", type=int, default=None, help="default: 4096 CPU, 50000 CUDA")
    ap.add_argument("--val-size", type=int, default=None, help="default: 512 CPU, 10000 CUDA")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--gui", action="store_true", help="also through the window (offscreen)")
    ap.add_argument("--json", default=None, metavar="FILE", help="figures as JSON ('-': stdout)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    args.train_size = args.train_size or (50000 if cuda else 4096)
    args.val_size = args.val_size or (10000 if cuda else 512)
    name = (torch.cuda.get_device_name(device) if cuda
            else f"CPU ({torch.get_num_threads()} threads)")
    print(f"torch {torch.__version__} on {name}; {args.epochs} timed epochs of "
          f"{args.train_size} images (+ {args.val_size} validation), batch {args.batch}, best "
          f"of {args.rounds}", flush=True)
    out = {"device": name, "torch": str(torch.__version__), "python": platform.python_version(),
           "target": TARGET}
    print("\nTrainer, probes at epoch ends vs none:", flush=True)
    out["trainer"] = trainer_rows(args, device)
    if args.gui:
        print("\nThe window, Inside the network shown vs hidden:", flush=True)
        out["window"] = gui_rows(args)
    if args.json:
        write_json(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
