"""The training checks for a GPU machine, in one call (about 4–6 minutes on an H100).

    OUT=/some/folder python benchmarks/gpu_check.py [--device cuda] [--quick]

Each part runs in its own process with its own time limit and writes JSON and text to $OUT:
  env          torch, CUDA, the device's name and memory                   env.json
  bench_fp32   bench_train.py: Trainer vs hand-written loop, fp32          bench_fp32.{json,txt}
  bench_bf16   the same, bf16 autocast and channels_last                   bench_bf16_cl.{json,txt}
  memory       bench_train.py --memory-table: 3 designs × 2 batches × {fp32, bf16}
               × cudnn.benchmark {False, True}: estimate vs max_memory_allocated
                                                                           memory.{json,txt}
  train        `python -m designer train` of presets (resnet20_cifar bf16, the CIFAR-10 example
               fp32) on the synthetic set                                     train_*.{json,txt}
  faults       on the device: stop latency mid-epoch, NaN loss, fp16 with loss scaling, a real
               out-of-memory (then a run that works)                          faults.json
  (not run by default: oom alone; bench_bf16_long, longer timings for two designs)
summary.txt gathers the text. --device cpu (with --quick) checks the script itself on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def out_dir() -> Path:
    out = Path(os.environ.get("OUT") or ROOT / "gpu_check_out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_part(name: str, cmd: list[str], timeout: int, out: Path, stdout_file: str | None = None,
             summary: list[str] | None = None) -> dict:
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        rc, stdout, stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
    took = time.perf_counter() - t
    if stdout_file:
        (out / stdout_file).write_text(stdout)
    text = f"== {name}: rc {rc}, {took:.1f} s\n$ {' '.join(cmd)}\n{stdout}\n"
    if stderr.strip():
        # progress lines are redrawn with \r: keep the last state of each line
        lines = [ln.split("\r")[-1] for ln in stderr.split("\n")]
        text += "stderr:\n" + "\n".join(lines[-40:]) + "\n"
    (out / f"{name}.txt").write_text(text)
    if summary is not None:
        summary.append(text)
    print(text, flush=True)
    return {"rc": rc, "seconds": took}


# ---------------------------------------------------------------------------------------------
# parts that run in this file (in a child process)


def part_env(out: Path, device: str) -> None:
    import torch

    info = {"torch": str(torch.__version__), "cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(), "python": sys.version.split()[0],
            "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(device=props.name, total_memory=props.total_memory,
                    capability=f"{props.major}.{props.minor}",
                    bf16=torch.cuda.is_bf16_supported())
    else:
        info["device"] = f"CPU ({torch.get_num_threads()} threads)"
    (out / "env.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(info, indent=1))


def part_faults(out: Path, device: str, quick: bool) -> None:
    import torch
    from torch.utils.data import TensorDataset

    sys.path.insert(0, str(ROOT))
    from designer.model import design_file
    from designer.training.events import TrainConfig
    from designer.training.trainer import Trainer

    def net(name):
        return design_file.load(ROOT / "presets" / f"{name}.convnet.json").network

    def blobs(n, shape=(3, 32, 32), classes=10, seed=0):
        g = torch.Generator().manual_seed(seed)
        protos = torch.randn(classes, *shape, generator=torch.Generator().manual_seed(99))
        y = torch.randint(0, classes, (n,), generator=g)
        return TensorDataset(protos[y] + torch.randn(n, *shape, generator=g), y)

    report: dict = {}
    cifar = net("cifar10_example")
    small = (blobs(2048, seed=1), blobs(512, seed=2), None)

    # stop mid-epoch: latency from stop() to run() returning
    big = (blobs(8192 if quick else 50000, seed=3), blobs(512, seed=4), None)
    class StopAfter:
        """Callbacks: set `seen` at the 20th batch (or at the end)."""

        def __init__(self):
            self.n = 0
            self.seen = threading.Event()

        def on_batch(self, e):
            self.n += 1
            if self.n == 20:
                self.seen.set()

        def on_end(self, result):
            self.seen.set()

    def stop_latency(design) -> tuple[float, str]:
        cb = StopAfter()
        trainer = Trainer(design, TrainConfig(epochs=5, batch_size=128, device=device,
                                              optimizer="momentum"), cb, datasets=big)
        box: dict = {}
        th = threading.Thread(target=lambda: box.setdefault("r", trainer.run()))
        th.start()
        cb.seen.wait(120)
        t = time.perf_counter()
        trainer.stop()
        th.join(60)
        return time.perf_counter() - t, (box["r"].status if "r" in box else "no result")

    for name in ("cifar10_example", "resnet20_cifar"):
        took, status = stop_latency(net(name))
        report[f"stop_latency_s_{name}"] = took
        report[f"stop_status_{name}"] = status
        print(f"stop ({name}): {took:.3f} s, {status}", flush=True)

    # NaN loss detected on the device (loss read at most 20× a second)
    r = Trainer(cifar, TrainConfig(epochs=2, batch_size=128, device=device, lr=1e12),
                datasets=small).run()
    report["nan"] = {"status": r.status, "fault": r.fault and r.fault.__dict__}
    print("nan:", report["nan"], flush=True)

    # fp16 with loss scaling
    r = Trainer(cifar, TrainConfig(epochs=2, batch_size=128, device=device, precision="fp16",
                                   optimizer="adam", lr=3e-3), datasets=small).run()
    report["fp16"] = {"status": r.status, "val_accuracy": r.best_val_accuracy,
                      "notes": r.notes, "fault": r.fault and r.fault.__dict__}
    print("fp16:", report["fp16"], flush=True)

    if device.startswith("cuda") and torch.cuda.is_available():
        report.update(oom_check(device))
    (out / "faults.json").write_text(json.dumps(report, indent=1, default=str) + "\n")


def oom_check(device: str, n: int = 131072) -> dict:
    """A real CUDA out-of-memory (ResNet-20 at a batch of 131072 needs ~220 GB), then a run
    that works in the same process, and what stayed allocated."""
    import torch
    from torch.utils.data import TensorDataset

    from designer.model import design_file
    from designer.training.events import TrainConfig
    from designer.training.trainer import Trainer

    resnet = design_file.load(ROOT / "presets" / "resnet20_cifar.convnet.json").network
    cifar = design_file.load(ROOT / "presets" / "cifar10_example.convnet.json").network
    report: dict = {}
    t = time.perf_counter()
    before = torch.cuda.memory_allocated()

    x = torch.randn(n, 3, 32, 32)
    y = torch.randint(0, 10, (n,))
    huge = (TensorDataset(x, y), TensorDataset(x[:256], y[:256]), None)
    print(f"oom: data ready {time.perf_counter() - t:.1f} s", flush=True)
    r = Trainer(resnet, TrainConfig(epochs=1, batch_size=n, device=device,
                                    optimizer="momentum"), datasets=huge).run()
    report["oom"] = {"status": r.status, "fault": r.fault and r.fault.__dict__,
                     "seconds": time.perf_counter() - t, "allocated_before": before,
                     "allocated_after": torch.cuda.memory_allocated(),
                     "reserved_after": torch.cuda.memory_reserved()}
    print("oom:", json.dumps(report["oom"], default=str), flush=True)
    del huge, x, y
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(2048, 3, 32, 32, generator=g)
    ys = torch.randint(0, 10, (2048,), generator=g)
    small = (TensorDataset(xs, ys), TensorDataset(xs[:256], ys[:256]), None)
    r2 = Trainer(cifar, TrainConfig(epochs=2, batch_size=128, device=device, optimizer="adam",
                                    lr=3e-3), datasets=small).run()
    report["after_oom"] = {"status": r2.status, "epochs_done": r2.epochs_done,
                           "fault": r2.fault and r2.fault.__dict__}
    print("after oom:", report["after_oom"], flush=True)
    return report


def part_oom(out: Path, device: str) -> None:
    import torch

    sys.path.insert(0, str(ROOT))
    if not (device.startswith("cuda") and torch.cuda.is_available()):
        report = {"oom": "skipped: needs a CUDA device"}
    else:
        report = oom_check(device)
    (out / "oom.json").write_text(json.dumps(report, indent=1, default=str) + "\n")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes (checking the script)")
    ap.add_argument("--budget", type=float, default=380,
                    help="seconds for all parts; parts that would start later are skipped")
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="+", default=None,
                    help="parts to run (env bench_fp32 bench_bf16 memory train_resnet20 "
                         "faults train_cifar10_example bench_cpu)")
    args = ap.parse_args(argv)
    out = out_dir()
    if args.part == "env":
        part_env(out, args.device)
        return 0
    if args.part == "oom":
        part_oom(out, args.device)
        return 0
    if args.part == "faults":
        part_faults(out, args.device, args.quick)
        return 0

    q = args.quick
    dev = args.device
    bench = [PY, "benchmarks/bench_train.py", "--device", dev, "--no-memory", "--epochs", "2",
             "--train-size", "2048" if q else "20000", "--val-size", "512" if q else "2000"]
    if q:
        bench += ["--designs", "cifar10_example", "--rounds", "1"]
    train_common = ["--dataset", "synthetic", "--device", dev, "--json"]
    parts = {
        "env": ([PY, __file__, "--part", "env", "--device", dev], 60, None),
        "bench_fp32": (bench + ["--precision", "fp32", "--json", str(out / "bench_fp32.json")],
                       90, None),
        "bench_bf16": (bench + ["--precision", "bf16", "--channels-last", "--json",
                                str(out / "bench_bf16_cl.json")], 80, None),
        "memory": ([PY, "benchmarks/bench_train.py", "--device", dev, "--no-throughput",
                    "--memory-table", "--json", str(out / "memory.json")]
                   + (["--memory-batches", "8", "32"] if q else []), 70, None),
        "train_resnet20": ([PY, "-m", "designer", "train", "presets/resnet20_cifar.convnet.json",
                            "--train-size", "1000" if q else "10000", "--val-size",
                            "200" if q else "2000", "--epochs", "1" if q else "4", "--batch",
                            "128", "--optimizer", "momentum", "--lr", "0.1", "--weight-decay",
                            "5e-4", "--schedule", "onecycle", "--precision", "bf16",
                            "--channels-last", "--checkpoints", str(out / "checkpoints")]
                           + train_common, 70, "train_resnet20.json"),
        "faults": ([PY, __file__, "--part", "faults", "--device", dev] + (["--quick"] if q else []),
                   70, None),
        "train_cifar10_example": ([PY, "-m", "designer", "train",
                                   "presets/cifar10_example.convnet.json", "--train-size",
                                   "1000" if q else "5000", "--val-size", "1000", "--epochs",
                                   "2" if q else "5", "--optimizer", "adam", "--lr", "0.003"]
                                  + train_common, 45, "train_cifar10_example.json"),
        "oom": ([PY, __file__, "--part", "oom", "--device", dev], 60, None),
        "bench_bf16_long": ([PY, "benchmarks/bench_train.py", "--device", dev, "--no-memory",
                             "--train-size", "2048" if q else "20000", "--val-size", "2000",
                             "--epochs", "3", "--rounds", "1" if q else "3", "--designs",
                             "pattern_conv_relu_conv_relu_pool_x3", "resnet20_cifar",
                             "--precision", "bf16", "--channels-last", "--json",
                             str(out / "bench_bf16_long.json")], 120, None),
        # the same comparison on this machine's CPU (quiet, unlike a shared workstation)
        "bench_cpu": ([PY, "benchmarks/bench_train.py", "--device", "cpu", "--no-memory",
                       "--designs", "cifar10_example", "--epochs", "2", "--rounds",
                       "1" if q else "3", "--train-size", "2048" if q else "4096",
                       "--threads", "8", "--json", str(out / "bench_cpu.json")], 45, None),
    }
    only = args.only or [p for p in parts if p not in ("oom", "bench_bf16_long")]
    summary: list[str] = []
    status = {}
    t0 = time.perf_counter()
    for name in only:
        cmd, timeout, stdout_file = parts[name]
        left = args.budget - (time.perf_counter() - t0)
        if left < 20:
            status[name] = {"rc": "skipped: out of time"}
            continue
        status[name] = run_part(name, cmd, int(min(timeout, left)), out, stdout_file, summary)
        (out / "summary.txt").write_text("\n".join(summary))
    summary.append(f"total {time.perf_counter() - t0:.1f} s; parts: {json.dumps(status)}\n")
    (out / "summary.txt").write_text("\n".join(summary))
    print(summary[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
