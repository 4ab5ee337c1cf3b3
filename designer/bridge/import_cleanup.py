"""The clean-up passes of the importer's back end, run on the network built from a model's
operations (import_build.py) before it is checked against the model: drop what does not lead to
the output, merge a traced chain of adds back into one Add, and leave out a functional flatten
that only feeds a Linear (a design's Linear flattens the volume it reads).

TORCH-free, no Qt.
"""

from __future__ import annotations

from ..model.network import Network
from .import_graph import _Op


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
