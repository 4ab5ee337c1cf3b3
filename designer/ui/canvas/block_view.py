"""How the scene shows the design's blocks (model/blocks.py): the layers a collapsed block
hides, its card in their place with the wires to and from them attached to it, and a frame
behind each expanded block's layers.

The scene calls `sync` after every change of the document (cheap where the blocks, the report
and the layers' positions are as they were) and asks `units`, `selected_members` and
`toggle` for the gestures.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QRectF

from ...model import blocks as model_blocks
from .block_items import BlockCard, BlockFrame
from .items import CARD_H, CARD_W, Wire


class BlockView:
    def __init__(self, scene):
        self.scene = scene
        self.cards: dict[str, BlockCard] = {}  # collapsed blocks shown as cards
        self.frames: dict[str, BlockFrame] = {}  # expanded blocks
        self.wires: dict[tuple[str, str], Wire] = {}  # wires that end at a block's card
        self.hidden: dict[str, str] = {}  # layer id -> the block card standing for it
        # block id -> (block, the wiring, -, its feeds, the reports summed, its summary)
        self._summaries: dict[str, tuple] = {}
        self._anchors: dict[str, tuple] = {}  # block id -> (block, scene epoch, its place)
        self._wiring: tuple | None = None  # (network, version, inputs_of, readers)
        # the last few (inputs_of, hidden, the wires to block cards): a block collapsed and
        # expanded again wants the wires it had
        self._wanted: list[tuple] = []
        self._shown_key: tuple | None = None  # what the cards' and wires' visibility was for
        self._spare: dict[str, BlockCard] = {}  # cards of blocks not shown now, hidden
        self._spare_wires: dict[tuple[str, str], Wire] = {}  # their wires, hidden
        self._spare_frames: dict[str, BlockFrame] = {}  # frames of blocks not expanded now

    # ----------------------------------------------------------------------------- queries

    def unit(self, node_id: str):
        """The item that shows a layer: its card, or the card of the block that hides it."""
        bid = self.hidden.get(node_id)
        return self.cards.get(bid) if bid is not None else self.scene.cards.get(node_id)

    def visible_units(self) -> list:
        return [c for nid, c in self.scene.cards.items() if nid not in self.hidden] + \
            list(self.cards.values())

    # ----------------------------------------------------------------------------- sync

    def clear(self) -> None:
        """The scene was cleared (another design): the items went with it."""
        self.cards.clear()
        self.frames.clear()
        self.wires.clear()
        self.hidden = {}
        self._summaries.clear()
        self._anchors.clear()
        self._wiring = None
        self._wanted = []
        self._shown_key = None
        self._spare.clear()
        self._spare_wires.clear()
        self._spare_frames.clear()

    def sync(self) -> None:
        scene = self.scene
        doc = scene.document
        net = doc.network
        report = doc.report
        blocks = net.blocks
        if not blocks and not self.cards and not self.frames and not self.hidden:
            return  # (a design without blocks costs nothing)
        hidden = model_blocks.hidden(blocks)
        shown = model_blocks.shown_collapsed(blocks)
        nodes = net.nodes
        inputs_of, readers = self._structure(net)
        # which cards and wires are shown changes only with what is hidden (then only those
        # cards and their wires), a card or wire added or removed, or the wiring: an edit of
        # parameters skips it
        key = (inputs_of, len(scene.cards), len(scene.wires))
        if key != self._shown_key:  # cards or wires came or went, or the wiring changed
            self.hidden = hidden
            self._show_cards(scene.cards, nodes)
            self._show_layer_wires(scene.wires.values())
        elif hidden != self.hidden:  # only the cards hidden or shown now, and their wires
            changed = [scene.cards[n] for n in hidden.keys() ^ self.hidden.keys()
                       if n in scene.cards]
            self.hidden = hidden
            self._show_cards({c.node_id: c for c in changed}, nodes)
            self._show_layer_wires({w for c in changed for w in c.wires_in + c.wires_out
                                    if scene.wires.get(w.key) is w})
        self._shown_key = key
        positions = _Positions(nodes, scene.cards)
        # the cards of collapsed blocks
        for bid in [b for b in self.cards if b not in shown]:
            self._drop_card(bid, keep=bid in blocks)
        if self._spare:
            self._drop_spares(blocks)
        epoch = scene.geometry_epoch
        for bid in shown:
            block = blocks[bid]
            summary = self._summary(block, net, inputs_of, readers, report)
            card = self.cards.get(bid)
            if card is None:
                card = self._spare.pop(bid, None)
                if card is None or card.scene() is not scene:
                    card = BlockCard(block, summary)
                    scene.addItem(card)
                else:
                    card.setVisible(True)
                self.cards[bid] = card
            if card.block != block or card.summary != summary:
                card.set_content(block, summary)
            known = self._anchors.get(bid)
            if known is not None and known[0] is block and known[1] == epoch:
                x, y = known[2]
            else:  # (nothing moved since: where it was)
                x, y = model_blocks.anchor(block.members, positions)
                self._anchors[bid] = (block, epoch, (x, y))
            if (card.x(), card.y()) != (x, y):
                card.setPos(x, y)
        self._sync_wires(net)
        self._sync_frames(blocks)

    def _summary(self, block, net, inputs_of, readers, report):
        """The block's figures, summed again only when the report of one of its layers or
        of a layer feeding it changed (the analysis keeps a layer's report object while
        nothing about it changed): an edit elsewhere costs a look-up per layer."""
        known = self._summaries.get(block.id)
        layers = report.layers
        # (the summary reads the block's members only: collapsing or renaming it keeps it)
        same = known is not None and (known[0] is block or known[0].members == block.members)
        members = [m for m in block.members if m in layers]
        if same and known[1] is inputs_of and known[2][0] == members:
            ends = known[2][1]  # (the same members and wiring: the same layers at its edges)
        else:
            ends = model_blocks.boundary(inputs_of, members, members, readers)
        feeds = tuple(ends[0])
        reports = [layers.get(m) for m in block.members]
        reports.extend(layers.get(f) for f in feeds)
        if same and known[3] == feeds \
                and len(known[4]) == len(reports) \
                and all(a is b for a, b in zip(known[4], reports)):
            summary = known[5]
        else:
            summary = model_blocks.summary(block, inputs_of, report, readers, ends)
        self._summaries[block.id] = (block, inputs_of, (members, ends), feeds, reports,
                                     summary)
        return summary

    def readers(self) -> Mapping[str, tuple[str, ...]]:
        """{layer: the layers that read it} of the scene's design (kept while its wiring is:
        expanding or collapsing a block keeps it)."""
        return self._structure(self.scene.document.network)[1]

    def _structure(self, net) -> tuple[dict, Mapping]:
        """Each layer's inputs and readers (Network.readers(): the same object while the
        wiring is), made again only when the wiring may have changed (the network's version:
        a move or a block shown or hidden keeps it)."""
        known = self._wiring
        if known is None or known[0] is not net or known[1] != net.version:
            readers = net.readers()
            if known is not None and known[3] is readers:  # (an edit of parameters)
                inputs_of = known[2]
            else:
                inputs_of = {nid: n.inputs for nid, n in net.nodes.items()}
                if known is not None and known[2] == inputs_of:
                    # the same wiring in another network: the same objects (what is cached
                    # on them holds)
                    inputs_of = known[2]
            self._wiring = known = (net, net.version, inputs_of, readers)
        return known[2], known[3]

    def _drop_card(self, bid: str, keep: bool = True) -> None:
        """A block's card no longer shown: kept hidden, with its wires, to be shown again as
        it was (a stage expanded and collapsed again makes no new cards), or removed."""
        card = self.cards.pop(bid)
        for wire in list(card.wires_in + card.wires_out):
            self._drop_wire(wire, keep)
        if card.scene() is not self.scene:
            return
        if keep:
            card.setSelected(False)
            card.setVisible(False)
            self._spare[bid] = card
        else:
            self.scene.removeItem(card)

    def _drop_wire(self, wire: Wire, keep: bool = False) -> None:
        if self.wires.get(wire.key) is wire:
            del self.wires[wire.key]
        if keep and wire.scene() is self.scene:
            wire.setVisible(False)
            older = self._spare_wires.get(wire.key)
            self._spare_wires[wire.key] = wire
            if older is not None and older is not wire:
                self._drop_wire(older)
            return
        wire.detach()
        if self._spare_wires.get(wire.key) is wire:
            del self._spare_wires[wire.key]
        if wire.scene() is self.scene:
            self.scene.removeItem(wire)

    def _drop_spares(self, blocks) -> None:
        """Spare cards of blocks that are gone or changed, and their wires, removed."""
        for bid in [b for b, c in self._spare.items()
                    if blocks.get(b) is None or blocks[b].members != c.block.members]:
            card = self._spare.pop(bid)
            for wire in list(card.wires_in + card.wires_out):
                self._drop_wire(wire)
            if card.scene() is self.scene:
                self.scene.removeItem(card)

    def _show_cards(self, cards, nodes) -> None:
        """Layer cards shown where no collapsed block hides them."""
        hidden = self.hidden
        for nid, card in cards.items():
            visible = nid not in hidden
            if card.isVisible() != visible:
                if visible:  # a hidden card is not moved (scene._on_moved): now it is
                    pos = nodes[nid].pos if nid in nodes else None
                    if pos is not None and (card.x(), card.y()) != pos:
                        card.setPos(pos[0], pos[1])
                card.setVisible(visible)

    def _show_layer_wires(self, wires) -> None:
        """The wires between layers shown where both ends are."""
        hidden = self.hidden
        for wire in wires:
            src, dst = wire.key
            visible = src not in hidden and dst not in hidden
            if wire.isVisible() != visible:
                wire.setVisible(visible)
                if visible:  # (routed while hidden? not since the last move: now)
                    wire.update_path()

    def _sync_wires(self, net) -> None:
        """Real wires between shown layers; a wire to or from a hidden layer is shown as one
        wire to or from its block's card (one per pair of cards)."""
        scene = self.scene
        hidden = self.hidden
        inputs_of = self._structure(net)[0]
        for known in self._wanted:
            if known[0] is inputs_of and known[1] == hidden:
                want = known[2]  # (the same wiring and the same blocks hidden: the same wires)
                break
        else:
            want = self._wanted_wires(inputs_of, hidden)
            self._wanted.insert(0, (inputs_of, dict(hidden), want))
            del self._wanted[4:]
        if self.wires.keys() == want.keys() and all(
                w.scene() is scene and w.src is self._item(p[0]) and w.dst is self._item(p[1])
                for p, w in self.wires.items()):
            for pair, (index, count) in want.items():
                self.wires[pair].set_slot(index, count)
            return  # every wire there already (an edit that changed no wiring)
        self._place_wires(want)

    @staticmethod
    def _wanted_wires(inputs_of, hidden) -> dict[tuple[str, str], tuple[int, int]]:
        """{(source unit, destination unit): (input slot, of how many)} for every wire that
        has a hidden end."""
        want: dict[tuple[str, str], tuple] = {}
        into: dict[str, list[str]] = {}
        for nid, inputs in inputs_of.items():
            dst_unit = hidden.get(nid, nid)
            for i, src in enumerate(inputs):
                src_unit = hidden.get(src, src)
                if src_unit == dst_unit or (src not in hidden and nid not in hidden):
                    continue
                pair = (src_unit, dst_unit)
                if pair in want:
                    continue
                if nid in hidden:
                    into.setdefault(dst_unit, []).append(src_unit)
                    want[pair] = (None, None)
                else:
                    want[pair] = (i, len(inputs))
        for pair, slot in want.items():
            if slot[0] is None:
                ins = into[pair[1]]
                want[pair] = (ins.index(pair[0]), len(ins))
        return want

    def _place_wires(self, want) -> None:
        scene = self.scene
        for pair in [p for p, w in self.wires.items()
                     if p not in want or w.scene() is not scene
                     or w.src is not self._item(p[0]) or w.dst is not self._item(p[1])]:
            self._drop_wire(self.wires[pair])
        for pair, (index, count) in want.items():
            wire = self.wires.get(pair)
            if wire is None:
                src, dst = self._item(pair[0]), self._item(pair[1])
                if src is None or dst is None:
                    continue
                spare = self._spare_wires.pop(pair, None)
                if spare is not None:
                    if spare.scene() is scene and spare.src is src and spare.dst is dst:
                        spare.setVisible(True)
                        spare.index, spare.count = index, count
                        spare.update_path()
                        self.wires[pair] = spare
                        continue
                    self._drop_wire(spare)
                wire = Wire(src, dst, index, count)
                wire.setFlag(Wire.GraphicsItemFlag.ItemIsSelectable, False)
                scene.addItem(wire)
                self.wires[pair] = wire
                wire.update_path()
            else:
                wire.set_slot(index, count)
        # a spare wire between two shown items was not wanted: the wiring changed
        for pair in [p for p, w in self._spare_wires.items()
                     if w.src.isVisible() and w.dst.isVisible()]:
            self._drop_wire(self._spare_wires[pair])

    def _item(self, unit: str):
        return self.cards.get(unit) if unit in self.cards else self.scene.cards.get(unit)

    def _sync_frames(self, blocks) -> None:
        shown = model_blocks.shown_expanded(blocks)
        for bid in [b for b in self.frames if b not in shown]:
            frame = self.frames.pop(bid)
            if frame.scene() is self.scene:  # kept hidden, to be shown again as it was
                frame.setVisible(False)
                self._spare_frames[bid] = frame
        for bid in [b for b in self._spare_frames if b not in blocks]:
            frame = self._spare_frames.pop(bid)
            if frame.scene() is self.scene:
                self.scene.removeItem(frame)
        rects: dict[str, QRectF] = {}
        for bid in sorted(shown, key=lambda b: len(blocks[b].members)):  # inner ones first
            block = blocks[bid]
            units = set()  # (a collapsed block inside: its card, once)
            for nid in block.members:
                item = self.unit(nid)
                if item is not None:
                    units.add(item)
            rect = QRectF()
            if units:
                xs = [u.x() for u in units]
                ys = [u.y() for u in units]
                rect = QRectF(min(xs) - CARD_W / 2, min(ys) - CARD_H / 2,
                              max(xs) - min(xs) + CARD_W, max(ys) - min(ys) + CARD_H)
            members = set(block.members)
            for other, r in rects.items():
                if members.issuperset(blocks[other].members):
                    rect = rect.united(r)
            frame = self.frames.get(bid)
            if frame is None:
                frame = self._spare_frames.pop(bid, None)
                if frame is not None and frame.scene() is self.scene:
                    frame.setVisible(True)
                else:
                    frame = BlockFrame(block)
                    self.scene.addItem(frame)
                self.frames[bid] = frame
            frame.block = block
            frame.set_rect(rect)
            rects[bid] = frame.rect

    # ----------------------------------------------------------------------------- gestures

    def toggle(self, block_id: str) -> None:
        """Collapse or expand a block in place (one undo step): what follows it moves down to
        make room for its layers, or up to close the gap."""
        from .arrange import show

        block = self.scene.document.network.blocks.get(block_id)
        if block is not None:
            show(self.scene, [block_id], not block.collapsed)

    def selected_members(self) -> list[str]:
        """The layers of the selected block cards."""
        out: list[str] = []
        for card in self.cards.values():
            if card.isSelected():
                out.extend(card.members)
        return out


class _Positions(Mapping):
    """Where each layer is: its position in the design (a hidden card is moved only when it
    is shown again), else where the scene put its card. Read lazily: a block's anchor needs
    only its members."""

    def __init__(self, nodes, cards):
        self._nodes = nodes
        self._cards = cards

    def __getitem__(self, nid):
        node = self._nodes.get(nid)
        if node is not None and node.pos is not None:
            return node.pos
        card = self._cards[nid]
        return (card.x(), card.y())

    def __contains__(self, nid):
        return nid in self._cards

    def __iter__(self):
        return iter(self._cards)

    def __len__(self):
        return len(self._cards)
