"""The per-operation steps of the torch front end of the importer: what layers of the design one
node of a torch.fx graph becomes, for each kind of node: an nn.Module (call_module), a function
of torch, torch.nn.functional or operator (call_function), a tensor method (call_method) or an
ATen operator (the nodes of a torch.export program).

Functions are known by object (_python_functions), not by name, and their arguments are bound
by name with the defaults filled in (_SIGNATURES, or the ATen schema) before they are read.
Where a node has no layer, _NoLayer says what it is (_describe). The walk over the graph that
calls these is fx_reader.py; the parameter checks shared with ONNX are import_layers.py.

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

from .import_graph import _NoLayer, _shape_text
from .import_layers import _adaptive, _avg_pool, _bn, _conv, _lrn, _max_pool


def _module_steps(m, in_shape) -> list[tuple[str | None, dict]]:
    from torch import nn

    kind = type(m)
    if kind is nn.Conv2d:
        if m.padding_mode != "zeros":
            raise _NoLayer(f"Conv2d with padding_mode={m.padding_mode!r}")
        return [_conv(m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                      m.bias is not None)]
    if kind is nn.Linear:
        return [("Linear", {"out_features": m.out_features, "bias": m.bias is not None})]
    if kind is nn.MaxPool2d:
        if m.return_indices:
            raise _NoLayer("MaxPool2d with return_indices=True")
        return [_max_pool(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)]
    if kind is nn.AvgPool2d:
        return [_avg_pool(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                          m.divisor_override)]
    if kind is nn.AdaptiveAvgPool2d:
        return [_adaptive(m.output_size)]
    if kind is nn.BatchNorm2d:
        return [_bn(m.eps, m.momentum, m.affine, m.track_running_stats)]
    if kind is nn.LocalResponseNorm:
        return [_lrn(m.size, m.alpha, m.beta, m.k)]
    if kind in (nn.ReLU, nn.Sigmoid, nn.Tanh):
        return [(kind.__name__, {})]
    if kind is nn.LeakyReLU:
        return [("LeakyReLU", {"negative_slope": float(m.negative_slope)})]
    if kind is nn.ELU:
        return [("ELU", {"alpha": float(m.alpha)})]
    if kind is nn.GELU:
        return [("GELU", {"approximate": m.approximate})]
    if kind in (nn.Dropout, nn.Dropout2d):
        return [(kind.__name__, {"p": float(m.p)})]
    if kind is nn.Flatten:
        if m.start_dim != 1 or m.end_dim not in (-1, len(in_shape) - 1 if in_shape else -1):
            raise _NoLayer(f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim})")
        return [("Flatten", {})]
    if kind is nn.Identity:
        return [(None, {})]
    raise _NoLayer(f"{kind.__module__}.{kind.__qualname__}"
                   if not kind.__module__.startswith("torch.nn") else kind.__name__)


# Python-level functions: their parameters in order, and the defaults of the optional ones
_SIGNATURES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "relu": (("input", "inplace"), {"inplace": False}),
    "leaky_relu": (("input", "negative_slope", "inplace"), {"negative_slope": 0.01}),
    "elu": (("input", "alpha", "inplace"), {"alpha": 1.0}),
    "gelu": (("input", "approximate"), {"approximate": "none"}),
    "sigmoid": (("input",), {}),
    "tanh": (("input",), {}),
    "max_pool2d": (("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                    "return_indices"), {"stride": None, "padding": 0, "dilation": 1,
                                        "ceil_mode": False, "return_indices": False}),
    "avg_pool2d": (("input", "kernel_size", "stride", "padding", "ceil_mode",
                    "count_include_pad", "divisor_override"),
                   {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                    "divisor_override": None}),
    "adaptive_avg_pool2d": (("input", "output_size"), {}),
    "batch_norm": (("input", "running_mean", "running_var", "weight", "bias", "training",
                    "momentum", "eps"), {"weight": None, "bias": None, "training": False,
                                         "momentum": 0.1, "eps": 1e-5}),
    "local_response_norm": (("input", "size", "alpha", "beta", "k"),
                            {"alpha": 1e-4, "beta": 0.75, "k": 1.0}),
    "dropout": (("input", "p", "training", "inplace"), {"p": 0.5, "training": True,
                                                         "inplace": False}),
    "dropout2d": (("input", "p", "training", "inplace"), {"p": 0.5, "training": True,
                                                           "inplace": False}),
    "flatten": (("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}),
    "conv2d": (("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
               {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}),
    "linear": (("input", "weight", "bias"), {"bias": None}),
    "add": (("input", "other", "alpha"), {"alpha": 1}),
    "cat": (("tensors", "dim"), {"dim": 0}),
    "mean": (("input", "dim", "keepdim"), {"dim": None, "keepdim": False}),
    "contiguous": (("input",), {}),
    "clone": (("input",), {}),
}

_ALIAS = {"concat": "cat", "concatenate": "cat", "iadd": "add", "feature_dropout": "dropout2d",
          "_native_batch_norm_legit_no_training": "batch_norm_legit", "relu6": "relu6",
          "reshape": "view", "_unsafe_view": "view", "detach": "contiguous",
          "alias": "contiguous", "lift_fresh_copy": "contiguous"}


def _python_functions() -> dict:
    """The functions of torch, torch.nn.functional and operator that have a layer, by object
    (a function of the user's own that happens to be called relu is not one of them)."""
    import torch
    import torch.nn.functional as F

    table = {}
    fns = [F.relu, F.relu_, torch.relu, torch.relu_, F.leaky_relu, F.elu, F.gelu,
           torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.max_pool2d, F.avg_pool2d,
           F.adaptive_avg_pool2d, F.batch_norm, F.local_response_norm, F.dropout, F.dropout2d,
           torch.dropout, torch.flatten, F.conv2d, torch.conv2d, F.linear, operator.add,
           operator.iadd, torch.add, torch.cat, torch.mean]
    fns += [getattr(torch, n) for n in ("max_pool2d", "avg_pool2d", "concat", "concatenate")
            if hasattr(torch, n)]
    for fn in fns:
        name = getattr(fn, "__name__", "")
        table[fn] = _ALIAS.get(name, name.rstrip("_") if name.endswith("_") and not
                               name.startswith("_") else name)
    return table


def _bind(name: str, args: Sequence, kwargs: dict, aten_schema=None) -> dict:
    """Arguments by name, defaults filled in; the tensor argument is always 'input'."""
    if aten_schema is not None:
        out = {}
        pos = [a for a in aten_schema.arguments if not a.kwarg_only]
        for a, v in zip(pos, args):
            out[a.name] = v
        out.update(kwargs)
        for a in aten_schema.arguments:
            if a.name not in out and a.has_default_value():
                out[a.name] = a.default_value
        if "self" in out:
            out["input"] = out.pop("self")
        if "train" in out:
            out["training"] = out.pop("train")
        return out
    names, defaults = _SIGNATURES[name]
    out = dict(defaults)
    for n, v in zip(names, args):
        out[n] = v
    out.update(kwargs)
    return out


def _node_steps(gm, functions: dict, n) -> tuple[list[tuple[str | None, dict]], bool]:
    """The layers one node of a torch.fx graph becomes, and whether it is a functional
    flatten a Linear after it can absorb (_NoLayer where it has none). gm: the GraphModule;
    functions: _python_functions()."""
    if n.op == "call_module":
        m = gm.get_submodule(n.target)
        ins = [a for a in n.args if hasattr(a, "op")]
        in_shape = _meta_shape(ins[0]) if ins else None
        return _module_steps(m, in_shape), False
    if n.op == "call_method":
        name = _ALIAS.get(n.target, n.target.rstrip("_"))
        return _function_steps(name, n, _bind_method(name, n))
    if n.op == "call_function":
        if n.target in functions:
            name = functions[n.target]
            if name not in _SIGNATURES:
                raise _NoLayer(_describe(n))
            return _function_steps(name, n, _bind(name, n.args, n.kwargs))
        name = _aten_name(n.target)
        if name is not None:
            name = _ALIAS.get(name, name.rstrip("_") if not name.startswith("_") else name)
            if name == "getitem" or n.target is operator.getitem:
                raise _NoLayer(_describe(n))
            schema = getattr(n.target, "_schema", None)
            return _function_steps(name, n, _bind(name, n.args, n.kwargs, schema))
        if n.target is operator.getitem:
            src = n.args[0]
            meta = src.meta.get("tensor_meta") if hasattr(src, "op") else None
            if n.args[1] == 0 and not hasattr(meta, "shape") and isinstance(meta,
                                                                            (tuple, list)):
                return [(None, {})], False  # the output of a layer that returns a tuple
    raise _NoLayer(_describe(n))


def _function_steps(name: str, n, a: dict) -> tuple[list, bool]:
    """The layers of a function, method or ATen operator called with the arguments `a`
    (bound by name: _bind), and whether it is an absorbable flatten."""
    shape_in = _meta_shape(a["input"]) if hasattr(a.get("input"), "op") else None
    if name in ("relu", "sigmoid", "tanh"):
        return [({"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}[name], {})], False
    if name == "leaky_relu":
        return [("LeakyReLU", {"negative_slope": float(a["negative_slope"])})], False
    if name == "elu":
        if a.get("scale", 1) != 1 or a.get("input_scale", 1) != 1:
            raise _NoLayer("ELU with scale (SELU)")
        return [("ELU", {"alpha": float(a["alpha"])})], False
    if name == "gelu":
        return [("GELU", {"approximate": a.get("approximate", "none")})], False
    if name == "max_pool2d":
        if a.get("return_indices"):
            raise _NoLayer("max_pool2d with return_indices=True")
        return [_max_pool(a["kernel_size"], a.get("stride"), a.get("padding", 0),
                          a.get("dilation", 1), a.get("ceil_mode", False))], False
    if name == "max_pool2d_with_indices":
        return [_max_pool(a["kernel_size"], a.get("stride"), a.get("padding", 0),
                          a.get("dilation", 1), a.get("ceil_mode", False))], False
    if name == "avg_pool2d":
        return [_avg_pool(a["kernel_size"], a.get("stride"), a.get("padding", 0),
                          a.get("ceil_mode", False), a.get("count_include_pad", True),
                          a.get("divisor_override"))], False
    if name == "adaptive_avg_pool2d":
        return [_adaptive(a["output_size"])], False
    if name == "mean":
        dims = a.get("dim")
        dims = [dims] if isinstance(dims, int) else list(dims or [])
        nd = len(shape_in) if shape_in else 4
        if nd == 4 and sorted(d % 4 for d in dims) == [2, 3]:
            steps = [_adaptive(1)]
            if not a.get("keepdim"):
                return steps + [("Flatten", {})], True
            return steps, False
        raise _NoLayer(f"mean over dimensions {dims}")
    if name in ("batch_norm", "batch_norm_legit"):
        if a.get("training"):
            raise _NoLayer("batch_norm in training mode without running statistics")
        affine = a.get("weight") is not None
        track = a.get("running_mean") is not None
        return [_bn(a.get("eps", 1e-5), a.get("momentum", 0.1), affine, track)], False
    if name == "local_response_norm":
        return [_lrn(a["size"], a["alpha"], a["beta"], a["k"])], False
    if name in ("dropout", "dropout2d"):
        return [("Dropout" if name == "dropout" else "Dropout2d", {"p": float(a["p"])})], False
    if name == "flatten":
        nd = len(shape_in) if shape_in else None
        end = a.get("end_dim", -1)
        if a.get("start_dim", 0) != 1 or (end != -1 and (nd is None or end != nd - 1)):
            raise _NoLayer(f"flatten(start_dim={a.get('start_dim', 0)}, end_dim={end}) "
                           "(a design flattens from dimension 1 on)")
        return [("Flatten", {})], True
    if name == "view":
        out = _meta_shape(n)
        if shape_in is not None and out is not None and len(out) == 2 and out[0] == \
                shape_in[0] and out[1] == math.prod(shape_in[1:]) and len(shape_in) > 2:
            return [("Flatten", {})], True
        if shape_in is not None and out is not None and tuple(out) == tuple(shape_in):
            return [(None, {})], False
        raise _NoLayer(f"{n.target if n.op == 'call_method' else 'view'} to "
                       f"{_shape_text(tuple(out or ()))}")
    if name in ("contiguous", "clone"):
        return [(None, {})], False
    if name == "conv2d" or name == "convolution":
        if a.get("transposed"):
            raise _NoLayer("a transposed convolution")
        w = _meta_shape(a["weight"]) if hasattr(a.get("weight"), "op") else None
        if w is None or len(w) != 4:
            raise _NoLayer("conv2d whose weight is not a 4-D tensor of the model")
        return [_conv(w[0], (w[2], w[3]), a.get("stride", 1), a.get("padding", 0),
                      a.get("dilation", 1), a.get("groups", 1),
                      a.get("bias") is not None)], False
    if name == "linear":
        w = _meta_shape(a["weight"]) if hasattr(a.get("weight"), "op") else None
        if w is None or len(w) != 2:
            raise _NoLayer("linear whose weight is not a 2-D tensor of the model")
        if shape_in is not None and len(shape_in) != 2:
            raise _NoLayer(f"linear on a {len(shape_in)}-D tensor (a design's Linear reads "
                           "a flattened batch)")
        return [("Linear", {"out_features": int(w[0]), "bias": a.get("bias") is not None})], \
            False
    if name == "add":
        other = a.get("other")
        if not hasattr(other, "op") or not hasattr(a.get("input"), "op"):
            raise _NoLayer(f"add of a constant ({_describe(n)})")
        if a.get("alpha", 1) != 1:
            raise _NoLayer("add with alpha ≠ 1")
        return [("Add", {})], False
    if name == "cat":
        tensors = a.get("tensors") or []
        dim = a.get("dim", 0)
        nd = len(_meta_shape(tensors[0])) if tensors and hasattr(tensors[0], "op") and \
            _meta_shape(tensors[0]) is not None else None
        if nd is None or dim % nd != 1:
            raise _NoLayer(f"cat along dimension {dim} (a Concat joins along the depth, "
                           "dimension 1)")
        if not all(hasattr(t, "op") for t in tensors):
            raise _NoLayer("cat with a constant")
        return [("Concat", {})], False
    raise _NoLayer(_describe(n))


def _bind_method(name: str, n) -> dict:
    if name == "view":
        return {"input": n.args[0]}
    if name in _SIGNATURES:
        return _bind(name, n.args, n.kwargs)
    raise _NoLayer(f"the method .{n.target}()")


def _aten_name(target) -> str | None:
    packet = getattr(target, "overloadpacket", None)
    if packet is None or getattr(target, "namespace", "aten") != "aten":
        return None
    return packet.__name__


def _describe(n) -> str:
    if n.op == "call_method":
        return f"the method .{n.target}()"
    target = n.target
    aten = _aten_name(target)
    if aten is not None:
        return f"aten.{aten}"
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or str(target)
    if mod in ("_operator", "operator"):
        return f"operator.{name}"
    if mod.startswith("torch") or not mod:  # torch's builtins have no module
        return f"F.{name}" if "functional" in mod else f"torch.{name}"
    return f"{mod}.{getattr(target, '__qualname__', name)}"


def _meta_shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    if not hasattr(meta, "shape") and isinstance(meta, (tuple, list)):
        meta = meta[0] if meta else None  # a layer that returns a tuple: its first tensor
    shape = getattr(meta, "shape", None)
    return None if shape is None else tuple(int(s) for s in shape)
