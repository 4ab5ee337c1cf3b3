"""Which data set, read and shaped: ``load_datasets(config, input_shape)`` -> (train, val, info).

``config`` is a DataConfig (designer/training/events.py): the data set's name, its path, whether
to download it, the sizes of the splits, augmentation and the seed. This is the one place the app
and an exported training project (which copies this package as ``convlib/data/``) make their data
sets; designer/training/datasets.py describes them and re-exports what callers use. Standard
library, numpy and torch only, and this package's own modules.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..events import DATASETS
from . import files, images, recipe, split, standard, synthetic
from .common import (
    EAGER_LIMIT_BYTES,
    AdaptedSource,
    Adapter,
    Augment,
    DatasetError,
    DatasetInfo,
    ImageDataset,
    adapt_all,
    channel_stats,
    shape_text,
)
from .download import default_cache_dir, download
from .errors import SPLIT_SIZE
from .recipe import dataset_name

__all__ = ["DATASETS", "dataset_name", "load_datasets"]

if TYPE_CHECKING:
    from ..events import DataConfig

STANDARD = ("mnist", "fashion-mnist", "cifar10", "cifar100")
SYNTHETIC_DEFAULT = (5000, 1000)
SYNTHETIC_EAGER_BYTES = 512 << 20


def load_datasets(config: DataConfig, input_shape: Sequence[int], progress=None,
                  cache_dir: str | os.PathLike | None = None
                  ) -> tuple[ImageDataset, ImageDataset, DatasetInfo]:
    """The training and validation splits of ``config``'s data set, shaped to ``input_shape``
    (C, H, W), and what was done to them. ``progress(done_bytes, total_bytes_or_None, message)``
    hears about downloads and the reading of files, and may raise to cancel either (the Trainer's
    Stop does). ``DatasetError`` says what is wrong."""
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise DatasetError(f"the design's input {tuple(input_shape)} is not a (C, H, W) image "
                           f"shape: the data sets here are images",
                           "give the design an image input (C, H, W)")
    name = dataset_name(config.name)
    for what, value in (("train_size", config.train_size), ("val_size", config.val_size)):
        if value is not None and value < 1:
            raise DatasetError(f"{what} is {value}: ask for at least 1 sample", SPLIT_SIZE)
    if name == "synthetic":
        return _synthetic(config, shape)
    if name in STANDARD:
        folder = (Path(config.path).expanduser() if config.path
                  else Path(cache_dir or default_cache_dir()) / name)
        if config.download and not standard.present(name, folder):
            download(name, progress=progress, folder=folder)
        raw = standard.read(name, folder, progress)
        return _finish(name, config, shape, raw.train_x, raw.train_y, raw.val_x, raw.val_y,
                       raw.class_names, tuple(raw.train_x.shape[1:]), [], raw.files)
    if not config.path:
        raise DatasetError(f"the {name} data set needs a path: "
                           + ("an image folder" if name == "folder" else "a .npz file"),
                           "choose the image folder or the .npz file (Data path, --data-path)")
    path = Path(config.path).expanduser()
    if name == "folder":
        user = images.read_folder(path, shape, EAGER_LIMIT_BYTES, progress=progress)
        adapted = True
    else:
        user = files.read_npz(path, progress)
        adapted = False
    return _finish(name, config, shape, user.train_x, user.train_y, user.val_x, user.val_y,
                   user.class_names, user.source_shape, user.notes, [str(path)], adapted,
                   str(path))


def _synthetic(config: DataConfig, shape: tuple[int, int, int]):
    sizes = (config.train_size or SYNTHETIC_DEFAULT[0], config.val_size or SYNTHETIC_DEFAULT[1])
    splits = []
    for part, n in zip(("train", "val"), sizes):
        source = synthetic.SyntheticSource(config.seed, part, n, shape)
        eager = n * shape[0] * shape[1] * shape[2] <= SYNTHETIC_EAGER_BYTES
        splits.append((source(range(n)) if eager else source, source.labels()))
    (train_x, train_y), (val_x, val_y) = splits
    mean, std = channel_stats(train_x, sizes[0], config.seed, sample=512)
    chosen = recipe.resolve(config, shape)
    train = ImageDataset(train_x, train_y, mean, std, _augment(chosen, config.seed, sizes[0]))
    val = ImageDataset(val_x, val_y, mean, std)
    lazily = "" if isinstance(train_x, torch.Tensor) else "; generated as they are read"
    info = DatasetInfo(
        name="synthetic", classes=synthetic.CLASSES, class_names=list(synthetic.CLASS_NAMES),
        train_size=sizes[0], val_size=sizes[1], source_shape=shape, mean=mean, std=std,
        note=f"generated at the design's input size {shape_text(shape)} from seed "
             f"{config.seed}{lazily}; augmentation: {chosen.description}",
        input_shape=shape, augmentation=chosen.text)
    return train, val, info


def _finish(name, config: DataConfig, shape, train_x, train_y, val_x, val_y, class_names,
            source_shape, notes: list[str], where: list[str], adapted: bool = False,
            what: str = ""):
    """The validation split where the data has none (stratified), subsets, adaptation to the
    input, statistics and the two Datasets."""
    notes = [n for n in notes if n]
    classes = len(class_names)
    if not adapted:
        adapter = Adapter(source_shape, shape, f"the {name} data")
        if not adapter.identity:
            notes.insert(0, adapter.describe())
    counted = False
    if val_x is None:  # one's own data without a split of its own: hold a share back
        n = len(train_y)
        k = split.validation_size(n, config.val_size, what or name)
        rest, held = split.stratified(train_y, k, config.seed + 7)
        train_x, val_x = _take(train_x, rest), _take(train_x, held)
        train_y, val_y = train_y[rest], train_y[held]
        notes.append(f"validation: a stratified seeded {k:,} of the {n:,} samples, "
                     f"{split.per_class(val_y, classes)}")
        counted = True
    for part, wanted, seed in (("train", config.train_size, config.seed),
                               ("val", config.val_size, config.seed + 1)):
        y = train_y if part == "train" else val_y
        if wanted is None or wanted >= len(y):
            continue
        _, picks = split.stratified(y, wanted, seed)
        notes.append(f"{'training' if part == 'train' else 'validation'}: a stratified seeded "
                     f"{len(picks):,} of the {len(y):,} samples, "
                     f"{split.per_class(y[picks], classes)}")
        if part == "train":
            train_x, train_y = _take(train_x, picks), train_y[picks]
        else:
            val_x, val_y = _take(val_x, picks), val_y[picks]
        counted = part == "train" or counted
    if counted:
        notes.append(f"training: {len(train_y):,}, {split.per_class(train_y, classes)}")
    if not adapted:
        train_x, val_x = _adapt(train_x, adapter), _adapt(val_x, adapter)
    mean, std = channel_stats(train_x, len(train_y), config.seed)
    chosen = recipe.resolve(config, shape)
    notes.append(f"augmentation: {chosen.description}")
    train = ImageDataset(train_x, train_y, mean, std, _augment(chosen, config.seed, len(train_y)))
    val = ImageDataset(val_x, val_y, mean, std)
    info = DatasetInfo(
        name=name, classes=len(class_names), class_names=list(class_names),
        train_size=len(train), val_size=len(val),
        source_shape=tuple(int(v) for v in source_shape), mean=mean, std=std,
        note="; ".join(notes), input_shape=shape,
        augmentation=chosen.text, files=list(where))
    return train, val, info


def _augment(chosen: recipe.Recipe, seed: int, size: int) -> Augment | None:
    """The training split's augmentation: the settings' recipe (recipe.resolve)."""
    return Augment(size, chosen.crop_padding, seed, chosen.hflip) if chosen.active else None


def _take(x, indices: torch.Tensor):
    """Items ``indices`` of a split held as a tensor, or read from files (images.FolderSource)."""
    return x[indices] if isinstance(x, torch.Tensor) else x.take(indices)


def _adapt(x: torch.Tensor, adapter: Adapter):
    if adapter.output_bytes(len(x), x.dtype) <= EAGER_LIMIT_BYTES:
        return adapt_all(x, adapter)
    return AdaptedSource(x, adapter)
