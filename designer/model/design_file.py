"""The .convnet.json design file: versioned, validated field by field, saved atomically.

    {"format": "convnet-designer", "version": 1,
     "name": str, "description": str, "source": str, "reference": {"params": int},
     "nodes": [{"id": str, "type": str, "params": {...}, "label": str, "pos": [x, y],
                "frozen": true}, ...],                # "frozen": only on a frozen layer
     "edges": [{"from": str, "to": str}, ...],      # in input-port order for each "to"
     "blocks": [{"id": str, "name": str, "kind": str, "members": [layer id, ...],
                 "collapsed": true}, ...],          # optional; "collapsed": only when it is
     "analysis": {"batch": int, "dtype": str, "optimizer": str, "budget": int | null},
     "training": {...}, "canvas": {...}, "hints": {...}}

Loading never runs code (plain JSON only) and reports the first problem as
`path.to.field: what is wrong`. Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_text
from .analysis import DTYPE_BYTES, OPTIMIZER_STATE
from .blocks import KINDS
from .layers import CATALOGUE, ParamError
from .network import FREEZABLE, Network, NetworkError

FORMAT = "convnet-designer"
VERSION = 1
SUFFIX = ".convnet.json"
_MAX_BYTES = 64 * 1024 * 1024
# the largest whole number a design holds (2**53: a float's exact range, ~9·10¹⁵); bigger ones
# are a damaged file, and would overflow where they meet a float (a position, a parameter)
MAX_INT = 2**53
MAX_BATCH = 65_536  # the readouts' batch box allows as much
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, always a lone half of a UTF-16 pair


class DesignFileError(ValueError):
    """A design file that cannot be read; the message names the file, the field and the problem."""


@dataclass
class Design:
    """A network with everything saved beside it."""

    network: Network
    source: str = ""
    reference: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    canvas: dict[str, Any] = field(default_factory=dict)
    hints: dict[str, Any] = field(default_factory=dict)


_TOP = {"format", "version", "name", "description", "source", "reference", "nodes", "edges",
        "blocks", "analysis", "training", "canvas", "hints"}
_BLOCK_FIELDS = ("id", "name", "kind", "members", "collapsed")


def to_dict(design: Design) -> dict[str, Any]:
    net = design.network
    nodes = []
    for nid in net.nodes:
        n = net.nodes[nid]
        entry: dict[str, Any] = {"id": n.id, "type": n.type, "params": dict(n.params)}
        if n.label:
            entry["label"] = n.label
        if n.pos is not None:
            entry["pos"] = [round(n.pos[0], 2), round(n.pos[1], 2)]
        if n.frozen:
            entry["frozen"] = True
        nodes.append(entry)
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": net.name,
                            "description": net.description}
    if design.source:
        data["source"] = design.source
    if design.reference:
        data["reference"] = design.reference
    data["nodes"] = nodes
    data["edges"] = [{"from": s, "to": d} for s, d, _ in net.edges()]
    if net.blocks:
        data["blocks"] = [_block_entry(b) for b in net.blocks.values()]
    for key in ("analysis", "training", "canvas", "hints"):
        value = getattr(design, key)
        if value:
            data[key] = value
    return data


def _block_entry(block) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": block.id, "name": block.name, "kind": block.kind,
                             "members": list(block.members)}
    if block.collapsed:
        entry["collapsed"] = True
    return entry


def dumps(design: Design) -> str:
    """The file's text; valid UTF-8 whatever the design holds (a lone surrogate that reached a
    name becomes U+FFFD rather than making the file unwritable)."""
    text = json.dumps(to_dict(design), indent=1, ensure_ascii=False) + "\n"
    return _SURROGATE.sub("\ufffd", text)


def save(design: Design, path: str | os.PathLike[str]) -> None:
    """Write atomically (designer.atomic): a temporary file of our own beside the target,
    flushed, then renamed over it, with the replaced file's permissions; the temporary files a
    killed save left for this target (an hour old) are removed."""
    write_text(path, dumps(design))


def load(path: str | os.PathLike[str]) -> Design:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise DesignFileError(f"{path}: the file is {size} bytes, too large for a design")
        raw = path.read_bytes()
    except OSError as e:
        raise DesignFileError(f"{path}: cannot read it ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DesignFileError(f"{path}: not a text file (not UTF-8)") from None
    return loads(text, str(path))


def loads(text: str, where: str = "<design>") -> Design:
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise DesignFileError(f"{where}: line {e.lineno} column {e.colno}: not valid JSON "
                              f"({e.msg})") from None
    except (ValueError, RecursionError) as e:
        raise DesignFileError(f"{where}: not valid JSON ({e})") from None
    try:
        return from_dict(data)
    except _FieldError as e:
        raise DesignFileError(f"{where}: {e.path}: {e.problem}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


class _FieldError(Exception):
    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _expect(value: Any, types: tuple[type, ...], path: str, what: str) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _FieldError(path, f"expected {what}, got {_kind(value)}")
    return value


def _check_values(data: Any) -> None:
    """Every value of the parsed file is one a design can hold: finite numbers of at most
    MAX_INT, text that is valid Unicode (a lone surrogate, "\\ud800" in JSON, could never be
    saved again). Walks without recursion; the path names the first bad value."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                here = f"{path}.{key}" if path else str(key)
                _check_text(key, here)
                stack.append((here, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _FieldError(path or "(top level)", "a number too large to hold (or not finite)")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise _FieldError(path or "(top level)",
                              f"the number has {len(str(abs(value)))} digits, too large to hold "
                              f"(at most {MAX_INT:,})")


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _FieldError(path or "(top level)", "the text holds an invalid character (a lone "
                                                 "UTF-16 surrogate)") from None


def from_dict(data: Any) -> Design:
    _expect(data, (dict,), "(top level)", "an object")
    _check_values(data)
    if data.get("format") != FORMAT:
        raise _FieldError("format", f'expected "{FORMAT}" (this is not a ConvNet Designer design), '
                                    f"got {json.dumps(data.get('format'))[:60]}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _FieldError("version", f"expected a whole number, got {_kind(version)}")
    if version > VERSION:
        raise _FieldError("version", f"{version} was written by a newer ConvNet Designer "
                                     f"(this one reads up to {VERSION})")
    if version < 1:
        raise _FieldError("version", f"must be ≥ 1, got {version}")
    for key in data:
        if key not in _TOP:
            raise _FieldError(key, f"unknown field (known: {', '.join(sorted(_TOP))})")
    name = _expect(data.get("name", "Untitled"), (str,), "name", "a string")
    description = _expect(data.get("description", ""), (str,), "description", "a string")
    source = _expect(data.get("source", ""), (str,), "source", "a string")
    reference = _expect(data.get("reference", {}), (dict,), "reference", "an object")
    for key, value in reference.items():
        _expect(value, (int, float, str), f"reference.{key}", "a number or a string")
    net = Network(name, description)
    nodes = _expect(data.get("nodes"), (list,), "nodes", "a list of layers")
    for i, entry in enumerate(nodes):
        _node(net, entry, f"nodes[{i}]")
    edges = _expect(data.get("edges", []), (list,), "edges", "a list of wires")
    wiring: dict[str, list[str]] = {}
    for i, entry in enumerate(edges):
        path = f"edges[{i}]"
        _expect(entry, (dict,), path, 'an object {"from": ..., "to": ...}')
        extra = set(entry) - {"from", "to"}
        if extra:
            raise _FieldError(f"{path}.{sorted(extra)[0]}", "unknown field (known: from, to)")
        src = _expect(entry.get("from"), (str,), f"{path}.from", "a layer id")
        dst = _expect(entry.get("to"), (str,), f"{path}.to", "a layer id")
        for key, nid in (("from", src), ("to", dst)):
            if nid not in net.nodes:
                raise _FieldError(f"{path}.{key}", f"no layer has the id {nid!r}")
        if src in wiring.get(dst, ()):
            raise _FieldError(path, f"the wire {src} → {dst} appears twice")
        wiring.setdefault(dst, []).append(src)
    for dst, srcs in wiring.items():
        try:
            net.set_inputs(dst, srcs, check_cycles=False)
        except NetworkError as e:
            raise _FieldError("edges", str(e)) from None
    try:
        net.topological_order()
    except NetworkError as e:
        raise _FieldError("edges", str(e)) from None
    blocks = _expect(data.get("blocks", []), (list,), "blocks", "a list of blocks")
    for i, entry in enumerate(blocks):
        _block(net, entry, f"blocks[{i}]")
    analysis = _analysis(data.get("analysis", {}))
    design = Design(net, source, dict(reference), analysis)
    for key in ("training", "canvas", "hints"):
        setattr(design, key, _expect(data.get(key, {}), (dict,), key, "an object"))
    return design


def _node(net: Network, entry: Any, path: str) -> None:
    _expect(entry, (dict,), path, "an object")
    extra = set(entry) - {"id", "type", "params", "label", "pos", "frozen"}
    if extra:
        raise _FieldError(f"{path}.{sorted(extra)[0]}",
                          "unknown field (known: id, type, params, label, pos, frozen)")
    nid = _expect(entry.get("id"), (str,), f"{path}.id", "a string")
    type_name = _expect(entry.get("type"), (str,), f"{path}.type", "a layer type")
    if type_name not in CATALOGUE:
        raise _FieldError(f"{path}.type", f"unknown layer type {type_name!r} "
                                          f"(known: {', '.join(CATALOGUE)})")
    params = _expect(entry.get("params", {}), (dict,), f"{path}.params", "an object")
    label = _expect(entry.get("label", ""), (str,), f"{path}.label", "a string")
    pos = entry.get("pos")
    if pos is not None:
        if (not isinstance(pos, list) or len(pos) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in pos)):
            raise _FieldError(f"{path}.pos", f"expected [x, y] numbers, got {json.dumps(pos)[:40]}")
        pos = (float(pos[0]), float(pos[1]))
    frozen = _expect(entry.get("frozen", False), (bool,), f"{path}.frozen", "true or false")
    if frozen and type_name not in FREEZABLE:
        raise _FieldError(f"{path}.frozen", f"a {type_name} layer has no weights to freeze (only "
                                            f"{', '.join(sorted(FREEZABLE))} can be frozen)")
    try:
        CATALOGUE[type_name].validate(params)
    except ParamError as e:
        key, _, problem = str(e).partition(": ")
        raise _FieldError(f"{path}.params.{key}", problem) from None
    try:
        net.add(type_name, params, id=nid, label=label, pos=pos, frozen=frozen)
    except NetworkError as e:
        raise _FieldError(f"{path}.id", str(e)) from None


def _block(net: Network, entry: Any, path: str) -> None:
    _expect(entry, (dict,), path, "an object")
    extra = set(entry) - set(_BLOCK_FIELDS)
    if extra:
        raise _FieldError(f"{path}.{sorted(extra)[0]}",
                          f"unknown field (known: {', '.join(_BLOCK_FIELDS)})")
    bid = _expect(entry.get("id"), (str,), f"{path}.id", "a string")
    name = _expect(entry.get("name", ""), (str,), f"{path}.name", "a string")
    kind = _expect(entry.get("kind", "group"), (str,), f"{path}.kind", "a kind of block")
    if kind not in KINDS:
        raise _FieldError(f"{path}.kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    members = _expect(entry.get("members"), (list,), f"{path}.members", "a list of layer ids")
    if not members:
        raise _FieldError(f"{path}.members", "a block needs at least one layer")
    seen: set[str] = set()
    for j, nid in enumerate(members):
        _expect(nid, (str,), f"{path}.members[{j}]", "a layer id")
        if nid not in net.nodes:
            raise _FieldError(f"{path}.members[{j}]", f"no layer has the id {nid!r}")
        if nid in seen:
            raise _FieldError(f"{path}.members[{j}]", f"{nid!r} is listed twice")
        seen.add(nid)
    collapsed = _expect(entry.get("collapsed", False), (bool,), f"{path}.collapsed",
                        "true or false")
    try:
        net.add_block(members, kind, name, id=bid, collapsed=collapsed)
    except NetworkError as e:
        where = "id" if bid in net.blocks or "block name" in str(e) else "members"
        raise _FieldError(f"{path}.{where}", str(e)) from None


def _analysis(value: Any) -> dict[str, Any]:
    _expect(value, (dict,), "analysis", "an object")
    out: dict[str, Any] = {}
    for key, v in value.items():
        path = f"analysis.{key}"
        if key == "batch":
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_BATCH:
                raise _FieldError(path, f"expected a whole number from 1 to {MAX_BATCH:,}, got "
                                        f"{json.dumps(v)[:40]}")
        elif key == "dtype":
            if not isinstance(v, str) or v not in DTYPE_BYTES:
                raise _FieldError(path, f"expected one of {', '.join(DTYPE_BYTES)}, got "
                                        f"{json.dumps(v)[:40]}")
        elif key == "optimizer":
            if not isinstance(v, str) or v not in OPTIMIZER_STATE:
                raise _FieldError(path, f"expected one of {', '.join(OPTIMIZER_STATE)}, got "
                                        f"{json.dumps(v)[:40]}")
        elif key == "budget":
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise _FieldError(path, f"expected bytes (a whole number) or null, got "
                                        f"{json.dumps(v)[:40]}")
        else:
            raise _FieldError(path, "unknown field (known: batch, dtype, optimizer, budget)")
        out[key] = v
    return out
