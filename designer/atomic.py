"""Atomic, safe file writes: every output goes to a temporary file beside its target, made
exclusively under a name of its own, flushed to disk and renamed over the target, so the target
is always either the old file or the new one, never a half-written mix.

    write_bytes(path, data), write_text(path, text)   # the whole output at once
    with replacing(path) as tmp: ...                  # a writer that wants a file name
    with staging(path) as folder: ...; commit(src, path)   # several files (ONNX + its data)
    clean_stale(path)                                 # our leftovers of a killed write

The temporary names are `.NAME.<8 random characters>.tmp` (tempfile.mkstemp / mkdtemp in the
target's folder: created with O_EXCL, so a file or symlink planted at any such name is never
opened or followed; another name is drawn). The replaced file's permissions are kept (a new file
gets what the umask gives). A failure or an exception removes the temporary file; a process
killed mid-write leaves one behind, which the next write to the same target removes once it is
STALE_AFTER_S old (younger ones may be another process's write in progress). Nothing but names
of that pattern for that target is ever removed, and a symlink is only unlinked, never followed.

Standard library only: designer/model may use it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["STALE_AFTER_S", "clean_stale", "commit", "is_temp_name", "mode_for", "replacing",
           "staging", "temp_prefix", "write_bytes", "write_text"]

SUFFIX = ".tmp"
STALE_AFTER_S = 3600.0  # a leftover this old is no write in progress
_RANDOM = "[a-z0-9_]{8}"  # what tempfile draws for the XXXXXXXX of its names
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def temp_prefix(path: str | os.PathLike[str]) -> str:
    """The start of the temporary names for `path`: `.NAME.`"""
    return f".{Path(path).name}."


def is_temp_name(name: str, target: str | os.PathLike[str]) -> bool:
    """Whether `name` (a file name, no folder) is one of our temporary names for `target`."""
    return re.fullmatch(re.escape(temp_prefix(target)) + _RANDOM + re.escape(SUFFIX),
                        name) is not None


def mode_for(path: str | os.PathLike[str]) -> int:
    """The permissions a new version of `path` gets: the replaced file's, or what the umask
    gives a new file (mkstemp's own are 0600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _folder(target: Path) -> Path:
    return Path(os.path.abspath(target.parent if str(target.parent) else "."))


def write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None,
                clean: bool = True) -> None:
    """Replace `path` by `data` atomically (see the module's docstring)."""
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=SUFFIX, dir=_folder(target))
    try:
        try:
            _fchmod(fd, name, mode_for(target) if mode is None else mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(name, target)
    except BaseException:
        _discard(name)
        raise
    _sync_folder(target)
    if clean:
        clean_stale(target)


def write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
               mode: int | None = None, clean: bool = True) -> None:
    """Replace `path` by `text` atomically (no newline translation)."""
    write_bytes(path, text.encode(encoding), mode=mode, clean=clean)


@contextmanager
def replacing(path: str | os.PathLike[str], *, mode: int | None = None,
              clean: bool = True) -> Iterator[Path]:
    """A new, empty temporary file beside `path` (ours alone: made exclusively, 0600) for a
    writer that wants a file name; when the block ends without an exception it is flushed to
    disk and renamed over `path`. On an exception it is removed and `path` is left as it was."""
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=SUFFIX, dir=_folder(target))
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        commit(tmp, target, mode=mode, clean=clean)
    except BaseException:
        _discard(tmp)
        raise


@contextmanager
def staging(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A new private folder beside `path` (`.NAME.<random>.tmp`, made exclusively, 0700) for
    a writer that makes several files; commit() each one into place. The folder and whatever
    is left in it are removed when the block ends, however it ends."""
    target = Path(path)
    folder = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=SUFFIX,
                                   dir=_folder(target)))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def commit(src: str | os.PathLike[str], path: str | os.PathLike[str], *,
           mode: int | None = None, clean: bool = True) -> None:
    """Flush the finished file `src` (ours, in the target's folder) to disk, give it the
    replaced file's permissions and rename it over `path`. `src` must still be a regular file
    (never a symlink: it is not followed)."""
    target = Path(path)
    fd = os.open(src, os.O_RDWR | _NOFOLLOW | _CLOEXEC | _BINARY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"cannot write {target}: the temporary file {src} is not a file")
        _fchmod(fd, src, mode_for(target) if mode is None else mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(src, target)
    _sync_folder(target)
    if clean:
        clean_stale(target)


def clean_stale(path: str | os.PathLike[str], older_than: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporary files (and staging folders) of ours for `path` that are older than
    `older_than` seconds: what a killed write left. Nothing else is touched; a symlink with such
    a name is unlinked, never followed; errors are ignored. What was removed."""
    target = Path(path)
    folder = _folder(target)
    now = time.time()
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_temp_name(entry.name, target):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if now - _newest(entry.path, st.st_mtime) < older_than:
                    continue
                shutil.rmtree(entry.path)  # fd-based: links inside are unlinked, not followed
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                if now - st.st_mtime < older_than:
                    continue
                os.unlink(entry.path)
            else:
                continue  # a fifo, a socket, a device: not ours
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _newest(folder: str, mtime: float) -> float:
    """The latest change inside a staging folder (a big export writes there for a while)."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    mtime = max(mtime, entry.stat(follow_symlinks=False).st_mtime)
                except OSError:
                    pass
    except OSError:
        pass
    return mtime


def _fchmod(fd: int, name: str | os.PathLike[str], mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:  # Windows
        os.chmod(name, mode)


def _discard(name: str | os.PathLike[str]) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _sync_folder(target: Path) -> None:
    """Flush the rename itself to disk, where a folder can be opened (not on Windows)."""
    try:
        fd = os.open(_folder(target), os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
