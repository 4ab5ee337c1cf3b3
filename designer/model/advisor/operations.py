"""The network operations a hint's edit is made of (SetParams, ReplaceByChain, InsertAfter,
RemoveLayer, ConvertFcToConv, and the NewLayer they add), and how they make room on the canvas.

`Hint.apply` runs them on a Network in order, so a window can run them as one undoable step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..network import Network, NetworkError

ROW = 100.0  # canvas row height: layers an edit adds go one row apart, and what follows moves


class Operation(Protocol):
    def apply(self, net: Network, layout: bool = True) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class NewLayer:
    id: str
    type: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SetParams:
    """New values for some of a layer's parameters."""

    node: str
    params: Mapping[str, Any]

    def apply(self, net: Network, layout: bool = True) -> None:
        net.set_params(self.node, **self.params)

    def describe(self) -> str:
        return f"{self.node}: " + ", ".join(f"{k} = {v}" for k, v in self.params.items())


@dataclass(frozen=True)
class ReplaceByChain:
    """Replace a single-input layer by a chain of new layers; what read the old layer reads the
    last of the chain (which may keep the old id). The chain takes the old layer's place in the
    layer order and on the canvas; the layers below move down to make room."""

    node: str
    chain: tuple[NewLayer, ...]

    def apply(self, net: Network, layout: bool = True) -> None:
        old = net[self.node]
        if len(old.inputs) != 1:
            raise NetworkError(f"{self.node} must have exactly one input to be replaced")
        readers = {c: net[c].inputs for c in net.consumers(self.node)}
        index = list(net.nodes).index(self.node)
        if layout:
            _make_room(net, self.node, len(self.chain) - 1)
        net.remove(self.node, reconnect=False)
        prev = old.inputs[0]
        for i, layer in enumerate(self.chain):
            pos = None if old.pos is None else (old.pos[0], old.pos[1] + i * ROW)
            prev = net.add(layer.type, layer.params, id=layer.id, inputs=(prev,), pos=pos)
        for c, ins in readers.items():
            net.set_inputs(c, tuple(prev if s == self.node else s for s in ins))
        _place_in_order(net, [layer.id for layer in self.chain], index)

    def describe(self) -> str:
        return f"{self.node} → " + " → ".join(f"{n.id} ({n.type})" for n in self.chain)


@dataclass(frozen=True)
class InsertAfter:
    """A new single-input layer reading `node`; what read `node` reads the new layer."""

    node: str
    layer: NewLayer

    def apply(self, net: Network, layout: bool = True) -> None:
        src = net[self.node]
        readers = {c: net[c].inputs for c in net.consumers(self.node)}
        index = list(net.nodes).index(self.node) + 1
        if layout:
            _make_room(net, self.node, 1)
        pos = None if src.pos is None else (src.pos[0], src.pos[1] + ROW)
        new = net.add(self.layer.type, self.layer.params, id=self.layer.id, inputs=(self.node,),
                      pos=pos)
        for c, ins in readers.items():
            net.set_inputs(c, tuple(new if s == self.node else s for s in ins))
        _place_in_order(net, [new], index)

    def describe(self) -> str:
        return f"{self.layer.id} ({self.layer.type}) after {self.node}"


@dataclass(frozen=True)
class RemoveLayer:
    """Take a single-input layer out of its stack; what read it reads its input."""

    node: str

    def apply(self, net: Network, layout: bool = True) -> None:
        if len(net[self.node].inputs) != 1:
            raise NetworkError(f"{self.node} must have exactly one input to be taken out")
        if layout:
            _make_room(net, self.node, -1)
        net.remove(self.node, reconnect=True)

    def describe(self) -> str:
        return f"remove {self.node}"


@dataclass(frozen=True)
class ConvertFcToConv:
    """The notes' FC → CONV conversion of every FC layer (transforms.fc_to_conv)."""

    def apply(self, net: Network, layout: bool = True) -> None:
        from ..transforms import fc_to_conv

        try:
            converted = fc_to_conv(net)
        except ValueError as e:
            raise NetworkError(str(e)) from None
        net.replace_nodes(dict(converted.nodes))

    def describe(self) -> str:
        return "every FC layer → a CONV layer computing the same function"


def _descendants(net: Network, start: str) -> set[str]:
    readers = net.readers()
    seen: set[str] = set()
    stack = list(readers.get(start, ()))
    while stack:
        nid = stack.pop()
        if nid not in seen:
            seen.add(nid)
            stack.extend(readers.get(nid, ()))
    return seen


def _make_room(net: Network, node: str, rows: int) -> None:
    """Move the layers below `node` that follow from it down by `rows` canvas rows (up where
    rows < 0: a layer was taken out)."""
    top = net[node].pos
    if rows == 0 or top is None:
        return
    for d in _descendants(net, node):
        pos = net.nodes[d].pos
        if pos is not None and pos[1] > top[1]:
            net.move(d, (pos[0], pos[1] + rows * ROW))


def _place_in_order(net: Network, ids: list[str], index: int) -> None:
    """Put the layers `ids` at `index` in the layer order (the table lists layers that way)."""
    rest = [nid for nid in net.nodes if nid not in ids]
    ordered = rest[:index] + ids + rest[index:]
    if ordered != list(net.nodes):
        net.replace_nodes({nid: net.nodes[nid] for nid in ordered})
