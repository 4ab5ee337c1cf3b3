"""Fetching the standard data sets' files into a cache folder, with progress and checksums.

Each file streams into a temporary file beside its final place, its MD5 is checked against the
one the data set's authors publish, and only then is it renamed into place: an interrupted or
corrupted download never leaves a file that looks complete. ``progress(done, total, message)``
is called as bytes arrive; if it raises, the download stops, the partial file is removed and the
exception goes on to the caller (that is how a user cancels).

The base URL of every set can be overridden for tests and offline mirrors: the ``mirror``
argument, else the ``CONVNET_DATA_MIRROR`` environment variable, else ``BASE_URLS``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .common import DatasetError

Progress = Callable[[int, "int | None", str], None]

BASE_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "cifar100": "https://www.cs.toronto.edu/~kriz/",
}

# file name -> MD5, as published by the data sets' authors (CIFAR: the binary version)
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

MIRROR_ENV = "CONVNET_DATA_MIRROR"
CHUNK = 1 << 16
TIMEOUT_S = 30


def default_cache_dir() -> Path:
    """Where downloads go: the platform's user cache folder, under convnet-designer/datasets."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "convnet-designer" / "Cache" / "datasets"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "convnet-designer" / "datasets"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "convnet-designer" / "datasets"


def base_url(name: str, mirror: str | None = None) -> str:
    url = mirror or os.environ.get(MIRROR_ENV) or BASE_URLS[name]
    return url if url.endswith("/") else url + "/"


def missing_files(name: str, folder: Path) -> list[str]:
    return [f for f in FILES[name] if not (folder / f).is_file()]


def download(name: str, cache_dir: str | os.PathLike | None = None,
             progress: Progress | None = None, mirror: str | None = None, *,
             folder: str | os.PathLike | None = None) -> Path:
    """Fetch the standard files of ``name`` that its folder lacks; return the folder.

    The folder is ``cache_dir / name`` (``cache_dir`` by default ``default_cache_dir()``, the
    same folder ``load_datasets`` looks in), or ``folder`` itself where given.
    """
    if name not in FILES:
        raise DatasetError(f"there is nothing to download for {name!r}: the standard sets are "
                           + ", ".join(FILES))
    if folder is not None:
        folder = Path(folder)
    else:
        folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"cannot create the download folder {folder}: {error}") from None
    for filename in missing_files(name, folder):
        fetch(base_url(name, mirror) + filename, folder / filename, FILES[name][filename],
              progress)
    return folder


def fetch(url: str, target: Path, md5: str, progress: Progress | None = None) -> None:
    """Stream ``url`` into ``target`` through a temporary file, checking its MD5."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", error)
                raise DatasetError(f"could not download {url}: {reason}") from None
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                message = f"downloading {target.name}"
                if progress is not None:
                    progress(0, total, message)
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except OSError as error:
                        raise DatasetError(f"the download of {url} broke off after {done} "
                                           f"bytes: {error}") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total, message)
        if total is not None and done != total:
            raise DatasetError(f"the download of {url} stopped at {done} of {total} bytes")
        got = digest.hexdigest()
        if got != md5:
            raise DatasetError(f"{target.name} from {url} is corrupt: its MD5 checksum is {got} "
                               f"but the published checksum is {md5}; it was not kept")
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
