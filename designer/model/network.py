"""Network: the design as a DAG of layer nodes, and the edits a person makes to it.

A node has an id (a Python identifier, also the attribute name in built and exported code), a
layer type from the catalogue, its parameters, a canvas position, and whether it is frozen (a
fine-tune keeps its weights as they are: see FREEZABLE). Each node keeps its inputs
as an ordered tuple of node ids (the order matters for Concat). Every edit keeps the graph acyclic
and the parameters valid; a refused edit raises NetworkError and changes nothing.

`blocks` are named groups of layers (blocks.py): no number depends on them. The table is
replaced, never changed in place, by every block edit, so a view can tell it changed by identity.

Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .blocks import KINDS, Block, overlap_problem
from .layers import CATALOGUE, LayerType, ParamError, layer_type


class NetworkError(ValueError):
    """An edit that would make the design invalid (a cycle, an unknown node, a bad parameter)."""


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # used with fullmatch: "fc\n" is no name

# The kinds of layer that hold weights, the ones a fine-tune can freeze: a frozen layer's
# parameters are not trained (no gradient, no optimizer state) and a frozen BatchNorm2d normalises
# with its running statistics, which stay as they are (eval mode, also while training).
FREEZABLE = frozenset({"Conv2d", "Linear", "BatchNorm2d"})


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    type: str
    params: Mapping[str, Any]
    inputs: tuple[str, ...] = ()
    label: str = ""
    pos: tuple[float, float] | None = None
    frozen: bool = False  # a fine-tune keeps this layer's weights (only FREEZABLE kinds)

    @property
    def layer(self) -> LayerType:
        return CATALOGUE[self.type]

    def at(self, pos: tuple[float, float] | None) -> Node:
        """This layer at another place on the canvas: made directly, at half the cost of
        dataclasses.replace (a stage expanded moves hundreds of layers)."""
        return Node(self.id, self.type, self.params, self.inputs, self.label, pos, self.frozen)


@dataclass
class Network:
    name: str = "Untitled"
    description: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    _order: tuple[str, ...] | None = field(default=None, repr=False, compare=False)
    _version: int = field(default=0, repr=False, compare=False)
    # the last analysis's per-layer reports, reused where nothing changed (see analysis.py)
    _reports: dict = field(default_factory=dict, repr=False, compare=False)
    # what the analysis works out from the wiring and the layers' kinds alone (its readers'
    # counts, the in-place ReLUs): kept, as the order is, until a layer comes, goes or is
    # rewired (never changed in place: shared by copies)
    _wired: tuple | None = field(default=None, repr=False, compare=False)
    _readers: Mapping | None = field(default=None, repr=False, compare=False)  # readers()

    # ----------------------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nodes

    def __getitem__(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise NetworkError(f"no layer named {node_id!r}") from None

    @property
    def version(self) -> int:
        """Increases with every edit; lets callers cache what they compute from the network."""
        return self._version

    def edges(self) -> list[tuple[str, str, int]]:
        """(source, destination, input port) for every wire."""
        return [(src, n.id, port) for n in self.nodes.values() for port, src in enumerate(n.inputs)]

    def consumers(self, node_id: str) -> list[str]:
        return [n.id for n in self.nodes.values() if node_id in n.inputs]

    def readers(self) -> Mapping[str, tuple[str, ...]]:
        """{layer: the layers that read it, in the design's order of nodes}; kept, as the
        topological order is, until a layer comes, goes or is rewired (read-only)."""
        if self._readers is None:
            built: dict[str, list[str]] = {}
            for n in self.nodes.values():
                for s in n.inputs:
                    built.setdefault(s, []).append(n.id)
            self._readers = MappingProxyType({k: tuple(v) for k, v in built.items()})
        return self._readers

    def inputs_of(self, node_id: str) -> tuple[str, ...]:
        return self[node_id].inputs

    def topological_order(self) -> tuple[str, ...]:
        """Node ids, every node after all of its inputs; ties keep insertion order."""
        if self._order is None:
            self._order = _toposort(self.nodes)
        return self._order

    def unique_id(self, base: str) -> str:
        base = re.sub(r"\W", "_", base.lower()) or "layer"
        if base[0].isdigit():
            base = "_" + base
        if base not in self.nodes and not keyword.iskeyword(base) and not base[-1].isdigit():
            return base
        i = 1
        while f"{base}{i}" in self.nodes:
            i += 1
        return f"{base}{i}"

    def copy(self) -> Network:
        return Network(self.name, self.description, dict(self.nodes), dict(self.blocks),
                       _reports=dict(self._reports), _order=self._order, _wired=self._wired,
                       _readers=self._readers)

    # ----------------------------------------------------------------------------- edits

    def add(
        self,
        type_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        inputs: Iterable[str] = (),
        label: str = "",
        pos: tuple[float, float] | None = None,
        frozen: bool = False,
    ) -> str:
        """Add a layer (optionally wired to `inputs`) and return its id."""
        try:
            layer = layer_type(type_name)
            full = layer.validate(params or {})
        except ParamError as e:
            raise NetworkError(f"{id or type_name}: {e}") from None
        node_id = id if id is not None else self.unique_id(_short(type_name))
        self._check_new_id(node_id)
        if frozen:
            _check_freezable(node_id, type_name)
        inputs = tuple(inputs)
        for src in inputs:
            self[src]
        _check_arity(layer, node_id, len(inputs), partial=True)
        if pos is not None:
            pos = (float(pos[0]), float(pos[1]))
        self.nodes[node_id] = Node(node_id, type_name, full, inputs, label, pos, bool(frozen))
        self._touch()
        return node_id

    def remove(self, node_id: str, reconnect: bool = True) -> None:
        """Remove a layer. Inside a stack (one input), its consumers are wired to that input."""
        node = self[node_id]
        feed = node.inputs[0] if reconnect and len(node.inputs) == 1 else None
        del self.nodes[node_id]
        for n in list(self.nodes.values()):
            if node_id in n.inputs:
                if feed is not None and feed not in n.inputs:
                    new = tuple(feed if s == node_id else s for s in n.inputs)
                else:
                    new = tuple(s for s in n.inputs if s != node_id)
                self.nodes[n.id] = replace(n, inputs=new)
        if any(node_id in b.members for b in self.blocks.values()):
            kept = {}
            for bid, b in self.blocks.items():
                if node_id in b.members:
                    b = replace(b, members=tuple(m for m in b.members if m != node_id))
                if b.members and overlap_problem(b.members, kept) is None:
                    kept[bid] = b  # (a block left with its inner block's layers only goes)
            self.blocks = kept
        self._touch()

    def insert_on_edge(
        self,
        src: str,
        dst: str,
        type_name: str,
        params: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        pos: tuple[float, float] | None = None,
    ) -> str:
        """Put a new single-input layer on the wire src → dst and return its id."""
        target = self[dst]
        if src not in target.inputs:
            raise NetworkError(f"there is no wire {src} → {dst}")
        layer = layer_type(type_name)
        if layer.min_inputs != 1 or layer.max_inputs != 1:
            raise NetworkError(f"a {type_name} layer cannot be put on a wire (it needs "
                               f"{layer.min_inputs}+ inputs)")
        new_id = self.add(type_name, params, id=id, inputs=(src,), pos=pos)
        rewired = tuple(new_id if s == src else s for s in target.inputs)
        self.nodes[dst] = replace(target, inputs=rewired)
        self._touch()
        return new_id

    def connect(self, src: str, dst: str, port: int | None = None) -> None:
        """Wire src's output to dst. A single-input layer's old wire is replaced."""
        self[src]
        target = self[dst]
        layer = target.layer
        if layer.max_inputs == 0:
            raise NetworkError(f"{dst} is an INPUT layer and takes no inputs")
        if src in target.inputs:
            raise NetworkError(f"{src} is already wired to {dst}")
        if src == dst or self._reaches(dst, src):
            raise NetworkError(f"wiring {src} → {dst} would make a cycle")
        inputs = list(target.inputs)
        if layer.max_inputs == 1:
            inputs = [src]
        elif port is None or port >= len(inputs):
            inputs.append(src)
        else:
            inputs.insert(max(port, 0), src)
        self.nodes[dst] = replace(target, inputs=tuple(inputs))
        self._touch()

    def disconnect(self, src: str, dst: str) -> None:
        target = self[dst]
        if src not in target.inputs:
            raise NetworkError(f"there is no wire {src} → {dst}")
        self.nodes[dst] = replace(target, inputs=tuple(s for s in target.inputs if s != src))
        self._touch()

    def set_params(self, node_id: str, **changes: Any) -> None:
        node = self[node_id]
        merged = {**node.params, **changes}
        try:
            full = node.layer.validate(merged)
        except ParamError as e:
            raise NetworkError(f"{node_id}.{e}") from None
        self.nodes[node_id] = replace(node, params=full)
        self._touch(wiring=False)

    def set_frozen(self, node_id: str, frozen: bool) -> None:
        """Freeze a layer's weights for a fine-tune (or make them trainable again)."""
        node = self[node_id]
        frozen = bool(frozen)
        if frozen == node.frozen:
            return
        if frozen:
            _check_freezable(node_id, node.type)
        self.nodes[node_id] = replace(node, frozen=frozen)
        self._touch(wiring=False)

    def set_inputs(self, node_id: str, inputs: Iterable[str], check_cycles: bool = True) -> None:
        """Replace a node's wiring at once (block templates, loading). Loading a whole file
        wires everything first and looks for cycles once, in topological_order()."""
        node = self[node_id]
        inputs = tuple(inputs)
        for src in inputs:
            self[src]
            if src == node_id or (check_cycles and self._reaches(node_id, src)):
                raise NetworkError(f"wiring {src} → {node_id} would make a cycle")
        _check_arity(node.layer, node_id, len(inputs), partial=True)
        self.nodes[node_id] = replace(node, inputs=inputs)
        self._touch()

    def replace_nodes(self, nodes: dict[str, Node],
                      blocks: dict[str, Block] | None = None) -> None:
        """Put back a whole node table, and the blocks where given (undo/redo); the caller
        guarantees they are consistent."""
        self.nodes = nodes
        if blocks is not None:
            self.blocks = blocks
        self._touch()

    def move(self, node_id: str, pos: tuple[float, float] | None) -> None:
        """Set a layer's canvas position (not an analysed change: the version stays)."""
        if pos is not None:
            pos = (float(pos[0]), float(pos[1]))
        self.nodes[node_id] = self[node_id].at(pos)

    def move_all(self, positions: Mapping[str, tuple[float, float] | None]) -> None:
        """move() for many layers at once (those not in the design left out): a stage opened
        or closed moves hundreds."""
        nodes = self.nodes
        for nid, pos in positions.items():
            node = nodes.get(nid)
            if node is not None:
                if pos is not None:
                    pos = (float(pos[0]), float(pos[1]))
                nodes[nid] = node.at(pos)

    def rename(self, old: str, new: str) -> None:
        """Give a layer a new id; wires follow."""
        if old == new:
            return
        node = self[old]
        self._check_new_id(new)
        rebuilt: dict[str, Node] = {}
        for nid, n in self.nodes.items():
            if nid == old:
                rebuilt[new] = replace(node, id=new)
            elif old in n.inputs:
                rebuilt[nid] = replace(n, inputs=tuple(new if s == old else s for s in n.inputs))
            else:
                rebuilt[nid] = n
        self.nodes = rebuilt
        if any(old in b.members for b in self.blocks.values()):
            self.blocks = {bid: replace(b, members=tuple(new if m == old else m
                                                         for m in b.members))
                           for bid, b in self.blocks.items()}
        self._touch()

    # ----------------------------------------------------------------------------- blocks

    def add_block(self, members: Iterable[str], kind: str = "group", name: str = "",
                  id: str | None = None, collapsed: bool = False) -> str:
        """Group `members` as a block (in the design's order) and return its id. Refused
        (NetworkError) for an unknown layer or kind, no layers, or a block that would share
        some layers with another without holding it or being held by it."""
        chosen = set(members)
        for nid in chosen:
            self[nid]
        if not chosen:
            raise NetworkError("a block needs at least one layer")
        if kind not in KINDS:
            raise NetworkError(f"unknown kind of block {kind!r} (known: {', '.join(KINDS)})")
        block_id = id if id is not None else self.unique_block_id(name or kind)
        if not isinstance(block_id, str) or not _IDENT.fullmatch(block_id):
            raise NetworkError(f"{block_id!r} is not a valid block name (letters, digits and _, "
                               "not starting with a digit)")
        if block_id in self.blocks:
            raise NetworkError(f"there is already a block named {block_id!r}")
        problem = overlap_problem(chosen, self.blocks)
        if problem:
            raise NetworkError(problem)
        ordered = tuple(n for n in self.nodes if n in chosen)
        self.blocks = {**self.blocks,
                       block_id: Block(block_id, name or block_id, kind, ordered, collapsed)}
        return block_id

    def remove_block(self, block_id: str) -> None:
        """Ungroup: the block goes, its layers stay."""
        if block_id not in self.blocks:
            raise NetworkError(f"no block named {block_id!r}")
        self.blocks = {k: b for k, b in self.blocks.items() if k != block_id}

    def set_collapsed(self, block_ids: Iterable[str], collapsed: bool) -> None:
        """Show blocks as one card each (collapsed) or as their layers."""
        changed = dict(self.blocks)
        for bid in block_ids:
            if bid not in changed:
                raise NetworkError(f"no block named {bid!r}")
            changed[bid] = replace(changed[bid], collapsed=bool(collapsed))
        self.blocks = changed

    def unique_block_id(self, base: str) -> str:
        base = re.sub(r"\W", "_", base.lower()) or "block"
        if base[0].isdigit():
            base = "_" + base
        if base not in self.blocks:
            return base
        i = 2
        while f"{base}{i}" in self.blocks:
            i += 1
        return f"{base}{i}"

    # ----------------------------------------------------------------------------- internals

    def _check_new_id(self, node_id: str) -> None:
        if (not isinstance(node_id, str) or not _IDENT.fullmatch(node_id)
                or keyword.iskeyword(node_id)):
            raise NetworkError(
                f"{node_id!r} is not a valid layer name (letters, digits and _, not starting "
                "with a digit)"
            )
        if node_id in self.nodes:
            raise NetworkError(f"there is already a layer named {node_id!r}")

    def _reaches(self, start: str, goal: str) -> bool:
        """Whether goal is downstream of start."""
        consumers: dict[str, list[str]] = {}
        for n in self.nodes.values():
            for s in n.inputs:
                consumers.setdefault(s, []).append(n.id)
        stack, seen = [start], {start}
        while stack:
            for nxt in consumers.get(stack.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def _touch(self, wiring: bool = True) -> None:
        """A change the analysis must see; `wiring` False: no layer came, went or was wired
        anew, so the topological order stays (a layer replaced in the nodes keeps its place)."""
        if wiring:
            self._order = None
            self._wired = None
            self._readers = None
        self._version += 1


def _short(type_name: str) -> str:
    return {"Conv2d": "conv", "MaxPool2d": "pool", "AvgPool2d": "avgpool",
            "AdaptiveAvgPool2d": "gap", "BatchNorm2d": "bn", "LocalResponseNorm": "lrn",
            "Linear": "fc", "Input": "input"}.get(type_name, type_name.lower())


def _check_freezable(node_id: str, type_name: str) -> None:
    if type_name not in FREEZABLE:
        raise NetworkError(f"{node_id}: a {type_name} layer has no weights to freeze (only "
                           f"{', '.join(sorted(FREEZABLE))} can be frozen)")


def _check_arity(layer: LayerType, node_id: str, n: int, partial: bool) -> None:
    if layer.max_inputs is not None and n > layer.max_inputs:
        raise NetworkError(f"{node_id}: a {layer.name} layer takes at most {layer.max_inputs} "
                           f"input(s), got {n}")


def _toposort(nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """Insertion order where it is topological (the common case: layers added after their
    inputs), else a depth-first order that keeps chains together."""
    seen: set[str] = set()
    for nid, node in nodes.items():
        for src in node.inputs:
            if src not in seen:
                break
        else:
            seen.add(nid)
            continue
        break
    else:
        return tuple(nodes)
    order: list[str] = []
    state: dict[str, int] = {}
    for root in nodes:
        if root in state:
            continue
        stack = [(root, 0)]
        while stack:
            nid, i = stack.pop()
            if i == 0:
                if state.get(nid) == 2:
                    continue
                state[nid] = 1
            ins = nodes[nid].inputs
            while i < len(ins):
                src = ins[i]
                i += 1
                st = state.get(src)
                if st is None and src in nodes:
                    stack.append((nid, i))
                    stack.append((src, 0))
                    break
                if st == 1:
                    raise NetworkError(f"the wiring has a cycle through {src} and {nid}")
            else:
                state[nid] = 2
                order.append(nid)
    return tuple(order)
