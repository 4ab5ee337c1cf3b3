"""The trained weights a design keeps, beside its file: one folder per run. No Qt; torch only
where a file is checked (runs.py reads it).

    NAME.convnet.json                      the design; its runs are `training.runs`, each with
                                           an "id", the "version" it trained (model/versions.py)
                                           and the "weights" it left ("last", "best")
    NAME.weights/<id>/last.safetensors     the run's state at its end: resumable (runs.py)
    NAME.weights/<id>/best.safetensors     at its best validation accuracy

A run the window starts writes its checkpoints into a working folder of the session
(`RunStore.new_run_folder`); saving the design copies the files of the runs it keeps into the
design's weights folder (and deletes there the folders of runs it no longer keeps), so that the
folder always matches the file saved. Reopening finds them there; `problems` says which are
missing or damaged. A design saved without weights (for sharing) has runs without "weights".

Run ids are checked (RUN_ID) before they name a folder: a design file is user input, and an id
such as "../x" must never reach the file system.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..atomic import replacing
from ..model.design_file import SUFFIX
from ..model.versions import is_key

RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
KINDS = ("best", "last")  # the weights a run may leave, the one to use first
WEIGHTS_SUFFIX = ".weights"


def new_run_id() -> str:
    """'20261203-104233-3f9c0e': when the run started, and six random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def is_run_id(value: Any) -> bool:
    return isinstance(value, str) and RUN_ID.fullmatch(value) is not None


def weights_folder(design_path: str | os.PathLike[str]) -> Path:
    """NAME.convnet.json -> NAME.weights (a design file without the suffix: FILE.weights)."""
    path = Path(design_path)
    stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
    return path.with_name(stem + WEIGHTS_SUFFIX)


def run_started(record: dict[str, Any]) -> str:
    """'10:42' (and the day, when it was not today) from a run's id, or '' for another id."""
    rid = record.get("id")
    if not is_run_id(rid):
        return ""
    day, clock = rid[:8], f"{rid[9:11]}:{rid[11:13]}"
    if day == time.strftime("%Y%m%d"):
        return clock
    return f"{day[:4]}-{day[4:6]}-{day[6:8]} {clock}"


def kept_weights(record: dict[str, Any]) -> list[str]:
    """The kinds of weights a run record says it left ("best", "last"), checked."""
    if not isinstance(record, dict) or not is_run_id(record.get("id")):
        return []
    kinds = record.get("weights")
    return [k for k in KINDS if isinstance(kinds, list) and k in kinds]


def without_weights(runs: Iterable[Any]) -> list[Any]:
    """The run records as a design shared without weights keeps them (curves, figures)."""
    return [{k: v for k, v in r.items() if k != "weights"} if isinstance(r, dict) else r
            for r in runs]


class RunStore:
    """Where a design's runs keep their weights: the session's working folder for runs not
    saved yet, the design file's weights folder for the rest."""

    def __init__(self, work_dir: str | os.PathLike[str] | None = None):
        self._work: Path | None = Path(work_dir) if work_dir is not None else None
        self._own_work = work_dir is None
        self.design_path: str | None = None

    # ----------------------------------------------------------------------------- where

    @property
    def work_dir(self) -> Path:
        """The session's folder for new runs (made on first use)."""
        if self._work is None:
            self._work = Path(tempfile.mkdtemp(prefix="convnet-designer-runs-"))
            # gone with the store (or at exit) even where close() is never called
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._work), True)
        self._work.mkdir(parents=True, exist_ok=True)
        return self._work

    def new_run_folder(self, run_id: str) -> Path:
        """The checkpoint folder of a run starting now."""
        if not is_run_id(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.work_dir / run_id

    def files(self, record: dict[str, Any]) -> dict[str, Path]:
        """The run's weights files that exist ("best", "last" -> path): the session's first
        (a run since the last save), then the design's weights folder."""
        found: dict[str, Path] = {}
        rid = record.get("id") if isinstance(record, dict) else None
        for kind in kept_weights(record):
            for folder in self._folders(rid):
                path = folder / f"{kind}.safetensors"
                if path.is_file():
                    found[kind] = path
                    break
        return found

    def weights_for(self, runs: Iterable[Any], version: str) -> tuple[dict, Path] | None:
        """The latest run of `version` whose weights are here, and the file to use (its best,
        else its last); None when that version was never trained (or its files are gone)."""
        for record in reversed([r for r in runs if isinstance(r, dict)]):
            if record.get("version") != version or not is_key(version):
                continue
            files = self.files(record)
            for kind in KINDS:
                if kind in files:
                    return record, files[kind]
        return None

    def _folders(self, rid: str) -> list[Path]:
        folders = []
        if self._work is not None:
            folders.append(self._work / rid)
        if self.design_path:
            folders.append(weights_folder(self.design_path) / rid)
        return folders

    # ----------------------------------------------------------------------------- checks

    def problems(self, runs: Iterable[Any]) -> list[str]:
        """What is wrong with the weights a design's runs say they kept: a file missing, or
        damaged (its header unreadable: runs.read_info). One line per run, naming the file.
        (A design without kept weights has nothing to check: torch is not even imported.)"""
        kept = [(record, kinds) for record in runs if (kinds := kept_weights(record))]
        if not kept:
            return []
        from . import runs as checkpoints

        out = []
        for record, kinds in kept:
            files = self.files(record)
            for kind in kinds:
                path = files.get(kind)
                if path is None:
                    where = (weights_folder(self.design_path) if self.design_path
                             else Path("<no weights folder>")) / record["id"]
                    out.append(f"{where / (kind + '.safetensors')} is missing")
                    break
                try:
                    checkpoints.read_info(path)
                except checkpoints.CheckpointError as e:
                    out.append(str(e))
                    break
        return out

    # ----------------------------------------------------------------------------- saving

    def save(self, design_path: str | os.PathLike[str], runs: list[Any]) -> list[Any]:
        """Put the weights of `runs` into the weights folder of `design_path` (copying what is
        elsewhere, atomically per file), delete there the folders of runs not in `runs`, and
        return the records as they are saved: a run whose files are nowhere keeps no
        "weights". Raises OSError (the design file is then not to be written)."""
        folder = weights_folder(design_path)
        saved, keep = [], set()
        for record in runs:
            if not isinstance(record, dict) or not kept_weights(record):
                saved.append(record)
                continue
            files = self.files(record)
            if not files:
                saved.append({k: v for k, v in record.items() if k != "weights"})
                continue
            rid = record["id"]
            keep.add(rid)
            for kind, source in files.items():
                _copy(source, folder / rid / f"{kind}.safetensors")
            saved.append({**record, "weights": [k for k in KINDS if k in files]})
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and is_run_id(child.name) and child.name not in keep:
                    shutil.rmtree(child, ignore_errors=True)
            if not any(folder.iterdir()):
                folder.rmdir()
        self.design_path = str(design_path)
        return saved

    def close(self) -> None:
        """Delete the session's working folder (runs not saved by now are given up)."""
        if self._own_work and self._work is not None:
            self._cleanup()
            self._work = None


def _copy(source: Path, target: Path) -> None:
    """source -> target, atomically; nothing done where target is already that file."""
    if target.exists():
        try:
            if target.samefile(source):
                return
            a, b = source.stat(), target.stat()
            if (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns):
                return  # copied at an earlier save
        except OSError:
            pass
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target) as tmp:
        shutil.copy2(source, tmp)  # its times too: the next save sees the same file
