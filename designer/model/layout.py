"""Canvas positions for a whole design: auto_layout (every layer, top to bottom) and arrange
(the styles of the View menu: top to bottom, left to right, wrapped columns; a collapsed block
takes one card's place, its layers squashed into it) and toggle_moves (a block opened or closed
in place).

A layered drawing of the DAG, the way the notes draw a ConvNet: every layer one row below the
deepest of its inputs (the longest path from the INPUT), a plain stack a straight column under
its parent, the branches that leave one layer side by side and centred under it, a merge (Add,
Concat) centred under its inputs. Within a row the layers keep the order of their desired places
(their parents' places: the barycentre heuristic), and overlaps are resolved by moving each as
little as possible (isotonic regression, so a row costs O(n)).

Positions are the centres of the cards (about 170 × 64) in canvas units. Pure Python: no Qt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from . import blocks as _blocks
from .network import Network

ROW = 100.0
COLUMN = 200.0
ACROSS = 240.0  # left to right: one layer every ACROSS units
COLUMN_GAP = 120.0  # wrapped columns: room between two columns for the wire that climbs back
SQUASH = 0.25  # a collapsed block's layers, one under another in its card's place

STYLES = {"top-down": "Top to Bottom", "left-right": "Left to Right",
          "columns": "Wrapped Columns"}


class _Node:
    """What the layered drawing needs of a layer (or of a collapsed block: one card)."""

    __slots__ = ("inputs", "type")

    def __init__(self, inputs: tuple[str, ...], type_: str):
        self.inputs = inputs
        self.type = type_


def auto_layout(network: Network, row: float = ROW,
                column: float = COLUMN) -> dict[str, tuple[float, float]]:
    """{layer id: (x, y)} for every layer; the first layer (the INPUT) sits at (0, 0)."""
    if not network.nodes:
        return {}
    return _layered(network.topological_order(), network.nodes, row, column)


def arrange(network: Network, style: str = "top-down",
            aspect: float = 16 / 10) -> dict[str, tuple[float, float]]:
    """{layer id: (x, y)} for every layer in a View menu style (STYLES). A collapsed block takes
    one card's place; its layers are squashed into it (squash).
    "columns" cuts the top-to-bottom drawing into columns side by side so that the whole
    fills a window `aspect` times as wide as it is tall."""
    if style not in STYLES:
        raise ValueError(f"unknown layout {style!r} (known: {', '.join(STYLES)})")
    if not network.nodes:
        return {}
    order = network.topological_order()
    return _arrange(network, list(order), None, style, aspect)


def _cards(net: Network, here: set[str], inside: str | None) -> list:
    """The collapsed blocks inside `here` (but `inside` itself): one card each."""
    return [b for b in net.blocks.values() if b.collapsed and b.id != inside
            and len(b.members) < len(here) and here.issuperset(b.members)]


def _arrange(net: Network, ids: Sequence[str], inside: str | None, style: str,
             aspect: float) -> dict[str, tuple[float, float]]:
    here = set(ids)
    cards = _cards(net, here, inside)
    cards.sort(key=lambda b: -len(b.members))
    unit_of: dict[str, str] = {}
    for block in cards:  # the largest first: an inner collapsed block is inside its card
        for m in block.members:
            unit_of.setdefault(m, "\0" + block.id)
    units: dict[str, _Node] = {}
    for nid in ids:
        unit = unit_of.get(nid, nid)
        ins = [unit_of.get(s, s) for s in net.nodes[nid].inputs if s in here]
        node = units.get(unit)
        if node is None:
            units[unit] = _Node(tuple(i for i in dict.fromkeys(ins) if i != unit),
                                net.nodes[nid].type if unit == nid else "Block")
        else:
            extra = [i for i in ins if i != unit and i not in node.inputs]
            node.inputs = node.inputs + tuple(dict.fromkeys(extra))
    order = _unit_order(units)
    if style == "left-right":
        placed = {u: (y / ROW * ACROSS, x / COLUMN * ROW)
                  for u, (x, y) in _layered(order, units, ROW, COLUMN).items()}
    else:
        placed = _layered(order, units, ROW, COLUMN)
        if style == "columns" and inside is None:
            placed = _wrap(placed, aspect)
    out: dict[str, tuple[float, float]] = {}
    rank: dict[str, int] | None = None
    for unit, (x, y) in placed.items():
        if not unit.startswith("\0"):
            out[unit] = (x, y)
        else:
            if rank is None:  # (once for all the cards, not once per card)
                rank = {n: i for i, n in enumerate(net.topological_order())}
            out.update(_squash(net.blocks[unit[1:]].members, rank, (x, y)))
    return out


def squash(network: Network, block_id: str,
           at: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """Where a collapsed block keeps its layers: in its card's place, one under another a
    hair apart (SQUASH) in the design's order, so that every wire still runs downwards and no
    two layers share a place; expanding it lays them out afresh (expand_moves)."""
    rank = {n: i for i, n in enumerate(network.topological_order())}
    return _squash(network.blocks[block_id].members, rank, at)


def _squash(members: Sequence[str], rank: Mapping[str, int],
            at: tuple[float, float]) -> dict[str, tuple[float, float]]:
    order = sorted((m for m in members if m in rank), key=rank.__getitem__)
    return {nid: (at[0], at[1] + i * SQUASH) for i, nid in enumerate(order)}


def _unit_order(units: Mapping[str, _Node]) -> list[str]:
    """The units in an order where each comes after its inputs (a collapsed block's card
    comes where its first layer came, or later where one of its inputs comes later)."""
    order: list[str] = []
    done: set[str] = set()
    for start in units:
        stack = [start]
        while stack:
            u = stack[-1]
            if u in done:
                stack.pop()
                continue
            todo = [i for i in units[u].inputs if i not in done and i in units]
            if todo:
                stack.extend(reversed(todo))
                continue
            done.add(u)
            order.append(u)
            stack.pop()
    return order


def _wrap(placed: dict[str, tuple[float, float]], aspect: float) -> dict[str, tuple[float, float]]:
    """Cut a top-to-bottom drawing into columns of n rows, side by side, with n chosen so
    that the whole is closest to `aspect` (the most zoom that shows all of it)."""
    rows = sorted({y for _, y in placed.values()})
    if len(rows) < 4:
        return placed
    index = {y: i for i, y in enumerate(rows)}
    card_w, card_h = 170.0, 64.0

    def cut(n: int) -> tuple[dict[str, tuple[float, float]], float, float]:
        out: dict[str, tuple[float, float]] = {}
        left = 0.0
        for j in range(0, len(rows), n):
            members = [(u, x, index[y] - j) for u, (x, y) in placed.items()
                       if j <= index[y] < j + n]
            lo = min(x for _, x, _ in members)
            hi = max(x for _, x, _ in members)
            for u, x, r in members:
                out[u] = (left + x - lo, r * ROW)
            left += hi - lo + card_w + COLUMN_GAP
        width = left - COLUMN_GAP
        height = (min(n, len(rows)) - 1) * ROW + card_h
        return out, width, height

    best = None
    for n in range(3, len(rows) + 1):
        out, w, h = cut(n)
        score = max(w / aspect, h)
        if best is None or score < best[0]:
            best = (score, out)
    first = next(iter(best[1].values()))
    return {u: (x - first[0], y - first[1]) for u, (x, y) in best[1].items()}


def _layered(order: Sequence[str], nodes: Mapping, row: float,
             column: float) -> dict[str, tuple[float, float]]:
    """The layered drawing of `order` (ids, each after its inputs; `nodes` gives each one's
    inputs and type): {id: (x, y)}, the first at (0, 0)."""
    children: dict[str, list[str]] = {nid: [] for nid in order}
    for nid in order:
        for src in nodes[nid].inputs:
            if src in children:
                children[src].append(nid)

    depth = _depths(order, nodes, children)
    rows: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for nid in order:
        rows[depth[nid]].append(nid)

    x: dict[str, float] = {}
    free_right = 0.0  # where the next layer without inputs goes
    for members in rows:
        desired: list[tuple[float, int, str]] = []
        for i, nid in enumerate(members):
            ins = [s for s in nodes[nid].inputs if s in x]
            if not ins:
                want = free_right
                free_right += column
            elif len(ins) == 1:
                want = x[ins[0]] + _fan_offset(ins[0], nid, nodes, children, column)
            else:
                want = sum(x[s] for s in ins) / len(ins)
            desired.append((want, i, nid))
        desired.sort()
        placed = _spread([d for d, _, _ in desired], column)
        for (_, _, nid), px in zip(desired, placed):
            x[nid] = px
        if placed:
            free_right = max(free_right, placed[-1] + column)

    first = order[0]
    x0 = x[first]
    return {nid: (x[nid] - x0, depth[nid] * row) for nid in order}


def _depths(order, nodes, children) -> dict[str, int]:
    depth: dict[str, int] = {}
    for nid in order:
        depth[nid] = max((depth[s] + 1 for s in nodes[nid].inputs if s in depth), default=0)
    # A source that is not an INPUT (a layer not wired up yet) sits just above its first reader
    # rather than beside the INPUT.
    for nid in reversed(order):
        node = nodes[nid]
        if not node.inputs and node.type != "Input" and children[nid]:
            depth[nid] = max(0, min(depth[c] for c in children[nid]) - 1)
    return depth


def _fan_offset(parent: str, child: str, nodes, children, column: float) -> float:
    """Where a single-input child goes relative to its parent: the parent's single-input
    children are spread side by side, centred under it (one child: straight below)."""
    fan = [c for c in children[parent] if len(nodes[c].inputs) == 1]
    if len(fan) <= 1:
        return 0.0
    return (fan.index(child) - (len(fan) - 1) / 2) * column


def _spread(desired: list[float], gap: float) -> list[float]:
    """Places as close as possible (least squares) to the sorted `desired`, at least `gap`
    apart, in the same order: pool-adjacent-violators on desired[i] − i·gap."""
    blocks: list[list[float]] = []  # [mean, weight]
    for i, d in enumerate(desired):
        blocks.append([d - i * gap, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2 = blocks.pop()
            m1, w1 = blocks[-1]
            blocks[-1] = [(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2]
    out: list[float] = []
    for mean, weight in blocks:
        for _ in range(int(weight)):
            out.append(mean + len(out) * gap)
    return out


# ------------------------------------------------------------------------------- in place

def toggle_moves(network: Network, block_id: str,
                 positions: Mapping[str, tuple[float, float]],
                 readers: Mapping[str, Sequence[str]] | None = None
                 ) -> dict[str, tuple[float, float]]:
    """The moves that expanding (or collapsing) a block in place needs. Expanding: its layers
    laid out top to bottom from its card's place, and what comes after it below, in its band
    of columns, moved down to make room. Collapsing: its layers squashed into its card's place
    and what came after it moved up to close the gap. `positions`: where every layer is now;
    `readers` ({layer: the layers reading it}), where the caller keeps it, spares a walk
    over the whole design."""
    block = network.blocks[block_id]
    mine = set(block.members)
    cx, cy = _blocks.anchor(block.members, positions)
    if block.collapsed:  # it opens
        inner = _inner(network, block_id, mine)
        ids = list(inner)
        ax, ay = _blocks.anchor(ids, inner)
        moves = {n: (cx + x - ax, cy + y - ay) for n, (x, y) in inner.items()}
    else:
        moves = squash(network, block_id, (cx, cy))
    if block.collapsed:  # the lowest card once it is open (an inner collapsed block: one)
        opened = dict(network.blocks)
        opened[block_id] = replace(block, collapsed=False)
        inner_hidden = _blocks.hidden(opened)
        cards: dict[str, list[str]] = {}
        for nid in block.members:
            cards.setdefault(inner_hidden.get(nid, nid), []).append(nid)
        bottom = max(_blocks.anchor(m, moves)[1] for m in cards.values())
    else:
        bottom = cy  # closed: its card's row
    xs = [x for x, _ in moves.values()] + [positions[n][0] for n in block.members
                                           if n in positions]
    lo, hi = min(xs) - 170.0, max(xs) + 170.0
    hidden_now = _blocks.hidden(network.blocks)
    others: dict[str, list[str]] = {}
    for nid in _downstream(network, mine, readers):
        if nid not in mine and nid in positions:
            others.setdefault(hidden_now.get(nid, nid), []).append(nid)
    below = {u: _blocks.anchor(m, positions) for u, m in others.items()}
    below = {u: p for u, p in below.items() if p[1] > cy + 1.0 and lo < p[0] < hi}
    if below:
        first = min(y for _, y in below.values())
        shift = bottom + ROW - first
        if not block.collapsed:
            shift = min(shift, 0.0)  # closing: up by the gap, never down
        elif shift < 0:
            shift = 0.0  # opening: down where there is no room, never up
        if shift:
            for unit in below:
                for nid in others[unit]:
                    x, y = positions[nid]
                    moves[nid] = (x, y + shift)
    return {n: p for n, p in moves.items() if positions.get(n) != p}


# A block's layers laid out as it opens, by the block, its collapsed inner blocks and the
# design's order (the very tuple: the network keeps it while no layer comes, goes or is wired
# anew, and no layer's kind changes then): a stage opened again is laid out as it was, without
# working it out again (a tenth of expanding a ResNet-152 stage).
_INNER: dict[tuple, tuple] = {}


def _inner(network: Network, block_id: str, mine: set[str]) -> dict[str, tuple[float, float]]:
    order = network.topological_order()
    key = (block_id, tuple((b.id, b.members) for b in _cards(network, mine, block_id)))
    hit = _INNER.get(key)
    if hit is not None and hit[0] is order and hit[1] == mine:
        return hit[2]
    ids = [n for n in order if n in mine]
    inner = _arrange(network, ids, block_id, "top-down", 16 / 10)
    if len(_INNER) > 32:
        _INNER.clear()
    _INNER[key] = (order, frozenset(mine), inner)
    return inner


def _downstream(network: Network, starts: set[str],
                readers: Mapping[str, Sequence[str]] | None = None) -> set[str]:
    if readers is None:
        readers = network.readers()
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        nid = stack.pop()
        for r in readers.get(nid, ()):
            if r not in seen:
                seen.add(r)
                stack.append(r)
    return seen
