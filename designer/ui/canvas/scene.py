"""CanvasScene: the graphics scene that mirrors a Document.

On every `changed` it syncs incrementally: Node records are immutable and replaced on every
change, and the analysis reuses a layer's LayerReport object while nothing about it changed, so
comparing identities finds the few cards to repaint; wires are diffed as a set of edges. Moves
come back through `moved`. Selection goes both ways (scene ↔ document) without echoing.

Mouse gestures that are more than Qt's select-and-move (drawing a wire from a port) are
interaction objects (interactions.py); the scene only dispatches mouse events to the current one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QToolTip

from ...model import blocks as model_blocks
from ...model.analysis import Report
from ...model.layout import auto_layout
from ...model.network import Network
from .. import commands
from .block_items import BlockCard
from .block_view import BlockView
from .items import CARD_H, CARD_W, NodeCard, PortItem, Wire

MARGIN = 400.0  # room around the design to pan into


class CanvasScene(QGraphicsScene):
    rebuilt = Signal()  # another design was opened (File → Open, an example, a recovery, New)
    external_selection = Signal(list)  # the document's selection was set by another view
    scroll_rect_changed = Signal(QRectF)  # the room the views scroll over (scroll_rect)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.cards: dict[str, NodeCard] = {}
        self._shown: dict[str, tuple] = {}  # nid -> (node, report) its card was given (sync)
        self.wires: dict[tuple[str, str], Wire] = {}
        self.interaction = None  # the mouse gesture in progress (interactions.Interaction)
        self.last_sync_ms = 0.0
        self._syncing = False  # applying the document's selection: do not echo it back
        self._echo = False  # sending our selection to the document
        self._press_positions: dict[NodeCard, tuple[float, float]] = {}
        self._drag_at: dict[NodeCard, tuple[float, float]] = {}
        self._lanes: list | None = None
        self._selected_wires: set[Wire] = set()
        self.hints = None  # a HintsModel once set_hints() is called: markers on cards
        self._design = None  # the Design object shown: the Document makes a new one per file
        self.blocks = BlockView(self)  # collapsed blocks' cards, expanded blocks' frames
        self.geometry_epoch = 0  # counts the syncs that moved, added or removed a card
        self.scroll_rect = QRectF()  # the design and a margin: what the views scroll over
        self._blocks_seen = None  # the blocks as of the last epoch
        self._hinted: set[str] = set()  # the layers whose cards show hint markers
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        document.changed.connect(self.sync)
        document.moved.connect(self._on_moved)
        document.selection_changed.connect(self._on_document_selection)
        self.selectionChanged.connect(self._on_scene_selection)
        self.sync(document.report)

    # ----------------------------------------------------------------------------- queries

    def card(self, node_id: str) -> NodeCard | None:
        return self.cards.get(node_id)

    def selected_cards(self) -> list[NodeCard]:
        return [it for it in self.selectedItems() if isinstance(it, NodeCard)]

    def selected_wires(self) -> list[Wire]:
        return [it for it in self.selectedItems() if isinstance(it, Wire)]

    def design_rect(self) -> QRectF:
        """The cards' extent (wires stay within a little of it)."""
        units = self.blocks.visible_units() if self.blocks.hidden else self.cards.values()
        if not units:
            return QRectF(-CARD_W / 2, -CARD_H / 2, CARD_W, CARD_H)
        xs = [c.x() for c in units]
        ys = [c.y() for c in units]
        return QRectF(min(xs) - CARD_W / 2, min(ys) - CARD_H / 2,
                      max(xs) - min(xs) + CARD_W, max(ys) - min(ys) + CARD_H)

    def position_of(self, node_id: str) -> tuple[float, float] | None:
        """Where a layer is shown (its saved position, or where the scene placed it)."""
        card = self.cards.get(node_id)
        if card is None:
            return None
        if node_id in self.blocks.hidden:  # (moved only when shown: its place is the design's)
            node = self.document.network.nodes.get(node_id)
            if node is not None and node.pos is not None:
                return node.pos
        return (card.x(), card.y())

    def positions(self) -> dict[str, tuple[float, float]]:
        """position_of for every layer."""
        hidden = self.blocks.hidden
        nodes = self.document.network.nodes
        out = {}
        for nid, card in self.cards.items():
            node = nodes.get(nid) if nid in hidden else None
            out[nid] = node.pos if node is not None and node.pos is not None else \
                (card.x(), card.y())
        return out

    @contextmanager
    def presentation(self) -> Iterator[None]:
        """The scene as a picture: no selection, no item caches (for export), no leftover
        gesture; the document's selection is kept and restored."""
        if self.interaction is not None:
            self.interaction.cancel()
        selected = self.selectedItems()
        cached = [(it, it.cacheMode()) for it in self.items()
                  if it.cacheMode() != QGraphicsItem.CacheMode.NoCache]
        self._syncing = True
        try:
            for it in selected:
                it.setSelected(False)
            self._restyle_selected_wires()
            for it, _ in cached:
                it.setCacheMode(QGraphicsItem.CacheMode.NoCache)
            yield
        finally:
            for it, mode in cached:
                it.setCacheMode(mode)
            for it in selected:
                it.setSelected(True)
            self._restyle_selected_wires()
            self._syncing = False

    # ----------------------------------------------------------------------------- sync

    def sync(self, report: Report | None = None) -> None:
        """Bring the scene in line with the document: add, remove and repaint only what
        changed."""
        start = time.perf_counter()
        report = report if report is not None else self.document.report
        net: Network = self.document.network
        nodes = net.nodes
        layers = report.layers
        # Another design (Document._set_design makes a new Design for every open, example,
        # recovery and New): all new cards, even where its layer ids are the old one's.
        new_design = self.document.design is not self._design
        self._design = self.document.design
        rebuilt = new_design or (bool(self.cards) and not (self.cards.keys() & nodes.keys()))
        if self.interaction is not None:
            self.interaction.cancel()
        if rebuilt and self.cards:
            self._clear_all()
        first = not self.cards

        self._lanes = None
        geometry = first  # whether the design's extent may have changed
        for nid in [n for n in self.cards if n not in nodes]:
            card = self.cards.pop(nid)
            self._shown.pop(nid, None)
            for wire in card.wires_in + card.wires_out:
                self._drop_wire(wire)
            self._press_positions.pop(card, None)
            self._drag_at.pop(card, None)
            self.removeItem(card)
            geometry = True

        new_ids = [nid for nid in nodes if nid not in self.cards]
        placed = self._placements(net, new_ids) if new_ids else {}
        # a new card (and wire) inside a collapsed block is made hidden, its wire not routed
        # until shown: ResNet-152 opens with 7 of its cards shown
        hidden = model_blocks.hidden(net.blocks) if new_ids and net.blocks else {}
        rewire: list[str] = []
        moved: list[NodeCard] = []
        shown = self._shown  # (nid -> (node, report) each card shows: no Qt object asked)
        for nid, node in nodes.items():
            lr = layers.get(nid)
            known = shown.get(nid)
            if known is not None and known[0] is node and known[1] is lr:
                continue  # (the same node and report: the card as it is)
            shown[nid] = (node, lr)
            card = self.cards.get(nid)
            if card is None:
                card = NodeCard(node, lr)
                pos = node.pos if node.pos is not None else placed[nid]
                card.setPos(pos[0], pos[1])
                if nid in hidden:
                    card.setVisible(False)
                self.addItem(card)
                self.cards[nid] = card
                if node.inputs:
                    rewire.append(nid)
                geometry = True
            elif card.node is not node:
                if card.node.inputs != node.inputs:
                    rewire.append(nid)
                if node.pos is not None and node.pos != (card.x(), card.y()):
                    card.setPos(node.pos[0], node.pos[1])
                    moved.append(card)
                    geometry = True
                card.set_content(node, lr)
            elif card.report is not lr:
                card.set_content(node, lr)
        for nid in rewire:
            self._rewire(self.cards[nid], nodes[nid].inputs, hidden)
        if moved:
            self.reroute_wires(moved)

        if geometry or rebuilt or net.blocks is not self._blocks_seen:
            self.geometry_epoch += 1
            self._blocks_seen = net.blocks
        self.blocks.sync()
        self._apply_selection(self.document.selection)
        if geometry:
            self._update_scene_rect()
        self.last_sync_ms = (time.perf_counter() - start) * 1000
        if rebuilt:
            self.rebuilt.emit()

    def _rewire(self, card: NodeCard, inputs: tuple[str, ...], hidden=()) -> None:
        """Make the wires into `card` match its inputs (a new wire with an end in `hidden`
        is made hidden and routed when shown)."""
        want = {src: i for i, src in enumerate(inputs)}
        for wire in list(card.wires_in):
            if want.get(wire.src.node_id) is None or self.cards.get(wire.src.node_id) is not \
                    wire.src:
                self._drop_wire(wire)
        have = {w.src.node_id: w for w in card.wires_in}
        for src, i in want.items():
            wire = have.get(src)
            if wire is not None:
                wire.set_slot(i, len(inputs))
            elif src in self.cards:
                wire = Wire(self.cards[src], card, i, len(inputs))
                if src in hidden or card.node_id in hidden:
                    wire.setVisible(False)
                    self.addItem(wire)
                else:
                    self.addItem(wire)
                    wire.update_path()
                self.wires[wire.key] = wire

    def _drop_wire(self, wire: Wire) -> None:
        wire.detach()
        if self.wires.get(wire.key) is wire:
            del self.wires[wire.key]
        self._selected_wires.discard(wire)
        if wire.scene() is self:
            self.removeItem(wire)

    def _clear_all(self) -> None:
        self._syncing = True
        try:
            self.clear()
        finally:
            self._syncing = False
        self.cards.clear()
        self._shown.clear()
        self.wires.clear()
        self.blocks.clear()
        self._press_positions.clear()
        self._drag_at.clear()
        self._selected_wires.clear()
        self._lanes = None

    def _placements(self, net: Network, new_ids: list[str]) -> dict[str, tuple[float, float]]:
        """Positions for new layers that have none: where auto_layout puts them relative to an
        input already on the canvas (so they land beside the user's arrangement)."""
        need = {nid for nid in new_ids if net.nodes[nid].pos is None}
        if not need:
            return {}
        layout = auto_layout(net)
        placed: dict[str, tuple[float, float]] = {}

        def known(nid: str) -> tuple[float, float] | None:
            node = net.nodes.get(nid)
            if node is not None and node.pos is not None:
                return node.pos
            if nid in placed:
                return placed[nid]
            return self.position_of(nid)

        ref = (0.0, 0.0)
        for nid in net.topological_order():
            p = None if nid in need else known(nid)
            if p is not None:
                ref = (p[0] - layout[nid][0], p[1] - layout[nid][1])
                break
        for nid in net.topological_order():
            if nid not in need:
                continue
            lx, ly = layout[nid]
            anchor = next((s for s in net.nodes[nid].inputs if known(s) is not None), None)
            if anchor is not None:
                ax, ay = known(anchor)
                placed[nid] = (ax + lx - layout[anchor][0], ay + ly - layout[anchor][1])
            else:
                placed[nid] = (lx + ref[0], ly + ref[1])
        return placed

    def _on_moved(self, ids: list) -> None:
        net = self.document.network
        nodes = net.nodes
        self._lanes = None
        # a card hidden in a collapsed block is not moved (nor its wires routed) until it is
        # shown again (BlockView.sync): a stage collapsed squashes hundreds of them
        hidden = model_blocks.hidden(net.blocks) if net.blocks else {}
        self.geometry_epoch += 1
        moved = []
        for nid in ids:
            card = self.cards.get(nid)
            node = nodes.get(nid)
            if card is not None and node is not None and node.pos is not None \
                    and nid not in hidden:
                moved.append(card)
                if (card.x(), card.y()) != node.pos:
                    card.setPos(node.pos[0], node.pos[1])
        self.blocks.sync()  # (a block collapsed or expanded comes this way too)
        self.reroute_wires(moved + list(self.blocks.cards.values()))
        self._update_scene_rect()

    def reroute_wires(self, cards) -> None:
        """Re-route the wires at `cards`, and every wire that skips rows (those choose their
        lane by the cards in the way, which may have moved)."""
        self._lanes = None
        done = set()
        for card in cards:
            for wire in card.wires_in + card.wires_out:
                if wire not in done:
                    done.add(wire)
                    if wire.isVisible():  # (a hidden wire is routed when it is shown)
                        wire.update_path()
        for wire in list(self.wires.values()) + list(self.blocks.wires.values()):
            if wire not in done and wire.isVisible() and wire.dst.y() - wire.src.y() > 150.0:
                wire.update_path()

    def cards_across(self, x: float, top: float, bottom: float) -> list[NodeCard]:
        """The cards that a vertical line at x from top to bottom would cross."""
        if self._lanes is None:
            self._lanes = [(c.x(), c.y(), c) for c in self.blocks.visible_units()]
        half_w, half_h = CARD_W / 2, CARD_H / 2
        return [c for cx, cy, c in self._lanes
                if abs(cx - x) < half_w and cy + half_h > top and cy - half_h < bottom]

    def _update_scene_rect(self) -> None:
        """The room the views scroll over: the design and a margin. It is the views' scene
        rect, not the scene's: the scene's grows by itself and never shrinks, so a block
        expanded and collapsed again does not rebuild the item index (Qt rebuilds it for
        every new scene rect: a Python boundingRect call per item)."""
        rect = self.design_rect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
        if rect != self.scroll_rect:
            self.scroll_rect = rect
            self.scroll_rect_changed.emit(rect)

    # ----------------------------------------------------------------------------- selection

    def _apply_selection(self, ids) -> None:
        hidden = self.blocks.hidden
        wanted = {i for i in ids if i not in hidden}
        current = {c.node_id for c in self.selected_cards()}
        chosen = set(ids)
        blocks_wanted = {bid for bid, c in self.blocks.cards.items()
                         if chosen.issuperset(c.members)} if hidden else set()
        blocks_now = {bid for bid, c in self.blocks.cards.items() if c.isSelected()}
        if wanted == current and blocks_wanted == blocks_now:
            return
        self._syncing = True
        blocked = self.blockSignals(True)  # one selectionChanged for the lot, not one per card
        try:
            for nid in current - wanted:
                self.cards[nid].setSelected(False)
            for nid in wanted - current:
                if nid in self.cards:
                    self.cards[nid].setSelected(True)
            for bid in blocks_now ^ blocks_wanted:
                self.blocks.cards[bid].setSelected(bid in blocks_wanted)
        finally:
            self.blockSignals(blocked)
            if not blocked:
                self.selectionChanged.emit()
            self._syncing = False

    def _on_document_selection(self, ids: list) -> None:
        if self._echo:
            return
        self._syncing = True
        try:
            for wire in self.selected_wires():
                wire.setSelected(False)
        finally:
            self._syncing = False
        self._apply_selection(ids)
        self._restyle_selected_wires()
        self.external_selection.emit(list(ids))

    def _restyle_selected_wires(self) -> None:
        wires = set(self.selected_wires())
        for wire in wires.symmetric_difference(self._selected_wires):
            if wire.scene() is self:
                wire.restyle()
        self._selected_wires = wires

    def _on_scene_selection(self) -> None:
        if self._syncing:  # applying a selection: the wires are restyled once at the end
            return
        self._restyle_selected_wires()
        selected = {c.node_id for c in self.selected_cards()}
        selected.update(self.blocks.selected_members())
        ordered = [i for i in self.document.selection if i in selected]
        kept = set(ordered)
        ordered += [i for i in self.cards if i in selected and i not in kept]
        self._echo = True
        try:
            self.document.select(ordered)
        finally:
            self._echo = False

    def select_ids(self, ids) -> None:
        """Select these layers (and nothing else) as the user would."""
        self.document.select(list(ids))

    # ----------------------------------------------------------------------------- hints

    def set_hints(self, hints) -> None:
        """Mark the cards of layers that have design hints. `hints` is a HintsModel
        (ui/panels/hints.py): it emits `changed` and says which layers have which hints."""
        self.hints = hints
        hints.changed.connect(self.sync_hint_markers)
        self.sync_hint_markers()

    def sync_hint_markers(self) -> None:
        titles = self.hints.titles_by_layer() if self.hints is not None else {}
        # only the cards with hints now or before (a card made since starts with none)
        for nid in set(titles).union(self._hinted):
            card = self.cards.get(nid)
            if card is not None and titles.get(nid, ()) != card.hint_titles:
                card.set_hints(titles.get(nid, ()))
        self._hinted = {nid for nid in titles if nid in self.cards}

    # ----------------------------------------------------------------------------- gestures

    def helpEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Tooltips, made when asked (items have a tooltip() method rather than a stored
        tooltip: most of 500 cards are never hovered)."""
        for item in self.items(event.scenePos()):
            text = item.tooltip() if hasattr(item, "tooltip") else ""
            if text:
                QToolTip.showText(event.screenPos(), text, event.widget())
                event.accept()
                return
            if isinstance(item, NodeCard):
                break
        QToolTip.hideText()
        event.ignore()

    def request_toggle(self, block_id: str) -> None:
        """A block's ▸/▾ was clicked: expand or collapse it in place."""
        self.blocks.toggle(block_id)

    def request_fix(self, node_id: str) -> None:
        """The card's fix badge was clicked: apply the first fix of its issue."""
        card = self.cards.get(node_id)
        if card is not None and card.fix is not None:
            commands.apply_fix(self.document, node_id, card.fix)

    def port_at(self, pos) -> PortItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem):
                return item
            if isinstance(item, NodeCard):
                return None
        return None

    def set_interaction(self, interaction) -> None:
        if self.interaction is not None and interaction is not None:
            self.interaction.cancel()
        self.interaction = interaction

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.interaction is not None:
            self.interaction.mouse_press(event)
            return
        if event.button() == Qt.MouseButton.LeftButton:
            port = self.port_at(event.scenePos())
            if port is not None:
                from .interactions import NewWireInteraction

                self.set_interaction(NewWireInteraction(self, port))
                self.interaction.mouse_press(event)
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_positions = {c: (c.x(), c.y()) for c in self.selectedItems()
                                     if isinstance(c, (NodeCard, BlockCard))
                                     if c.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsMovable}
            self._drag_at = dict(self._press_positions)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.interaction is not None:
            self.interaction.mouse_move(event)
            return
        super().mouseMoveEvent(event)
        if self._press_positions and event.buttons() & Qt.MouseButton.LeftButton:
            moving = [c for c in self._press_positions
                      if (c.x(), c.y()) != self._drag_at.get(c)]
            for card in moving:
                self._drag_at[card] = (card.x(), card.y())
            if moving:
                self._lanes = None
                for card in moving:
                    card.update_wires()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self.interaction is not None:
            self.interaction.mouse_release(event)
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._commit_moves()

    def _commit_moves(self) -> None:
        """One drag, one undo step: every card the drag moved, in one Document.move."""
        moved = {}
        for card, start in self._press_positions.items():
            if card.scene() is not self or (card.x(), card.y()) == start:
                continue
            if isinstance(card, BlockCard):  # its layers move with it
                dx, dy = card.x() - start[0], card.y() - start[1]
                for nid in card.members:
                    at = self.position_of(nid)
                    if at is not None:
                        moved[nid] = (at[0] + dx, at[1] + dy)
            else:
                moved[card.node_id] = (card.x(), card.y())
        self._press_positions = {}
        self._drag_at = {}
        if moved:
            text = f"Move {next(iter(moved))}" if len(moved) == 1 else f"Move {len(moved)} layers"
            self.document.move(moved, text)
