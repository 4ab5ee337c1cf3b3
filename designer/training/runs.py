"""Resumable checkpoints: everything a run needs to continue exactly where it was, in one
safetensors file. Nothing is ever unpickled. TORCH, no Qt.

    write_checkpoint(path, state)        # atomically (designer/atomic.py's replacing)
    state = read_checkpoint(path)        # the same structure back, tensors on the CPU
    info = read_info(path)               # the "meta" part only (the header: instant)
    weights, meta = read_weights(path)   # the model's state_dict and the meta

The file (``last.safetensors``, ``best.safetensors`` in a run's checkpoint folder) is a plain
safetensors file: every tensor of the state is one named tensor in it (``model/conv1.weight``,
``optimizer/state/0/momentum_buffer``, ``rng/torch``, ``order``, ...), and its string metadata
holds

    format   "convnet-designer-run"      version  "1"
    state    JSON: the state's structure, each tensor written {"$tensor": NAME}
    digests  JSON: NAME -> a BLAKE2b digest of the tensor's bytes (damage is found on reading)
    meta     JSON: the state's "meta" as plain JSON (non-finite numbers as null), for readers
             without this module: the weights are the tensors "model/" + the state_dict's key

    from safetensors import safe_open            # all another program needs
    with safe_open("best.safetensors", "pt") as f:
        meta = json.loads(f.metadata()["meta"])
        weights = {k[6:]: f.get_tensor(k) for k in f.keys() if k.startswith("model/")}

``state`` is any nesting of dicts, lists, tuples, tensors and JSON values (dicts with keys that
are not strings, tuples, non-finite floats and numpy arrays are written as {"$items": ...},
{"$tuple": ...}, {"$float": "nan"}, {"$ndarray": ...}). The Trainer's state is

    model, optimizer, scheduler, scaler   their state_dicts (scheduler and scaler: plain numbers)
    rng        python (random.getstate), numpy (np.random.get_state), torch (CPU, a uint8
               tensor), cuda (one per GPU, where CUDA was used), mps
    order      the batch-order generator's state at the start of the pass of the epoch in
               progress (see batches.py: that pass is made again and its first `step`
               batches skipped)
    sums       the epoch in progress: its loss sum and correct count (tensors), images seen
    meta       JSON only: epoch, step (batches of that epoch done), steps_per_epoch,
               epochs_done, global_step, history (one EpochEvent each), best_val_accuracy,
               config, design (the design file's text), design_name, input_shape, classes,
               normalisation (mean, std), train_samples, val_samples, torch, file, and the
               epoch's figures (train_loss, val_accuracy, ...) at an epoch's end

This module imports the standard library, numpy, torch, safetensors and its package's plain
modules only (an exported project may copy it beside basics.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import replacing

__all__ = ["FILES", "FORMAT", "RESUME_FREE", "VERSION", "CheckpointError", "ResumeError",
           "capture_rng", "config_conflicts", "design_difference", "find_checkpoints",
           "is_safetensors", "open_resume", "read_checkpoint", "read_info", "read_weights",
           "restore_rng", "restore_training", "resume_problem", "training_state",
           "write_checkpoint"]

FORMAT = "convnet-designer-run"
VERSION = 1
FILES = ("last.safetensors", "best.safetensors")  # what a run writes in its checkpoint folder
# settings a resumed run may change: how long, where, on what (everything else makes a
# different run: the checkpoint's values hold)
RESUME_FREE = ("epochs", "device", "num_workers", "checkpoint_dir", "channels_last",
               "memory_format", "cudnn_benchmark", "compile", "data_on_device",
               "data.path", "data.download")
_DIGEST = 16  # bytes of BLAKE2b per tensor
_MAX_HEADER = 100 << 20  # safetensors' own limit on the header


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read; the message names the file and what is
    wrong with it."""


# ---------------------------------------------------------------------------------------------
# Writing and reading


def write_checkpoint(path: str | os.PathLike[str], state: dict[str, Any],
                     also: tuple[str | os.PathLike[str], ...] = ()) -> None:
    """Write `state` (see the module's docstring) to `path`, and the same to every path of
    `also`: each one atomically (a temporary file beside it, flushed, renamed over it)."""
    save_file = _safetensors().torch.save_file
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(state, (), tensors)
    storages = set()
    for name, t in tensors.items():  # safetensors keeps no shared storage: copies where shared
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in storages:
            tensors[name] = t = t.clone()
        storages.add(t.untyped_storage().data_ptr())
    digests = {name: _digest(t) for name, t in tensors.items()}
    metadata = {"format": FORMAT, "version": str(VERSION),
                "state": json.dumps(skeleton, allow_nan=False, separators=(",", ":")),
                "digests": json.dumps(digests, separators=(",", ":"))}
    if isinstance(state.get("meta"), dict):
        metadata["meta"] = json.dumps(_plain(state["meta"]), allow_nan=False,
                                      ensure_ascii=False)
    for target in (path, *also):
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(target) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state written by write_checkpoint, its tensors on the CPU. CheckpointError when the
    file is missing, not such a checkpoint, of a newer version, or damaged."""
    with _opened(path) as (handle, skeleton, digests):
        return _join(skeleton, lambda name: _tensor(handle, name, digests, path), path)


def read_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's "meta" (epoch, step, config, design, history, ...): its header only."""
    with _opened(path) as (_, skeleton, _digests):
        meta = skeleton.get("meta") if isinstance(skeleton, dict) else None
        if not isinstance(meta, dict):
            raise CheckpointError(f"{path}: the checkpoint has no metadata (damaged?)")
        return _join(meta, lambda name: _no_tensor(path, name), path)


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor],
                                                        dict[str, Any]]:
    """(the model's state_dict, the meta) of a checkpoint: the model's tensors only are read."""
    with _opened(path) as (handle, skeleton, digests):
        if not isinstance(skeleton, dict) or not isinstance(skeleton.get("model"), dict):
            raise CheckpointError(f"{path}: the checkpoint holds no model weights")
        load = lambda name: _tensor(handle, name, digests, path)  # noqa: E731
        weights = _join(skeleton["model"], load, path)
        meta = _join(skeleton.get("meta") or {}, load, path)
    return weights, meta


def is_safetensors(path: str | os.PathLike[str]) -> bool:
    """Whether the file starts the way a safetensors file does (an 8-byte header length, then
    the JSON header): how a checkpoint of this module is told from a torch.save one."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and \
        0 < int.from_bytes(head[:8], "little") <= _MAX_HEADER


def find_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """The checkpoints of a run's folder, resumable ones first: last/best.safetensors, then
    the weights-only best.pt / last.pt of older versions and of exported projects."""
    folder = Path(folder)
    names = (*FILES, "best.pt", "last.pt")
    return [folder / n for n in names if (folder / n).is_file()]


@contextmanager
def _opened(path: str | os.PathLike[str]):
    """A checkpoint opened: (safe_open handle, the state's structure, the digests)."""
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not is_safetensors(path):
        raise CheckpointError(f"{path}: not a checkpoint of this format (not a safetensors "
                              "file; an older .pt file holds weights only)")
    st = _safetensors()
    try:
        opened = st.safe_open(str(path), framework="pt", device="cpu")
        meta = opened.metadata() or {}
    except Exception as e:  # noqa: BLE001 - SafetensorError and the OS's errors
        raise _damaged(path, f"its header cannot be read ({e})") from None
    with opened as handle:
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: a safetensors file, but not a ConvNet Designer "
                                  "checkpoint (read it with safetensors)")
        version = meta.get("version", "")
        if not version.isdigit() or int(version) > VERSION:
            raise CheckpointError(f"{path}: a checkpoint of version {version[:20]!r}, newer "
                                  f"than this ConvNet Designer reads ({VERSION}): update it")
        try:
            skeleton = json.loads(meta["state"], parse_constant=_no_constant)
            digests = json.loads(meta.get("digests", "{}"), parse_constant=_no_constant)
        except (KeyError, ValueError, RecursionError) as e:
            raise _damaged(path, f"its metadata is not valid JSON ({e})") from None
        if not isinstance(digests, dict):
            raise _damaged(path, "its digests are not a table")
        yield handle, skeleton, digests


def _tensor(handle, name: str, digests: dict, path) -> torch.Tensor:
    try:
        t = handle.get_tensor(name)
    except Exception as e:  # noqa: BLE001
        raise _damaged(path, f"its tensor {name!r} cannot be read ({e})") from None
    if digests.get(name) != _digest(t):
        raise _damaged(path, f"its tensor {name!r} is not what was written")
    return t


def _no_tensor(path, name: str):
    raise _damaged(path, f"its metadata holds a tensor ({name})")


def _damaged(path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: the checkpoint is damaged or incomplete: {what}; use "
                           "another checkpoint (best.safetensors, or an earlier copy)")


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _safetensors():
    try:
        import safetensors
        import safetensors.torch  # noqa: F401
    except ImportError:
        raise CheckpointError("safetensors is missing: pip install safetensors") from None
    return safetensors


def _digest(t: torch.Tensor) -> str:
    raw = t.detach().reshape(-1).contiguous().view(torch.uint8)
    h = hashlib.blake2b(digest_size=_DIGEST)
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    if raw.numel():
        h.update(memoryview(raw.cpu().numpy()))
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# A state's structure as JSON, its tensors apart


def _split(value: Any, path: tuple[str, ...], tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        name = "/".join(path) or "tensor"
        while name in tensors:
            name += "~"
        tensors[name] = value.detach().cpu().contiguous()
        return {"$tensor": name}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.generic):
        return _split(value.item(), path, tensors)
    if isinstance(value, np.ndarray):
        return {"$ndarray": {"dtype": str(value.dtype), "shape": list(value.shape),
                             "data": value.reshape(-1).tolist()}}
    if isinstance(value, tuple):
        return {"$tuple": [_split(v, (*path, str(i)), tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_split(v, (*path, str(i)), tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _split(v, (*path, k), tensors) for k, v in value.items()}
        return {"$items": [[_split(k, path, {}), _split(v, (*path, str(k)), tensors)]
                           for k, v in value.items()]}
    raise CheckpointError(f"cannot write {'/'.join(path) or 'the state'} into a checkpoint: "
                          f"a {type(value).__name__} is neither a tensor nor plain data")


def _plain(value: Any) -> Any:
    """`value` as plain JSON: non-finite numbers null, tuples lists, tensors left out."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not torch.is_tensor(v)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value if not torch.is_tensor(v)]
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _join(value: Any, tensor, path) -> Any:
    if isinstance(value, list):
        return [_join(v, tensor, path) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, inner), = value.items()
        if key == "$tensor" and isinstance(inner, str):
            return tensor(inner)
        if key == "$float" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if key == "$tuple" and isinstance(inner, list):
            return tuple(_join(v, tensor, path) for v in inner)
        if key == "$items" and isinstance(inner, list):
            try:
                return {_join(k, tensor, path): _join(v, tensor, path) for k, v in inner}
            except (TypeError, ValueError):
                raise _damaged(path, "a table of its state is malformed") from None
        if key == "$ndarray" and isinstance(inner, dict):
            try:
                return np.asarray(inner["data"], dtype=inner["dtype"]).reshape(inner["shape"])
            except (KeyError, TypeError, ValueError):
                raise _damaged(path, "an array of its state is malformed") from None
    if any(k.startswith("$") for k in value):
        raise _damaged(path, f"its state holds an unknown entry {next(iter(value))!r}")
    return {k: _join(v, tensor, path) for k, v in value.items()}


# ---------------------------------------------------------------------------------------------
# Random number generators


def capture_rng(device: torch.device | None = None) -> dict[str, Any]:
    """The states of Python's, numpy's and torch's generators (CPU, and CUDA where it has been
    used in this process, MPS where `device` is the Apple GPU)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": [int(k) for k in keys], "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    if device is not None and device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set the generators to what capture_rng saw (those this machine has)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], np.asarray(n["keys"], dtype=np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():
        for i, s in enumerate(cuda[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)
    if state.get("mps") is not None and getattr(torch.backends, "mps", None) is not None \
            and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


# ---------------------------------------------------------------------------------------------
# Whether a checkpoint continues this run


def design_difference(saved: dict[str, Any], current: dict[str, Any]) -> str | None:
    """The first structural difference between two designs as design files write them (their
    nodes, the nodes' types and parameters, the wires), or None when they train the same
    network. Names, labels and positions do not count."""
    def nodes(d: dict) -> dict[str, dict]:
        return {n["id"]: n for n in d.get("nodes", []) if isinstance(n, dict) and "id" in n}

    def inputs(d: dict) -> dict[str, list[str]]:
        wires: dict[str, list[str]] = {}
        for e in d.get("edges", []):
            wires.setdefault(e.get("to"), []).append(e.get("from"))
        return wires

    a, b = nodes(saved), nodes(current)
    gone, new = [k for k in a if k not in b], [k for k in b if k not in a]
    if gone or new:
        parts = []
        if new:
            parts.append(f"{_names(new)} {'is' if len(new) == 1 else 'are'} not in the "
                         "checkpoint's design")
        if gone:
            parts.append(f"the checkpoint's design has {_names(gone)}, this one does not")
        return "; ".join(parts)
    for nid, node in b.items():
        old = a[nid]
        if old.get("type") != node.get("type"):
            return f"layer {nid!r} is a {node.get('type')} here, a {old.get('type')} in the " \
                   "checkpoint's design"
        p, q = old.get("params") or {}, node.get("params") or {}
        for key in sorted(set(p) | set(q)):
            if p.get(key) != q.get(key):
                return f"layer {nid!r}: {key} is {_shown(q, key)} here, {_shown(p, key)} in " \
                       "the checkpoint's design"
    wa, wb = inputs(saved), inputs(current)
    for nid in b:
        if wa.get(nid, []) != wb.get(nid, []):
            return f"layer {nid!r} takes its input from {_names(wb.get(nid, [])) or 'nothing'}" \
                   f" here, from {_names(wa.get(nid, [])) or 'nothing'} in the checkpoint's " \
                   "design"
    return None


def config_conflicts(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any,
                                                                                   Any]]:
    """(setting, the checkpoint's value, this value) for every setting that differs between
    two TrainConfig dicts and that a resumed run may not change (all but RESUME_FREE)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key == "data":
            d0, d1 = saved.get("data") or {}, current.get("data") or {}
            out += [(f"data.{k}", d0.get(k), d1.get(k)) for k in sorted(set(d0) | set(d1))
                    if f"data.{k}" not in RESUME_FREE and d0.get(k) != d1.get(k)]
        elif key not in RESUME_FREE and saved.get(key) != current.get(key):
            out.append((key, saved.get(key), current.get(key)))
    return out


def _names(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:4])
    more = f" and {len(ids) - 4} more" if len(ids) > 4 else ""
    return f"{'layer' if len(ids) == 1 else 'layers'} {shown}{more}" if ids else ""


def _shown(params: dict, key: str) -> str:
    return json.dumps(params[key]) if key in params else "unset"


# ---------------------------------------------------------------------------------------------
# The Trainer's state: made, checked before a resume, put back


class ResumeError(CheckpointError):
    """A checkpoint that does not continue this run: the message says why, `advice` what to do."""

    def __init__(self, message: str, advice: str):
        super().__init__(message)
        self.advice = advice


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                   scaler: Any, device: torch.device | None, order: torch.Tensor,
                   sums: dict[str, Any] | None, meta: dict[str, Any]) -> dict[str, Any]:
    """A run's state for write_checkpoint (see the module's docstring), taken now."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": capture_rng(device), "order": order, "sums": sums, "meta": meta}


def open_resume(path: str | os.PathLike[str], config: dict[str, Any], design: dict[str, Any],
                read_design) -> dict[str, Any]:
    """The state of checkpoint `path`, checked to continue a run of `design` (a design file's
    dict) with `config` (a TrainConfig's dict): ResumeError says why it cannot.
    read_design(text) -> the dict of the checkpoint's design text (ValueError if bad)."""
    advice = "choose another checkpoint, or train from the start"
    try:
        state = read_checkpoint(path)
        meta = state["meta"]
        saved = read_design(meta["design_file"])
        done, epoch, step, old = meta["epochs_done"], meta["epoch"], meta["step"], \
            meta["config"]
        for key in ("model", "optimizer", "order", "rng", "sums"):
            state[key]  # noqa: B018 - present
    except CheckpointError as e:
        raise ResumeError(str(e), advice) from None
    except (KeyError, TypeError) as e:
        raise ResumeError(f"{path}: the checkpoint lacks {e}", advice) from None
    except ValueError as e:
        raise ResumeError(f"{path}: the checkpoint's design cannot be read: {e}", advice) \
            from None
    problem = resume_problem(saved, design, old, config, done, epoch, step)
    if problem:
        raise ResumeError(f"cannot resume {path}: {problem[0]}", problem[1])
    return state


def resume_problem(saved_design: dict, design: dict, saved_config: dict, config: dict,
                   done: int, epoch: int, step: int) -> tuple[str, str] | None:
    """(what is wrong, what to do) when a checkpoint (its design, settings, `done` epochs
    finished, at `step` of `epoch`) cannot continue as `design` with `config`; else None."""
    diff = design_difference(saved_design, design)
    if diff:
        return (f"the design differs from the checkpoint's: {diff}",
                "open the design the run trained (the checkpoint holds it), or train this one "
                "from the start")
    conflicts = config_conflicts(saved_config, config)
    if conflicts:
        said = "; ".join(f"{k} is {json.dumps(now)} here, {json.dumps(then)} in the checkpoint"
                         for k, then, now in conflicts[:3])
        return (f"a resumed run keeps the settings it was trained with: {said}",
                "train with the checkpoint's settings (only epochs, the device, the workers, "
                "channels_last, the data's folder and the checkpoint folder may change), or "
                "start a new run")
    epochs, old = config.get("epochs"), saved_config.get("epochs")
    if epoch == done and epochs <= done:
        return (f"the run has finished {done} epochs: nothing is left to train of the "
                f"{epochs} asked for", f"ask for more than {done} epochs")
    if epoch > done and epochs < epoch:
        return (f"the run is in epoch {epoch} (batch {step}), beyond the {epochs} asked for",
                f"ask for at least {epoch} epochs")
    if epochs != old and saved_config.get("schedule") in ("cosine", "onecycle"):
        return (f"the {saved_config['schedule']} schedule is fitted to the run's {old} epochs",
                f"resume it with {old} epochs (a schedule none or step can be lengthened)")
    return None


def restore_training(state: dict[str, Any], model: torch.nn.Module,
                     optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
                     order: torch.Generator, samples: int, steps: int) -> None:
    """Put a checkpoint's weights, optimizer, schedule, scaler and batch order back (the
    generators' states: restore_rng, just before the loop). `samples` and `steps`: the
    training split's size and batches per epoch now, which must be the checkpoint's."""
    meta = state["meta"]
    if meta.get("train_samples") != samples or meta.get("steps_per_epoch") != steps:
        raise ResumeError(f"the training data changed since the checkpoint: {samples} images "
                          f"now, {meta.get('train_samples')} then",
                          "resume with the same data set and sizes, or train from the start")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"]:
            scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        order.set_state(state["order"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise ResumeError(f"the checkpoint does not fit this run: {e}",
                          "choose another checkpoint, or train from the start") from None
