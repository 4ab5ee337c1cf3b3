"""Where the parameters of a layer made from a node of a torch.fx graph come from, for the
importer's weights (import_weights.py): a module's own tensors (nn.Conv2d, nn.Linear,
nn.BatchNorm2d), or the tensors a function reads (F.conv2d(x, self.w, self.b), F.linear,
F.batch_norm and their ATen operators) where they are tensors of the model (get_attr nodes: an
attribute of the model, or of a .pt2 program's stand-in module, fx_pt2.py). A weight the model
computes in forward() (self.w * 2) has no tensor to take: the layer's weights are refused then,
naming it. Also the reader of get_attr targets on the traced module (_module_fetch).

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

from typing import Any

from .fx_steps import _ALIAS, _SIGNATURES, _aten_name, _bind
from .import_graph import _Ref
from .import_weights import WEIGHTED, _NoWeights

_MODULE_PARAMS = {"Conv2d": ("weight", "bias"), "Linear": ("weight", "bias"),
                  "BatchNorm2d": ("weight", "bias", "running_mean", "running_var",
                                  "num_batches_tracked")}


class _Computed(Exception):
    """A parameter that is no tensor of the model (the message says what it is)."""


def _fx_params(gm, functions: dict, n, steps: list) -> tuple[dict | None, str | None]:
    """(the layer's parameters: name -> _Ref or a fill value, or None; why they cannot come
    in, or None) for the node `n` that became `steps`."""
    kind = next((t for t, _ in steps if t in WEIGHTED), None)
    if kind is None:
        return None, None
    if n.op == "call_module":
        m = gm.get_submodule(n.target)
        return {p: _Ref(getattr(m, p)) for p in _MODULE_PARAMS[kind]
                if getattr(m, p, None) is not None}, None
    a = _arguments(functions, n)
    if a is None:
        return {}, f"the importer does not read the tensors of {n.name}"
    try:
        if kind in ("Conv2d", "Linear"):
            params = {"weight": _ref(a, "weight")}
            if a.get("bias") is not None:
                params["bias"] = _ref(a, "bias")
            return params, None
        params = {"running_mean": _ref(a, "running_mean"),
                  "running_var": _ref(a, "running_var")}
        mean = params["running_mean"]
        if isinstance(mean.handle, str) and mean.handle.rpartition(".")[2] == "running_mean":
            params["num_batches_tracked"] = _Ref(mean.handle, sibling="num_batches_tracked",
                                                 optional=True)
        if a.get("weight") is None:
            if a.get("bias") is not None:
                return {}, "a batch_norm with a bias but no weight: the layer (affine=False) " \
                           "has no place for the bias"
            return params, None
        params["weight"] = _ref(a, "weight")
        params["bias"] = _ref(a, "bias") if a.get("bias") is not None else 0.0
        return params, None
    except _Computed as e:
        return {}, str(e)


def _arguments(functions: dict, n) -> dict | None:
    if n.op != "call_function":
        return None
    if n.target in functions:
        name = functions[n.target]
        return _bind(name, n.args, n.kwargs) if name in _SIGNATURES else None
    name = _aten_name(n.target)
    if name is None:
        return None
    name = _ALIAS.get(name, name.rstrip("_") if not name.startswith("_") else name)
    return _bind(name, n.args, n.kwargs, getattr(n.target, "_schema", None))


def _ref(a: dict, key: str) -> _Ref:
    import torch

    v = a.get(key)
    if isinstance(v, torch.Tensor):
        return _Ref(v)
    if hasattr(v, "op") and v.op == "get_attr":
        return _Ref(str(v.target))
    what = getattr(v, "name", None) or type(v).__name__
    raise _Computed(f"its {key} is computed in forward() ({what}), not a tensor of the model: "
                    "the layer has no place for how it is made")


def _module_fetch(gm) -> Any:
    """fetch(ref, expected) for the tensors of a traced module: a tensor as it is, a get_attr
    target (or its sibling) looked up on the module."""

    def fetch(ref: _Ref, expected):
        if not isinstance(ref.handle, str):
            return ref.handle
        target = ref.handle
        if ref.sibling:
            head = target.rpartition(".")[0]
            target = f"{head}.{ref.sibling}" if head else ref.sibling
        obj = gm
        for part in target.split("."):
            if not hasattr(obj, part):
                if ref.optional:
                    return None
                raise _NoWeights(f"the model has no tensor {target!r}")
            obj = getattr(obj, part)
        return obj

    return fetch
