"""auto_layout(network): canvas positions for a whole design, top to bottom.

A layered drawing of the DAG, the way the notes draw a ConvNet: every layer one row below the
deepest of its inputs (the longest path from the INPUT), a plain stack a straight column under
its parent, the branches that leave one layer side by side and centred under it, a merge (Add,
Concat) centred under its inputs. Within a row the layers keep the order of their desired places
(their parents' places: the barycentre heuristic), and overlaps are resolved by moving each as
little as possible (isotonic regression, so a row costs O(n)).

Positions are the centres of the cards (about 170 × 64) in canvas units. Pure Python: no Qt.
"""

from __future__ import annotations

from .network import Network

ROW = 100.0
COLUMN = 200.0


def auto_layout(network: Network, row: float = ROW,
                column: float = COLUMN) -> dict[str, tuple[float, float]]:
    """{layer id: (x, y)} for every layer; the first layer (the INPUT) sits at (0, 0)."""
    nodes = network.nodes
    if not nodes:
        return {}
    order = network.topological_order()
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
