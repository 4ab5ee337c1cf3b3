"""The weights of an imported model, as the state_dict of the design's module: the common back end
that every front end's weight references (_Op.params, _Ref) are read through.

The design's module is built on the `meta` device (no memory, no values) for the exact keys,
shapes and dtypes that `build_module(design.network).load_state_dict(weights, strict=True)`
takes; each key's layer is found by its id (the last part of the key's module path: a run of
layers is an nn.Sequential named by the plan, each layer in it by its id) and its tensor read
through the front end's `fetch(ref, expected)`: a torch tensor, a numpy array, or None where an
optional one is missing (a BatchNorm's num_batches_tracked: 0 then). The value is laid out as
the layer has it (_Ref.layout), checked against the layer's shape, and copied into a contiguous
CPU tensor of the layer's dtype (float32; num_batches_tracked int64, as BatchNorm2d has it).

Whatever a layer's parameters do not fit (a tensor the model computes in forward(), a shape or
a type that is not the layer's, a parameter the layer has no place for) gives no weights at all,
never some or wrong ones: (None, a note that names the layers and why). Nothing here raises for
a model's fault: a front end's fault while reading a tensor is a reason in the note too.

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ..model.network import Network
from .import_graph import _first_line, _Op, _Ref

__all__ = ["MAX_WEIGHT_BYTES"]

MAX_WEIGHT_BYTES = 4 << 30  # a file's weights, as the design's float32 state_dict
WEIGHTED = ("Conv2d", "Linear", "BatchNorm2d")


class _NoWeights(Exception):
    """One tensor cannot come in (the message says why)."""


Fetch = Callable[[_Ref, Any], Any]


def _collect(net: Network, made: dict[str, _Op], fetch: Fetch, source: str,
             bounded: bool = True) -> tuple[dict | None, str]:
    """(the state_dict of the design's module, or None; a note saying what came in or why
    nothing did). bounded: a file's weights (MAX_WEIGHT_BYTES), not a model in memory."""
    import torch

    from .module import build_module

    try:
        with torch.device("meta"):
            expected = build_module(net).state_dict()
    except Exception as e:  # noqa: BLE001 - then there is nothing to load weights into
        return None, f"no weights from {source}: the design cannot be built " \
                     f"({type(e).__name__}: {_first_line(e)})"
    if not expected:
        return {}, f"no layer of the design has weights (nothing to take from {source})"
    total = sum(t.numel() * t.element_size() for t in expected.values())
    limit = MAX_WEIGHT_BYTES
    if bounded and total > limit:
        return None, (f"no weights from {source}: the design's weights would take "
                      f"{_size(total)}; more than {_size(limit)} is not read")
    out: dict[str, Any] = {}
    problems: dict[str, str] = {}  # layer id -> why
    layers: list[str] = []
    users: dict[Any, list[str]] = {}  # a source tensor -> the layers that take it
    for key, want in expected.items():
        prefix, _, param = key.rpartition(".")
        lid = prefix.rsplit(".", 1)[-1]
        if lid in problems:
            continue
        if lid not in layers:
            layers.append(lid)
        try:
            value = _value(net, made, lid, param, want, fetch)
        except _NoWeights as e:
            problems[lid] = str(e)
            continue
        if isinstance(value, tuple):
            value, handle = value
            if param in ("weight", "running_mean") and lid not in users.setdefault(handle, []):
                users[handle].append(lid)
        out[key] = value
    if problems:
        items = [f"{lid} ({net.nodes[lid].type}): {why}" for lid, why in problems.items()]
        more = f"; and {len(items) - 3} more layers" if len(items) > 3 else ""
        return None, f"no weights from {source}: " + "; ".join(items[:3]) + more
    note = f"weights of {len(layers)} layer{'s' if len(layers) != 1 else ''} " \
           f"({len(out)} tensors, {_size(total)}) from {source}"
    shared = [ids for ids in users.values() if len(ids) > 1]
    if shared:
        note += "; the model uses one module's weights in several places (" + ", ".join(
            " = ".join(ids) for ids in shared[:3]) + "): each layer has its own copy"
    return out, note


def _value(net: Network, made: dict[str, _Op], lid: str, param: str, want, fetch: Fetch):
    """The tensor for one key of the layer `lid` (with the source's handle, to see sharing),
    or _NoWeights saying why not."""
    import torch

    node = net.nodes.get(lid)
    op = made.get(lid)
    if node is None or op is None or node.type not in WEIGHTED or op.params is None:
        raise _NoWeights("the importer does not know where its parameters come from")
    if op.params_problem is not None:
        raise _NoWeights(op.params_problem)
    spec = op.params.get(param)
    if spec is None:
        if param == "num_batches_tracked":
            return torch.zeros((), dtype=want.dtype)
        raise _NoWeights(f"the model gives it no {param}")
    if isinstance(spec, (int, float)):
        return torch.full(tuple(want.shape), float(spec), dtype=want.dtype)
    try:
        got = fetch(spec, want)
    except _NoWeights:
        raise
    except Exception as e:  # noqa: BLE001 - a front end's fault reading one tensor
        raise _NoWeights(f"its {param} cannot be read ({type(e).__name__}: "
                         f"{_first_line(e)})") from None
    if got is None:
        if spec.optional:
            return torch.zeros(tuple(want.shape), dtype=want.dtype)
        raise _NoWeights(f"the model has no {param} for it")
    if isinstance(got, torch.Tensor):
        t = got
    else:  # an array (read-only where it is the file's bytes: only copied from here)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = torch.as_tensor(got)
    if t.is_meta:
        raise _NoWeights(f"its {param} is on the meta device (it has no values)")
    if t.is_complex() or (want.dtype.is_floating_point and not t.dtype.is_floating_point):
        raise _NoWeights(f"its {param} is {str(t.dtype).removeprefix('torch.')}, not real "
                         "floating-point numbers")
    if spec.layout == "T":
        if t.dim() != 2:
            raise _NoWeights(f"its {param} is not a matrix ({_shape(t.shape)})")
        t = t.t()
    elif spec.layout == "bias" and tuple(t.shape) != tuple(want.shape):
        if t.numel() == want.numel():
            t = t.reshape(want.shape)
        elif t.numel() == 1:
            t = t.reshape(()).expand(want.shape)
    if tuple(t.shape) != tuple(want.shape):
        raise _NoWeights(f"the model's {param} is {_shape(t.shape)}, the layer's "
                         f"{_shape(want.shape)}")
    copy = torch.empty(tuple(want.shape), dtype=want.dtype)
    copy.copy_(t.detach())
    handle = spec.handle if isinstance(spec.handle, (str, tuple)) else id(spec.handle)
    return copy, (handle, spec.layout)


def _shape(shape) -> str:
    return "×".join(str(int(s)) for s in shape) or "a scalar"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
