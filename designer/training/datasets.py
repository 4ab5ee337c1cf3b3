"""Data sets for training a design: ``load_datasets(config, input_shape)`` -> (train, val, info).

- ``synthetic`` (default): ten classes of coloured shapes and textures generated from the seed at
  exactly the design's input size, learnable by the notes' small CIFAR-10 net in seconds.
- ``mnist``, ``fashion-mnist``, ``cifar10``, ``cifar100``: their standard files, from
  ``config.path`` or the cache folder, downloaded there on request (``config.download``) with
  progress and MD5 checks. The standard test split is the validation split.
- ``folder``: one sub-folder of images per class (``train/`` and ``val/`` inside it are used as
  the splits where present), PNG, JPEG, BMP, GIF, WebP, TIFF or PPM read with Pillow on several
  threads (data/images.py); files that cannot be read are skipped and listed in the note, up to
  10 % of them (more: a ``DatasetError`` with the list). ``npz``: arrays ``x`` and ``y``. Both
  hold back 10 % (or ``val_size``) for validation, stratified (each class in proportion) and
  seeded; the note gives each side's samples per class.
- ``train_size`` / ``val_size`` take stratified seeded subsets of the standard sets too.

Every fault is a ``DatasetError`` that names the file or field and carries its own ``advice``
(what to do: the Trainer shows it). A damaged .npz is said to be one, with how to write a good one.

Every set is shaped to the design's input (C, H, W): bilinear resizing, grey repeated to RGB, RGB
to grey by luminance; any other channel change is a ``DatasetError`` that says which depths work.
Items are (float32 (C, H, W) normalised by the training split's per-channel mean and std, int64
label). The training split is augmented as ``config.crop_padding`` and ``config.hflip`` choose,
each None for the data set's standard recipe (``augmentation_recipe``; data/recipe.py): CIFAR a
random crop with zero padding (4 px at 32 px, scaled with the size) and a horizontal flip, the
synthetic shapes the crop, MNIST, Fashion-MNIST and one's own folder or .npz nothing. The info's
note says which, and why. Call ``train.set_epoch(epoch)`` each epoch to draw new crops;
``train.get_batch(indices)`` reads a whole batch at once (the same values as item by item,
faster).

Nothing here imports Qt; nothing here unpickles a file. The code is in data/ (load_datasets in
data/sets.py), which an exported training project copies: this module only re-exports it.
"""

from __future__ import annotations

from .data.common import DatasetError, DatasetInfo, ImageDataset
from .data.download import BASE_URLS, FILES, MIRROR_ENV, default_cache_dir, download
from .data.preview import Preview, preview_samples
from .data.recipe import Recipe
from .data.recipe import resolve as augmentation_recipe
from .data.sets import DATASETS, dataset_name, load_datasets
from .events import DataConfig

__all__ = [
    "BASE_URLS",
    "DATASETS",
    "FILES",
    "MIRROR_ENV",
    "DataConfig",
    "Preview",
    "Recipe",
    "DatasetError",
    "DatasetInfo",
    "ImageDataset",
    "augmentation_recipe",
    "dataset_name",
    "default_cache_dir",
    "download",
    "load_datasets",
    "preview_samples",
]
