"""A few training samples as the network will see them: augmented by the run's recipe, shaped to
the design's input, turned back into 8-bit pictures for a preview grid. No training needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from . import images, recipe, split
from .common import Augment, DatasetError, ImageDataset, channel_stats
from .sets import load_datasets

if TYPE_CHECKING:
    from ..events import DataConfig


class Preview(NamedTuple):
    images: np.ndarray  # uint8 (n, H, W, C), C = the design's input depth (1 grey or 3 RGB)
    labels: np.ndarray  # int64 (n,): each image's class, an index into class_names
    description: str  # the augmentation and why (recipe.Recipe.description)
    class_names: list[str]


def preview_samples(config: DataConfig, input_shape: Sequence[int], n: int = 16, seed: int = 0,
                    progress=None, cache_dir=None) -> Preview:
    """``n`` training samples of ``config``'s data set as the network sees them, for a preview.

    Returns ``Preview(images, labels, description, class_names)`` (a NamedTuple):

    - ``images``: uint8 (n, H, W, C) with (C, H, W) = ``input_shape``: each sample shaped to the
      design's input (resized, grey or RGB as the Input layer asks) and augmented by the run's
      recipe (``config.crop_padding`` / ``config.hflip``, None = the data set's standard: see
      ``recipe.resolve``); the padding a crop brings in shows as the training images' mean
      colour, which is what the network gets there (zero after normalisation).
    - ``labels``: int64 (n,), indices into ``class_names``.
    - ``description``: the recipe and why, e.g. "random crop (pad 4) + horizontal flip, the
      standard for CIFAR-10 (objects look the same shifted or mirrored)" or "off, the standard
      for your own image folder (a shift or a mirror image can change ...)".

    ``seed`` picks the samples and draws their crops and flips: another seed, another grid (the
    same seed, the same grid). Fewer than ``n`` where the training split is smaller.

    Cost: an image folder decodes only the ``n`` files shown (its padding colour is then their
    mean); the synthetic set generates only those; MNIST, CIFAR and a .npz are read as a run
    reads them (a standard set is downloaded only where ``config.download`` is on). Raises
    ``DatasetError`` (with its ``advice``) as ``load_datasets`` would. Meant for a worker thread
    in a window: it may take a second or two on a large set; ``progress(done, total, message)``
    hears of it as in ``load_datasets``.
    """
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise DatasetError(f"the design's input {tuple(input_shape)} is not a (C, H, W) image "
                           f"shape", "give the design an image input (C, H, W)")
    n = max(1, int(n))
    chosen = recipe.resolve(config, shape)
    name = chosen.dataset
    if name == "folder" and config.path:
        x, y, names = _folder_samples(config, shape, n, seed, progress)
        mean, std = channel_stats(x, len(x))
        augment = Augment(len(x), chosen.crop_padding, config.seed, chosen.hflip)
        train = ImageDataset(x, y, mean, std, augment)
        picks = torch.arange(len(x))
    else:
        train, _, info = load_datasets(config, shape, progress=progress, cache_dir=cache_dir)
        names, mean, std = info.class_names, info.mean, info.std
        g = torch.Generator().manual_seed(int(seed))
        picks = torch.randperm(len(train), generator=g)[:n].sort().values
    train.set_epoch(int(seed))
    x, labels = train.get_batch(picks)
    m = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    s = torch.tensor(std, dtype=torch.float32)[:, None, None]
    pictures = ((x.cpu() * s + m) * 255).round_().clamp_(0, 255).to(torch.uint8)
    return Preview(pictures.permute(0, 2, 3, 1).contiguous().numpy(),
                   labels.cpu().numpy().astype(np.int64), chosen.description, list(names))


def _folder_samples(config: DataConfig, shape: tuple[int, int, int], n: int, seed: int,
                    progress) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``n`` readable images of the folder's training split, drawn by class in proportion."""
    root = Path(config.path).expanduser()
    train, _ = images.scan_folder(root)
    names = sorted(train)
    files = [f for name in names for f in train[name]]
    labels = torch.tensor([k for k, name in enumerate(names) for _ in train[name]])
    _, picks = split.stratified(labels, min(len(files), 2 * n), int(seed))  # spares for bad ones
    chosen = [files[int(i)] for i in picks]
    x, failed = images.decode_all(chosen, shape, progress=progress)
    keep = torch.ones(len(chosen), dtype=torch.bool)
    if failed:
        keep[torch.tensor([i for i, _ in failed])] = False
    good = keep.nonzero()[:, 0]
    if len(good) == 0:
        bad = images.BadFiles(root, len(chosen))
        bad.found = [(chosen[i], why) for i, why in failed]
        raise DatasetError(f"{root}: none of the images tried can be read: {bad.listed()}",
                           images.BAD_FILES_ADVICE)
    g = torch.Generator().manual_seed(int(seed) + 1)
    good = good[torch.randperm(len(good), generator=g)[:n]].sort().values
    return x[good], labels[picks][good], names
