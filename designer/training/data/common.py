"""What every data set shares: the error, the info record, shaping images to the design's input,
normalisation, augmentation, and the Dataset the Trainer iterates.

Images travel as (N, C, H, W) tensors, uint8 (0..255) where the source is 8-bit, float32
otherwise. They are adapted to the design's input once, up front, where the result fits in memory
(``EAGER_LIMIT_BYTES``); otherwise each batch is adapted when it is read.

Reading files is bounded (``read_within``, ``expansion_limit``): a compressed file (.gz, .tar.gz,
a compressed .npz member) may expand to ``EXPANSION_RATIO`` times its size (at least
``EXPANSION_FLOOR``, never more than ``MAX_EXPANDED_BYTES``) unless the reader knows the data's
size; an image may declare at most ``MAX_IMAGE_PIXELS`` pixels, checked before it is decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .errors import CHANNELS, NOT_GENUINE, DatasetError

EAGER_LIMIT_BYTES = 1 << 30  # adapted images up to this size are kept in memory
STATS_SAMPLE = 4096  # lazily read sets: mean / std from this many training images
# ITU-R 601 luma, as Pillow's "L" mode
LUMA = (0.299, 0.587, 0.114)


# reading files within bounds: what a file may expand to in memory
EXPANSION_RATIO = 20  # bytes read per byte of a compressed file (real data sets: under 6)
EXPANSION_FLOOR = 64 << 20  # a small compressed file may always expand to this much
MAX_EXPANDED_BYTES = 4 << 30  # and no compressed file to more than this
MAX_IMAGE_PIXELS = 1 << 26  # width × height of one image (8192 × 8192), checked before decoding
READ_CHUNK = 1 << 20

Progress = Callable[[int, "int | None", str], None]  # (done, total, message); may raise to stop


def expansion_limit(compressed_bytes: int) -> int:
    """The most a compressed file of ``compressed_bytes`` may expand to when it is read."""
    return min(max(EXPANSION_RATIO * int(compressed_bytes), EXPANSION_FLOOR), MAX_EXPANDED_BYTES)


def read_within(stream: IO[bytes], limit: int, what: str, why: str = "",
                progress: Progress | None = None, message: str = "",
                total: int | None = None) -> bytearray:
    """All of ``stream``, read in chunks; ``DatasetError`` naming ``what`` and the limit as soon
    as it holds more than ``limit`` bytes (``why`` says where the limit comes from).
    ``progress(done, total, message)`` hears of each chunk and may raise to stop the read."""
    data = bytearray()
    while True:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return data
        data += chunk
        if len(data) > limit:
            raise DatasetError(f"{what} holds more than {limit} bytes when read{why}: refused",
                               NOT_GENUINE)
        if progress is not None:
            progress(len(data), total, message)


@dataclass
class DatasetInfo:
    name: str
    classes: int
    class_names: list[str]
    train_size: int
    val_size: int
    source_shape: tuple[int, int, int]  # (C, H, W) of the files, before adaptation
    mean: tuple[float, ...]  # per channel, of the adapted training images scaled to 0..1
    std: tuple[float, ...]
    note: str = ""  # how the images were shaped to the input, subsets taken, ...
    input_shape: tuple[int, int, int] = (0, 0, 0)  # (C, H, W) the items have
    augmentation: str = "off"  # e.g. "random crop (pad 4) + horizontal flip"
    files: list[str] = field(default_factory=list)  # where the data was read from


def shape_text(shape: Sequence[int]) -> str:
    """(C, H, W) written the notes' way, W×H×D."""
    c, h, w = shape
    return f"{w}×{h}×{c}"


# --- adapting images to the design's input ---------------------------------------------------


class Adapter:
    """Turns source batches (B, C0, H0, W0) into the design's (B, C, H, W). Picklable."""

    def __init__(self, source: Sequence[int], target: Sequence[int], what: str = "the data"):
        c0, h0, w0 = (int(v) for v in source)
        c, h, w = (int(v) for v in target)
        if min(c, h, w) < 1:
            raise DatasetError(f"the design's input {shape_text(target)} is not a valid image "
                               f"size", "give the Input layer a width, height and depth of at "
                               "least 1")
        works = {1: "1 (grey) or 3 (grey repeated)", 3: "3 (RGB) or 1 (grey by luminance)",
                 4: "3 (RGB, alpha dropped) or 1 (grey by luminance)"}
        if c0 != c and not (c0 == 1 and c == 3) and not (c0 in (3, 4) and c in (1, 3)):
            can = works.get(c0, f"{c0} (as is)")
            raise DatasetError(
                f"{what} has {c0} channel{'s' if c0 != 1 else ''} per image but the design's "
                f"input wants {c}; the input depth that works with this data set is {can}: "
                f"change the Input layer's channels", CHANNELS)
        self.source = (c0, h0, w0)
        self.target = (c, h, w)

    @property
    def identity(self) -> bool:
        return self.source == self.target

    def describe(self) -> str:
        if self.identity:
            return ""
        c0, h0, w0 = self.source
        c, h, w = self.target
        how = []
        if (h0, w0) != (h, w):
            stretched = " (aspect ratio changed)" if h0 * w != w0 * h else ""
            how.append("bilinear resizing" + stretched)
        if c0 == 1 and c == 3:
            how.append("repeating the grey channel")
        elif c0 in (3, 4) and c == 1:
            how.append("taking the luminance")
        elif c0 == 4 and c == 3:
            how.append("dropping the alpha channel")
        return (f"resized from {shape_text(self.source)} to {shape_text(self.target)} by "
                + " and ".join(how))

    def output_bytes(self, n: int, dtype: torch.dtype) -> int:
        c, h, w = self.target
        return n * c * h * w * (1 if dtype == torch.uint8 else 4)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return x
        c0, h0, w0 = self.source
        c, h, w = self.target
        is_byte = x.dtype == torch.uint8
        y = x
        if c0 in (3, 4) and c == 1:
            y = _luma(y.float())
        elif c0 == 4 and c == 3:
            y = y[:, :3]
        if (h0, w0) != (h, w):
            down = h < h0 or w < w0
            y = F.interpolate(y.float(), size=(h, w), mode="bilinear", align_corners=False,
                              antialias=down)
        if is_byte and y.dtype != torch.uint8:
            y = y.round_().clamp_(0, 255).to(torch.uint8)
        if c0 == 1 and c == 3:
            y = y.expand(-1, 3, -1, -1)
        return y.contiguous()


def _luma(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return r * LUMA[0] + g * LUMA[1] + b * LUMA[2]


def adapt_all(images: torch.Tensor, adapter: Adapter, chunk: int = 2048) -> torch.Tensor:
    if adapter.identity:
        return images
    return torch.cat([adapter(images[i:i + chunk]) for i in range(0, len(images), chunk)])


class AdaptedSource:
    """Source images adapted batch by batch when read (sets too large to adapt up front)."""

    def __init__(self, images: torch.Tensor, adapter: Adapter):
        self.images = images
        self.adapter = adapter

    def __len__(self) -> int:
        return len(self.images)

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.images[indices])


Source = Callable[[torch.Tensor], torch.Tensor]  # indices (B,) -> images (B, C, H, W)


def channel_stats(images: torch.Tensor | Source, n: int, seed: int = 0, sample: int = STATS_SAMPLE,
                  chunk: int = 2048) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of images scaled to 0..1 (uint8 / 255; floats as they are):
    of all of them when they are in memory, else of a seeded ``sample`` of them."""
    if isinstance(images, torch.Tensor):
        picks = torch.arange(n)
        read: Source = images.__getitem__
    else:
        g = torch.Generator().manual_seed(seed)
        picks = torch.randperm(n, generator=g)[:sample].sort().values
        read = images
    total = sq = None
    count = 0
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    for i in range(0, len(picks), chunk):
        x = read(picks[i:i + chunk])
        if x.dtype == torch.uint8:  # a histogram per channel: exact, and fast
            hist = torch.stack([torch.bincount(x[:, c].reshape(-1), minlength=256)
                                for c in range(x.shape[1])]).double()
            s, s2 = hist @ levels, hist @ (levels * levels)
        else:
            s = x.sum(dim=(0, 2, 3), dtype=torch.float64)
            s2 = (x * x).sum(dim=(0, 2, 3), dtype=torch.float64)
        total = s if total is None else total + s
        sq = s2 if sq is None else sq + s2
        count += x.shape[0] * x.shape[2] * x.shape[3]
    if total is None or count == 0:
        raise DatasetError("the training split is empty",
                           "give the data set some training samples (train_size at least 1)")
    mean = total / count
    var = (sq / count - mean * mean).clamp_min(0)
    std = var.sqrt()
    std = torch.where(std < 1e-6, torch.ones_like(std), std)  # a constant channel stays as is
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


# --- augmentation ------------------------------------------------------------------------------


class Augment:
    """Random crop with ``pad`` pixels of zero padding (in normalised units: the mean colour)
    and, optionally, a horizontal flip (the recipe: recipe.py). The crop offsets and flips of an
    epoch are drawn from (seed, epoch), one per item, so an item looks the same whether it is
    read alone or in a batch, on any worker."""

    def __init__(self, size: int, pad: int, seed: int, flip: bool):
        self.pad = max(0, int(pad))
        self.flip = bool(flip)
        self.size = size
        self.seed = seed
        self.epoch = 0
        self._tables: tuple[int, torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def describe(self) -> str:
        parts = []
        if self.pad:
            parts.append(f"random crop (pad {self.pad})")
        if self.flip:
            parts.append("horizontal flip")
        return " + ".join(parts) or "off"

    @property
    def active(self) -> bool:
        return bool(self.pad or self.flip)

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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

    def batch(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, H, W) holds items ``indices`` (on the CPU); ``x`` may be on any device."""
        dy, dx, flips = self.tables()
        device = x.device
        if self.pad:
            p = self.pad
            b, c, h, w = x.shape
            padded = F.pad(x, (p, p, p, p)).reshape(b, c, -1)
            oy = dy[indices].to(device)[:, None, None] + torch.arange(h, device=device)[:, None]
            ox = dx[indices].to(device)[:, None, None] + torch.arange(w, device=device)
            where = (oy * (w + 2 * p) + ox).reshape(b, 1, h * w).expand(b, c, h * w)
            x = padded.gather(2, where).reshape(b, c, h, w)  # one gather: fast on every device
        if self.flip:
            f = flips[indices]
            if bool(f.any()):
                x = torch.where(f.to(device)[:, None, None, None], x.flip(-1), x)
        return x


# --- the Dataset -------------------------------------------------------------------------------


class ImageDataset(Dataset):
    """Items are (float32 (C, H, W) normalised, int64 label).

    ``images`` is the whole split as one tensor where it fits in memory (None where items are
    made on demand). ``get_batch(indices)`` is the fast path: one indexing, one normalisation and
    one augmentation for a whole batch, the same values ``__getitem__`` gives item by item. Call
    ``set_epoch(n)`` at the start of every epoch so augmentation differs between epochs (with
    loader workers, before the epoch's iterator is made).
    """

    def __init__(self, source: torch.Tensor | Source, labels: torch.Tensor,
                 mean: Sequence[float], std: Sequence[float], augment: Augment | None = None):
        self.images = source if isinstance(source, torch.Tensor) else None
        self._source = None if isinstance(source, torch.Tensor) else source
        self.labels = labels.to(torch.int64)
        mean_t = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        std_t = torch.tensor(std, dtype=torch.float32)[:, None, None]
        self._byte_scale = (1.0 / 255.0) / std_t
        self._float_scale = 1.0 / std_t
        self._shift = -mean_t / std_t
        self.augment = augment if augment is not None and augment.active else None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def device(self) -> torch.device:
        return self.labels.device

    def to(self, device: torch.device | str) -> ImageDataset:
        """Move the split (where it is held in memory) to ``device``, so ``get_batch`` indexes,
        normalises and augments there: for a GPU, one copy up front instead of one per batch.
        Items and batches then live on ``device``: use ``get_batch``, not loader workers."""
        device = torch.device(device)
        if self.images is not None:
            self.images = self.images.to(device)
            self.labels = self.labels.to(device)
            self._byte_scale = self._byte_scale.to(device)
            self._float_scale = self._float_scale.to(device)
            self._shift = self._shift.to(device)
        return self

    def set_epoch(self, epoch: int) -> None:
        if self.augment is not None:
            self.augment.epoch = int(epoch)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return x.float().mul_(self._byte_scale).add_(self._shift)
        return x.to(torch.float32).mul(self._float_scale).add_(self._shift)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = int(index)
        if index < 0:
            index += len(self)
        if self.images is not None:
            x = self.images[index]
        else:
            x = self._source(torch.tensor([index]))[0]
        x = self._normalise(x)
        if self.augment is not None:
            x = self.augment.one(x, index)
        return x, self.labels[index]

    def get_batch(self, indices: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        indices = torch.as_tensor(indices, dtype=torch.int64).cpu()
        if self.images is not None:
            here = indices.to(self.images.device)
            x, y = self.images[here], self.labels[here]
        else:
            x, y = self._source(indices), self.labels[indices]
        x = self._normalise(x)
        if self.augment is not None:
            x = self.augment.batch(x, indices)
        return x, y
