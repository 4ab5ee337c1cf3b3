"""Blocks: named groups of layers (a residual block, an Inception module, a VGG stage, any
selection), saved with the design; the canvas can show a block collapsed, as one card.

A block is its id, a name, a kind (KINDS), its member layers and whether it is collapsed. Blocks
are laminar: two blocks are disjoint or one holds all of the other's layers (a ResNet stage
holds its bottleneck blocks). Blocks change no number: the analysis, the builder, training and
the exports read the layers and wires only.

The queries here are what the canvas needs to draw blocks (which layers a collapsed block hides,
which blocks are cards, where a block's card goes), and `summary`: a block's figures summed from
a Report, so that the views format them and never add them up. Pure Python: no Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .issues import severity_counts
from .layers import Shape

if TYPE_CHECKING:
    from .analysis import Report

KINDS = {
    "basic": "Basic block",
    "bottleneck": "Bottleneck",
    "inception": "Inception",
    "stage": "Stage",
    "group": "Group",
}


@dataclass(frozen=True, slots=True)
class Block:
    id: str
    name: str
    kind: str
    members: tuple[str, ...]
    collapsed: bool = False

    @property
    def title(self) -> str:
        """The kind as a person reads it: 'Bottleneck', 'Inception', 'Group'."""
        return KINDS.get(self.kind, self.kind)


def overlap_problem(members: Iterable[str], blocks: Mapping[str, Block],
                    ignore: str | None = None) -> str | None:
    """Why a block of `members` cannot sit beside `blocks` (None where it can): a block that
    shares some of its layers without holding all of them or being held, or one with the same
    layers."""
    mine = set(members)
    for block in blocks.values():
        if block.id == ignore:
            continue
        theirs = set(block.members)
        shared = mine & theirs
        if not shared:
            continue
        if mine == theirs:
            return f"these layers are the block {block.id!r} already"
        if shared != mine and shared != theirs:
            one = sorted(shared)[0]
            return (f"the block {block.id!r} holds {one} but not all of these layers (blocks "
                    "hold whole blocks or are apart)")
    return None


# ------------------------------------------------------------------------------- the tree

_MEMO: list[tuple[tuple[Block, ...], dict[str, str | None]]] = []  # the last few trees


def parents(blocks: Mapping[str, Block]) -> dict[str, str | None]:
    """Each block's smallest enclosing block (None at the top). Blocks are laminar, so the
    blocks that hold a block's first layer and are larger are exactly those that enclose it.
    (The last few answers are kept: the tree depends only on each block's id and members, and
    a block collapsed or expanded keeps its members' tuple, so the same ids with the same
    tuples in the same order have the same tree.)"""
    key = tuple(blocks.values())
    for known, tree in _MEMO:
        if len(known) == len(key) and all(
                a is b or (a.members is b.members and a.id == b.id)
                for a, b in zip(known, key)):
            return dict(tree)
    tree = _parents(blocks)
    _MEMO.insert(0, (key, tree))
    del _MEMO[4:]
    return dict(tree)


def _parents(blocks: Mapping[str, Block]) -> dict[str, str | None]:
    holding: dict[str, list[tuple[int, str]]] = {}
    for bid, b in blocks.items():
        for m in b.members:
            holding.setdefault(m, []).append((len(b.members), bid))
    out: dict[str, str | None] = {}
    for bid, b in blocks.items():
        if not b.members:
            out[bid] = None
            continue
        size = len(b.members)
        larger = [(n, oid) for n, oid in holding[b.members[0]] if n > size]
        out[bid] = min(larger)[1] if larger else None
    return out


def shown_collapsed(blocks: Mapping[str, Block]) -> list[str]:
    """The collapsed blocks shown as cards: those inside no other collapsed block."""
    up = parents(blocks)
    out = []
    for bid, block in blocks.items():
        if not block.collapsed:
            continue
        p = up[bid]
        while p is not None and not blocks[p].collapsed:
            p = up[p]
        if p is None:
            out.append(bid)
    return out


def shown_expanded(blocks: Mapping[str, Block]) -> list[str]:
    """The expanded blocks shown as frames around their layers: inside no collapsed block."""
    up = parents(blocks)
    out = []
    for bid, block in blocks.items():
        if block.collapsed:
            continue
        p = up[bid]
        while p is not None and not blocks[p].collapsed:
            p = up[p]
        if p is None:
            out.append(bid)
    return out


_HIDDEN_MEMO: list[tuple[tuple[Block, ...], dict[str, str]]] = []  # the last few answers


def hidden(blocks: Mapping[str, Block]) -> dict[str, str]:
    """{layer id: the collapsed block whose card stands for it} for every hidden layer. (The
    last few answers are kept, each for the very Block objects it was worked out from: a block
    collapsed or expanded is a new object; a block toggled asks this of the same table four
    times.)"""
    key = tuple(blocks.values())
    for known, answer in _HIDDEN_MEMO:
        if len(known) == len(key) and all(a is b for a, b in zip(known, key)):
            return dict(answer)
    out: dict[str, str] = {}
    for bid in shown_collapsed(blocks):
        for nid in blocks[bid].members:
            out[nid] = bid
    _HIDDEN_MEMO.insert(0, (key, out))
    del _HIDDEN_MEMO[4:]
    return dict(out)


def depth(blocks: Mapping[str, Block]) -> dict[str, int]:
    """How many blocks each block holds inside it, nested (0: none), for frame margins."""
    up = parents(blocks)
    out = {bid: 0 for bid in blocks}
    for bid in blocks:
        d, p = 0, up[bid]
        while p is not None:
            d += 1
            out[p] = max(out[p], d)
            p = up[p]
    return out


# ------------------------------------------------------------------------------- geometry

def anchor(members: Iterable[str],
           positions: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
    """Where a collapsed block's card goes: the middle of its layers' extent across, their top
    row down (the block's first row, where it opens again)."""
    pts = [positions[m] for m in members if m in positions]
    if not pts:
        return (0.0, 0.0)
    xs = [p[0] for p in pts]
    return ((min(xs) + max(xs)) / 2, min(p[1] for p in pts))


# ------------------------------------------------------------------------------- figures

@dataclass(frozen=True)
class BlockSummary:
    """A block's figures from the Report: what goes in and out, and the members' sums."""

    layers: int
    in_shape: Shape | None  # the volume that enters (of the first input from outside)
    out_shape: Shape | None  # the volume of the block's output (its last layer read outside)
    output: str | None  # that layer's id
    params: int
    frozen: int  # of which frozen
    macs: int
    activations: int
    field: tuple | None  # the receptive field at the block's output (as LayerReport.field)
    errors: int
    warnings: int


def boundary(inputs_of: Mapping[str, tuple[str, ...]], members: Iterable[str],
             order: Iterable[str],
             readers: Mapping[str, list[str]] | None = None) -> tuple[list[str], list[str]]:
    """(the layers outside the block that feed it, the members read outside it or by nothing)
    in `order` (the design's order). `readers` ({layer: the layers that read it}), where the
    caller has it, saves a walk over the whole design."""
    mine = set(members)
    order = list(order)
    if readers is None:
        built: dict[str, list[str]] = {}
        for nid in order:
            for src in inputs_of.get(nid, ()):
                built.setdefault(src, []).append(nid)
        readers = built
    feeds: list[str] = []
    outs: list[str] = []
    for nid in order:
        if nid not in mine:
            continue
        for src in inputs_of.get(nid, ()):
            if src not in mine and src not in feeds:
                feeds.append(src)
        read = readers.get(nid, ())
        if not read or any(r not in mine for r in read):
            outs.append(nid)
    return feeds, outs


def summary(block: Block, inputs_of: Mapping[str, tuple[str, ...]], report: Report,
            readers: Mapping[str, list[str]] | None = None,
            ends: tuple[list[str], list[str]] | None = None) -> BlockSummary:
    """The block's figures, every one read or summed from the Report (`readers`: see
    boundary; `ends`: what boundary() gives for the block's members in the report, where the
    caller kept it)."""
    members = [m for m in block.members if m in report.layers]
    feeds, outs = ends if ends is not None else boundary(
        inputs_of, members, members if readers is not None else report.order, readers)
    layers = [report.layers[m] for m in members]
    out = outs[-1] if outs else None
    first_in = next((f for f in feeds if f in report.layers), None)
    if first_in is not None:
        in_shape = report.layers[first_in].shape
    else:  # the block starts at the INPUT: what the INPUT makes
        in_shape = layers[0].shape if layers else None
    out_report = report.layers.get(out) if out is not None else None
    params = frozen = macs = activations = 0
    for r in layers:  # (one pass: a stage of ResNet-152 is summed again at each edit in it)
        params += r.params
        if r.frozen:
            frozen += r.params
        macs += r.macs
        activations += r.activations
    errors, warnings = severity_counts(layers)
    return BlockSummary(
        layers=len(layers),
        in_shape=in_shape,
        out_shape=out_report.shape if out_report is not None else None,
        output=out,
        params=params,
        frozen=frozen,
        macs=macs,
        activations=activations,
        field=out_report.field if out_report is not None else None,
        errors=errors,
        warnings=warnings,
    )
