"""A user's own data as read: ``UserSet``; and a .npz with arrays ``x`` and ``y`` (image folders:
images.py).

A .npz is read member by member by this module (numpy's .npy header, then the raw bytes): object
arrays are refused, never unpickled, and a compressed member may expand to no more than
``common.expansion_limit`` of its compressed size, checked against the size the zip declares
before anything is read and against the bytes as they are read. A file that is not a .npz of such
arrays is told so, with how to write one (never with numpy's own advice about pickles).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import common
from .common import NOT_GENUINE, DatasetError, Progress, read_within, shape_text
from .errors import LABELS, NPZ_FORMAT

if TYPE_CHECKING:
    from .images import FolderSource

MAX_CLASSES = 100_000  # a .npz's labels: 0..K-1, K at most this (ImageNet-21k: 21,841)


@dataclass
class UserSet:
    """A user's data as read: both splits when the data names them, else only ``train`` (and
    load_datasets holds a stratified share back for validation)."""

    train_x: torch.Tensor | FolderSource
    train_y: torch.Tensor
    val_x: torch.Tensor | FolderSource | None
    val_y: torch.Tensor | None
    class_names: list[str]
    source_shape: tuple[int, int, int]
    notes: list[str] = field(default_factory=list)


# --- .npz --------------------------------------------------------------------------------------


_KEYS = (("x", "y", None, None), ("x_train", "y_train", "x_test", "y_test"),
         ("x_train", "y_train", "x_val", "y_val"))


def read_npz(path: Path, progress: Progress | None = None) -> UserSet:
    """The arrays of a .npz: ``x`` and ``y`` (the training split only), or ``x_train``,
    ``y_train`` with ``x_test`` / ``x_val`` and their labels (both splits)."""
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise DatasetError(f"the .npz file {path} {what}",
                           "give the path of a .npz file (for a folder of images, choose the "
                           "image folder data set)" if path.is_dir() else
                           "check the path: the file may have been moved or renamed")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _npz_members(archive, path)
            keys = set(members)
            chosen = next((k for k in _KEYS if k[0] in keys and k[1] in keys
                           and (k[2] is None or k[2] in keys and k[3] in keys)), None)
            if chosen is None:
                found = ", ".join(sorted(keys)[:8]) or "no arrays"
                raise DatasetError(f"{path} holds {found}: expected arrays x (images) and y "
                                   f"(labels), or x_train, y_train with x_test, y_test",
                                   NPZ_FORMAT)
            arrays = [_npy(archive, members[k], path, progress) if k else None for k in chosen]
            names = ([str(v) for v in _npy(archive, members["class_names"], path, progress)]
                     if "class_names" in keys else None)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError, OverflowError, MemoryError, KeyError, IndexError) as error:
        raise DatasetError(f"{path} is not a valid .npz of arrays x and y: {_why(error)}",
                           NPZ_FORMAT) from None
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
                               f"but {chosen[0]} has {shape_text(train_x.shape[1:])}",
                               "save both splits' images at the same size")
    else:
        val_x = val_y = None
    top = int(train_y.max()) if val_y is None else int(max(train_y.max(), val_y.max()))
    classes = top + 1
    if classes > MAX_CLASSES:
        raise DatasetError(f"{path} has a label {classes - 1}: labels must be 0..K-1 with K at "
                           f"most {MAX_CLASSES} classes", LABELS)
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
                               f"compressed bytes in a file of {size}: it is corrupt", NPZ_FORMAT)
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
                               f"which is not read here", NPZ_FORMAT)
        if dtype.hasobject:  # what np.load(allow_pickle=False) refuses
            raise DatasetError(f"{path} holds an array that can only be unpickled "
                               f"({info.filename}); it was not read",
                               "save numbers (and class_names as a string array): "
                               + NPZ_FORMAT)
        count = math.prod(shape)  # Python ints: no overflow
        need = count * dtype.itemsize
        if f.tell() + need != info.file_size:
            raise DatasetError(f"{what} declares shape {shape} ({need} bytes of data) but "
                               f"holds {info.file_size - f.tell()}: it is corrupt", NPZ_FORMAT)
        data = read_within(f, need, what, "", progress, f"reading {info.filename}", need)
    if len(data) != need:
        raise DatasetError(f"{what} should hold {need} bytes but holds {len(data)}: it is "
                           f"corrupt", NPZ_FORMAT)
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
                f"expected (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1, 3 or 4", NPZ_FORMAT)
    else:
        raise DatasetError(f"{what} has shape {x.shape}: expected images as (N, H, W), "
                           f"(N, H, W, C) or (N, C, H, W)", NPZ_FORMAT)
    if len(x) == 0 or min(x.shape[2:]) < 1:
        raise DatasetError(f"{what} has shape {x.shape}: there are no images in it", NPZ_FORMAT)
    if x.dtype == np.uint8:
        pass
    elif x.dtype == np.bool_:
        x = x.astype(np.uint8) * 255
    elif np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        x = x.astype(np.uint8)
    elif np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise DatasetError(f"{what} holds NaN or infinite values",
                           "replace them (np.nan_to_num) or drop those images, and save again")
    else:
        raise DatasetError(f"{what} holds {x.dtype} values: expected uint8 or float images",
                           NPZ_FORMAT)
    return torch.from_numpy(np.ascontiguousarray(x)), layout


def _labels(y: np.ndarray, n: int, what: str) -> torch.Tensor:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DatasetError(f"{what} has shape {y.shape}: expected one integer label per image, "
                           f"shape ({n},)", LABELS)
    if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{what} holds {y.dtype} values: labels must be integers 0..K-1",
                           LABELS)
    if y.min() < 0:
        raise DatasetError(f"{what} has a negative label {int(y.min())}: labels must be 0..K-1",
                           LABELS)
    return torch.from_numpy(y.astype(np.int64))


def _why(error: BaseException) -> str:
    """What the zip or numpy said, short; never numpy's advice to allow pickles."""
    text = " ".join(str(error).split())[:160] or type(error).__name__
    if "pickle" in text.lower():
        return "it holds an array that only Python's pickle could read"
    if isinstance(error, zipfile.BadZipFile) or "zip" in text.lower():
        return f"it is not a zip archive of .npy arrays ({text})"
    return text
