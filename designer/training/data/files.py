"""A user's own data: a class-per-folder image folder, or a .npz with ``x`` and ``y``.

Image folders are decoded with Pillow where it is installed; without it, PNG files are read by
the small decoder in ``png.py`` and anything else asks for ``pip install pillow``. An image that
declares more than ``common.MAX_IMAGE_PIXELS`` pixels is refused before it is decoded.

A .npz is read member by member by this module (numpy's .npy header, then the raw bytes): object
arrays are refused, never unpickled, and a compressed member may expand to no more than
``common.expansion_limit`` of its compressed size, checked against the size the zip declares
before anything is read and against the bytes as they are read.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import common, png
from .common import NOT_GENUINE, Adapter, DatasetError, Progress, read_within, shape_text

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                  ".pgm"}
VAL_FOLDERS = ("val", "valid", "validation", "test")
MAX_CLASSES = 100_000  # a .npz's labels: 0..K-1, K at most this (ImageNet-21k: 21,841)


@dataclass
class UserSet:
    """A user's data as read: both splits when the data names them, else only ``train``."""

    train_x: torch.Tensor | FolderSource
    train_y: torch.Tensor
    val_x: torch.Tensor | FolderSource | None
    val_y: torch.Tensor | None
    class_names: list[str]
    source_shape: tuple[int, int, int]
    notes: list[str] = field(default_factory=list)


# --- image folders -----------------------------------------------------------------------------


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _class_folders(root: Path) -> dict[str, list[Path]]:
    classes = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                       and f.is_file() and not f.name.startswith("."))
        if files:
            classes[sub.name] = files
    return classes


def scan_folder(root: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]] | None]:
    """Class name -> image files, for the training split and (where the folder has one, as
    ``train/`` beside ``val/``, ``valid/``, ``validation/`` or ``test/``) the validation split."""
    if not root.is_dir():
        raise DatasetError(f"the image folder {root} does not exist or is not a folder")
    val_dir = next((root / v for v in VAL_FOLDERS if (root / v).is_dir()), None)
    if (root / "train").is_dir() and val_dir is not None:
        train, val = _class_folders(root / "train"), _class_folders(val_dir)
        for split, found in ((root / "train", train), (val_dir, val)):
            if not found:
                raise DatasetError(f"{split} has no class folders with images in them: "
                                   f"expected one sub-folder per class holding its images")
        stray = sorted(set(val) - set(train))
        if stray:
            raise DatasetError(f"{val_dir} has classes that {root / 'train'} lacks: "
                               + ", ".join(stray))
        return train, val
    classes = _class_folders(root)
    if not classes:
        loose = [f.name for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES][:3]
        hint = (f" (it holds images such as {', '.join(loose)} directly: put each class's "
                f"images in a sub-folder named after the class)") if loose else ""
        raise DatasetError(
            f"{root} has no classes: expected one sub-folder per class holding its images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}){hint}")
    if len(classes) < 2:
        raise DatasetError(f"{root} has only one class ({next(iter(classes))}): a classifier "
                           f"needs at least two class folders")
    return classes, None


def image_mode(channels: int) -> str:
    if channels == 1:
        return "L"
    if channels == 3:
        return "RGB"
    raise DatasetError(f"images in a folder give 1 (grey) or 3 (RGB) channels but the design's "
                       f"input wants {channels}: change the Input layer's channels to 1 or 3")


def _too_many_pixels(path: Path, width: int, height: int) -> None:
    limit = common.MAX_IMAGE_PIXELS
    if width * height > limit:
        raise DatasetError(f"{path} declares {width}×{height} pixels, more than the {limit} "
                           f"pixels an image may have here; it was not decoded",
                           "use smaller images (a network's input is rarely above 512×512)")


def _open(image_module, path: Path):
    """Pillow's image, its size checked before anything is decoded."""
    try:
        image = image_module.open(path)
    except image_module.DecompressionBombError:  # Pillow's own limit, above ours
        raise DatasetError(f"{path} declares more than {common.MAX_IMAGE_PIXELS} pixels, the "
                           f"most an image may have here; it was not decoded") from None
    try:
        _too_many_pixels(path, image.width, image.height)
    except DatasetError:
        image.close()
        raise
    return image


def read_image(path: Path, mode: str) -> np.ndarray:
    """One image file as uint8 (C, H, W) in ``mode`` ("L" or "RGB")."""
    image_module = _pillow()
    try:
        if image_module is not None:
            with _open(image_module, path) as image:
                array = np.asarray(image.convert(mode))
        elif path.suffix.lower() == ".png":
            data = path.read_bytes()
            width, height, *_ = png.header(data)
            _too_many_pixels(path, width, height)
            array = png.to_mode(png.decode(data, common.MAX_IMAGE_PIXELS), mode)
        else:
            raise DatasetError(f"reading {path.suffix} images needs Pillow, which is not "
                               f"installed: pip install pillow (PNG files are read without it)")
    except DatasetError:
        raise
    except png.PngError as error:
        raise DatasetError(f"{path} cannot be read: {error}") from None
    except Exception as error:  # Pillow raises many kinds for a broken file
        raise DatasetError(f"{path} cannot be read as an image: {error}") from None
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def probe_image(path: Path) -> tuple[int, int, int]:
    """(C, H, W) of an image file as it is stored (C: 1 grey, 3 colour, 2 / 4 with alpha)."""
    image_module = _pillow()
    try:
        if image_module is not None:
            with _open(image_module, path) as image:
                bands = 3 if image.mode == "P" else len(image.getbands())
                return bands, image.height, image.width
        if path.suffix.lower() == ".png":
            data = path.read_bytes()
            width, height, *_ = png.header(data)
            _too_many_pixels(path, width, height)
            return png.channels(data), height, width
    except DatasetError:
        raise
    except Exception as error:
        raise DatasetError(f"{path} cannot be read as an image: {error}") from None
    raise DatasetError(f"reading {path.suffix} images needs Pillow, which is not installed: "
                       f"pip install pillow (PNG files are read without it)")


class FolderSource:
    """Image files read, converted and resized to the design's input when asked for."""

    def __init__(self, files: list[Path], shape: tuple[int, int, int]):
        self.files = list(files)
        self.shape = tuple(shape)
        self.mode = image_mode(self.shape[0])

    def __len__(self) -> int:
        return len(self.files)

    def __call__(self, indices) -> torch.Tensor:
        out = torch.empty((len(indices), *self.shape), dtype=torch.uint8)
        for row, i in enumerate(indices):
            array = torch.from_numpy(read_image(self.files[int(i)], self.mode))
            if tuple(array.shape) != self.shape:
                array = Adapter(array.shape, self.shape, str(self.files[int(i)]))(array[None])[0]
            out[row] = array
        return out


def read_folder(root: Path, shape: tuple[int, int, int], val_size: int | None, seed: int,
                eager_limit: int) -> UserSet:
    train, val = scan_folder(root)
    names = sorted(train)
    image_mode(shape[0])  # 1 or 3 channels, else a clear error
    source_shape = probe_image(next(iter(train.values()))[0])

    def flatten(classes: dict[str, list[Path]]) -> tuple[list[Path], torch.Tensor]:
        files, labels = [], []
        for label, name in enumerate(names):
            files += classes.get(name, [])
            labels += [label] * len(classes.get(name, []))
        return files, torch.tensor(labels, dtype=torch.int64)

    train_files, train_y = flatten(train)
    notes = []
    if val is None:
        train_idx, val_idx = split_indices(len(train_files), val_size, seed, str(root))
        val_files = [train_files[i] for i in val_idx]
        val_y = train_y[val_idx]
        train_files = [train_files[i] for i in train_idx]
        train_y = train_y[train_idx]
        notes.append(f"validation: a seeded random {len(val_files)} of the "
                     f"{len(val_files) + len(train_files)} images")
    else:
        val_files, val_y = flatten(val)

    def load(files: list[Path]) -> torch.Tensor | FolderSource:
        source = FolderSource(files, shape)
        if len(files) * int(np.prod(shape)) > eager_limit:
            return source
        return source(range(len(files)))

    return UserSet(load(train_files), train_y, load(val_files), val_y, names, source_shape, notes)


def split_indices(n: int, val_size: int | None, seed: int, what: str):
    """A seeded split of ``n`` items: 10% (at least 1) or ``val_size`` for validation."""
    if n < 2:
        raise DatasetError(f"{what} has {n} sample{'s' if n != 1 else ''}: at least 2 are needed "
                           f"to hold some back for validation")
    k = val_size if val_size is not None else max(1, round(n * 0.1))
    if not 1 <= k < n:
        raise DatasetError(f"a validation split of {k} from {n} samples in {what} leaves "
                           f"nothing to train on: ask for between 1 and {n - 1}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7))
    return order[k:].sort().values, order[:k].sort().values


# --- .npz --------------------------------------------------------------------------------------


_KEYS = (("x", "y", None, None), ("x_train", "y_train", "x_test", "y_test"),
         ("x_train", "y_train", "x_val", "y_val"))


def read_npz(path: Path, val_size: int | None, seed: int,
             progress: Progress | None = None) -> UserSet:
    if not path.is_file():
        raise DatasetError(f"the .npz file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _npz_members(archive, path)
            keys = set(members)
            chosen = next((k for k in _KEYS if k[0] in keys and k[1] in keys
                           and (k[2] is None or k[2] in keys and k[3] in keys)), None)
            if chosen is None:
                raise DatasetError(f"{path} holds {', '.join(sorted(keys)) or 'nothing'}: "
                                   f"expected arrays x (images) and y (labels), or x_train, "
                                   f"y_train with x_test, y_test")
            arrays = [_npy(archive, members[k], path, progress) if k else None for k in chosen]
            names = ([str(v) for v in _npy(archive, members["class_names"], path, progress)]
                     if "class_names" in keys else None)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError, OverflowError, MemoryError) as error:
        raise DatasetError(f"{path} is not a readable .npz file ({error})") from None
    notes: list[str] = []
    train_x, layout = _images(arrays[0], f"{path}: {chosen[0]}")
    train_y = _labels(arrays[1], len(train_x), f"{path}: {chosen[1]}")
    if layout:
        notes.append(layout)
    if arrays[2] is not None:
        val_x, _ = _images(arrays[2], f"{path}: {chosen[2]}")
        val_y = _labels(arrays[3], len(val_x), f"{path}: {chosen[3]}")
        if tuple(val_x.shape[1:]) != tuple(train_x.shape[1:]):
            raise DatasetError(f"{path}: {chosen[2]} has images of {shape_text(val_x.shape[1:])} "
                               f"but {chosen[0]} has {shape_text(train_x.shape[1:])}")
    else:
        train_idx, val_idx = split_indices(len(train_x), val_size, seed, str(path))
        val_x, val_y = train_x[val_idx], train_y[val_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
        notes.append(f"validation: a seeded random {len(val_x)} of the "
                     f"{len(val_x) + len(train_x)} samples")
    classes = int(max(train_y.max(), val_y.max())) + 1
    if classes > MAX_CLASSES:
        raise DatasetError(f"{path} has a label {classes - 1}: labels must be 0..K-1 with K at "
                           f"most {MAX_CLASSES} classes")
    if names is not None and len(names) != classes:
        notes.append(f"class_names has {len(names)} names for {classes} classes: not used")
        names = None
    class_names = names or [str(i) for i in range(classes)]
    return UserSet(train_x, train_y, val_x, val_y, class_names,
                   tuple(int(v) for v in train_x.shape[1:]), notes)


def _npz_members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The .npy members by name (without .npy); their compressed sizes must fit in the file."""
    size = path.stat().st_size
    members = {}
    for info in archive.infolist():
        if info.compress_size > size:
            raise DatasetError(f"{path}: {info.filename} declares {info.compress_size} "
                               f"compressed bytes in a file of {size}: it is corrupt")
        if info.filename.endswith(".npy"):
            members[info.filename[:-4]] = info
    return members


def _npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path,
         progress: Progress | None) -> np.ndarray:
    """One .npy member, read within the bounds its sizes allow; never unpickled."""
    what = f"{path}: {info.filename}"
    stored = info.compress_type == zipfile.ZIP_STORED
    limit = info.compress_size if stored else common.expansion_limit(info.compress_size)
    if info.file_size > limit:
        why = ("its stored size" if stored else
               f"the most {info.compress_size} compressed bytes may expand to here")
        raise DatasetError(f"{what} declares {info.file_size} bytes, more than {limit} bytes "
                           f"({why}); refused", NOT_GENUINE)
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise DatasetError(f"{what} is a .npy file of version {version[0]}.{version[1]}, "
                               f"which is not read here: save plain arrays with numpy.savez")
        if dtype.hasobject:  # what np.load(allow_pickle=False) refuses
            raise DatasetError(f"{path} holds an array that can only be unpickled "
                               f"({info.filename}): save numbers (and class_names as a string "
                               f"array)")
        count = math.prod(shape)  # Python ints: no overflow
        need = count * dtype.itemsize
        if f.tell() + need != info.file_size:
            raise DatasetError(f"{what} declares shape {shape} ({need} bytes of data) but "
                               f"holds {info.file_size - f.tell()}: it is corrupt")
        data = read_within(f, need, what, "", progress, f"reading {info.filename}", need)
    if len(data) != need:
        raise DatasetError(f"{what} should hold {need} bytes but holds {len(data)}: it is "
                           f"corrupt")
    if need == 0:
        return np.zeros(shape, dtype)
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def _images(x: np.ndarray, what: str) -> tuple[torch.Tensor, str]:
    layout = ""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        last, first = x.shape[3] in (1, 3, 4), x.shape[1] in (1, 3, 4)
        if last and not first:
            x = x.transpose(0, 3, 1, 2)
        elif first and not last:
            pass
        elif last and first:
            x = x.transpose(0, 3, 1, 2)
            layout = f"{what} read as (N, H, W, C); either axis could have been the channels"
        else:
            raise DatasetError(
                f"{what} has shape {x.shape}: cannot tell which axis holds the channels; "
                f"expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1, 3 or 4")
    else:
        raise DatasetError(f"{what} has shape {x.shape}: expected images as (N, H, W), "
                           f"(N, H, W, C) or (N, C, H, W)")
    if len(x) == 0 or min(x.shape[2:]) < 1:
        raise DatasetError(f"{what} has shape {x.shape}: there are no images in it")
    if x.dtype == np.uint8:
        pass
    elif x.dtype == np.bool_:
        x = x.astype(np.uint8) * 255
    elif np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        x = x.astype(np.uint8)
    elif np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise DatasetError(f"{what} holds NaN or infinite values")
    else:
        raise DatasetError(f"{what} holds {x.dtype} values: expected uint8 or float images")
    return torch.from_numpy(np.ascontiguousarray(x)), layout


def _labels(y: np.ndarray, n: int, what: str) -> torch.Tensor:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DatasetError(f"{what} has shape {y.shape}: expected one integer label per image, "
                           f"shape ({n},)")
    if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{what} holds {y.dtype} values: labels must be integers 0..K-1")
    if y.min() < 0:
        raise DatasetError(f"{what} has a negative label {int(y.min())}: labels must be 0..K-1")
    return torch.from_numpy(y.astype(np.int64))
