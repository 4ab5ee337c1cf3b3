"""The canvas's edits, each one undoable step, built on ui/commands and Document.edit.

What the canvas adds to the plain commands is geometry: a layer dropped into a stack lands in
the stack and the layers below it move down to make room (one undo step: the insertion and the
move together), a block template pushes what follows it below the block, a paste lands beside
the original. And the clipboard format: the nodes and wires of the copied layers written exactly
as a .convnet.json design file writes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ...model import transforms
from ...model.design_file import Design, DesignFileError, from_dict, to_dict
from ...model.layers import ALIASES, CATALOGUE
from ...model.network import Network, NetworkError, Node
from .. import commands
from .items import CARD_H, CARD_W

ROW = 100.0
COLUMN = 200.0
NODES_MIME = "application/x-convnet-nodes"
LAYER_MIME = "application/x-convnet-layer"
BLOCK_MIME = "application/x-convnet-block"


def layer_type_name(payload: str) -> str | None:
    """The catalogue name for a dragged layer: 'Conv2d', or the notes' alias 'CONV'."""
    name = payload.strip()
    if name in CATALOGUE:
        return name
    return ALIASES.get(name.upper())


# ------------------------------------------------------------------------------------ geometry

def _descendants(net: Network, starts: Iterable[str]) -> set[str]:
    consumers = net.readers()
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        stack.extend(consumers.get(nid, ()))
    return seen


def _positions(scene) -> dict[str, tuple[float, float]]:
    return scene.positions()


def _room(pos: dict[str, tuple[float, float]], spot: tuple[float, float],
          downstream: set[str], top: float | None = None) -> dict[str, tuple[float, float]]:
    """New positions for the `downstream` layers below `top` (default: the spot's top) so that
    a card at `spot` has a row to itself above them (empty when there is room already)."""
    x, y = spot
    top = y - CARD_H / 2 if top is None else top
    below = [d for d in downstream if d in pos and pos[d][1] > top]
    column = [pos[d][1] for d in below if abs(pos[d][0] - x) < CARD_W]
    if not column:
        return {}
    delta = y + ROW - min(column)
    if delta <= 0:
        return {}
    return {d: (pos[d][0], pos[d][1] + delta) for d in below}


def _free_spot(pos: dict[str, tuple[float, float]], spot: tuple[float, float],
               ignore: set[str]) -> tuple[float, float]:
    """`spot`, or the first place to its right that no card (other than `ignore`) covers."""
    x, y = spot
    for _ in range(50):
        if not any(abs(px - x) < CARD_W and abs(py - y) < CARD_H
                   for nid, (px, py) in pos.items() if nid not in ignore):
            break
        x += COLUMN
    return (x, y)


def _one_step(doc, text: str, edit: Callable[[], str | None],
              moves: dict[str, tuple[float, float]]) -> str | None:
    """Run `edit` (a commands.* call) and then move `moves`, as one undo step."""
    if not moves:
        return edit()
    stack = doc.undo_stack
    stack.beginMacro(text)
    try:
        nid = edit()
        if nid is not None:
            doc.move(moves, text)
    finally:
        stack.endMacro()
    if nid is None:  # refused: nothing happened, so step back over the empty step
        stack.undo()
    return nid


# ------------------------------------------------------------------------------------ drops

def add_unconnected(doc, type_name: str, pos: tuple[float, float]) -> str | None:
    return commands.add_layer(doc, type_name, pos=(round(pos[0]), round(pos[1])))


def add_after(doc, scene, type_name: str, after: str) -> str | None:
    """A new layer reading `after`'s output, placed just below it; the single-input layers
    that read `after` now read the new layer (commands.add_layer), and move down a row."""
    net = doc.network
    if after not in net or type_name not in CATALOGUE:
        return commands.add_layer(doc, type_name, after=after)
    pos = _positions(scene)
    ax, ay = pos.get(after, net[after].pos or (0.0, 0.0))
    rewired = [c for c in net.consumers(after) if net[c].layer.max_inputs == 1]
    downstream = _descendants(net, rewired)
    spot = (ax, ay + ROW)
    moves = _room(pos, spot, downstream)
    spot = _free_spot({**pos, **moves}, spot, downstream)
    layer = CATALOGUE[type_name]
    label = layer.alias or type_name
    return _one_step(doc, f"Add {label}",
                     lambda: commands.add_layer(doc, type_name, pos=spot, after=after), moves)


def add_branch(doc, scene, type_name: str, after: str) -> str | None:
    """A new layer reading `after`'s output beside the layers that already read it (a new
    branch; they keep reading `after`), placed a row below `after`, right of what is there."""
    net = doc.network
    layer = CATALOGUE.get(type_name)
    if after not in net or layer is None or layer.max_inputs == 0:
        return commands.add_layer(doc, type_name, after=after)  # refused, with the reason
    pos = _positions(scene)
    ax, ay = pos.get(after, net[after].pos or (0.0, 0.0))
    spot = _free_spot(pos, (ax, ay + ROW), set())
    return doc.edit(f"Add {layer.alias or type_name}",
                    lambda n: n.add(type_name, pos=spot, inputs=(after,)))


def drop_after(doc, scene, type_name: str, after: str) -> str | None:
    """A layer dropped on `after`'s output port (or its lower half, or just below it): what a
    user expects from "put it after this one". No layer reads `after` yet: appended below it.
    Exactly one does: inserted between the two (the consumer and what follows move down a
    row). Two or more do (a fork): a new branch beside them, the fork left as it was."""
    net = doc.network
    layer = CATALOGUE.get(type_name)
    consumers = net.consumers(after) if after in net else []
    if len(consumers) >= 2:
        return add_branch(doc, scene, type_name, after)
    if (len(consumers) == 1 and layer is not None and layer.min_inputs == 1
            and layer.max_inputs == 1):
        return insert_on_wire(doc, scene, after, consumers[0], type_name)
    return add_after(doc, scene, type_name, after)


def insert_on_wire(doc, scene, src: str, dst: str, type_name: str) -> str | None:
    """A new layer on the wire src → dst (commands.insert_on_edge), placed where dst was;
    dst and what follows it move down a row where they need to."""
    net = doc.network
    layer = CATALOGUE.get(type_name)
    if (dst not in net or src not in net[dst].inputs or layer is None
            or layer.min_inputs != 1 or layer.max_inputs != 1):
        return commands.insert_on_edge(doc, src, dst, type_name)  # refused, with the reason
    pos = _positions(scene)
    sx, sy = pos[src]
    dx, _ = pos[dst]
    spot = (dx, sy + ROW)
    downstream = _descendants(net, [dst])
    moves = _room(pos, spot, downstream)
    spot = _free_spot({**pos, **moves}, spot, downstream)
    return _one_step(doc, f"Insert {layer.alias or type_name}",
                     lambda: commands.insert_on_edge(doc, src, dst, type_name, pos=spot), moves)


# ------------------------------------------------------------------------------------ blocks

BLOCKS = {
    "inception": "Inception module",
    "basic": "ResNet basic block",
    "bottleneck": "ResNet bottleneck block",
}


def _prefix(net: Network, base: str) -> str:
    i = 1
    while True:
        prefix = base if i == 1 else f"{base}{i}"
        if not any(nid.startswith(prefix + "_") for nid in net.nodes):
            return prefix
        i += 1


def insert_block(doc, scene, kind: str, after: str) -> str | None:
    """A block template after `after`, with its default sizes: GoogLeNet's inception (3a)
    numbers; a basic block keeping the depth at stride 1; a bottleneck block whose output
    depth is the input's (width = depth / 4). What read `after` now reads the block's output
    and moves below the block."""
    if kind not in BLOCKS:
        raise ValueError(f"unknown block {kind!r} (known: {', '.join(BLOCKS)})")
    report = doc.report.layers.get(after)
    depth = report.shape[0] if report is not None and report.shape and len(report.shape) == 3 \
        else 64
    pos = _positions(scene)

    def change(net: Network) -> str:
        if after not in net:
            raise NetworkError(f"no layer named {after!r} to put the block after")
        if net[after].pos is None and after in pos:
            net.move(after, pos[after])
        downstream = _descendants(net, net.consumers(after))
        before = set(net.nodes)
        prefix = _prefix(net, kind)
        if kind == "inception":
            out = transforms.inception_module(net, after, 64, 96, 128, 16, 32, 32, prefix=prefix)
        elif kind == "basic":
            out = transforms.basic_block(net, after, depth, 1, prefix=prefix)
        else:
            out = transforms.bottleneck_block(net, after, max(1, depth // 4), 1, prefix=prefix)
        added = [nid for nid in net.nodes if nid not in before]
        bottom = max(net[n].pos[1] for n in added if net[n].pos is not None)
        ax, ay = net[after].pos
        moves = _room(pos, (ax, bottom), downstream, top=ay)
        for nid, p in moves.items():
            net.move(nid, p)
        return out

    out = doc.edit(f"Insert {BLOCKS[kind]}", change)
    if out is not None:
        doc.select([out])
    return out


# ------------------------------------------------------------------------------------ clipboard

def nodes_to_json(net: Network, ids: Iterable[str],
                  shown_at: dict[str, tuple[float, float] | None] | None = None) -> str:
    """The layers `ids` and the wires among them, as a small design file (a layer without a
    position gets the one it is shown at)."""
    ids = [i for i in ids if i in net.nodes]
    keep = set(ids)
    shown_at = shown_at or {}
    sub = Network(net.name)
    for nid in ids:
        n = net.nodes[nid]
        pos = n.pos if n.pos is not None else shown_at.get(nid)
        sub.nodes[nid] = Node(n.id, n.type, dict(n.params),
                              tuple(s for s in n.inputs if s in keep), n.label, pos, n.frozen)
    return json.dumps(to_dict(Design(sub)), ensure_ascii=False)


def nodes_from_json(text: str) -> list[Node]:
    """The layers of a clipboard payload, validated like a design file; raises
    DesignFileError where it is not one."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise DesignFileError("<clipboard>", f"not JSON ({e})") from None
    design = from_dict(data)
    return list(design.network.nodes.values())


def paste_nodes(doc, nodes: list[Node], offset: tuple[float, float],
                placed: dict[str, tuple[float, float]] | None = None) -> list[str]:
    """commands.paste, with layers that had no position given the one they were shown at."""
    if placed:
        nodes = [n if n.pos is not None or n.id not in placed else
                 Node(n.id, n.type, n.params, n.inputs, n.label, placed[n.id], n.frozen)
                 for n in nodes]
    ids = commands.paste(doc, nodes, offset)
    if ids:
        doc.select(ids)
    return ids
