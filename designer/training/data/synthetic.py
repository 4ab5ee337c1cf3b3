"""The default data set: ten classes of coloured shapes and textures, generated on the fly.

Sample ``i`` of a split depends only on (seed, split, i), so a set is the same on every machine
and in every worker process, and any part of it can be generated without the rest. Labels cycle
through the classes (``i % 10``), so every prefix of the set is balanced.
"""

from __future__ import annotations

import numpy as np
import torch

CLASS_NAMES = [
    "circle",
    "square",
    "triangle",
    "cross",
    "ring",
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "diagonal stripes",
    "dots",
]
CLASSES = len(CLASS_NAMES)
SPLITS = {"train": 0, "val": 1}


def label_of(index: int) -> int:
    return index % CLASSES


class SyntheticSource:
    """Generates samples of one split as uint8 (B, C, H, W). Picklable, for loader workers."""

    def __init__(self, seed: int, split: str, size: int, shape: tuple[int, int, int]):
        self.seed = int(seed)
        self.split = SPLITS[split]
        self.size = int(size)
        self.shape = tuple(int(v) for v in shape)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.size

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_grid"] = None
        return state

    def labels(self) -> torch.Tensor:
        return torch.arange(self.size, dtype=torch.int64) % CLASSES

    def __call__(self, indices: torch.Tensor | list[int]) -> torch.Tensor:
        idx = [int(i) for i in indices]
        out = np.empty((len(idx), *self.shape), dtype=np.uint8)
        for row, i in enumerate(idx):
            out[row] = self.sample(i)
        return torch.from_numpy(out)

    def sample(self, index: int) -> np.ndarray:
        """Sample ``index`` as uint8 (C, H, W)."""
        c, h, w = self.shape
        if self._grid is None:
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            self._grid = ys + 0.5, xs + 0.5
        ys, xs = self._grid
        key = ((self.seed % 2**31) << 33) | (self.split << 32) | (index % 2**32)
        rng = np.random.Generator(np.random.PCG64(key))
        label = label_of(index)
        unit = min(h, w) / 32.0  # lengths are chosen for 32 px and scaled
        mask = _mask(label, rng, ys, xs, h, w, unit)
        background = rng.uniform(0.0, 0.35, size=c).astype(np.float32)
        foreground = rng.uniform(0.6, 1.0, size=c).astype(np.float32)
        if c == 1:
            background, foreground = background[:1], foreground[:1]
        image = background[:, None, None] + (foreground - background)[:, None, None] * mask
        noise = rng.random(size=(c, h, w), dtype=np.float32)  # uniform, std 0.06
        image += noise * 0.2 - 0.1
        image *= 255.0
        image += 0.5
        return np.clip(image, 0, 255, out=image).astype(np.uint8)


def _mask(label: int, rng: np.random.Generator, ys, xs, h: int, w: int, unit: float):
    """The shape or texture of class ``label`` as a float mask in [0, 1] of shape (H, W)."""
    if label <= 4:  # a shape of radius r somewhere in the picture, fully inside it
        r = rng.uniform(7.5, 11.0) * unit
        cy = h / 2 + rng.uniform(-0.15, 0.15) * h
        cx = w / 2 + rng.uniform(-0.15, 0.15) * w
        dy, dx = ys - cy, xs - cx
        if label == 0:  # circle
            return (np.hypot(dy, dx) <= r).astype(np.float32)
        if label == 1:  # square
            return (np.maximum(np.abs(dy), np.abs(dx)) <= r * 0.8).astype(np.float32)
        if label == 2:  # triangle, point up
            inside = (dy <= r * 0.75) & (np.abs(dx) <= (dy + r) * 0.62)
            return inside.astype(np.float32)
        if label == 3:  # cross
            arm = r * 0.32
            ady, adx = np.abs(dy), np.abs(dx)
            inside = ((ady <= arm) & (adx <= r)) | ((adx <= arm) & (ady <= r))
            return inside.astype(np.float32)
        d = np.hypot(dy, dx)  # ring
        return ((d <= r) & (d >= r * 0.55)).astype(np.float32)
    period = rng.uniform(4.0, 7.0) * unit
    phase = rng.uniform(0.0, 2 * np.pi)
    if label == 5:  # horizontal stripes
        return (np.sin(2 * np.pi * ys / period + phase) > 0).astype(np.float32)
    if label == 6:  # vertical stripes
        return (np.sin(2 * np.pi * xs / period + phase) > 0).astype(np.float32)
    if label == 7:  # checkerboard
        oy, ox = rng.uniform(0.0, period, size=2)
        cells = np.floor((ys + oy) / period) + np.floor((xs + ox) / period)
        return (cells % 2).astype(np.float32)
    if label == 8:  # diagonal stripes, rising to the right
        return (np.sin(2 * np.pi * (xs + ys) / (period * 1.414) + phase) > 0).astype(np.float32)
    oy, ox = rng.uniform(0.0, period, size=2)  # dots on a grid
    fy = (ys + oy) % period - period / 2
    fx = (xs + ox) % period - period / 2
    return (np.hypot(fy, fx) <= period * 0.28).astype(np.float32)
