"""Undo commands. Nodes are immutable records, so an edit is fully described by which node
entries it replaced: NetworkEdit keeps the entries before and after (and the order of the layers)
and swaps them back and forth. MoveNodes carries canvas positions and merges the steps of one
drag into one undo step.

The helpers at the bottom are the edits the views ask for, each one undoable step.

The commands know a document only as an EditableDocument: the few things they use of it (the
Document implements them). This module imports nothing from document.py, so the dependency
points one way: the Document uses the commands, never the reverse.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..model.network import Network, Node


class EditableDocument(Protocol):
    """What the commands use of a document: its network, `edit` (one undoable change, see
    the helpers below), `refresh` (re-analyse and tell the views), the `moved` signal (the
    ids of layers whose canvas position changed, or blocks collapsed or expanded) and its undo
    stack."""

    @property
    def network(self) -> Network: ...

    @property
    def moved(self) -> SignalInstance: ...

    @property
    def undo_stack(self) -> QUndoStack: ...

    def edit(self, text: str, change: Callable[[Network], Any], merge_key: Any = None) -> Any: ...

    def refresh(self) -> object: ...


class _DocumentCommand(QUndoCommand):
    @property
    def doc(self) -> EditableDocument:
        return self._doc()


class NetworkEdit(_DocumentCommand):
    """Swaps the whole node table (a dict of references to immutable nodes: cheap, and it keeps
    the layers' order exactly), and the blocks table where `blocks` (before, after) is given."""

    MERGEABLE = 1002

    def __init__(self, doc: EditableDocument, text: str, before: dict[str, Node],
                 after: dict[str, Node], merge_key: Any = None,
                 blocks: tuple[dict, dict] | None = None):
        super().__init__(text)
        self.blocks = blocks
        # weak: the document owns the undo stack that owns this command; a strong reference
        # would make a cycle that the garbage collector may tear down in the wrong order
        self._doc = weakref.ref(doc)
        self.before = before
        self.after = after
        self.merge_key = merge_key
        self.first = True

    def id(self) -> int:
        return -1 if self.merge_key is None else self.MERGEABLE

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, NetworkEdit) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        if other.blocks is not None:
            self.blocks = (self.blocks or other.blocks)[0], other.blocks[1]
        return True

    def is_empty(self) -> bool:
        if self.blocks is not None and self.blocks[0] != self.blocks[1]:
            return False
        return list(self.before) == list(self.after) and all(
            self.before[k] is self.after[k] for k in self.before)

    def redo(self) -> None:
        if self.first:  # the edit was already made by Document.edit
            self.first = False
        else:
            self.doc.network.replace_nodes(dict(self.after), self._blocks(1))
        self.doc.refresh()

    def undo(self) -> None:
        self.doc.network.replace_nodes(dict(self.before), self._blocks(0))
        self.doc.refresh()

    def _blocks(self, which: int) -> dict | None:
        return None if self.blocks is None else dict(self.blocks[which])


class MoveNodes(_DocumentCommand):
    """New canvas positions. The canvas pushes one per finished drag (however many cards it
    moved), so moves never merge: two drags are two undo steps."""

    def __init__(self, doc: EditableDocument, text: str, old: dict, new: dict):
        super().__init__(text)
        # weak: the document owns the undo stack that owns this command; a strong reference
        # would make a cycle that the garbage collector may tear down in the wrong order
        self._doc = weakref.ref(doc)
        self.old = old
        self.new = new

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)

    def _apply(self, positions: dict) -> None:
        self.doc.network.move_all(positions)
        self.doc.moved.emit(list(positions))


class ShowBlocks(_DocumentCommand):
    """Collapse or expand blocks: the blocks table before and after, and the canvas positions
    that make room for an expanded block (or close the gap a collapsed one leaves). Nothing is
    analysed again: no number depends on it; the canvas hears it through `moved`."""

    def __init__(self, doc: EditableDocument, text: str, before: dict, after: dict,
                 old: dict, new: dict):
        super().__init__(text)
        self._doc = weakref.ref(doc)  # (weak: see NetworkEdit)
        self.before, self.after = before, after
        self.old, self.new = old, new

    def redo(self) -> None:
        self._apply(self.after, self.new)

    def undo(self) -> None:
        self._apply(self.before, self.old)

    def _apply(self, blocks: dict, positions: dict) -> None:
        net = self.doc.network
        net.blocks = dict(blocks)
        net.move_all(positions)
        self.doc.moved.emit(list(positions))


# ------------------------------------------------------------------------------------ edits

def _label(type_name: str) -> str:
    from ..model.layers import CATALOGUE

    layer = CATALOGUE.get(type_name)
    return layer.alias if layer and layer.alias else type_name


def add_layer(doc: EditableDocument, type_name: str, params: Mapping[str, Any] | None = None,
              pos: tuple[float, float] | None = None, after: str | None = None) -> str | None:
    """Add a layer, unconnected, or appended after `after`'s output (its consumers then read
    the new layer, so a stack stays a stack)."""
    def change(net: Network) -> str:
        nid = net.add(type_name, params, pos=pos, inputs=[after] if after else ())
        if after:
            for consumer in net.consumers(after):
                if consumer != nid and net[consumer].layer.max_inputs == 1:
                    net.connect(nid, consumer)
        return nid

    return doc.edit(f"Add {_label(type_name)}", change)


def insert_on_edge(doc: EditableDocument, src: str, dst: str, type_name: str,
                   params: Mapping[str, Any] | None = None,
                   pos: tuple[float, float] | None = None) -> str | None:
    return doc.edit(f"Insert {_label(type_name)}",
                    lambda net: net.insert_on_edge(src, dst, type_name, params, pos=pos))


def remove_layers(doc: EditableDocument, ids: Iterable[str]) -> None:
    ids = [i for i in ids if i in doc.network.nodes]
    if not ids:
        return

    def change(net: Network) -> None:
        for nid in ids:
            net.remove(nid, reconnect=True)

    doc.edit("Delete" if len(ids) > 1 else f"Delete {ids[0]}", change)


def connect(doc: EditableDocument, src: str, dst: str) -> None:
    doc.edit(f"Connect {src} → {dst}", lambda net: net.connect(src, dst))


def disconnect(doc: EditableDocument, src: str, dst: str) -> None:
    doc.edit(f"Disconnect {src} → {dst}", lambda net: net.disconnect(src, dst))


def set_params(doc: EditableDocument, nid: str, text: str | None = None, **changes: Any) -> None:
    """Change parameters; repeated changes of the same parameters of one layer merge into one
    undo step (a spin box's arrow held down)."""
    key = None if text else ("params", nid, tuple(sorted(changes)))
    doc.edit(text or f"Change {nid} " + ", ".join(changes),
             lambda net: net.set_params(nid, **changes), merge_key=key)


def set_frozen(doc: EditableDocument, nid: str, frozen: bool) -> None:
    """Freeze a layer's weights for a fine-tune, or make them trainable again (one undo step)."""
    doc.edit(f"{'Freeze' if frozen else 'Unfreeze'} {nid}",
             lambda net: net.set_frozen(nid, frozen))


def rename(doc: EditableDocument, old: str, new: str) -> None:
    doc.edit(f"Rename {old} → {new}", lambda net: net.rename(old, new))


def apply_fix(doc: EditableDocument, nid: str, fix) -> None:
    set_params(doc, nid, f"Fix {nid}: {fix.label}", **dict(fix.params))


def paste(doc: EditableDocument, nodes: list[Node],
          offset: tuple[float, float] = (40.0, 40.0)) -> list[str]:
    """Add copies of `nodes` with fresh ids; wires among them are kept, others dropped."""
    def change(net: Network) -> list[str]:
        mapping: dict[str, str] = {}
        for node in nodes:
            mapping[node.id] = net.unique_id(node.id.rstrip("0123456789_") or node.id)
            pos = None if node.pos is None else (node.pos[0] + offset[0], node.pos[1] + offset[1])
            net.add(node.type, dict(node.params), id=mapping[node.id], label=node.label, pos=pos,
                    frozen=node.frozen)
        for node in nodes:
            inputs = [mapping[s] for s in node.inputs if s in mapping]
            if inputs:
                net.set_inputs(mapping[node.id], inputs)
        return list(mapping.values())

    from ..model.units import plural

    return doc.edit(f"Paste {plural(len(nodes), 'layer')}", change) or []


# ------------------------------------------------------------------------------------ blocks

def group(doc: EditableDocument, ids: Iterable[str], kind: str = "group",
          name: str = "") -> str | None:
    """Group layers as a block (refused, with the reason, where it would straddle another)."""
    ids = list(ids)
    return doc.edit(f"Group {len(ids)} layers", lambda net: net.add_block(ids, kind, name))


def ungroup(doc: EditableDocument, block_ids: Iterable[str]) -> None:
    """The blocks go; their layers stay as they are."""
    block_ids = [b for b in block_ids if b in doc.network.blocks]
    if not block_ids:
        return

    def change(net: Network) -> None:
        for bid in block_ids:
            net.remove_block(bid)

    doc.edit("Ungroup" if len(block_ids) > 1 else f"Ungroup {block_ids[0]}", change)


def show_blocks(doc: EditableDocument, block_ids: Iterable[str], collapsed: bool,
                positions: Mapping[str, tuple[float, float]],
                moves: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Collapse (or expand) blocks as one undo step, with the moves that make room
    (`positions`: where every layer is shown now, for those without a saved position)."""
    net = doc.network
    block_ids = [b for b in block_ids if b in net.blocks and net.blocks[b].collapsed != collapsed]
    if not block_ids:
        return
    before = dict(net.blocks)
    after = dict(before)
    for bid in block_ids:
        after[bid] = replace(after[bid], collapsed=collapsed)
    moves = dict(moves or {})
    old = {nid: net.nodes[nid].pos if net.nodes[nid].pos is not None else positions.get(nid)
           for nid in moves if nid in net.nodes}
    word = "Collapse" if collapsed else "Expand"
    name = block_ids[0] if len(block_ids) == 1 else f"{len(block_ids)} blocks"
    doc.undo_stack.push(ShowBlocks(doc, f"{word} {name}", before, after, old, moves))
