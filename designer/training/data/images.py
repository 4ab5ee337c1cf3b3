"""A class-per-folder image folder, read with Pillow: PNG, JPEG, BMP, GIF, WebP, TIFF, PPM/PGM.

``root/<class>/**/<image>``, one sub-folder per class (``train/`` beside ``val/``, ``valid/``,
``validation/`` or ``test/`` are used as the splits where present). Pillow opens only those
formats (never EPS or the like, which hand a file to other programs), and an image that declares
more than ``common.MAX_IMAGE_PIXELS`` pixels is refused from its header, before it is decoded.

Images are decoded in parallel (``workers`` threads: Pillow's decoders and torch's resizing run
without Python's lock), each converted to the design's grey or RGB and resized to its input as
it is read, straight into one uint8 tensor where the set fits in memory (``eager_limit``); a
larger set is checked file by file (its headers) and read as batches ask for it.

A file that cannot be read (damaged, cut short, not an image, too large) is skipped, and the
note says how many and which (``BadFiles``); past ``MAX_BAD_SHARE`` of the files, the folder is
refused with the list (``DatasetError``): so many bad files is a wrong folder, not bad luck.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from . import common
from .common import DatasetError, Progress, shape_text
from .errors import CHANNELS, FOLDER_LAYOUT
from .files import UserSet

# the suffixes read, and the formats Pillow may take a file for (a camera's JPEG is MPO)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".gif", ".webp", ".tif",
                  ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"}
FORMATS = ("PNG", "JPEG", "MPO", "BMP", "DIB", "GIF", "WEBP", "TIFF", "PPM")
VAL_FOLDERS = ("val", "valid", "validation", "test")
MAX_BAD_SHARE = 0.10  # more unreadable files than this share of the folder's: refused
LISTED = 5  # bad files named in a note or a message
CHUNK = 32  # files a worker decodes per task
TOO_LARGE_ADVICE = "use smaller images (a network's input is rarely above 512×512)"
BAD_FILES_ADVICE = ("fix or delete the files listed (open one in an image viewer to see what is "
                    "wrong), or check that the path is the folder of images you meant")


def default_workers() -> int:
    """Decoding threads: min(4, the CPUs this process may use)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


_formats: tuple[str, ...] = ()


def _pillow():
    """PIL.Image with its format plugins registered (None where Pillow is not installed)."""
    global _formats
    try:
        from PIL import Image
    except ImportError:
        return None
    if not _formats:
        Image.init()  # every plugin: FORMATS then names only those this Pillow has
        _formats = tuple(f for f in FORMATS if f in Image.OPEN)
    return Image


def _needs_pillow() -> DatasetError:
    return DatasetError("reading an image folder needs Pillow, which is not installed",
                        "pip install pillow (or give the data as a .npz of arrays x and y)")


# --- which files -----------------------------------------------------------------------------


def _skipped_name(name: str) -> bool:
    return name.startswith(".") or name.startswith("__")  # .git, __MACOSX, ._photo.jpg


def _class_folders(root: Path) -> dict[str, list[Path]]:
    classes = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not _skipped_name(p.name)):
        files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                       and not _skipped_name(f.name) and f.is_file()
                       and not any(_skipped_name(part) for part in f.relative_to(sub).parts))
        classes[sub.name] = files
    return classes


def _no_empty_class(where: Path, classes: dict[str, list[Path]]) -> None:
    empty = [name for name, found in classes.items() if not found]
    if empty and any(classes.values()):
        raise DatasetError(
            f"{where}: the class folder{'s' if len(empty) > 1 else ''} "
            f"{', '.join(empty[:LISTED])}{'…' if len(empty) > LISTED else ''} hold"
            f"{'' if len(empty) > 1 else 's'} no images ({', '.join(sorted(IMAGE_SUFFIXES))})",
            "put that class's images in it, or remove the folder if it is not a class")


def scan_folder(root: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]] | None]:
    """Class name -> image files, for the training split and (where the folder has one, as
    ``train/`` beside ``val/``, ``valid/``, ``validation/`` or ``test/``) the validation split."""
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"the image folder {root} {what}", FOLDER_LAYOUT)
    val_dir = next((root / v for v in VAL_FOLDERS if (root / v).is_dir()), None)
    if (root / "train").is_dir() and val_dir is not None:
        train, val = _class_folders(root / "train"), _class_folders(val_dir)
        for split, found in ((root / "train", train), (val_dir, val)):
            if not any(found.values()):
                raise DatasetError(f"{split} has no class folders with images in them: "
                                   f"expected one sub-folder per class holding its images",
                                   FOLDER_LAYOUT)
            _no_empty_class(split, found)
        stray = sorted(set(val) - set(train))
        if stray:
            raise DatasetError(f"{val_dir} has classes that {root / 'train'} lacks: "
                               + ", ".join(stray[:LISTED]),
                               f"give {val_dir.name}/ the class folders of train/ only")
        return train, val
    classes = _class_folders(root)
    if not any(classes.values()):
        loose = [f.name for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES][:3]
        hint = (f" (it holds images such as {', '.join(loose)} directly: put each class's "
                f"images in a sub-folder named after the class)") if loose else ""
        raise DatasetError(
            f"{root} has no classes: expected one sub-folder per class holding its images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}){hint}", FOLDER_LAYOUT)
    _no_empty_class(root, classes)
    if len(classes) < 2:
        raise DatasetError(f"{root} has only one class ({next(iter(classes))}): a classifier "
                           f"needs at least two class folders",
                           "add a sub-folder of images for each other class")
    return classes, None


def image_mode(channels: int) -> str:
    if channels == 1:
        return "L"
    if channels == 3:
        return "RGB"
    raise DatasetError(f"images in a folder give 1 (grey) or 3 (RGB) channels but the design's "
                       f"input wants {channels}: change the Input layer's channels to 1 or 3",
                       CHANNELS)


# --- one file --------------------------------------------------------------------------------


class Unreadable(Exception):
    """One file that cannot be read; the text says why (the folder decides what that means)."""


def _open(image_module, path: Path):
    """Pillow's image in one of FORMATS, its size checked before anything is decoded."""
    limit = common.MAX_IMAGE_PIXELS
    try:
        image = image_module.open(path, formats=_formats)
    except image_module.DecompressionBombError:  # Pillow's own limit, above ours
        raise Unreadable(f"it declares more than {limit} pixels, the most an image may have "
                         f"here; it was not decoded") from None
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds for a broken file
        raise Unreadable(_reason(error)) from None
    if image.width * image.height > limit:
        image.close()
        raise Unreadable(f"it declares {image.width}×{image.height} pixels, more than the "
                         f"{limit} pixels an image may have here; it was not decoded")
    return image


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if "cannot identify image file" in text:
        return "not an image file Pillow reads (PNG, JPEG, BMP, GIF, WebP, TIFF, PPM)"
    return text[:200]


def _in_mode(image_module, image, mode: str):
    """The decoded image in ``mode`` ("L" or "RGB"); 16-bit and floating-point greys scaled to
    0..255 (Pillow's own conversion clips them)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.array(image, dtype=np.float64)
        top = float(values.max()) if values.size else 0.0
        scale = 255.0 if image.mode == "F" and top <= 1.0 else (
            255.0 / 65535.0 if top > 255 else 1.0)
        grey = np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
        image = image_module.fromarray(grey)
    return image if image.mode == mode else image.convert(mode)


def read_image(path: Path, mode: str, target: Sequence[int] | None = None) -> np.ndarray:
    """One image file as uint8 (C, H, W) in ``mode`` ("L" or "RGB"), resized to ``target``'s
    (H, W) where given. ``DatasetError`` naming the file when it cannot be read."""
    try:
        return _read(path, mode, target)
    except Unreadable as why:
        raise DatasetError(f"{path} cannot be read as an image: {why}",
                           TOO_LARGE_ADVICE if "pixels" in str(why) else BAD_FILES_ADVICE
                           ) from None


def _read(path: Path, mode: str, target: Sequence[int] | None) -> np.ndarray:
    """The file in ``mode``, resized by Pillow (bilinear, antialiased when shrinking: what the
    .npz path's torch resizing matches) to ``target``'s (H, W) where given."""
    image_module = _pillow()
    if image_module is None:
        raise _needs_pillow()
    with _open(image_module, path) as image:
        try:
            if target is not None and image.format in ("JPEG", "MPO"):
                image.draft(mode, (int(target[-1]), int(target[-2])))  # decode at 1/2..1/8 size
            picture = _in_mode(image_module, image, mode)
            if target is not None and picture.size != (int(target[-1]), int(target[-2])):
                picture = picture.resize((int(target[-1]), int(target[-2])),
                                         image_module.Resampling.BILINEAR)
            array = np.array(picture)  # a writable copy, never Pillow's own buffer
        except Unreadable:
            raise
        except Exception as error:  # noqa: BLE001 - a broken file, as Pillow finds out
            raise Unreadable(_reason(error)) from None
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def probe_image(path: Path) -> tuple[int, int, int]:
    """(C, H, W) of an image file as it is stored (C: 1 grey, 3 colour, 2 / 4 with alpha), from
    its header. ``DatasetError`` naming the file when it cannot be read."""
    image_module = _pillow()
    if image_module is None:
        raise _needs_pillow()
    try:
        with _open(image_module, path) as image:
            bands = 3 if image.mode == "P" else len(image.getbands())
            return bands, image.height, image.width
    except Unreadable as why:
        raise DatasetError(f"{path} cannot be read as an image: {why}",
                           TOO_LARGE_ADVICE if "pixels" in str(why) else BAD_FILES_ADVICE
                           ) from None


# --- many files ------------------------------------------------------------------------------


class BadFiles:
    """The files of a folder that could not be read, and what each said."""

    def __init__(self, root: Path, total: int):
        self.root, self.total = root, total
        self.found: list[tuple[Path, str]] = []

    def __len__(self) -> int:
        return len(self.found)

    def _name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def listed(self) -> str:
        shown = "; ".join(f"{self._name(p)} ({why})" for p, why in self.found[:LISTED])
        more = len(self.found) - LISTED
        return shown + (f"; and {more} more" if more > 0 else "")

    def check(self) -> str:
        """The note for the files skipped ('' where none); ``DatasetError`` past the share."""
        if not self.found:
            return ""
        bad, total = len(self.found), self.total
        if bad > MAX_BAD_SHARE * total:
            raise DatasetError(
                f"{self.root}: {bad} of its {total} image files cannot be read, more than "
                f"{MAX_BAD_SHARE:.0%}: {self.listed()}", BAD_FILES_ADVICE)
        return (f"skipped {bad} unreadable file{'s' if bad > 1 else ''} of {total}: "
                f"{self.listed()}")


def _file_sizes(files: Sequence[Path]) -> list[int]:
    sizes = []
    for f in files:
        try:
            sizes.append(f.stat().st_size)
        except OSError:
            sizes.append(0)
    return sizes


def _in_parallel(task: Callable[[list[int]], list[tuple[int, str]]], files: Sequence[Path],
                 workers: int | None, progress: Progress | None, message: str
                 ) -> list[tuple[int, str]]:
    """``task(indices)`` over the files in chunks, on ``workers`` threads; the failures it
    reports, in order. ``progress(bytes done, bytes in all, 'reading images: 96 of 1,797')``
    hears of each chunk (and may raise to stop: the chunks not begun are dropped)."""
    n = len(files)
    chunks = [list(range(i, min(i + CHUNK, n))) for i in range(0, n, CHUNK)]
    workers = default_workers() if workers is None else max(1, int(workers))
    sizes = _file_sizes(files) if progress is not None else [0] * n
    total = sum(sizes)
    failed: list[tuple[int, str]] = []
    done = done_bytes = 0

    def report(chunk: list[int]) -> None:
        nonlocal done, done_bytes
        done += len(chunk)
        done_bytes += sum(sizes[i] for i in chunk)
        if progress is not None:
            progress(done_bytes, total, f"{message}: {done:,} of {n:,}")

    if workers == 1 or len(chunks) <= 1:
        for chunk in chunks:
            failed += task(chunk)
            report(chunk)
        return failed
    with ThreadPoolExecutor(min(workers, len(chunks)), thread_name_prefix="images") as pool:
        futures = [pool.submit(task, chunk) for chunk in chunks]
        try:
            for chunk, future in zip(chunks, futures):
                failed += future.result()
                report(chunk)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return failed


def decode_all(files: Sequence[Path], shape: tuple[int, int, int], workers: int | None = None,
               progress: Progress | None = None) -> tuple[torch.Tensor, list[tuple[int, str]]]:
    """Every file as uint8 (N, C, H, W) in the design's ``shape``, and (index, why) of those that
    could not be read (their rows are left zero)."""
    mode = image_mode(shape[0])
    out = torch.zeros((len(files), *shape), dtype=torch.uint8)
    rows = out.numpy()

    def task(indices: list[int]) -> list[tuple[int, str]]:
        failed = []
        for i in indices:
            try:
                rows[i] = _read(files[i], mode, shape)
            except Unreadable as why:
                failed.append((i, str(why)))
        return failed

    failed = _in_parallel(task, files, workers, progress, "reading images")
    return out, failed


def check_all(files: Sequence[Path], workers: int | None = None,
              progress: Progress | None = None) -> list[tuple[int, str]]:
    """(index, why) of the files whose headers Pillow cannot read (or that are too large)."""
    image_module = _pillow()
    if image_module is None:
        raise _needs_pillow()

    def task(indices: list[int]) -> list[tuple[int, str]]:
        failed = []
        for i in indices:
            try:
                _open(image_module, files[i]).close()
            except Unreadable as why:
                failed.append((i, str(why)))
        return failed

    return _in_parallel(task, files, workers, progress, "checking images")


class FolderSource:
    """Image files read, converted and resized to the design's input when asked for (sets too
    large to hold in memory). Picklable, for loader workers."""

    def __init__(self, files: list[Path], shape: tuple[int, int, int]):
        self.files = list(files)
        self.shape = tuple(shape)
        self.mode = image_mode(self.shape[0])

    def __len__(self) -> int:
        return len(self.files)

    def take(self, indices) -> FolderSource:
        return FolderSource([self.files[int(i)] for i in indices], self.shape)

    def __call__(self, indices) -> torch.Tensor:
        out = torch.empty((len(indices), *self.shape), dtype=torch.uint8)
        rows = out.numpy()
        for row, i in enumerate(indices):
            rows[row] = read_image(self.files[int(i)], self.mode, self.shape)
        return out


def read_split(root: Path, classes: dict[str, list[Path]], names: list[str],
               shape: tuple[int, int, int], eager_limit: int, workers: int | None,
               progress: Progress | None) -> tuple[torch.Tensor | FolderSource, torch.Tensor,
                                                   tuple[int, int, int] | None, str]:
    """One split's images (decoded, or a FolderSource where too large), labels, the stored shape
    of its first readable image, and the note on skipped files."""
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(names):
        found = classes.get(name, [])
        files += found
        labels += [label] * len(found)
    bad = BadFiles(root, len(files))
    if len(files) * int(np.prod(shape)) <= eager_limit:
        images, failed = decode_all(files, shape, workers, progress)
    else:
        images, failed = FolderSource(files, shape), check_all(files, workers, progress)
    bad.found = [(files[i], why) for i, why in failed]
    note = bad.check()
    keep = torch.ones(len(files), dtype=torch.bool)
    y = torch.tensor(labels, dtype=torch.int64)
    if failed:
        keep[torch.tensor([i for i, _ in failed], dtype=torch.int64)] = False
        left = torch.bincount(y[keep], minlength=len(names))
        lost = [names[c] for c in range(len(names)) if left[c] == 0 and classes.get(names[c])]
        if lost:
            raise DatasetError(f"{root}: no image of the class{'es' if len(lost) > 1 else ''} "
                               f"{', '.join(lost[:LISTED])} can be read: {bad.listed()}",
                               BAD_FILES_ADVICE)
        index = keep.nonzero()[:, 0]
        images = images.take(index) if isinstance(images, FolderSource) else images[index]
        y = y[index]
    first = next((files[i] for i in range(len(files)) if keep[i]), None)
    stored = probe_image(first) if first is not None else None
    return images, y, stored, note


def shape_note(stored: tuple[int, int, int], shape: tuple[int, int, int]) -> str:
    if tuple(stored) == tuple(shape):
        return ""
    return (f"resized from images such as {shape_text(stored)} to {shape_text(shape)} "
            f"({'grey' if shape[0] == 1 else 'RGB'})")


def read_folder(root: Path, shape: tuple[int, int, int], eager_limit: int,
                workers: int | None = None, progress: Progress | None = None) -> UserSet:
    """The folder's images in the design's ``shape``: both splits where it has ``train/`` and
    ``val/``, else the training split only (load_datasets holds some back)."""
    train, val = scan_folder(root)
    if _pillow() is None:
        raise _needs_pillow()
    names = sorted(train)
    image_mode(shape[0])  # 1 or 3 channels, else a clear error
    train_x, train_y, stored, note = read_split(root, train, names, shape, eager_limit,
                                                workers, progress)
    notes = [shape_note(stored or shape, shape), note]
    val_x = val_y = None
    if val is not None:
        val_x, val_y, _, val_note = read_split(root, val, names, shape, eager_limit, workers,
                                               progress)
        notes.append(val_note.replace("skipped", "validation: skipped", 1))
    return UserSet(train_x, train_y, val_x, val_y, names, tuple(stored or shape),
                   [n for n in notes if n])
