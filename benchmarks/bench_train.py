"""Training: the Trainer against a hand-written PyTorch loop, and memory estimated vs measured.

1. Throughput (target ≥ 0.97, DESIGN.md). The same model (build_module, same seed), the same
   data tensors, device, batch size, optimizer and precision run through
   - the Trainer (with an on_batch callback, as the window has), and
   - a lean hand-written loop that computes what the Trainer reports: loss and accuracy summed on
     the device (read once per epoch), validation every epoch.
   Both copy the in-memory data to the GPU once and index a shuffled batch per step. Images/s
   are training images over the wall time of the epochs after a warm-up epoch (validation
   included in both); the runs alternate and the best of --rounds counts (the median of the
   paired rounds' ratios is printed too: timings of one loop vary by several per cent between
   rounds on a launch-bound GPU or a busy CPU). A "bare" hand loop
   (no loss / accuracy bookkeeping, no validation) is printed for information.
2. Memory of one training step: the analysis's Report.pytorch estimate against a measurement.
   On CUDA: torch.cuda.max_memory_allocated during a real step (reset_peak_memory_stats before;
   what stays allocated from earlier, cuBLAS's workspace, is subtracted); with --memory-table
   for several designs × batches × {fp32, bf16 autocast} × cudnn.benchmark {False, True}. On the
   CPU: the bytes designer.bridge.memory.measure_training_step holds (autograd's saved tensors,
   weights, gradients, optimizer state, buffers, data) against the same parts of the estimate.
3. GUI event-loop latency while training, with --gui: a 10 ms QTimer probe in the window while
   its TrainWorker trains (benchmarks/bench_train_gui.py, which also runs alone).
4. Fast settings (issue 21; --fast, on by default on CUDA): the Trainer with its default fast
   settings (precision, memory format, cudnn.benchmark "auto", the data set on the device) against
   a hand-written best-practice loop (bf16 autocast and channels_last on CUDA, cudnn.benchmark,
   the data on the device; fp32 on the CPU, as the Trainer's auto), for the CIFAR-10 example,
   ResNet-20 and ResNet-50 (224 × 224, batch 256 on CUDA; 64 × 64, batch 8 on the CPU), eager and
   torch.compile'd (--fast-modes), in the same process, runs alternating, best of --rounds:
   Trainer eager / hand eager (target ≥ 1.0), Trainer compiled / hand eager (target ≥ 1.2 for
   the two small networks), and the Trainer's model FLOP/s over the GPU's peak.

    python benchmarks/bench_train.py [--device auto|cpu|cuda] [--precision fp32|bf16|fp16]
        [--channels-last] [--batch 128] [--epochs 3] [--designs cifar10_example ...]
        [--memory-table] [--gui [--gui-seconds 15]] [--json FILE|-]
        [--fast | --no-fast] [--fast-modes eager compiled] [--compile-backend inductor]
        [--fast-designs cifar10_example resnet20_cifar resnet50]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.bridge.memory import measure_training_step  # noqa: E402
from designer.bridge.module import build_module  # noqa: E402
from designer.model import design_file  # noqa: E402
from designer.model.analysis import analyze  # noqa: E402
from designer.model.network import Network  # noqa: E402
from designer.model.transforms import with_input_size  # noqa: E402
from designer.training.events import TrainConfig  # noqa: E402
from designer.training.runtime import pick_device, seed_everything  # noqa: E402
from designer.training.speed import peak_flops  # noqa: E402
from designer.training.trainer import Trainer  # noqa: E402

MiB = 2**20
TARGET = 0.97
HELD = ("saved for backward", "data batch", "weights", "weight gradients", "optimizer state",
        "buffers")
MEMORY_DESIGNS = ("cifar10_example", "resnet20_cifar", "pattern_conv_relu_conv_relu_pool_x3")


def load_design(name: str) -> Network:
    path = Path(name)
    if not path.exists():
        path = ROOT / "presets" / f"{name}.convnet.json"
    return design_file.load(path).network


def input_shape(net: Network) -> tuple[int, int, int]:
    report = analyze(net)
    nid = next(n for n in report.order if report.layers[n].type == "Input")
    return tuple(report.layers[nid].shape)


def make_data(shape, classes: int, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------
# 1. Throughput


def hand_optimizer(name: str, params, lr: float, momentum: float = 0.9):
    """The optimizers a person would write, with the Trainer's settings (weight decay 0)."""
    return {
        "sgd": lambda: torch.optim.SGD(params, lr=lr),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=momentum),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True),
        "adam": lambda: torch.optim.Adam(params, lr=lr),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, momentum=momentum),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr),
    }[name]()


def hand_loop(net: Network, data, cfg: TrainConfig, device: torch.device, bare: bool = False,
              compile_backend: str | None = None):
    """A lean hand-written loop. Returns (images/s after the warm-up epoch, seconds).
    compile_backend: the model torch.compile'd with that backend (its compiling falls in the
    warm-up epoch)."""
    seed_everything(cfg.seed)
    model = build_module(net)
    cl = cfg.channels_last and device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last) if cl else model.to(device)
    params = model.parameters()
    if compile_backend:
        model = torch.compile(model, backend=compile_backend)
    (xt, yt), (xv, yv) = data
    if device.type == "cuda":
        xt, yt, xv, yv = (t.to(device) for t in (xt, yt, xv, yv))
    opt = hand_optimizer(cfg.optimizer, params, cfg.lr, cfg.momentum)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
    if amp is not None and device.type != "cuda" and cfg.precision == "fp16":
        amp = None
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    b = cfg.batch_size
    steps = len(yt) // b
    g = torch.Generator().manual_seed(cfg.seed)
    marks = []
    for _epoch in range(cfg.epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=g)
        if device.type == "cuda":
            perm = perm.to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        for i in range(steps):
            idx = perm[i * b:(i + 1) * b]
            x, y = xt.index_select(0, idx), yt.index_select(0, idx)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                out = model(x)
                loss = F.cross_entropy(out, y)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            if not bare:
                loss_sum += loss.detach()
                correct += (out.argmax(1) == y).sum()
        if not bare:
            train_metrics = (loss_sum.item() / steps, correct.item() / (steps * b))
            model.eval()
            vloss = torch.zeros((), device=device)
            vcorrect = torch.zeros((), dtype=torch.long, device=device)
            with torch.no_grad():
                for i in range(0, len(yv), b):
                    x, y = xv[i:i + b], yv[i:i + b]
                    if cl:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                        out = model(x)
                    vloss += F.cross_entropy(out.float(), y, reduction="sum")
                    vcorrect += (out.argmax(1) == y).sum()
            val_metrics = (vloss.item() / len(yv), vcorrect.item() / len(yv))
            assert math.isfinite(train_metrics[0]) and math.isfinite(val_metrics[0])
        sync(device)
        marks.append(time.perf_counter())
    images = steps * b * (cfg.epochs - 1)
    return images / (marks[-1] - marks[0]), marks[-1] - marks[0]


class EpochTimer:
    """Trainer callbacks: keep the latest batch event (as the window does) and epoch times."""

    def __init__(self):
        self.marks: list[float] = []
        self.last = None

    def on_batch(self, e):
        self.last = e

    def on_epoch(self, e):
        self.marks.append(time.perf_counter())


def trainer_run(net: Network, data, cfg: TrainConfig):
    """(images/s after the warm-up epoch, the RunResult)."""
    (xt, yt), (xv, yv) = data
    from torch.utils.data import TensorDataset

    timer = EpochTimer()
    trainer = Trainer(net, cfg, timer,
                      datasets=(TensorDataset(xt, yt), TensorDataset(xv, yv), None))
    result = trainer.run()
    if result.status != "finished":
        raise SystemExit(f"the Trainer did not finish: {result.fault}")
    steps = len(yt) // cfg.batch_size
    images = steps * cfg.batch_size * (cfg.epochs - 1)
    return images / (timer.marks[-1] - timer.marks[0]), result


def throughput(args, device: torch.device) -> list[dict]:
    rows = []
    for name in args.designs:
        net = load_design(name)
        shape = input_shape(net)
        classes = analyze(net).layers[analyze(net).output].shape[0]
        data = (make_data(shape, classes, args.train_size, 1),
                make_data(shape, classes, args.val_size, 2))
        cfg = TrainConfig(epochs=args.epochs + 1, batch_size=args.batch, optimizer=args.optimizer,
                          lr=args.lr, device=device.type, precision=args.precision,
                          channels_last=args.channels_last, seed=0)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # as the Trainer sets it, for both
        hand, trainer, bare = [], [], []
        result = None
        for _ in range(args.rounds):
            hand.append(hand_loop(net, data, cfg, device)[0])
            rate, result = trainer_run(net, data, cfg)
            trainer.append(rate)
        bare.append(hand_loop(net, data, cfg, device, bare=True)[0])
        row = {"design": name, "device": result.device, "batch": args.batch,
               "precision": args.precision, "channels_last": args.channels_last,
               "optimizer": args.optimizer, "train_images": args.train_size,
               "epochs_timed": args.epochs, "hand_images_per_s": max(hand),
               "trainer_images_per_s": max(trainer), "bare_hand_images_per_s": max(bare),
               "ratio": max(trainer) / max(hand), "ratio_vs_bare": max(trainer) / max(bare),
               "median_paired_ratio": statistics.median(t / h for t, h in zip(trainer, hand)),
               "all_hand": hand, "all_trainer": trainer, "notes": result.notes,
               "trainer_peak_bytes": result.peak_bytes}
        rows.append(row)
        verdict = "ok" if row["ratio"] >= TARGET else "BELOW TARGET"
        cl = " CL" if args.channels_last else ""
        print(f"{name:<40} batch {args.batch:<4} {args.precision}{cl}"
              f"  hand {row['hand_images_per_s']:>9,.0f} img/s  Trainer "
              f"{row['trainer_images_per_s']:>9,.0f} img/s  ratio {row['ratio']:.3f} ({verdict}; "
              f"median of paired rounds {row['median_paired_ratio']:.3f}; vs bare loop "
              f"{row['ratio_vs_bare']:.3f})", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Memory: estimate vs measurement


def _cuda_steps(net, x, y, optimizer: str, amp, device, steps=2) -> None:
    model = build_module(net).to(device)
    opt = hand_optimizer(optimizer, model.parameters(), 1e-3)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()


def cuda_peak(net: Network, batch: int, precision: str, optimizer: str, device: torch.device,
              cudnn_benchmark: bool) -> dict:
    """Peak bytes a training step allocates beyond what stays allocated from earlier steps."""
    torch.backends.cudnn.benchmark = cudnn_benchmark
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    shape = input_shape(net)
    classes = analyze(net).layers[analyze(net).output].shape[0]
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    _cuda_steps(net, x, y, optimizer, amp, device)  # cuBLAS workspace, cuDNN autotuning
    del x, y
    gc.collect()
    sync(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    # the data batch is part of what the estimate counts
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    seed_everything(0)
    model = build_module(net).to(device)
    opt = hand_optimizer(optimizer, model.parameters(), 1e-3)
    held = None
    for _ in range(2):  # the second step holds the optimizer state from the first
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sync(device)
        held = torch.cuda.memory_allocated(device) - base
    peak = torch.cuda.max_memory_allocated(device) - base
    del model, opt, loss, x, y
    gc.collect()
    torch.cuda.empty_cache()
    return {"peak": peak, "after_step": held}


def memory_rows(designs, batches, precisions, device: torch.device, optimizer: str,
                cudnn_modes=(False, True)) -> list[dict]:
    rows = []
    for name in designs:
        net = load_design(name)
        for batch in batches:
            for precision in precisions:
                est = {}
                for dtype in ("fp32", "bf16"):
                    r = analyze(net, batch=batch, dtype=dtype, optimizer=optimizer,
                                device="cuda" if device.type == "cuda" else "cpu")
                    est[dtype] = {"total": r.pytorch.total, "parts": dict(r.held),
                                  "textbook": r.textbook.total}
                row = {"design": name, "batch": batch, "precision": precision,
                       "optimizer": optimizer, "estimate_fp32": est["fp32"],
                       "estimate_bf16": est["bf16"]}
                main_est = est["fp32" if precision == "fp32" else "bf16"]["total"]
                if device.type == "cuda":
                    for mode in cudnn_modes:
                        m = cuda_peak(net, batch, precision, optimizer, device, mode)
                        key = f"cudnn_benchmark_{str(mode).lower()}"
                        row[key] = m
                        row[key]["estimate_error"] = (main_est - m["peak"]) / m["peak"]
                else:
                    if precision != "fp32":
                        continue
                    seed_everything(0)
                    shape = input_shape(net)
                    classes = r.layers[r.output].shape[0]
                    x = torch.randn(batch, *shape)
                    y = torch.randint(0, classes, (batch,))
                    measured = measure_training_step(build_module(net), x, y, optimizer)
                    held_est = sum(est["fp32"]["parts"].get(p, 0) for p in HELD)
                    held_meas = sum(measured.values())
                    row["cpu_measured_parts"] = measured
                    row["cpu_held"] = {"estimate": held_est, "measured": held_meas,
                                       "estimate_error": (held_est - held_meas) / held_meas}
                rows.append(row)
                print(memory_line(row), flush=True)
    return rows


def memory_line(row: dict) -> str:
    head = f"{row['design']:<38} batch {row['batch']:<4} {row['precision']:<5}"
    est32 = row["estimate_fp32"]["total"] / MiB
    est16 = row["estimate_bf16"]["total"] / MiB
    if "cpu_held" in row:
        h = row["cpu_held"]
        return (f"{head} held: estimate {h['estimate'] / MiB:8.2f} MiB  measured "
                f"{h['measured'] / MiB:8.2f} MiB  ({h['estimate_error']:+.1%}); estimate with "
                f"working set {est32:8.2f} MiB")
    parts = [f"{head} estimate fp32 {est32:8.2f} MiB, bf16 {est16:8.2f} MiB"]
    for key in ("cudnn_benchmark_false", "cudnn_benchmark_true"):
        if key in row:
            m = row[key]
            parts.append(f"{'bench' if key.endswith('true') else 'no-bench'}: peak "
                         f"{m['peak'] / MiB:8.2f} MiB ({m['estimate_error']:+.1%})")
    return " | ".join(parts)


# ---------------------------------------------------------------------------------------------
# 4. Fast settings: the Trainer's defaults against a best-practice hand loop


FAST_DESIGNS = ("cifar10_example", "resnet20_cifar", "resnet50")
# design -> (input size or None, batch, training images) on CUDA and on the CPU
FAST_SIZES = {"cuda": {"cifar10_example": (None, 128, 50000), "resnet20_cifar": (None, 128, 50000),
                       "resnet50": (224, 256, 256 * 16)},
              "cpu": {"cifar10_example": (None, 64, 1024), "resnet20_cifar": (None, 32, 512),
                      "resnet50": (64, 8, 48)}}
SMALL = ("cifar10_example", "resnet20_cifar")  # the networks compile is to speed up ≥ 1.2×


def fast_case(name: str, device: torch.device, args) -> tuple[Network, int, int]:
    size, batch, n = FAST_SIZES[device.type if device.type == "cuda" else "cpu"].get(
        name, (None, args.batch, args.train_size))
    net = load_design(name)
    if size is not None:
        net = with_input_size(net, size)
    return net, batch, n


def fast(args, device: torch.device) -> list[dict]:
    cuda = device.type == "cuda"
    rows = []
    for name in args.fast_designs:
        net, batch, n = fast_case(name, device, args)
        shape = input_shape(net)
        report = analyze(net)
        classes = report.layers[report.output].shape[0]
        data = (make_data(shape, classes, n, 1), make_data(shape, classes, max(n // 5, batch), 2))
        epochs = args.epochs + 1
        # the best practice by hand: bf16 autocast, channels_last, cudnn.benchmark, data on the
        # GPU (hand_loop copies it there); on the CPU fp32, as the Trainer's auto
        hand_cfg = TrainConfig(epochs=epochs, batch_size=batch, optimizer=args.optimizer,
                               lr=args.lr, device=device.type, seed=0,
                               precision="bf16" if cuda else "fp32", channels_last=cuda)
        if cuda:
            torch.backends.cudnn.benchmark = True
        runs: dict[str, list[float]] = {}
        results = {}
        for _ in range(args.rounds):
            for mode in args.fast_modes:
                backend = args.compile_backend if mode == "compiled" else None
                runs.setdefault(f"hand {mode}", []).append(
                    hand_loop(net, data, hand_cfg, device, compile_backend=backend)[0])
                cfg = TrainConfig(epochs=epochs, batch_size=batch, optimizer=args.optimizer,
                                  lr=args.lr, schedule="none", device=device.type, seed=0,
                                  compile=mode == "compiled")
                if backend and backend != "inductor":
                    _compile = torch.compile
                    torch.compile = lambda m, _c=_compile, _b=backend: _c(m, backend=_b)
                try:
                    rate, result = trainer_run(net, data, cfg)
                finally:
                    if backend and backend != "inductor":
                        torch.compile = _compile
                runs.setdefault(f"Trainer {mode}", []).append(rate)
                results.setdefault(mode, result)  # the first round: its compile is not cached
        best = {k: max(v) for k, v in runs.items()}
        hand_eager = best.get("hand eager")
        macs = report.totals.macs
        first = next(iter(results.values()))
        precision = first.speed.get("precision", "fp32")
        peak = peak_flops(first.device, precision) if cuda else None
        row = {"design": name, "device": first.device, "batch": batch, "train_images": n,
               "input": list(shape), "macs_per_image": macs, "precision": precision,
               "speed": first.speed, "epochs_timed": args.epochs, "rounds": args.rounds,
               "compile_backend": args.compile_backend, "images_per_s": best, "all": runs,
               "notes": first.notes, "peak_flops": peak,
               "compile_s": {m: r.compile_s for m, r in results.items()}}
        for mode in args.fast_modes:
            rate = best[f"Trainer {mode}"]
            row[f"model_flops_per_s_{mode}"] = 6 * macs * rate
            row[f"utilisation_{mode}"] = 6 * macs * rate / peak if peak else None
            if hand_eager:
                row[f"ratio_trainer_{mode}_vs_hand_eager"] = rate / hand_eager
            if f"hand {mode}" in best:
                row[f"ratio_trainer_vs_hand_{mode}"] = rate / best[f"hand {mode}"]
        rows.append(row)
        print(fast_line(row, args.fast_modes), flush=True)
    return rows


def fast_line(row: dict, modes) -> str:
    r = row["images_per_s"]
    parts = [f"{row['design']:<16} {tuple(row['input'])} batch {row['batch']:<4} "
             f"{row['precision']}:"]
    for mode in modes:
        parts.append(f"{mode}: hand {r.get(f'hand {mode}', 0):>8,.0f} img/s, Trainer "
                     f"{r.get(f'Trainer {mode}', 0):>8,.0f} img/s")
    if "ratio_trainer_eager_vs_hand_eager" in row:
        v = row["ratio_trainer_eager_vs_hand_eager"]
        parts.append(f"Trainer/hand eager {v:.3f} ({'ok' if v >= 1.0 else 'BELOW 1.0'})")
    if "ratio_trainer_compiled_vs_hand_eager" in row:
        v = row["ratio_trainer_compiled_vs_hand_eager"]
        goal = 1.2 if row["design"] in SMALL else None
        verdict = "" if goal is None else f" ({'ok' if v >= goal else 'BELOW 1.2'})"
        parts.append(f"Trainer compiled/hand eager {v:.3f}{verdict}")
        if "ratio_trainer_vs_hand_compiled" in row:
            parts.append(f"Trainer/hand compiled {row['ratio_trainer_vs_hand_compiled']:.3f}")
    for mode in modes:
        flops = row[f"model_flops_per_s_{mode}"]
        util = row[f"utilisation_{mode}"]
        parts.append(f"{mode} {flops / 1e12:.3g} TFLOP/s"
                     + (f" = {util:.1%} of peak" if util is not None else ""))
    return "  ".join(parts[:1]) + " " + "; ".join(parts[1:])


# ---------------------------------------------------------------------------------------------
# 3. GUI event-loop latency while training


def gui_latency(args) -> dict | None:
    """With --gui: the event-loop latency while the window's TrainWorker trains the CIFAR-10
    example (a 10 ms QTimer probe; target < 50 ms), from benchmarks/bench_train_gui.py, which
    also runs alone. Without --gui (or without PySide6) nothing is measured here."""
    if not getattr(args, "gui", False):
        return None
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_train_gui import TARGET_MS
    from bench_train_gui import gui_latency as measure

    r = measure(seconds=args.gui_seconds, device=args.device, batch=args.batch)
    t = r["training"]
    print(f"\nGUI event-loop latency while training ({r['device']}, batch {r['batch']}): "
          f"median {t['median_ms']:.1f} ms, p95 {t['p95_ms']:.1f} ms, max {t['max_ms']:.1f} ms "
          f"(target < {TARGET_MS:.0f} ms; idle p95 {r['idle']['p95_ms']:.1f} ms); "
          f"{r['updates_per_s']:.1f} GUI updates/s for {r['batches_per_s']:.0f} batches/s",
          flush=True)
    return r


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--batch", type=int, default=None, help="default: 64 (CPU), 128 (CUDA)")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (after a warm-up one)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--optimizer", default="momentum")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--designs", nargs="+", default=None,
                    help="preset names or files (default: cifar10_example, plus resnet20_cifar "
                         "and the conv-relu-conv-relu-pool pattern on CUDA)")
    ap.add_argument("--train-size", type=int, default=None, help="default: 4096 CPU, 50000 CUDA")
    ap.add_argument("--val-size", type=int, default=None, help="default: 512 CPU, 10000 CUDA")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-table", action="store_true",
                    help="the memory table: designs × batches × precisions (× cudnn.benchmark)")
    ap.add_argument("--memory-batches", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--json", default=None, metavar="FILE", help="write the figures as JSON "
                                                                 "('-': stdout)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--gui", action="store_true", help="also the GUI event-loop latency while the "
                    "window trains (bench_train_gui.py)")
    ap.add_argument("--gui-seconds", type=float, default=15.0)
    ap.add_argument("--fast", action=argparse.BooleanOptionalAction, default=None,
                    help="4. the Trainer's fast defaults vs a best-practice hand loop (default: "
                         "on CUDA)")
    ap.add_argument("--fast-designs", nargs="+", default=list(FAST_DESIGNS))
    ap.add_argument("--fast-modes", nargs="+", choices=("eager", "compiled"), default=None,
                    help="default: eager and compiled on CUDA, eager on the CPU (Inductor's C++ "
                         "build takes minutes there)")
    ap.add_argument("--compile-backend", default="inductor",
                    help="torch.compile's backend for the compiled runs (aot_eager: checks the "
                         "path without building kernels)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    args.batch = args.batch or (128 if cuda else 64)
    args.train_size = args.train_size or (50000 if cuda else 4096)
    args.val_size = args.val_size or (10000 if cuda else 512)
    args.designs = args.designs or (["cifar10_example", "resnet20_cifar",
                                     "pattern_conv_relu_conv_relu_pool_x3"] if cuda
                                    else ["cifar10_example"])
    name = (torch.cuda.get_device_name(device) if cuda
            else f"CPU ({torch.get_num_threads()} threads)")
    out = {"device": name, "torch": str(torch.__version__), "python": platform.python_version(),
           "target": TARGET}
    print(f"torch {torch.__version__} on {name}", flush=True)
    if not args.no_throughput:
        print(f"\nThroughput, Trainer vs a hand-written loop ({args.epochs} timed epochs of "
              f"{args.train_size} images, best of {args.rounds}):", flush=True)
        out["throughput"] = throughput(args, device)
    if not args.no_memory:
        print("\nMemory of a training step, estimate vs measured:", flush=True)
    if args.no_memory:
        pass
    elif args.memory_table:
        precisions = ("fp32", "bf16") if cuda else ("fp32",)
        out["memory"] = memory_rows(MEMORY_DESIGNS, args.memory_batches, precisions, device,
                                    args.optimizer)
    else:
        out["memory"] = memory_rows(args.designs[:1], [args.batch], (args.precision,), device,
                                    args.optimizer, cudnn_modes=(True,))
    if args.fast if args.fast is not None else cuda:
        args.fast_modes = args.fast_modes or (["eager", "compiled"] if cuda else ["eager"])
        print(f"\nFast settings: the Trainer's defaults vs a best-practice hand loop "
              f"({args.epochs} timed epochs after a warm-up one, best of {args.rounds}; "
              f"compile backend {args.compile_backend}):", flush=True)
        out["fast"] = fast(args, device)
    out["gui_latency"] = gui_latency(args)
    if args.json:
        write_json(out, args.json)
    return 0


def write_json(figures: dict, dest: str) -> None:
    """The figures as JSON, to stdout for "-", else to the file `dest`."""
    text = json.dumps(figures, indent=1)
    if dest == "-":
        print(text)
    else:
        Path(dest).write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
