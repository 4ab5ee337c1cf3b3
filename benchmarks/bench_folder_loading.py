"""Reading one's own images: an image folder (Pillow, on threads) against the .npz of the same
images, in images per second, in the same process.

A folder of N generated pictures (smooth colours and a little noise, as photos compress) is
written once per (format, size) as PNG and as JPEG (quality 90), one sub-folder per class, and
the same pixels as an .npz (numpy.savez, uncompressed: the fastest a set can be read here).
Each round reads, alternating, so a machine busy with other work slows all alike:

- ``npz``: ``files.read_npz`` and the resizing to the input that load_datasets does (the
  baseline: the .npz path of the same images);
- ``png`` / ``jpeg`` with 1 thread and with ``--workers`` threads (default
  ``images.default_workers()``, min(4, CPUs)): ``images.read_folder``, decoding, converting and
  resizing every file to the design's input (``--input``, default 32×32 RGB).

Printed: the best round's images/s of each, the folder's rate as a ratio of the .npz's, and the
threads' speed-up over one thread.

    python benchmarks/bench_folder_loading.py [--images 2000] [--sizes 32 128] [--input 32]
        [--rounds 3] [--workers N] [--json FILE|-]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.training.data import files, images  # noqa: E402
from designer.training.data.common import Adapter, adapt_all  # noqa: E402

CLASSES = 10


def make_pictures(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, size, size, 3): a coarse random colour field upscaled, plus a little noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR))
        noise = rng.integers(-6, 7, smooth.shape)
        out[i] = np.clip(smooth.astype(int) + noise, 0, 255)
    return out, np.arange(n) % CLASSES


def write_sets(where: Path, pictures: np.ndarray, labels: np.ndarray) -> dict[str, Path]:
    from PIL import Image

    paths = {"npz": where / "set.npz"}
    np.savez(paths["npz"], x=pictures, y=labels)
    for kind, suffix, kw in (("png", ".png", {}), ("jpeg", ".jpg", {"quality": 90})):
        root = where / kind
        for i, (picture, label) in enumerate(zip(pictures, labels)):
            folder = root / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture).save(folder / f"{i:06d}{suffix}", **kw)
        paths[kind] = root
    return paths


def read_once(kind: str, path: Path, shape: tuple[int, int, int], workers: int) -> int:
    if kind == "npz":  # read, and shaped to the input as load_datasets does
        user = files.read_npz(path)
        adapt_all(user.train_x, Adapter(user.source_shape, shape))
    else:
        user = images.read_folder(path, shape, 1 << 40, workers=workers)
    return len(user.train_y)


def bench(n: int, size: int, shape: tuple[int, int, int], rounds: int, workers: int) -> dict:
    pictures, labels = make_pictures(n, size)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_sets(Path(folder), pictures, labels)
        runs = [("npz", "npz", 1), ("png", "png", 1), (f"png ×{workers}", "png", workers),
                ("jpeg", "jpeg", 1), (f"jpeg ×{workers}", "jpeg", workers)]
        best = {name: 0.0 for name, _, _ in runs}
        for _, kind, w in runs:  # warm: the page cache and Pillow's plugins
            read_once(kind, paths[kind], shape, w)
        for _ in range(rounds):
            for name, kind, w in runs:
                start = time.perf_counter()
                got = read_once(kind, paths[kind], shape, w)
                seconds = time.perf_counter() - start
                assert got == n, (name, got)
                best[name] = max(best[name], n / seconds)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 128],
                   help="the pictures' side in pixels, one set each")
    p.add_argument("--input", type=int, default=32, help="the design's input side (RGB)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=None,
                   help="decoding threads (default: images.default_workers())")
    p.add_argument("--json", default=None, help="write the figures to FILE (- for stdout)")
    args = p.parse_args(argv)
    workers = args.workers or images.default_workers()
    shape = (3, args.input, args.input)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"({images.default_workers()} threads by default), {args.images} images, input "
          f"{args.input}×{args.input}×3, best of {args.rounds} rounds")
    results = {}
    for size in args.sizes:
        best = bench(args.images, size, shape, args.rounds, workers)
        results[size] = best
        npz = best["npz"]
        print(f"\n{size}×{size} pictures -> {args.input}×{args.input}")
        print(f"  {'reader':<12} {'images/s':>10} {'vs .npz':>8} {'vs 1 thread':>12}")
        for name, rate in best.items():
            one = best.get(name.split(" ")[0], rate)
            threads = f"{rate / one:.2f}×" if "×" in name else ""
            print(f"  {name:<12} {rate:>10,.0f} {rate / npz:>8.3f} {threads:>12}")
    if args.json:
        text = json.dumps({"images": args.images, "input": args.input, "workers": workers,
                           "cpus": os.cpu_count(), "images_per_s": results}, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
