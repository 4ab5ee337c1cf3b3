"""The common back end of the importer: the operation records of any front end (torch.fx,
torch.export, ONNX) built into a Network, with layer ids from the model's own names, every
operation that does not map listed in one ModelImportError, the clean-up passes run
(import_cleanup.py), the design checked against the shapes the model itself computes, and laid
out; then wrapped as a Design.

TORCH-free, no Qt.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Any

from ..model.analysis import analyze
from ..model.design_file import Design
from ..model.layers import fmt_shape
from ..model.layout import auto_layout
from ..model.network import Network, NetworkError
from .import_cleanup import _absorb_flattens, _merge_add_chains, _prune
from .import_graph import SUPPORTED, ModelImportError, _Graph, _Op, _shape_text


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
    return _build_made(graph, name)[0]


def _build_made(graph: _Graph, name: str) -> tuple[Network, dict[str, _Op]]:
    """The design of an operation list and, for each of its layers, the operation it was made
    from (what the weights are read by: import_weights.py)."""
    net = Network(name)
    c, h, w = graph.input_shape
    try:
        value: dict[Any, str | None] = {graph.input_key: net.add(
            "Input", {"channels": c, "height": h, "width": w}, id="input")}
    except NetworkError as e:
        raise ModelImportError(f"{graph.source}: the input {c}×{h}×{w} (C×H×W) cannot be a "
                               f"design's: {str(e).split(': ', 1)[-1]}") from None
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
    net = _checked(net, graph, made)
    return net, {nid: op for nid, op in made.items() if nid in net.nodes}


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


def _design(net: Network, what: str) -> Design:
    net.description = f"Imported from {what}."
    return Design(net, source=f"imported from {what}")


def _stem(path: Path) -> str:
    stem = path.name
    for suffix in (".convnet.json", ".onnx", ".pt2", ".py"):
        stem = stem.removesuffix(suffix)
    return stem or "Imported"
