"""Import a model made elsewhere as an editable design: a PyTorch nn.Module (traced with
torch.fx), a torch.export program (.pt2) or an ONNX file.

Only the structure comes in, never the weights: every operation must map to a layer of the
catalogue (Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, ReLU, LeakyReLU, ELU, GELU, Sigmoid,
Tanh, BatchNorm2d, LocalResponseNorm, Dropout, Dropout2d, Flatten, Linear) or to a merge (add ->
Add, cat along the depth -> Concat), as a module or in its functional form (F.relu, torch.flatten,
x.view(x.size(0), -1), F.conv2d with a weight tensor, ...). Where some do not, nothing is imported
and ModelImportError lists every operation that does not map, with where it is in the model.

Layer ids come from the model's own names: a module's attribute name (`self.conv1` -> conv1; the
whole path, layer1_0_conv1, where the last part is not unique), the ONNX node's module path
(/layers/conv1/Conv -> conv1), a function's node name (add, cat). So the code the designer
exports, imported back, gives the same design. A functional flatten that only feeds a Linear is
left out: a design's Linear flattens the volume it reads. The imported design is checked against
the model: every layer's output volume must be what the model itself computes (torch: the traced
graph run on a zero input; ONNX: shape inference).

What runs what, on purpose:
- A Python file (`model.py:Net`, or `model.py` with one nn.Module class in it) or a module
  (`package.module:attr`) is imported, which runs its code: that is what the person asks for.
  `attr` may be an nn.Module class (made with no arguments), an instance, or a function that
  returns one.
- A .pt2 file is read with torch.export.load, with every torch.load inside it held to
  weights_only=True: a file that would need to unpickle objects is refused.
- An ONNX file is parsed as a protobuf (no code; external weight files are not read).
- Nothing else is opened: a pickled model (torch.save of a whole module) is refused.

TORCH, no Qt.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import keyword
import math
import operator
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.analysis import analyze
from ..model.design_file import Design
from ..model.layers import CATALOGUE, fmt_shape
from ..model.layout import auto_layout
from ..model.network import Network, NetworkError

__all__ = ["ModelImportError", "import_model", "import_module", "import_onnx", "import_pt2",
           "load_python_model", "parse_input_shape", "SUPPORTED"]

SUPPORTED = ("Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, ReLU, LeakyReLU, ELU, GELU, "
             "Sigmoid, Tanh, BatchNorm2d, LocalResponseNorm, Dropout, Dropout2d, Flatten, Linear "
             "(as modules or functions), add and cat")


class ModelImportError(ValueError):
    """The model cannot become a design; the message says what and where. `unsupported` lists
    (operation, [places]) for the operations that do not map to the catalogue."""

    def __init__(self, message: str, unsupported: Sequence[tuple[str, list[str]]] = ()):
        super().__init__(message)
        self.unsupported = list(unsupported)


class _NoLayer(Exception):
    """An operation with no layer in the catalogue (the message names it)."""


# ---------------------------------------------------------------------------------------------
# What every front end produces: one record per operation, in execution order


@dataclass
class _Op:
    key: Any  # the value it makes
    steps: list[tuple[str | None, dict]]  # (catalogue type or None: pass the input on, params)
    inputs: list[Any]  # keys of the values it reads, in order
    hint: str  # where it is in the model (becomes the layer id)
    what: str = ""  # how to name it in a message
    problem: str | None = None  # it does not map: what to list
    absorbable: bool = False  # a functional flatten: a Linear after it flattens by itself


@dataclass
class _Graph:
    ops: list[_Op]
    input_key: Any
    input_shape: tuple[int, int, int]
    outputs: list[Any]
    expected: dict = field(default_factory=dict)  # key -> the model's own shape (no batch)
    source: str = ""  # for messages: the file or class


def parse_input_shape(text: str | Sequence[int] | None) -> tuple[int, int, int] | None:
    """'3,32,32', '3x32x32', (3, 32, 32) -> (C, H, W); None stays None."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    else:
        parts = list(text)
    try:
        values = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise ModelImportError(f"the input shape {text!r} is not C,H,W (three whole numbers "
                               f"≥ 1, e.g. 3,32,32)")
    return values  # type: ignore[return-value]


def _square(value: Any, what: str) -> int:
    """An int, or a pair/list of equal ints, as one int (else _NoLayer)."""
    if isinstance(value, bool):
        raise _NoLayer(f"{what} {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)):
        items = [int(v) for v in value]
        if len(items) == 1 or (items and all(v == items[0] for v in items)):
            return items[0]
        raise _NoLayer(f"{what} {'×'.join(str(v) for v in items)} (the designer's layers are "
                       f"square)")
    raise _NoLayer(f"{what} {value!r}")


def _ident(hint: str) -> str:
    base = re.sub(r"\W", "_", hint).strip("_") or "layer"
    if base[0].isdigit():
        base = "layer_" + base
    if keyword.iskeyword(base):
        base += "_"
    return base


_UNKNOWN = object()  # the value of an operation that does not map


def _build(graph: _Graph, name: str) -> Network:
    """The design of an operation list; ModelImportError listing what does not map."""
    net = Network(name)
    c, h, w = graph.input_shape
    value: dict[Any, str | None] = {graph.input_key: net.add(
        "Input", {"channels": c, "height": h, "width": w}, id="input")}
    problems: dict[str, list[str]] = {}
    made: dict[str, _Op] = {}
    # a hint's last part names the layer where no other hint ends the same way
    lasts: dict[str, int] = {}
    for op in graph.ops:
        lasts[op.hint.rsplit(".", 1)[-1]] = lasts.get(op.hint.rsplit(".", 1)[-1], 0) + 1
    for op in graph.ops:
        if op.problem is not None:
            problems.setdefault(op.problem, []).append(op.what or op.hint)
            value[op.key] = _UNKNOWN
            continue
        srcs = [value.get(k) for k in op.inputs]
        if not srcs or any(s is None for s in srcs):
            value[op.key] = None
            continue
        if _UNKNOWN in srcs:
            value[op.key] = _UNKNOWN  # after an operation that does not map: go on listing
            continue
        last = op.hint.rsplit(".", 1)[-1]
        base = _ident(last if lasts[last] == 1 and _ident(last) == last else op.hint)
        current = srcs
        for k, (type_name, params) in enumerate(op.steps):
            if type_name is None:
                continue
            nid = base if k == 0 else f"{base}_{type_name.lower()}"
            i = 1
            while nid in net.nodes or nid == "input":
                nid = f"{base}{i}"
                i += 1
            try:
                nid = net.add(type_name, params, id=nid, inputs=current)
            except NetworkError as e:
                problems.setdefault(f"{type_name} with {str(e).split(': ', 1)[-1]}",
                                    []).append(op.what or op.hint)
                current = [None]
                break
            made[nid] = op
            current = [nid]
        value[op.key] = current[0]
    if problems:
        n = sum(len(v) for v in problems.values())
        lines = [f"{graph.source}: {n} operation{'s' if n != 1 else ''} of the model "
                 f"{'do' if n != 1 else 'does'} not map to the designer's layers:"]
        for what, where in problems.items():
            shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
            lines.append(f"  - {what} (at {shown})")
        lines.append(f"The designer has: {SUPPORTED}.")
        raise ModelImportError("\n".join(lines), list(problems.items()))
    outs = [value.get(k) for k in graph.outputs]
    if not outs or any(o is None or o is _UNKNOWN for o in outs):
        raise ModelImportError(f"{graph.source}: the model's output is not an image-derived "
                               "tensor the designer can build")
    if len(set(outs)) > 1:
        raise ModelImportError(f"{graph.source}: the model has {len(outs)} outputs; a design "
                               "has one")
    _prune(net, outs[0])
    _merge_add_chains(net, made)
    _absorb_flattens(net, made)
    return _checked(net, graph, made)


def _prune(net: Network, output: str) -> None:
    """Drop what does not lead to the output (a traced model can compute unused values)."""
    keep = {output}
    stack = [output]
    while stack:
        for s in net.nodes[stack.pop()].inputs:
            if s not in keep:
                keep.add(s)
                stack.append(s)
    for nid in [n for n in net.nodes if n not in keep]:
        net.remove(nid, reconnect=False)


def _merge_add_chains(net: Network, made: dict[str, _Op]) -> None:
    """a + b + c traces as (a + b) + c: one Add with three inputs, as the design had it."""
    for nid in list(net.topological_order()):
        node = net.nodes.get(nid)
        if node is None or node.type != "Add":
            continue
        first = net.nodes[node.inputs[0]]
        if first.type == "Add" and first.id in made and net.consumers(first.id) == [nid]:
            net.set_inputs(nid, (*first.inputs, *node.inputs[1:]))
            net.remove(first.id, reconnect=False)


def _absorb_flattens(net: Network, made: dict[str, _Op]) -> None:
    for nid in list(net.nodes):
        op = made.get(nid)
        node = net.nodes.get(nid)
        if node is None or op is None or not op.absorbable or node.type != "Flatten":
            continue
        users = net.consumers(nid)
        if len(users) == 1 and net.nodes[users[0]].type == "Linear":
            net.remove(nid, reconnect=True)


def _checked(net: Network, graph: _Graph, made: dict[str, _Op]) -> Network:
    """Lay the design out and check it against the model's own shapes."""
    report = analyze(net)
    error = report.first_error()
    if error is not None:
        raise ModelImportError(f"{graph.source}: the imported design has an error: {error}")
    for nid, op in made.items():
        if nid not in report.layers or op.key not in graph.expected:
            continue
        node = net.nodes[nid]
        last_step = [s for s in op.steps if s[0] is not None][-1][0]
        if node.type != last_step:
            continue  # an intermediate step of a two-layer operation
        want = tuple(graph.expected[op.key])
        got = report.layers[nid].shape
        if got is not None and tuple(got) != want and not (
                len(want) == 3 and want[1:] == (1, 1) and got == (want[0],)):
            raise ModelImportError(
                f"{graph.source}: {nid} ({node.type}): the design makes {fmt_shape(got)} but "
                f"the model makes {_shape_text(want)} there; the operation means something "
                f"else than the designer's {node.type}")
    for nid, pos in auto_layout(net).items():
        net.move(nid, pos)
    return net


def _shape_text(shape: tuple[int, ...]) -> str:
    return fmt_shape(shape) if len(shape) in (1, 3) else "×".join(map(str, shape))


def _design(net: Network, what: str) -> Design:
    net.description = f"Imported from {what}."
    return Design(net, source=f"imported from {what}")


# ---------------------------------------------------------------------------------------------
# Layers from their parameters (shared by modules, functions, ATen and ONNX)


def _conv(out_channels: int, kernel, stride, padding, dilation, groups: int, bias: bool,
          in_channels: int | None = None) -> tuple[str, dict]:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise _NoLayer(f"Conv2d with padding {padding!r}")
        pad: Any = padding
    else:
        pad = _square(padding, "Conv2d with padding")
    return "Conv2d", {"out_channels": int(out_channels), "kernel_size": _square(kernel, "Conv2d "
                      "with a kernel"), "stride": _square(stride, "Conv2d with stride"),
                      "padding": pad, "dilation": _square(dilation, "Conv2d with dilation"),
                      "groups": int(groups), "bias": bool(bias)}


def _max_pool(kernel, stride, padding, dilation, ceil_mode) -> tuple[str, dict]:
    k = _square(kernel, "MaxPool2d with a window")
    s = k if stride is None or stride == [] or stride == () else _square(stride,
                                                                         "MaxPool2d with stride")
    return "MaxPool2d", {"kernel_size": k, "stride": s,
                         "padding": _square(padding, "MaxPool2d with padding"),
                         "dilation": _square(dilation, "MaxPool2d with dilation"),
                         "ceil_mode": bool(ceil_mode)}


def _avg_pool(kernel, stride, padding, ceil_mode, count_include_pad, divisor) -> tuple[str, dict]:
    if divisor is not None:
        raise _NoLayer("AvgPool2d with divisor_override")
    k = _square(kernel, "AvgPool2d with a window")
    s = k if stride is None or stride == [] or stride == () else _square(stride,
                                                                         "AvgPool2d with stride")
    return "AvgPool2d", {"kernel_size": k, "stride": s,
                         "padding": _square(padding, "AvgPool2d with padding"),
                         "ceil_mode": bool(ceil_mode),
                         "count_include_pad": bool(count_include_pad)}


def _adaptive(size) -> tuple[str, dict]:
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise _NoLayer("AdaptiveAvgPool2d with a free output size")
    return "AdaptiveAvgPool2d", {"output_size": _square(size, "AdaptiveAvgPool2d to")}


def _bn(eps, momentum, affine: bool, track: bool) -> tuple[str, dict]:
    if momentum is None:
        raise _NoLayer("BatchNorm2d with momentum=None (a cumulative average)")
    return "BatchNorm2d", {"eps": float(eps), "momentum": float(momentum),
                           "affine": bool(affine), "track_running_stats": bool(track)}


def _lrn(size, alpha, beta, k) -> tuple[str, dict]:
    return "LocalResponseNorm", {"size": int(size), "alpha": float(alpha), "beta": float(beta),
                                 "k": float(k)}


# ---------------------------------------------------------------------------------------------
# torch: modules, functions, methods and ATen operators of a torch.fx graph


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


class _FxReader:
    """Turns a torch.fx GraphModule (a symbolic trace, or an ExportedProgram's module) into
    operation records, with every value's shape from running the graph on a zero input."""

    def __init__(self, gm, input_shape: tuple[int, int, int], source: str):
        self.gm = gm
        self.source = source
        self.input_shape = input_shape
        self.functions = _python_functions()

    def read(self) -> _Graph:
        import torch
        from torch.fx.passes.shape_prop import ShapeProp

        gm = self.gm
        first = next(iter(gm.parameters()), None)  # a model on the meta device runs there
        device = first.device if first is not None else torch.device("cpu")
        try:
            ShapeProp(gm).propagate(torch.zeros(1, *self.input_shape, device=device))
        except Exception as e:  # noqa: BLE001 - the model's own error, reported with the shape
            raise ModelImportError(
                f"{self.source}: running the model on a 1×{'×'.join(map(str, self.input_shape))}"
                f" (N×C×H×W) input failed: {type(e).__name__}: {_first_line(e)}; is the input "
                f"shape right?") from None
        nodes = list(gm.graph.nodes)
        placeholders = [n for n in nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ModelImportError(f"{self.source}: the model's forward() takes "
                                   f"{len(placeholders)} inputs; a design takes one image batch")
        data = {placeholders[0]}  # values that come from the input (not weights or constants)
        ops: list[_Op] = []
        expected: dict = {}
        groups = self._groups(nodes)
        done: set = set()
        outputs: list = []
        for n in nodes:
            if n.op == "output":
                outputs = [a for a in _flat(n.args[0]) if hasattr(a, "op")]
                continue
            if n.op in ("placeholder", "get_attr") or n in done \
                    or n.meta.get("tensor_meta") is None:
                continue  # weights, constants, sizes, guards: no tensor of the data path
            ins = [a for a in _flat((n.args, n.kwargs)) if hasattr(a, "op") and a in data]
            if not ins:
                continue
            data.add(n)
            shape = _meta_shape(n)
            if shape is not None:
                expected[n] = shape[1:]
            group = groups.get(n)
            if group is not None:
                op = self._group_op(group, data)
                for g in group:
                    data.add(g)
                    done.add(g)
                expected.pop(n, None)
                if _meta_shape(group[-1]) is not None:
                    expected[group[-1]] = _meta_shape(group[-1])[1:]
                ops.append(op)
                continue
            ops.append(self._op(n, ins))
        return _Graph(ops, placeholders[0], self.input_shape, outputs, expected, self.source)

    def _groups(self, nodes) -> dict:
        """ATen graphs: the operations a LocalResponseNorm module was decomposed into, keyed by
        its first one (the whole group becomes one layer)."""
        by_module: dict[str, list] = {}
        for n in nodes:
            stack = n.meta.get("nn_module_stack") if n.op == "call_function" else None
            if not stack:
                continue
            path, cls = list(stack.values())[-1]
            if str(cls).endswith("LocalResponseNorm") and n.op == "call_function":
                by_module.setdefault(path, []).append(n)
        return {g[0]: g for g in by_module.values()}

    def _group_op(self, group: list, data: set) -> _Op:
        path = list(group[0].meta["nn_module_stack"].values())[-1][0]
        inside = set(group)
        ins = list(dict.fromkeys(a for a in _flat(group[0].args) if hasattr(a, "op")
                                 and a in data and a not in inside))
        size = alpha = beta = k = None
        for n in group:
            name = _aten_name(n.target)
            scalars = [a for a in n.args[1:] if isinstance(a, (int, float))
                       and not isinstance(a, bool)]
            if name == "avg_pool3d":
                size = n.args[1][0]
            elif name == "mul" and scalars:
                alpha = scalars[0]
            elif name == "add" and scalars:
                k = scalars[0]
            elif name == "pow" and scalars:
                beta = scalars[0]
        if None in (size, alpha, beta, k):
            return _Op(group[-1], [], ins, path, what=path,
                       problem="LocalResponseNorm in a form the importer does not recognise")
        return _Op(group[-1], [_lrn(size, alpha, beta, k)], ins, path, what=path)

    def _op(self, n, ins) -> _Op:
        hint, what = self._where(n)
        try:
            steps, absorbable = self._steps(n)
        except _NoLayer as e:
            return _Op(n, [], ins, hint, what=what, problem=str(e))
        stack = n.meta.get("nn_module_stack")
        if absorbable and stack and str(list(stack.values())[-1][1]).endswith(".Flatten"):
            absorbable = False  # an nn.Flatten of the model (in an ATen graph): a layer
        tensor_ins = ins
        if steps and steps[0][0] == "Concat":
            tensors = n.args[0] if n.args else n.kwargs.get("tensors")
            tensor_ins = list(tensors)
        return _Op(n, steps, tensor_ins, hint, what=what, absorbable=absorbable)

    def _where(self, n) -> tuple[str, str]:
        if n.op == "call_module":
            return str(n.target), str(n.target)
        stack = n.meta.get("nn_module_stack")
        if stack:
            path, cls = list(stack.values())[-1]
            if path and not str(cls).endswith(("Sequential", "ModuleList", "ModuleDict")):
                leaf = str(cls).rsplit(".", 1)[-1]
                if leaf in CATALOGUE or leaf in ("Identity", "Flatten"):
                    return str(path), str(path)
        return n.name, n.name

    def _steps(self, n) -> tuple[list[tuple[str | None, dict]], bool]:
        if n.op == "call_module":
            m = self.gm.get_submodule(n.target)
            ins = [a for a in n.args if hasattr(a, "op")]
            in_shape = _meta_shape(ins[0]) if ins else None
            return _module_steps(m, in_shape), False
        if n.op == "call_method":
            name = _ALIAS.get(n.target, n.target.rstrip("_"))
            return self._function(name, n, _bind_method(name, n))
        if n.op == "call_function":
            if n.target in self.functions:
                name = self.functions[n.target]
                if name not in _SIGNATURES:
                    raise _NoLayer(_describe(n))
                return self._function(name, n, _bind(name, n.args, n.kwargs))
            name = _aten_name(n.target)
            if name is not None:
                name = _ALIAS.get(name, name.rstrip("_") if not name.startswith("_") else name)
                if name == "getitem" or n.target is operator.getitem:
                    raise _NoLayer(_describe(n))
                schema = getattr(n.target, "_schema", None)
                return self._function(name, n, _bind(name, n.args, n.kwargs, schema))
            if n.target is operator.getitem:
                src = n.args[0]
                meta = src.meta.get("tensor_meta") if hasattr(src, "op") else None
                if n.args[1] == 0 and not hasattr(meta, "shape") and isinstance(meta,
                                                                                (tuple, list)):
                    return [(None, {})], False  # the output of a layer that returns a tuple
        raise _NoLayer(_describe(n))

    def _function(self, name: str, n, a: dict) -> tuple[list, bool]:
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


def _flat(value) -> list:
    out = []
    if isinstance(value, (list, tuple)):
        for v in value:
            out += _flat(v)
    elif isinstance(value, dict):
        for v in value.values():
            out += _flat(v)
    else:
        out.append(value)
    return out


def _meta_shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    if not hasattr(meta, "shape") and isinstance(meta, (tuple, list)):
        meta = meta[0] if meta else None  # a layer that returns a tuple: its first tensor
    shape = getattr(meta, "shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else "")[:300]


def _tracer_class():
    from torch import fx

    class Tracer(fx.Tracer):
        """symbolic_trace's tracer, but a module made on the fly from the model's own layers
        (a slice of a Sequential: `self.layers[:3](x)`, as the code export writes) is traced
        through instead of refused."""

        def call_module(self, m, forward, args, kwargs):
            try:
                self.path_of_module(m)
            except NameError:
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

    return Tracer


def _Tracer():  # noqa: N802 - made when first used: fx is imported with torch
    return _tracer_class()()


def import_module(model, input_shape: Sequence[int] | str | None = None,
                  name: str | None = None, source: str | None = None) -> Design:
    """A design with the structure of an nn.Module, traced with torch.fx (torch.export where
    the forward() has Python control flow fx cannot follow). The input shape (C, H, W) comes
    from the argument, else the class's `input_shape` (the designer's code export has one)."""
    import torch
    from torch import fx

    if not isinstance(model, torch.nn.Module):
        raise ModelImportError(f"{source or model!r} is not a torch.nn.Module "
                               f"(it is a {type(model).__name__})")
    cls = type(model).__name__
    source = source or cls
    shape = parse_input_shape(input_shape)
    if shape is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise ModelImportError(f"{source}: give the input shape (C,H,W), e.g. "
                                   f"--input-shape 3,32,32 (the model has no input_shape "
                                   f"attribute)")
        shape = parse_input_shape(tuple(shape))
    model = model.eval()
    try:
        gm = fx.GraphModule(model, _Tracer().trace(model), cls)
    except Exception as trace_error:  # noqa: BLE001 - fx cannot follow this forward()
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        try:
            program = torch.export.export(model, (torch.zeros(2, *shape),),
                                          dynamic_shapes=({0: batch},))
        except Exception:  # noqa: BLE001
            raise ModelImportError(f"{source}: torch.fx could not trace the model "
                                   f"({type(trace_error).__name__}: {_first_line(trace_error)})"
                                   f" and neither could torch.export") from None
        gm = program.module()
    graph = _FxReader(gm, shape, source).read()
    return _design(_build(graph, name or cls), source)


# ---------------------------------------------------------------------------------------------
# Where a torch model comes from: a Python file, a module, a .pt2


def load_python_model(spec: str):
    """The nn.Module that `spec` names: 'file.py', 'file.py:attr' or 'package.module:attr'.
    Imports (runs) that code. attr: a class made with no arguments, an instance, or a function
    returning one."""
    import torch

    target, _, attr = spec.rpartition(":") if ":" in spec.replace("\\", "/").split("/")[-1] \
        else (spec, "", "")
    if not target:
        target, attr = spec, ""
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise ModelImportError(f"{path}: no such file")
        if path.suffix != ".py":
            raise ModelImportError(f"{path}: not a Python file (.py)")
        mod_name = f"_designer_import_{abs(hash(str(path.resolve())))}"
        spec_obj = importlib.util.spec_from_file_location(mod_name, path)
        if spec_obj is None or spec_obj.loader is None:
            raise ModelImportError(f"{path}: cannot be imported as Python")
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[mod_name] = module
        try:
            spec_obj.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - the user's code failed: say where
            sys.modules.pop(mod_name, None)
            raise ModelImportError(f"{path}: importing it failed: {type(e).__name__}: "
                                   f"{_first_line(e)}") from None
        where = str(path)
    else:
        try:
            module = importlib.import_module(target)
        except Exception as e:  # noqa: BLE001
            raise ModelImportError(f"{target}: cannot import the module: {type(e).__name__}: "
                                   f"{_first_line(e)}") from None
        mod_name = module.__name__
        where = target
    if not attr:
        classes = [v for v in vars(module).values() if inspect.isclass(v)
                   and issubclass(v, torch.nn.Module) and v.__module__ == mod_name]
        if len(classes) != 1:
            found = ", ".join(c.__name__ for c in classes) or "none"
            raise ModelImportError(f"{where}: name the model as {where}:NAME (nn.Module classes "
                                   f"defined there: {found})")
        attr = classes[0].__name__
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelImportError(f"{where}: has no attribute {attr!r}")
        obj = getattr(obj, part)
    label = f"{Path(where).name}:{attr}"
    if isinstance(obj, torch.nn.Module):
        return obj, label
    if callable(obj):
        try:
            made = obj()
        except TypeError as e:
            raise ModelImportError(f"{label}: cannot be made without arguments ({e}); name a "
                                   "function that returns the model, or an instance") from None
        except Exception as e:  # noqa: BLE001
            raise ModelImportError(f"{label}: making the model failed: {type(e).__name__}: "
                                   f"{_first_line(e)}") from None
        if not isinstance(made, torch.nn.Module):
            raise ModelImportError(f"{label}: gives a {type(made).__name__}, not a "
                                   "torch.nn.Module")
        return made, label
    raise ModelImportError(f"{label}: is a {type(obj).__name__}, not a torch.nn.Module")


def import_pt2(path: str | os.PathLike[str], name: str | None = None) -> Design:
    """A design with the structure of a torch.export program saved as .pt2."""
    import zipfile
    from unittest import mock

    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ModelImportError(f"{path}: not a torch.export (.pt2) archive")
    real_load = torch.load

    def weights_only_load(*args, **kwargs):
        kwargs["weights_only"] = True
        return real_load(*args, **kwargs)

    try:
        with mock.patch.object(torch, "load", weights_only_load):
            program = torch.export.load(str(path))
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign archive
        raise ModelImportError(f"{path}: cannot be read as a torch.export program "
                               f"({type(e).__name__}: {_first_line(e)}); files that need "
                               "unpickling are refused") from None
    user_inputs = [s for s in program.graph_signature.input_specs
                   if s.kind.name == "USER_INPUT"]
    if len(user_inputs) != 1:
        raise ModelImportError(f"{path}: the program takes {len(user_inputs)} inputs; a design "
                               "takes one image batch")
    ph = next(n for n in program.graph.nodes if n.op == "placeholder"
              and n.name == user_inputs[0].arg.name)
    val = ph.meta.get("val")
    dims = tuple(getattr(val, "shape", ()))
    if len(dims) != 4:
        raise ModelImportError(f"{path}: the program's input has shape {dims}, not N×C×H×W")
    try:
        shape = tuple(int(d) for d in dims[1:])
    except (TypeError, ValueError):
        raise ModelImportError(f"{path}: the program's input size {dims} is not fixed") from None
    gm = program.module()
    label = path.name
    graph = _FxReader(gm, shape, label).read()
    return _design(_build(graph, name or _stem(path)), label)


def _stem(path: Path) -> str:
    stem = path.name
    for suffix in (".convnet.json", ".onnx", ".pt2", ".py"):
        stem = stem.removesuffix(suffix)
    return stem or "Imported"


# ---------------------------------------------------------------------------------------------
# ONNX (the front end lives in onnx_import.py)


def import_onnx(path: str | os.PathLike[str], input_shape: Sequence[int] | str | None = None,
                name: str | None = None) -> Design:
    """A design with the structure of an ONNX graph (onnx_import.py)."""
    from .onnx_import import import_onnx as read

    return read(path, input_shape, name)


# ---------------------------------------------------------------------------------------------
# One entry point for the command line and the window


def import_model(spec: str, input_shape: Sequence[int] | str | None = None,
                 name: str | None = None) -> Design:
    """Import what `spec` names: an .onnx file, a .pt2 file, a Python file ('model.py' or
    'model.py:Net') or a module ('package.module:attr')."""
    lower = spec.lower()
    if lower.endswith(".onnx"):
        return import_onnx(spec, input_shape, name)
    if lower.endswith(".pt2"):
        return import_pt2(spec, name)  # the program fixes its own input size
    if lower.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")):
        raise ModelImportError(
            f"{spec}: a pickled model is not opened (unpickling can run any code). Import the "
            "Python code that defines it (model.py:ClassName), a torch.export program (.pt2) "
            "or an ONNX file")
    model, label = load_python_model(spec)
    design = import_module(model, input_shape, name, label)
    return design
