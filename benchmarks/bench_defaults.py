"""The default training settings on a small real data set: validation accuracy per case study
and per seed (issue 18: the defaults must train the presets without a setting touched).

The data: scikit-learn's 1,797 handwritten digits (vendored in tests/training/digits/), 8×8
upscaled bilinearly to 32×32 as tests/training/test_real_digits.py does, written once as a .npz
(and, with ``--folder``, as a folder of PNGs, one sub-folder per class): one's own data, so the
split is the data side's stratified seeded 10 % (180 images) and nothing is augmented. Every run
is the Trainer with ``TrainConfig()``'s defaults (``--set KEY=VALUE`` changes one, to measure a
candidate against them), 10 epochs on the CPU; a seed ``s`` is both the split's seed and the
run's (initial weights, batch order), or with ``--init-seeds`` each split is trained once per
run seed given (the column ``s/i``). Designs with an RGB input see the grey digits repeated to
three channels.

Printed: one line per run (preset, path, seed, final validation accuracy, final training
accuracy, seconds) and a Markdown table per preset and path (each seed's accuracy, the mean and
the lowest).

    python benchmarks/bench_defaults.py [--presets lenet5 cifar10_example ...] [--seeds 0 1 2]
        [--init-seeds 0 1] [--folder] [--set batch_size=32 --set lr=0.01] [--threads 1]
        [--json FILE|-]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIGITS = ROOT / "tests" / "training" / "digits" / "digits.csv.gz"
PRESETS = ("lenet5", "cifar10_example", "pattern_conv_relu_pool_x2",
           "pattern_conv_relu_conv_relu_pool_x3", "resnet20_cifar")


def digits_32() -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (1797, 32, 32), int64 labels): as tests/training/test_real_digits.py makes them."""
    import torch
    import torch.nn.functional as F

    with gzip.open(DIGITS, "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    small = torch.tensor(raw[:, :64].reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)
    big = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
    images = (big.clamp(0, 1) * 255).round().to(torch.uint8).numpy()[:, 0]
    return images, raw[:, 64].astype(np.int64)


def write(where: Path, folder: bool) -> dict[str, Path]:
    images, labels = digits_32()
    out = {"npz": where / "digits.npz"}
    np.savez_compressed(out["npz"], x=images, y=labels)
    if folder:
        from PIL import Image

        out["folder"] = where / "digits"
        for i, (image, label) in enumerate(zip(images, labels)):
            (out["folder"] / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(out["folder"] / str(label) / f"{i:04d}.png")
    return out


def parse_set(items: list[str]) -> dict[str, object]:
    """'--set batch_size=32' -> {'batch_size': 32}: the value read as JSON, else as text."""
    out: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=list(PRESETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--init-seeds", nargs="+", type=int, default=None,
                   help="run seeds to train each split with (default: the split's seed)")
    p.add_argument("--folder", action="store_true", help="also the folder-of-PNGs path")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a TrainConfig setting other than its default (repeatable)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", help="write the runs as JSON to FILE ('-': stdout)")
    args = p.parse_args(argv)

    import torch

    from designer.model import design_file
    from designer.training.events import DataConfig, TrainConfig
    from designer.training.trainer import Trainer

    torch.set_num_threads(args.threads)
    changed = parse_set(args.set)
    TrainConfig(**changed)  # an unknown setting fails here, before any run
    shown = ", ".join(f"{k}={v}" for k, v in changed.items()) or "none"
    defaults = TrainConfig(**changed)
    print(f"# defaults: optimizer {defaults.optimizer}, lr {defaults.lr:g}, schedule "
          f"{defaults.schedule}, batch {defaults.batch_size}, weight decay "
          f"{defaults.weight_decay:g}, {defaults.epochs} epochs (changed: {shown}); "
          f"torch {torch.__version__}, {args.threads} thread(s)", flush=True)
    pairs = [(s, i) for s in args.seeds for i in (args.init_seeds or [s])]
    label = (lambda s, i: f"{s}/{i}") if args.init_seeds else (lambda s, i: f"{s}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write(Path(tmp), args.folder)
        for preset in args.presets:
            net = design_file.load(ROOT / "presets" / f"{preset}.convnet.json").network
            for kind, path in paths.items():
                for seed, init in pairs:
                    cfg = TrainConfig(data=DataConfig(name=kind, path=str(path), seed=seed),
                                      device="cpu", seed=init, **changed)
                    t = time.perf_counter()
                    result = Trainer(net, cfg).run()
                    last = result.history[-1] if result.history else None
                    run = {"preset": preset, "path": kind, "seed": seed, "init_seed": init,
                           "status": result.status,
                           "val_accuracy": last.val_accuracy if last else None,
                           "train_accuracy": last.train_accuracy if last else None,
                           "seconds": round(time.perf_counter() - t, 1)}
                    runs.append(run)
                    acc = "-" if last is None else f"{100 * last.val_accuracy:.1f} %"
                    train = "" if last is None else f" (train {100 * last.train_accuracy:.1f} %)"
                    print(f"{preset:38s} {kind:6s} seed {label(seed, init)}: {acc}{train} "
                          f"{result.status}, {run['seconds']} s", flush=True)
    print()
    print("| preset | path | " + " | ".join(f"seed {label(s, i)}" for s, i in pairs)
          + " | mean | lowest |")
    print("| --- | --- | " + " | ".join("---:" for _ in pairs) + " | ---: | ---: |")
    for preset in args.presets:
        for kind in paths:
            accs = [r["val_accuracy"] for r in runs if r["preset"] == preset
                    and r["path"] == kind]
            cells = [f"{100 * a:.1f}" if a is not None else "failed" for a in accs]
            done = [a for a in accs if a is not None]
            tail = (f"{100 * statistics.mean(done):.1f} | {100 * min(done):.1f}" if done
                    else "- | -")
            print(f"| {preset} | {kind} | " + " | ".join(cells) + f" | {tail} |")
    if args.json:
        text = json.dumps({"changed": changed, "runs": runs}, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
