"""Fetching the standard data sets' files into a cache folder, with progress and checksums.

Each file streams into a temporary file beside its final place, its MD5 is checked against the
one the data set's authors publish, and only then is it renamed into place: an interrupted or
corrupted download never leaves a file that looks complete. ``progress(done, total, message)``
is called as bytes arrive; if it raises, the download stops, the partial file is removed and the
exception goes on to the caller (that is how a user cancels).

Every download is bounded: it may be no larger than the published file (``FILES`` holds each
file's size with its checksum: a server that announces another Content-Length, or sends more, is
refused at once), it must finish within ``deadline_s(size)`` (``DEADLINE_FLOOR_S`` plus the size
at ``MIN_RATE``), and no single wait for the server lasts longer than ``READ_TIMEOUT_S``; each
read takes what has arrived (never waits to fill a chunk), so ``progress`` can cancel between
reads however slowly the bytes come.

The base URL of every set can be overridden for tests and offline mirrors: the ``mirror``
argument, else the ``CONVNET_DATA_MIRROR`` environment variable, else ``BASE_URLS``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .common import DatasetError, Progress

BASE_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "cifar100": "https://www.cs.toronto.edu/~kriz/",
}

# file name -> (MD5, size in bytes), as published by the data sets' authors (CIFAR: the binary
# version)
FILES = {
    "mnist": {
        "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
        "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", 28_881),
        "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", 1_648_877),
        "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", 4_542),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
        "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", 29_515),
        "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", 4_422_102),
        "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", 5_148),
    },
    "cifar10": {"cifar-10-binary.tar.gz": ("c32a1d4ab5d03f1284b67883e8d87530", 170_052_171)},
    "cifar100": {"cifar-100-binary.tar.gz": ("03b5dce01913d631647c71ecec9e9cb8", 168_513_733)},
}

MIRROR_ENV = "CONVNET_DATA_MIRROR"
CHUNK = 1 << 16
READ_TIMEOUT_S = 20  # the longest the connection, or one read, waits for the server
DEADLINE_FLOOR_S = 120  # a download may take this long, plus its size at MIN_RATE
MIN_RATE = 32 << 10  # bytes a second (the largest file, CIFAR-10's 162 MiB: 88 minutes)

NETWORK_ADVICE = (f"check the internet connection (or the mirror set in {MIRROR_ENV}) and try "
                  f"again, or put the files into the data set's folder yourself")
NOT_PUBLISHED_ADVICE = (f"the server did not send the published file: try again later, or use "
                        f"another mirror ({MIRROR_ENV})")


def deadline_s(size: int) -> float:
    """The longest the download of a file of ``size`` bytes may take, in seconds."""
    return DEADLINE_FLOOR_S + size / MIN_RATE


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
                           + ", ".join(FILES),
                           "download mnist, fashion-mnist, cifar10 or cifar100; give other "
                           "data a path")
    if folder is not None:
        folder = Path(folder)
    else:
        folder = Path(cache_dir if cache_dir is not None else default_cache_dir()) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"cannot create the download folder {folder}: {error}",
                           "choose a data path in a folder you can write to, or make room in "
                           "the cache folder") from None
    for filename in missing_files(name, folder):
        md5, size = FILES[name][filename]
        fetch(base_url(name, mirror) + filename, folder / filename, md5, size, progress)
    return folder


def fetch(url: str, target: Path, md5: str, size: int, progress: Progress | None = None) -> None:
    """Stream ``url`` into ``target`` through a temporary file: no more than ``size`` bytes,
    within ``deadline_s(size)``, its MD5 checked. ``DatasetError`` says what went wrong (with
    advice that fits); the temporary file is removed whatever happens."""
    started = time.monotonic()
    allowed = deadline_s(size)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        done = 0
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=READ_TIMEOUT_S)
            except urllib.error.HTTPError as error:
                raise DatasetError(f"could not download {url}: the server answered "
                                   f"{error.code} {error.reason}", NETWORK_ADVICE) from None
            except (urllib.error.URLError, OSError, ValueError,
                    http.client.HTTPException) as error:
                reason = getattr(error, "reason", error)
                raise DatasetError(f"could not download {url}: {reason}",
                                   NETWORK_ADVICE) from None
            with response:
                length = (response.headers.get("Content-Length") or "").strip()
                if length and length != str(size):
                    raise DatasetError(f"{url} announces {length} bytes but {target.name} has "
                                       f"{size}: it is not the published file; nothing was "
                                       f"kept", NOT_PUBLISHED_ADVICE)
                message = f"downloading {target.name}"
                if progress is not None:
                    progress(0, size, message)
                while True:
                    elapsed = time.monotonic() - started
                    if elapsed > allowed:
                        raise DatasetError(
                            f"the download of {url} took longer than {allowed:.0f} s (it had "
                            f"{done} of {size} bytes after {elapsed:.0f} s): the connection is "
                            f"too slow or stalled; nothing was kept",
                            f"try again later, or use a faster mirror ({MIRROR_ENV})")
                    try:  # what has arrived, up to one byte more than the file may have
                        chunk = response.read1(min(CHUNK, size + 1 - done))
                    except (OSError, ValueError, http.client.HTTPException) as error:
                        raise DatasetError(f"the download of {url} broke off after {done} "
                                           f"bytes: {error or type(error).__name__}",
                                           NETWORK_ADVICE) from None
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > size:
                        raise DatasetError(f"{url} sends more than the {size} bytes of "
                                           f"{target.name}: it is not the published file; "
                                           f"nothing was kept", NOT_PUBLISHED_ADVICE)
                    out.write(chunk)
                    digest.update(chunk)
                    if progress is not None:
                        progress(done, size, message)
        if done != size:
            raise DatasetError(f"the download of {url} stopped at {done} of {size} bytes; "
                               f"nothing was kept", NETWORK_ADVICE)
        got = digest.hexdigest()
        if got != md5:
            raise DatasetError(f"{target.name} from {url} is corrupt: its MD5 checksum is {got} "
                               f"but the published checksum is {md5}; it was not kept",
                               NOT_PUBLISHED_ADVICE)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
