"""Train the model of this project on one device, or on many processes (DistributedDataParallel).

    python train.py                                  # one process: a GPU if there is one
    torchrun --nproc_per_node=4 train.py             # four processes (four GPUs, or CPU cores)
    python train.py --epochs 20 --batch 128 --lr 0.05 --dataset cifar10 --download

The settings are the design's training settings in ConvNet Designer, saved in config.json
beside this file; options override them (python train.py --help lists them). The data sets are
the app's, made the same way: the synthetic shapes and textures (the same images for the same
seed), MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 from their standard files (downloaded with
--download, MD5-checked, into the app's cache folder), a folder of images (one sub-folder per
class; needs Pillow) or a .npz with arrays x and y (never unpickled).

Under torchrun every process reads its share of each batch (a DistributedSampler), --batch is
the batch of all processes together (each takes batch / processes), gradients are averaged, so a
run on N processes takes the same steps as one process with the same batch. Process 0 alone
prints and writes checkpoints: best.pt (best validation accuracy) and last.pt, each
{"format", "version", "state_dict", "meta"}, read back with
    torch.load(path, weights_only=True)["state_dict"]
into the model class of model.py (and into ConvNet Designer).

BatchNorm normalises each process's share of the batch, as DistributedDataParallel does; on
CUDA with several processes it is made SyncBatchNorm (the whole batch) unless --no-sync-bn.

This file needs PyTorch and NumPy only (Pillow for image folders); it was written by ConvNet
Designer and does not import it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler

HERE = Path(__file__).resolve().parent
CHECKPOINT_FORMAT = "convnet-designer-checkpoint"
DATASETS = ("synthetic", "mnist", "fashion-mnist", "cifar10", "cifar100", "folder", "npz")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEFAULTS = {
    "data": {"name": "synthetic", "path": None, "download": False, "train_size": None,
             "val_size": None, "augment": True, "seed": 0},
    "epochs": 10, "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
    "weight_decay": 0.0, "schedule": "none", "step_size": 10, "gamma": 0.1, "device": "auto",
    "precision": "fp32", "channels_last": False, "seed": 0, "num_workers": 0,
    "checkpoint_dir": "checkpoints",
}


class DataError(ValueError):
    """A data set that cannot be found, read or shaped to the model's input."""


# =============================================================================================
# The synthetic data set: ten classes of coloured shapes and textures. Sample i of a split
# depends only on (seed, split, i); labels cycle through the classes (i % 10).

CLASS_NAMES = ["circle", "square", "triangle", "cross", "ring", "horizontal stripes",
               "vertical stripes", "checkerboard", "diagonal stripes", "dots"]
SPLITS = {"train": 0, "val": 1}


def synthetic_images(seed: int, split: str, n: int, shape) -> torch.Tensor:
    """Samples 0..n-1 of a split as uint8 (n, C, H, W)."""
    c, h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    grid = (ys + 0.5, xs + 0.5)
    out = np.empty((n, c, h, w), dtype=np.uint8)
    for i in range(n):
        out[i] = synthetic_sample(seed, SPLITS[split], i, (c, h, w), grid)
    return torch.from_numpy(out)


def synthetic_sample(seed: int, split: int, index: int, shape, grid) -> np.ndarray:
    c, h, w = shape
    ys, xs = grid
    key = ((seed % 2**31) << 33) | (split << 32) | (index % 2**32)
    rng = np.random.Generator(np.random.PCG64(key))
    label = index % len(CLASS_NAMES)
    unit = min(h, w) / 32.0
    mask = _mask(label, rng, ys, xs, h, w, unit)
    background = rng.uniform(0.0, 0.35, size=c).astype(np.float32)
    foreground = rng.uniform(0.6, 1.0, size=c).astype(np.float32)
    if c == 1:
        background, foreground = background[:1], foreground[:1]
    image = background[:, None, None] + (foreground - background)[:, None, None] * mask
    noise = rng.random(size=(c, h, w), dtype=np.float32)
    image += noise * 0.2 - 0.1
    image *= 255.0
    image += 0.5
    return np.clip(image, 0, 255, out=image).astype(np.uint8)


def _mask(label, rng, ys, xs, h, w, unit):
    if label <= 4:
        r = rng.uniform(7.5, 11.0) * unit
        cy = h / 2 + rng.uniform(-0.15, 0.15) * h
        cx = w / 2 + rng.uniform(-0.15, 0.15) * w
        dy, dx = ys - cy, xs - cx
        if label == 0:
            return (np.hypot(dy, dx) <= r).astype(np.float32)
        if label == 1:
            return (np.maximum(np.abs(dy), np.abs(dx)) <= r * 0.8).astype(np.float32)
        if label == 2:
            inside = (dy <= r * 0.75) & (np.abs(dx) <= (dy + r) * 0.62)
            return inside.astype(np.float32)
        if label == 3:
            arm = r * 0.32
            ady, adx = np.abs(dy), np.abs(dx)
            inside = ((ady <= arm) & (adx <= r)) | ((adx <= arm) & (ady <= r))
            return inside.astype(np.float32)
        d = np.hypot(dy, dx)
        return ((d <= r) & (d >= r * 0.55)).astype(np.float32)
    period = rng.uniform(4.0, 7.0) * unit
    phase = rng.uniform(0.0, 2 * np.pi)
    if label == 5:
        return (np.sin(2 * np.pi * ys / period + phase) > 0).astype(np.float32)
    if label == 6:
        return (np.sin(2 * np.pi * xs / period + phase) > 0).astype(np.float32)
    if label == 7:
        oy, ox = rng.uniform(0.0, period, size=2)
        cells = np.floor((ys + oy) / period) + np.floor((xs + ox) / period)
        return (cells % 2).astype(np.float32)
    if label == 8:
        return (np.sin(2 * np.pi * (xs + ys) / (period * 1.414) + phase) > 0).astype(np.float32)
    oy, ox = rng.uniform(0.0, period, size=2)
    fy = (ys + oy) % period - period / 2
    fx = (xs + ox) % period - period / 2
    return (np.hypot(fy, fx) <= period * 0.28).astype(np.float32)


# =============================================================================================
# The standard data sets' files: MNIST and Fashion-MNIST (IDX), CIFAR-10/100 (binary version)

BASE_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "cifar100": "https://www.cs.toronto.edu/~kriz/",
}
FILES = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar10": {"cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"},
    "cifar100": {"cifar-100-binary.tar.gz": "03b5dce01913d631647c71ecec9e9cb8"},
}
IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
       "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR = {  # archive, folder inside it, training files, test file, label bytes, classes
    "cifar10": ("cifar-10-binary.tar.gz", "cifar-10-batches-bin",
                tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin", 1, 10),
    "cifar100": ("cifar-100-binary.tar.gz", "cifar-100-binary", ("train.bin",), "test.bin", 2,
                 100),
}


def default_cache_dir() -> Path:
    """Where ConvNet Designer keeps downloads (so both find the same files)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "convnet-designer" / "Cache" / "datasets"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "convnet-designer" / "datasets"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "convnet-designer" / "datasets"


def download(name: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    base = os.environ.get("CONVNET_DATA_MIRROR") or BASE_URLS[name]
    base = base if base.endswith("/") else base + "/"
    for filename, md5 in FILES[name].items():
        target = folder / filename
        if target.is_file():
            continue
        print(f"downloading {base + filename}", flush=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        try:
            digest = hashlib.md5(usedforsecurity=False)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(base + filename,
                                                                    timeout=30) as response:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
            if digest.hexdigest() != md5:
                raise DataError(f"{filename} from {base} is corrupt (MD5 {digest.hexdigest()}, "
                                f"published {md5}); it was not kept")
            os.replace(temp, target)
        except OSError as error:
            raise DataError(f"could not download {base + filename}: {error}") from None
        finally:
            if os.path.exists(temp):
                os.unlink(temp)


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if len(data) < 4 or data[0] or data[1] or data[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of bytes")
    ndim = data[3]
    dims = tuple(int(v) for v in np.frombuffer(data, ">u4", count=ndim, offset=4))
    count = int(np.prod(dims))
    if len(data) - 4 - 4 * ndim != count:
        raise DataError(f"{path} is cut short or corrupt")
    return np.frombuffer(data, np.uint8, count=count, offset=4 + 4 * ndim).reshape(dims).copy()


def read_standard(name: str, folder: Path):
    """(train_x, train_y, val_x, val_y, class count), images uint8 (N, C, H, W)."""
    if name in ("mnist", "fashion-mnist"):
        sub = "MNIST" if name == "mnist" else "FashionMNIST"
        for where in (folder, folder / "raw", folder / sub / "raw"):
            found = {}
            for stems in IDX.values():
                for stem in stems:
                    for candidate in (where / (stem + ".gz"), where / stem):
                        if candidate.is_file():
                            found[stem] = candidate
                            break
            if len(found) == 4:
                out = []
                for images, labels in IDX.values():
                    x, y = read_idx(found[images]), read_idx(found[labels])
                    out += [torch.from_numpy(x[:, None]), torch.from_numpy(y.astype(np.int64))]
                return (*out, 10)
        raise DataError(f"{folder} does not hold the {name} files "
                        f"({', '.join(FILES[name])}): add --download")
    archive, inner, train_files, test_file, label_bytes, classes = CIFAR[name]
    wanted = (*train_files, test_file)
    members: dict[str, bytes] = {}
    if (folder / archive).is_file():
        with tarfile.open(folder / archive, "r:*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted:
                    members[base] = tar.extractfile(member).read()
    else:
        for where in (folder / inner, folder):
            if all((where / f).is_file() for f in wanted):
                members = {f: (where / f).read_bytes() for f in wanted}
                break
    if len(members) != len(wanted):
        raise DataError(f"{folder} does not hold {name} ({archive}, the binary version, or its "
                        f"files {', '.join(wanted)}): add --download")
    record = label_bytes + 3072
    parts = []
    for files in (train_files, (test_file,)):
        rows = np.concatenate([np.frombuffer(members[f], np.uint8).reshape(-1, record)
                               for f in files])
        parts += [torch.from_numpy(rows[:, label_bytes:].reshape(-1, 3, 32, 32).copy()),
                  torch.from_numpy(rows[:, label_bytes - 1].astype(np.int64))]
    return (*parts, classes)


# =============================================================================================
# A user's own data: a .npz, or a folder of images (one sub-folder per class)


def split_indices(n: int, val_size, seed: int):
    if n < 2:
        raise DataError(f"{n} sample(s): at least 2 are needed to hold some back")
    k = val_size if val_size is not None else max(1, round(n * 0.1))
    if not 1 <= k < n:
        raise DataError(f"a validation split of {k} from {n} samples leaves nothing to train on")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7))
    return order[k:].sort().values, order[:k].sort().values


def _npz_images(x: np.ndarray, what: str) -> torch.Tensor:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[3] in (1, 3, 4):
            x = x.transpose(0, 3, 1, 2)
        elif x.shape[1] not in (1, 3, 4):
            raise DataError(f"{what} has shape {x.shape}: which axis holds the channels?")
    else:
        raise DataError(f"{what} has shape {x.shape}: expected (N, H, W), (N, H, W, C) or "
                        "(N, C, H, W)")
    if x.dtype == np.bool_:
        x = x.astype(np.uint8) * 255
    elif np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        x = x.astype(np.uint8)
    elif np.issubdtype(x.dtype, np.number):
        x = x.astype(np.float32)
    else:
        raise DataError(f"{what} holds {x.dtype} values")
    return torch.from_numpy(np.ascontiguousarray(x))


def _npz_labels(y: np.ndarray, n: int, what: str) -> torch.Tensor:
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{what} has shape {y.shape}: expected one label per image ({n},)")
    if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise DataError(f"{what}: labels must be integers 0..K-1")
    return torch.from_numpy(y.astype(np.int64))


def read_npz(path: Path, val_size, seed: int):
    if not path.is_file():
        raise DataError(f"the .npz file {path} does not exist")
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
        for k in (("x", "y", None, None), ("x_train", "y_train", "x_test", "y_test"),
                  ("x_train", "y_train", "x_val", "y_val")):
            if k[0] in keys and k[1] in keys and (k[2] is None or {k[2], k[3]} <= keys):
                arrays = [archive[name] if name else None for name in k]
                break
        else:
            raise DataError(f"{path} holds {', '.join(sorted(keys))}: expected x and y (or "
                            "x_train, y_train, x_test, y_test)")
    train_x = _npz_images(arrays[0], f"{path}: images")
    train_y = _npz_labels(arrays[1], len(train_x), f"{path}: labels")
    if arrays[2] is not None:
        val_x = _npz_images(arrays[2], f"{path}: validation images")
        val_y = _npz_labels(arrays[3], len(val_x), f"{path}: validation labels")
    else:
        t, v = split_indices(len(train_x), val_size, seed)
        train_x, val_x, train_y, val_y = train_x[t], train_x[v], train_y[t], train_y[v]
    classes = int(max(train_y.max(), val_y.max())) + 1
    return train_x, train_y, val_x, val_y, classes


def read_folder(root: Path, shape, val_size, seed: int):
    try:
        from PIL import Image
    except ImportError:
        raise DataError("an image folder needs Pillow: pip install pillow") from None
    if not root.is_dir():
        raise DataError(f"the image folder {root} does not exist")
    suffixes = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}

    def classes_in(folder: Path) -> dict:
        out = {}
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name[0] != "."):
            files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in suffixes)
            if files:
                out[sub.name] = files
        return out

    val_dir = next((root / v for v in ("val", "valid", "validation", "test")
                    if (root / v).is_dir()), None)
    if (root / "train").is_dir() and val_dir is not None:
        train, val = classes_in(root / "train"), classes_in(val_dir)
    else:
        train, val = classes_in(root), None
    if len(train) < 2:
        raise DataError(f"{root}: expected one sub-folder of images per class (two or more)")
    names = sorted(train)
    mode = {1: "L", 3: "RGB"}.get(shape[0])
    if mode is None:
        raise DataError(f"images give 1 or 3 channels, the model's input has {shape[0]}")

    def load(classes: dict):
        xs, ys = [], []
        for label, name in enumerate(names):
            for f in classes.get(name, []):
                with Image.open(f) as image:
                    a = np.asarray(image.convert(mode))
                a = torch.from_numpy(np.ascontiguousarray((a[:, :, None] if a.ndim == 2 else a)
                                                          .transpose(2, 0, 1)))
                xs.append(adapt(a[None], shape)[0])
                ys.append(label)
        return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)

    train_x, train_y = load(train)
    if val is None:
        t, v = split_indices(len(train_x), val_size, seed)
        return train_x[t], train_y[t], train_x[v], train_y[v], len(names)
    val_x, val_y = load(val)
    return train_x, train_y, val_x, val_y, len(names)


# =============================================================================================
# Shaping images to the model's input, statistics, augmentation, the Dataset


def adapt(x: torch.Tensor, shape) -> torch.Tensor:
    """(N, C0, H0, W0) -> (N, C, H, W): bilinear resizing, grey to RGB, RGB to grey."""
    c0, h0, w0 = x.shape[1:]
    c, h, w = shape
    if (c0, h0, w0) == (c, h, w):
        return x
    if c0 != c and not (c0 == 1 and c == 3) and not (c0 in (3, 4) and c in (1, 3)):
        raise DataError(f"the images have {c0} channels but the model's input has {c}")
    is_byte = x.dtype == torch.uint8
    y = x
    if c0 in (3, 4) and c == 1:
        y = y.float()
        y = y[:, 0:1] * 0.299 + y[:, 1:2] * 0.587 + y[:, 2:3] * 0.114
    elif c0 == 4 and c == 3:
        y = y[:, :3]
    if (h0, w0) != (h, w):
        y = F.interpolate(y.float(), size=(h, w), mode="bilinear", align_corners=False,
                          antialias=h < h0 or w < w0)
    if is_byte and y.dtype != torch.uint8:
        y = y.round_().clamp_(0, 255).to(torch.uint8)
    if c0 == 1 and c == 3:
        y = y.expand(-1, 3, -1, -1)
    return y.contiguous()


def channel_stats(x: torch.Tensor):
    """Per-channel mean and std of the images scaled to 0..1."""
    n, c = x.shape[0], x.shape[1]
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    total = sq = None
    for i in range(0, n, 2048):
        part = x[i:i + 2048]
        if part.dtype == torch.uint8:
            hist = torch.stack([torch.bincount(part[:, k].reshape(-1), minlength=256)
                                for k in range(c)]).double()
            s, s2 = hist @ levels, hist @ (levels * levels)
        else:
            s = part.sum(dim=(0, 2, 3), dtype=torch.float64)
            s2 = (part * part).sum(dim=(0, 2, 3), dtype=torch.float64)
        total = s if total is None else total + s
        sq = s2 if sq is None else sq + s2
    count = n * x.shape[2] * x.shape[3]
    mean = total / count
    std = (sq / count - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std < 1e-6, torch.ones_like(std), std)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def subset(n: int, wanted, seed: int):
    if wanted is None or wanted >= n:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:wanted].sort().values


class Augment:
    """A random crop with zero padding (and a horizontal flip where it keeps the class). The
    crop of item i in an epoch depends only on (seed, epoch, i): the same on every process."""

    def __init__(self, size: int, shape, seed: int, flip: bool):
        c, h, w = shape
        self.pad = max(0, round(4 * min(h, w) / 32)) if min(h, w) >= 8 else 0
        self.flip, self.size, self.seed, self.epoch = flip, size, seed, 0
        self._tables = None

    def describe(self) -> str:
        parts = ([f"random crop (pad {self.pad})"] if self.pad else []) + (
            ["horizontal flip"] if self.flip else [])
        return " + ".join(parts) or "off"

    def tables(self):
        if self._tables is None or self._tables[0] != self.epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch * 7919) % 2**62)
            span = 2 * self.pad + 1
            dy = torch.randint(0, span, (self.size,), generator=g)
            dx = torch.randint(0, span, (self.size,), generator=g)
            flips = (torch.rand(self.size, generator=g) < 0.5) & self.flip
            self._tables = (self.epoch, dy, dx, flips)
        return self._tables[1:]

    def one(self, x: torch.Tensor, index: int) -> torch.Tensor:
        dy, dx, flips = self.tables()
        if self.pad:
            p = self.pad
            h, w = x.shape[-2:]
            oy, ox = int(dy[index]), int(dx[index])
            x = F.pad(x, (p, p, p, p))[:, oy:oy + h, ox:ox + w]
        if flips[index]:
            x = x.flip(-1)
        return x


class ImageData(Dataset):
    """(float32 (C, H, W) normalised by the training split's statistics, int64 label)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean, std, augment=None):
        self.images = images
        self.labels = labels.to(torch.int64)
        mean_t = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        std_t = torch.tensor(std, dtype=torch.float32)[:, None, None]
        self._byte_scale = (1.0 / 255.0) / std_t
        self._float_scale = 1.0 / std_t
        self._shift = -mean_t / std_t
        self.augment = augment if augment is not None and (augment.pad or augment.flip) else None

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        if self.augment is not None:
            self.augment.epoch = int(epoch)

    def __getitem__(self, index: int):
        x = self.images[index]
        if x.dtype == torch.uint8:
            x = x.float().mul_(self._byte_scale).add_(self._shift)
        else:
            x = x.to(torch.float32).mul(self._float_scale).add_(self._shift)
        if self.augment is not None:
            x = self.augment.one(x, int(index))
        return x, self.labels[index]


def load_data(data: dict, shape, quiet: bool = False):
    """(train, val, classes, description) for the data settings `data`, shaped to `shape`."""
    name = str(data.get("name", "synthetic")).lower()
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    seed = int(data.get("seed", 0))
    train_size, val_size = data.get("train_size"), data.get("val_size")
    shape = tuple(int(v) for v in shape)
    if name == "synthetic":
        sizes = (train_size or 5000, val_size or 1000)
        train_x = synthetic_images(seed, "train", sizes[0], shape)
        val_x = synthetic_images(seed, "val", sizes[1], shape)
        train_y = torch.arange(sizes[0], dtype=torch.int64) % 10
        val_y = torch.arange(sizes[1], dtype=torch.int64) % 10
        classes, flip = 10, False
    else:
        flip = name not in ("mnist", "fashion-mnist")
        path = Path(data["path"]).expanduser() if data.get("path") else None
        if name in FILES:
            folder = path or default_cache_dir() / name
            if data.get("download"):
                download(name, folder)
            train_x, train_y, val_x, val_y, classes = read_standard(name, folder)
        elif path is None:
            raise DataError(f"the {name} data set needs a path (--data-path)")
        elif name == "npz":
            train_x, train_y, val_x, val_y, classes = read_npz(path, val_size, seed)
        else:
            train_x, train_y, val_x, val_y, classes = read_folder(path, shape, val_size, seed)
        for split, wanted, s in (("train", train_size, seed), ("val", val_size, seed + 1)):
            picks = subset(len(train_y if split == "train" else val_y), wanted, s)
            if picks is not None and split == "train":
                train_x, train_y = train_x[picks], train_y[picks]
            elif picks is not None:
                val_x, val_y = val_x[picks], val_y[picks]
        train_x, val_x = adapt(train_x, shape), adapt(val_x, shape)
    mean, std = channel_stats(train_x)
    augment = Augment(len(train_y), shape, seed, flip) if data.get("augment", True) else None
    train = ImageData(train_x, train_y, mean, std, augment)
    val = ImageData(val_x, val_y, mean, std)
    what = (f"{name}: {len(train)} training / {len(val)} validation images, {classes} classes, "
            f"augmentation {train.augment.describe() if train.augment else 'off'}")
    return train, val, classes, what


# =============================================================================================
# Optimizer, schedule, checkpoints


def make_optimizer(cfg: dict, params):
    name, lr, wd, mom = cfg["optimizer"], cfg["lr"], cfg["weight_decay"], cfg["momentum"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=mom, nesterov=mom > 0, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=mom, weight_decay=wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    raise SystemExit(f"error: unknown optimizer {name!r} (choose one of {', '.join(OPTIMIZERS)})")


def make_scheduler(cfg: dict, optimizer, steps_per_epoch: int):
    """(scheduler or None, whether it steps every batch)."""
    s, sched = cfg["schedule"], torch.optim.lr_scheduler
    if s == "none":
        return None, False
    if s == "step":
        return sched.StepLR(optimizer, step_size=max(cfg["step_size"], 1), gamma=cfg["gamma"]), \
            False
    if s == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(cfg["epochs"], 1)), False
    if s == "onecycle":
        cycle = cfg["optimizer"] in ("momentum", "nesterov", "adam", "adamw")
        total = max(cfg["epochs"] * steps_per_epoch, 2)
        return sched.OneCycleLR(optimizer, max_lr=cfg["lr"], total_steps=total,
                                cycle_momentum=cycle), True
    raise SystemExit(f"error: unknown schedule {s!r} (choose one of {', '.join(SCHEDULES)})")


def build_model(cls, seed: int):
    """The model with the initial weights ConvNet Designer gives it for this seed."""
    torch.manual_seed(seed)
    return cls()


def save_checkpoint(path: Path, model, meta: dict) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "state_dict": state, "meta": meta},
               tmp)
    os.replace(tmp, path)


# =============================================================================================
# Settings


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(HERE / "config.json"),
                   help="the settings file (default: config.json beside this script)")
    p.add_argument("--dataset", choices=DATASETS)
    p.add_argument("--data-path", help="folder of the standard files, an image folder or a .npz")
    p.add_argument("--download", action="store_true", help="fetch the standard files")
    p.add_argument("--train-size", type=int, help="training samples (at most)")
    p.add_argument("--val-size", type=int, help="validation samples (at most)")
    p.add_argument("--no-augment", action="store_true", help="no random crops or flips")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int, help="the batch of all processes together")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"))
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"),
                   help="bf16 / fp16: mixed precision (fp16 needs CUDA)")
    p.add_argument("--channels-last", action="store_true", help="channels_last (CUDA)")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, help="data loader workers per process")
    p.add_argument("--checkpoints", metavar="DIR", help="where best.pt and last.pt go")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimisation steps (a short trial)")
    p.add_argument("--log-every", type=int, default=50, help="print every N steps")
    p.add_argument("--no-sync-bn", action="store_true",
                   help="keep per-process BatchNorm on CUDA with several processes")
    return p.parse_args(argv)


def settings(args) -> dict:
    cfg = json.loads(json.dumps(DEFAULTS))
    path = Path(args.config)
    saved = {}
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
    elif args.config != str(HERE / "config.json"):
        raise SystemExit(f"error: {path}: no such file")
    train = saved.get("train", {})
    cfg["data"].update(train.get("data", {}))
    cfg.update({k: v for k, v in train.items() if k != "data" and k in DEFAULTS})
    d = cfg["data"]
    for key, value in (("name", args.dataset), ("path", args.data_path),
                       ("train_size", args.train_size), ("val_size", args.val_size)):
        if value is not None:
            d[key] = value
    if args.download:
        d["download"] = True
    if args.no_augment:
        d["augment"] = False
    for key, value in (("epochs", args.epochs), ("batch_size", args.batch),
                       ("optimizer", args.optimizer), ("lr", args.lr),
                       ("momentum", args.momentum), ("weight_decay", args.weight_decay),
                       ("schedule", args.schedule), ("device", args.device),
                       ("precision", args.precision), ("seed", args.seed),
                       ("num_workers", args.workers), ("checkpoint_dir", args.checkpoints)):
        if value is not None:
            cfg[key] = value
    if args.seed is not None:
        d["seed"] = args.seed
    if args.channels_last:
        cfg["channels_last"] = True
    cfg["model"] = {k: saved.get(k) for k in ("model_class", "input_shape", "outputs",
                                              "flatten_output", "design")}
    return cfg


# =============================================================================================
# The run


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = settings(args)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = world > 1
    want = cfg["device"]
    if want in ("auto", "cuda") and torch.cuda.is_available():
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    elif want == "cuda":
        raise SystemExit("error: --device cuda but no CUDA GPU is visible")
    elif want in ("auto", "mps") and not distributed and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    main_process = rank == 0

    def say(text: str) -> None:
        if main_process:
            print(text, flush=True)

    batch = int(cfg["batch_size"])
    if batch < 1 or cfg["epochs"] < 1:
        raise SystemExit("error: --batch and --epochs must be at least 1")
    if batch % world:
        raise SystemExit(f"error: the batch ({batch}) must divide among the {world} processes")
    per_rank = batch // world
    seed = int(cfg["seed"])
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)

    sys.path.insert(0, str(HERE))
    import model as model_file  # model.py beside this script

    model_cfg = cfg["model"]
    cls = getattr(model_file, model_cfg.get("model_class") or "", None)
    if cls is None:
        classes_here = [v for v in vars(model_file).values()
                        if isinstance(v, type) and issubclass(v, torch.nn.Module)
                        and v.__module__ == model_file.__name__]
        cls = classes_here[0]
    shape = tuple(model_cfg.get("input_shape") or cls.input_shape)
    try:
        train_ds, val_ds, classes, what = load_data(cfg["data"], shape)
    except DataError as error:
        raise SystemExit(f"error: {error}") from None
    net = build_model(cls, seed)
    outputs, flatten = model_cfg.get("outputs"), model_cfg.get("flatten_output")
    if outputs is None or flatten is None:
        with torch.no_grad():
            out_shape = net.eval()(torch.zeros(1, *shape)).shape[1:]
        outputs, flatten = int(out_shape[0]), len(out_shape) > 1
        net.train()
    if outputs < classes:
        raise SystemExit(f"error: the data set has {classes} classes but the model gives "
                         f"{outputs} scores")
    cuda = device.type == "cuda"
    if distributed and cuda and not args.no_sync_bn:
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    memory = torch.channels_last if cfg["channels_last"] and cuda else torch.preserve_format
    net = net.to(device, memory_format=memory)
    model = torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if cuda else None) if distributed else net
    precision = cfg["precision"]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is torch.float16 and not cuda or dtype is not None and device.type == "mps":
        say(f"note: {precision} mixed precision is used on CUDA (and bf16 on CPUs): training "
            "in fp32")
        dtype = None
    scaler = torch.amp.GradScaler("cuda") if dtype is torch.float16 else None

    train_sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True,
                                       seed=seed, drop_last=True)
    val_idx = list(range(rank, len(val_ds), world))  # each validation image once
    workers = int(cfg["num_workers"])
    loader = DataLoader(train_ds, batch_size=per_rank, sampler=train_sampler, drop_last=True,
                        num_workers=workers, pin_memory=cuda,
                        persistent_workers=False)
    val_loader = DataLoader(torch.utils.data.Subset(val_ds, val_idx), batch_size=per_rank,
                            num_workers=workers, pin_memory=cuda)
    steps = len(loader)
    if steps == 0:
        raise SystemExit(f"error: {len(train_ds)} training images make no batch of {batch}")
    optimizer = make_optimizer(cfg, model.parameters())
    scheduler, per_step = make_scheduler(cfg, optimizer, steps)
    ckpt_dir = Path(cfg["checkpoint_dir"] or "checkpoints")
    if not ckpt_dir.is_absolute():
        ckpt_dir = Path.cwd() / ckpt_dir
    say(f"training {model_cfg.get('design') or cls.__name__} on {world} process"
        f"{'es' if world > 1 else ''} ({device.type}{', ' + precision if dtype else ''}): "
        f"{what}; batch {batch} ({per_rank} per process), {steps} steps per epoch")

    def reduce(*values: float) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(t)
        return t.tolist()

    meta = {"design": model_cfg.get("design"), "model_class": cls.__name__,
            "input_shape": list(shape), "classes": classes, "world_size": world,
            "config": {k: v for k, v in cfg.items() if k != "model"}}
    best = None
    done = 0
    max_steps = args.max_steps
    t0 = time.perf_counter()
    for epoch in range(1, cfg["epochs"] + 1):
        train_sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        t_epoch = time.perf_counter()
        stopped = False
        for step, (x, y) in enumerate(loader, 1):
            x = x.to(device, non_blocking=cuda, memory_format=memory)
            y = y.to(device, non_blocking=cuda)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = model(x)
                if flatten:
                    out = out.flatten(1)
                loss = F.cross_entropy(out, y)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            if scheduler is not None and per_step:
                scheduler.step()
            done += 1
            loss_sum += loss.detach().float() * len(y)
            correct += (out.argmax(1) == y).sum()
            seen += len(y)
            if args.log_every and (step % args.log_every == 0 or step == steps):
                lsum, csum, n = reduce(float(loss_sum), float(correct), seen)
                say(f"epoch {epoch}/{cfg['epochs']} step {step}/{steps}: loss {lsum / n:.4f} "
                    f"acc {csum / n:.1%} lr {optimizer.param_groups[0]['lr']:.3g}")
            if max_steps is not None and done >= max_steps:
                stopped = True
                break
        if scheduler is not None and not per_step:
            scheduler.step()
        lsum, csum, n = reduce(float(loss_sum), float(correct), seen)
        net.eval()  # the module itself: DistributedDataParallel would sync in its forward
        vl = vc = vn = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device, memory_format=memory), y.to(device)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    out = net(x)
                    if flatten:
                        out = out.flatten(1)
                vl += float(F.cross_entropy(out.float(), y, reduction="sum"))
                vc += float((out.argmax(1) == y).sum())
                vn += len(y)
        vl, vc, vn = reduce(vl, vc, vn)
        val_acc = vc / vn if vn else math.nan
        say(f"epoch {epoch}/{cfg['epochs']}: train loss {lsum / max(n, 1):.4f} acc "
            f"{csum / max(n, 1):.1%}, val loss {vl / max(vn, 1):.4f} acc {val_acc:.1%} "
            f"({time.perf_counter() - t_epoch:.1f} s)")
        if main_process:
            entry = {**meta, "epoch": epoch, "steps": done, "train_loss": lsum / max(n, 1),
                     "val_loss": vl / max(vn, 1) if vn else None,
                     "val_accuracy": val_acc if vn else None}
            if best is None or (vn and val_acc > best):
                best = val_acc
                save_checkpoint(ckpt_dir / "best.pt", net, {**entry, "file": "best.pt"})
            save_checkpoint(ckpt_dir / "last.pt", net, {**entry, "file": "last.pt"})
        if stopped:
            say(f"stopped after {done} steps (--max-steps)")
            break
    say(f"finished in {time.perf_counter() - t0:.1f} s; checkpoints in {ckpt_dir}")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
