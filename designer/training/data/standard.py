"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 read from their standard files.

MNIST-like sets: the four IDX files, gzipped as published or not, in the folder itself, in
``raw/``, or in torchvision's ``MNIST/raw`` / ``FashionMNIST/raw``. CIFAR: the binary version
(``cifar-10-binary.tar.gz`` / ``cifar-100-binary.tar.gz`` as downloaded, or extracted), which is
what the app downloads; the python version is read too, through ``safe_pickle`` (never unpickled).
Archives are read member by member in one pass, never extracted to disk.

Every read is bounded by what the data can be: an IDX file by the size its header declares (and
a .gz by ``common.expansion_limit`` of its size), a CIFAR archive or folder by ``CIFAR_MAX_BYTES``
(the 60,000 images of the set with room for their labels and names), each pickle by the walker's
own limits. ``progress(done, total, message)``, where given, hears how the reading goes and may
raise to stop it (the Trainer's Stop).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import struct
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import common, safe_pickle
from .common import NOT_GENUINE, DatasetError, Progress, read_within
from .errors import CORRUPT_DOWNLOAD, MISSING_FILES

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# the most a CIFAR archive or folder may hold when read: 60,000 images of 3,072 bytes, each with
# up to 128 bytes of labels and file name, and 16 MiB for the rest (the real sets: 184-187 MB)
CIFAR_MAX_BYTES = 60_000 * (3072 + 128) + (16 << 20)
TURN_ON_DOWNLOAD = "turn on Download (--download on the command line) to fetch"


@dataclass
class Raw:
    """A standard set as read: uint8 images (N, C, H, W), int64 labels, both splits."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: list[str]
    files: list[str] = field(default_factory=list)


def present(name: str, folder: Path) -> bool:
    """Whether ``folder`` seems to hold the set in a form ``read`` takes (so no download)."""
    if name in ("mnist", "fashion-mnist"):
        return find_idx_folder(name, folder) is not None
    spec = CIFAR[name]
    binary = (*spec.train, spec.val)
    python = (*spec.py_train, spec.py_val)
    return ((folder / spec.archive).is_file() or (folder / spec.py_archive).is_file()
            or any(all((w / f).is_file() for f in binary) for w in (folder / spec.folder, folder))
            or any(all((w / f).is_file() for f in python)
                   for w in (folder / spec.py_folder, folder)))


def read(name: str, folder: Path, progress: Progress | None = None) -> Raw:
    if name in ("mnist", "fashion-mnist"):
        return read_mnist(name, folder, progress)
    return read_cifar(name, folder, progress)


# --- MNIST and Fashion-MNIST -------------------------------------------------------------------


def find_idx_folder(name: str, folder: Path) -> Path | None:
    torchvision = "MNIST" if name == "mnist" else "FashionMNIST"
    for candidate in (folder, folder / "raw", folder / torchvision / "raw"):
        if all(_idx_path(candidate, f) for pair in IDX_FILES.values() for f in pair):
            return candidate
    return None


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def read_mnist(name: str, folder: Path, progress: Progress | None = None) -> Raw:
    where = find_idx_folder(name, folder)
    if where is None:
        expected = [f + ".gz" for pair in IDX_FILES.values() for f in pair]
        found = [f for f in expected if _idx_path(folder, f[:-3])]
        missing = [f for f in expected if f not in found]
        raise DatasetError(
            f"{folder} does not hold the {name} files: expected {', '.join(expected)} "
            f"(gzipped or not){'; missing ' + ', '.join(missing) if found else ''}; "
            f"{TURN_ON_DOWNLOAD} them", MISSING_FILES)
    splits = {}
    files = []
    for split, (images_stem, labels_stem) in IDX_FILES.items():
        images_path, labels_path = _idx_path(where, images_stem), _idx_path(where, labels_stem)
        images = read_idx(images_path, progress)
        labels = read_idx(labels_path, progress)
        if images.ndim != 3 or labels.ndim != 1:
            raise DatasetError(f"{images_path.name} / {labels_path.name} are not an IDX image "
                               f"file and label file (dimensions {images.shape}, {labels.shape})",
                               CORRUPT_DOWNLOAD)
        if len(images) != len(labels):
            raise DatasetError(f"{images_path.name} has {len(images)} images but "
                               f"{labels_path.name} has {len(labels)} labels", CORRUPT_DOWNLOAD)
        if labels.size and labels.max() > 9:
            raise DatasetError(f"{labels_path.name} has a label {labels.max()}: expected 0..9",
                               CORRUPT_DOWNLOAD)
        splits[split] = (torch.from_numpy(images[:, None].astype(np.uint8, copy=False)),
                         torch.from_numpy(labels.astype(np.int64)))
        files += [str(images_path), str(labels_path)]
    classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
    return Raw(*splits["train"], *splits["val"], class_names=list(classes), files=files)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path, progress: Progress | None = None) -> np.ndarray:
    """An IDX file (gzipped or not) as an array, read no further than its header declares: a .gz
    may expand to ``common.expansion_limit`` of its size, a plain file holds what it holds."""
    try:
        size = path.stat().st_size
        gz = path.suffix == ".gz"
        limit = common.expansion_limit(size) if gz else size
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise DatasetError(f"{path} is not an IDX file (its header is {head.hex()})",
                                   CORRUPT_DOWNLOAD)
            ndim = head[3]
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise DatasetError(f"{path} is cut short inside its header", CORRUPT_DOWNLOAD)
            dims = struct.unpack(f">{ndim}I", raw_dims)
            dtype = np.dtype(_IDX_TYPES[head[2]])
            need = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
            if 4 + 4 * ndim + need > limit:
                why = (f", the most a {size}-byte .gz file may expand to here" if gz
                       else f", more than the file's {size} bytes")
                raise DatasetError(f"{path} declares dimensions {dims}: {need} bytes of data"
                                   f"{why}; refused", NOT_GENUINE)
            data = read_within(f, need, str(path), f" (its header declares dimensions {dims})",
                               progress, f"reading {path.name}", need)
    except DatasetError:
        raise
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} cannot be read ({error}): the file is corrupt or incomplete;"
                           f" delete it and download again", CORRUPT_DOWNLOAD) from None
    if len(data) != need:
        raise DatasetError(f"{path} should hold {need} bytes of data for dimensions {dims} but "
                           f"holds {len(data)}: it is corrupt", CORRUPT_DOWNLOAD)
    return np.frombuffer(data, dtype, count=math.prod(dims)).reshape(dims)


# --- CIFAR ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cifar:
    archive: str  # the binary version, as downloaded
    folder: str  # what the archive holds
    train: tuple[str, ...]
    val: str
    names: str  # class names, one a line
    label_bytes: int  # CIFAR-100: coarse label, then fine label
    py_archive: str
    py_folder: str
    py_train: tuple[str, ...]
    py_val: str
    py_meta: str
    py_labels: bytes
    py_names: bytes
    classes: int


CIFAR = {
    "cifar10": _Cifar(
        "cifar-10-binary.tar.gz", "cifar-10-batches-bin",
        tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin", "batches.meta.txt", 1,
        "cifar-10-python.tar.gz", "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta",
        b"labels", b"label_names", 10),
    "cifar100": _Cifar(
        "cifar-100-binary.tar.gz", "cifar-100-binary", ("train.bin",), "test.bin",
        "fine_label_names.txt", 2,
        "cifar-100-python.tar.gz", "cifar-100-python", ("train",), "test", "meta",
        b"fine_labels", b"fine_label_names", 100),
}


def read_cifar(name: str, folder: Path, progress: Progress | None = None) -> Raw:
    spec = CIFAR[name]
    binary = (*spec.train, spec.val)
    python = (*spec.py_train, spec.py_val)
    if (folder / spec.archive).is_file():
        members = _read_tar(folder / spec.archive, binary, spec.names, progress)
        return _cifar_binary(name, members, str(folder / spec.archive))
    for where in (folder / spec.folder, folder):
        if all((where / f).is_file() for f in binary):
            members = _read_files(where, binary, spec.names, progress)
            return _cifar_binary(name, members, str(where))
    if (folder / spec.py_archive).is_file():
        members = _read_tar(folder / spec.py_archive, python, spec.py_meta, progress)
        return _cifar_python(name, members, str(folder / spec.py_archive), progress)
    for where in (folder / spec.py_folder, folder):
        if all((where / f).is_file() for f in python):
            members = _read_files(where, python, spec.py_meta, progress)
            return _cifar_python(name, members, str(where), progress)
    partial = folder / spec.folder
    if partial.is_dir():
        lacking = [f for f in binary if not (partial / f).is_file()]
        raise DatasetError(f"{partial} lacks {', '.join(lacking)}: expected {', '.join(binary)}",
                           CORRUPT_DOWNLOAD)
    raise DatasetError(
        f"{folder} does not hold {name}: expected {spec.archive} (the binary version, as "
        f"downloaded), or the folder {spec.folder} with {', '.join(binary)}, or the python "
        f"version {spec.py_archive} / {spec.py_folder}; {TURN_ON_DOWNLOAD} it", MISSING_FILES)


def _read_files(where: Path, wanted: tuple[str, ...], optional: str,
                progress: Progress | None) -> dict[str, bytes]:
    """The wanted files of an extracted CIFAR folder, together no more than CIFAR_MAX_BYTES."""
    members: dict[str, bytes] = {}
    total = 0
    for f in (*wanted, optional):
        path = where / f
        if not path.is_file():
            continue
        try:
            total += path.stat().st_size
            if total > CIFAR_MAX_BYTES:
                raise DatasetError(f"{where} holds more than {CIFAR_MAX_BYTES} bytes in "
                                   f"{', '.join(members) or f}, more than the whole data set; "
                                   f"refused", NOT_GENUINE)
            with open(path, "rb") as stream:
                members[f] = bytes(read_within(stream, CIFAR_MAX_BYTES, str(path), "",
                                               progress, f"reading {f}"))
        except OSError as error:
            raise DatasetError(f"{path} cannot be read ({error})", CORRUPT_DOWNLOAD) from None
    return members


class _Counted:
    """A decompressed stream that refuses to give more than ``limit`` bytes in all and tells
    ``progress`` how far it got (tarfile reads through it, skipped members too)."""

    def __init__(self, raw, limit: int, what: str, progress: Progress | None, message: str):
        self.raw, self.limit, self.what = raw, limit, what
        self.progress, self.message = progress, message
        self.done = self.told = 0

    def read(self, n: int = -1) -> bytes:
        n = common.READ_CHUNK if n is None or n < 0 else min(n, common.READ_CHUNK)
        chunk = self.raw.read(min(n, self.limit + 1 - self.done))
        self.done += len(chunk)
        if self.done > self.limit:
            raise DatasetError(f"{self.what} expands to more than {self.limit} bytes when "
                               f"read, more than the whole data set; refused", NOT_GENUINE)
        if self.progress is not None and self.done - self.told >= common.READ_CHUNK:
            self.told = self.done
            self.progress(self.done, None, self.message)
        return chunk


def _decompressed(f):
    """The file's content, gzip / bzip2 / xz decompressed as its first bytes say."""
    magic = f.read(6)
    f.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(f, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(f, "rb")
    return f


def _read_tar(path: Path, wanted: tuple[str, ...], optional: str,
              progress: Progress | None = None) -> dict[str, bytes]:
    """The wanted members of a tar.gz by base name, read in one pass, nothing extracted; the
    whole archive may expand to no more than CIFAR_MAX_BYTES."""
    members: dict[str, bytes] = {}
    limit = CIFAR_MAX_BYTES
    try:
        with open(path, "rb") as raw:
            counted = _Counted(_decompressed(raw), limit, str(path), progress,
                               f"reading {path.name}")
            with tarfile.open(fileobj=counted, mode="r|") as tar:
                for member in tar:
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and (base in wanted or base == optional):
                        if member.size > limit - sum(len(v) for v in members.values()):
                            raise DatasetError(
                                f"{path} holds a member {member.name} of {member.size} bytes, "
                                f"more than the whole data set ({limit} bytes); refused",
                                NOT_GENUINE)
                        f = tar.extractfile(member)
                        if f is not None:
                            members[base] = f.read()
    except DatasetError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as error:
        raise DatasetError(f"{path} is not a readable tar.gz archive ({error}): it is corrupt "
                           f"or incomplete; delete it and download again",
                           CORRUPT_DOWNLOAD) from None
    lacking = [f for f in wanted if f not in members]
    if lacking:
        raise DatasetError(f"{path} lacks {', '.join(lacking)}: expected {', '.join(wanted)}",
                           CORRUPT_DOWNLOAD)
    return members


def _cifar_binary(name: str, members: dict[str, bytes], where: str) -> Raw:
    spec = CIFAR[name]
    record = spec.label_bytes + 3072
    parts = {}
    for split, files in (("train", spec.train), ("val", (spec.val,))):
        xs, ys = [], []
        for f in files:
            raw = members[f]
            if len(raw) % record:
                raise DatasetError(f"{f} in {where} has {len(raw)} bytes, not a whole number of "
                                   f"{record}-byte records: it is corrupt", CORRUPT_DOWNLOAD)
            rows = np.frombuffer(raw, np.uint8).reshape(-1, record)
            ys.append(rows[:, spec.label_bytes - 1].astype(np.int64))
            xs.append(rows[:, spec.label_bytes:].reshape(-1, 3, 32, 32))
        parts[split] = _labelled(np.concatenate(xs), np.concatenate(ys), spec.classes, where)
    names = members.get(spec.names)
    class_names = _names(names.decode("utf-8", "replace").split() if names else [], name)
    return Raw(*parts["train"], *parts["val"], class_names=class_names, files=[where])


def _cifar_python(name: str, members: dict[str, bytes], where: str,
                  progress: Progress | None = None) -> Raw:
    spec = CIFAR[name]
    parts = {}
    for split, files in (("train", spec.py_train), ("val", (spec.py_val,))):
        xs, ys = [], []
        for f in files:
            batch = _unpickle(members[f], f, where, progress)
            data, labels = batch.get(b"data"), batch.get(spec.py_labels)
            if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 \
                    or not isinstance(labels, list) or len(labels) != len(data):
                raise DatasetError(f"{f} in {where} is not a CIFAR batch (no 3072-wide data "
                                   f"array with one {spec.py_labels.decode()} entry per row)",
                                   CORRUPT_DOWNLOAD)
            if not all(type(v) is int and 0 <= v < spec.classes for v in labels):
                raise DatasetError(f"{f} in {where} has a {spec.py_labels.decode()} entry that "
                                   f"is not a label 0..{spec.classes - 1}", CORRUPT_DOWNLOAD)
            xs.append(data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(labels, dtype=np.int64))
        parts[split] = _labelled(np.concatenate(xs), np.concatenate(ys), spec.classes, where)
    names: list[str] = []
    if spec.py_meta in members:
        meta = _unpickle(members[spec.py_meta], spec.py_meta, where, progress)
        listed = meta.get(spec.py_names) if isinstance(meta, dict) else None
        if isinstance(listed, list) and len(listed) == spec.classes \
                and all(isinstance(v, (bytes, str)) and len(v) <= 200 for v in listed):
            names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                     for v in listed]
    return Raw(*parts["train"], *parts["val"], class_names=_names(names, name), files=[where])


def _unpickle(data: bytes, filename: str, where: str, progress: Progress | None = None) -> dict:
    message = f"reading {filename}"
    check = None if progress is None else (lambda: progress(len(data), None, message))
    try:
        value = safe_pickle.load(data, check)
    except safe_pickle.UnsafePickle as error:
        raise DatasetError(f"{filename} in {where} was not read: {error}",
                           CORRUPT_DOWNLOAD) from None
    if not isinstance(value, dict):
        raise DatasetError(f"{filename} in {where} does not hold a dict of arrays",
                           CORRUPT_DOWNLOAD)
    return value


def _labelled(x: np.ndarray, y: np.ndarray, classes: int, where: str):
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise DatasetError(f"{where} has a label {int(y.max())} outside 0..{classes - 1}",
                           CORRUPT_DOWNLOAD)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


def _names(names: list[str], name: str) -> list[str]:
    classes = CIFAR[name].classes
    if len(names) == classes:
        return names
    if name == "cifar10":
        return list(CIFAR10_CLASSES)
    return [f"class {i}" for i in range(classes)]
