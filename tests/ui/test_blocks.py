"""Blocks as a user meets them (issue 19): Group, Ungroup, Collapse and Expand are undoable
steps that change no number; a collapsed block is one card with its figures; wires attach to
it; one click on its toggle expands it in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.model import transforms
from designer.model.design_file import load, to_dict
from designer.ui import commands
from designer.ui.document import Document

PRESETS = Path(__file__).parents[2] / "presets"


def state(doc: Document) -> tuple:
    """What undo must put back exactly: the design as saved (nodes, wires, blocks)."""
    data = to_dict(doc.design)
    return data["nodes"], data["edges"], data.get("blocks")


def readouts(doc: Document) -> tuple:
    r = doc.report
    return (r, dict(r.layers), r.pytorch, r.held)


def test_group_and_ungroup_undo_and_redo_exactly_and_change_no_number(qtbot):
    doc = Document(load(PRESETS / "vgg16.convnet.json"))
    start, numbers = state(doc), readouts(doc)
    bid = commands.group(doc, ["fc6", "relu6", "drop6"], name="classifier")
    assert bid in doc.network.blocks and doc.network.blocks[bid].name == "classifier"
    grouped = state(doc)
    assert readouts(doc) == numbers
    commands.ungroup(doc, [bid])
    assert bid not in doc.network.blocks and readouts(doc) == numbers
    doc.undo_stack.undo()
    assert state(doc) == grouped
    doc.undo_stack.undo()
    assert state(doc) == start
    doc.undo_stack.redo()
    assert state(doc) == grouped
    doc.undo_stack.redo()
    assert state(doc) == start


def test_a_group_that_straddles_a_block_is_refused_with_the_reason(qtbot):
    doc = Document(load(PRESETS / "resnet18.convnet.json"))
    said = []
    doc.error.connect(said.append)
    count = doc.undo_stack.count()
    first = next(iter(doc.network.blocks.values()))
    assert commands.group(doc, [first.members[0], "conv1"]) is None
    assert doc.undo_stack.count() == count and "holds" in said[-1]


def test_collapse_and_expand_undo_and_redo_exactly(qtbot):
    doc = Document(load(PRESETS / "resnet18.convnet.json"))
    start, numbers = state(doc), readouts(doc)
    bids = list(doc.network.blocks)[:2]
    positions = {n: doc.network.nodes[n].pos for n in doc.network.nodes}
    moves = {"fc": (0.0, -50.0)}
    commands.show_blocks(doc, bids, not doc.network.blocks[bids[0]].collapsed, positions, moves)
    after = state(doc)
    assert after != start and doc.network.nodes["fc"].pos == (0.0, -50.0)
    assert readouts(doc) == numbers and doc.modified
    doc.undo_stack.undo()
    assert state(doc) == start
    doc.undo_stack.redo()
    assert state(doc) == after


def test_a_template_inserted_in_the_window_is_one_block(qtbot):
    doc = Document(load(PRESETS / "cifar10_example.convnet.json"))
    out = doc.edit("Insert", lambda net: transforms.basic_block(net, "pool", 16, 1,
                                                                  prefix="basic"))
    assert out is not None
    block = doc.network.blocks["basic"]
    assert block.kind == "basic" and out in block.members and len(block.members) == 9
    doc.undo_stack.undo()
    assert doc.network.blocks == {}


@pytest.mark.parametrize("preset", ["resnet18", "googlenet"])
def test_presets_open_grouped(preset):
    net = load(PRESETS / f"{preset}.convnet.json").network
    assert net.blocks


# ------------------------------------------------------------------------------ on the canvas

def canvas_of(qtbot, preset: str):
    from designer.ui.canvas import CanvasScene, CanvasView

    doc = Document()
    doc.open(str(PRESETS / f"{preset}.convnet.json"))
    scene = CanvasScene(doc)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    return doc, scene, view


def test_a_collapsed_block_is_one_card_with_the_reports_figures(qtbot):
    from designer.model.blocks import summary
    from designer.model.units import format_count

    doc, scene, view = canvas_of(qtbot, "resnet50")
    card = scene.blocks.cards["layer2"]
    block = doc.network.blocks["layer2"]
    assert all(not scene.cards[m].isVisible() for m in block.members)
    s = summary(block, {n: doc.network.nodes[n].inputs for n in doc.network.nodes}, doc.report)
    lines = card.text_lines()
    assert lines[0] == "Stage  layer2 (conv3_x)"
    assert lines[1] == "56×56×256 → 28×28×512"
    assert f"{format_count(s.params)} params" in lines[2] and "MACs" in lines[2]
    assert f"RF {s.field[1]}" in lines[2]
    assert s.params == sum(doc.report.layers[m].params for m in block.members)
    # the wires to and from its layers attach to its card: one in, one out
    assert [w.src.node_id for w in card.wires_in] == ["layer1"]
    assert [w.dst.node_id for w in card.wires_out] == ["layer3"]


def test_one_click_on_the_toggle_expands_in_place_and_undo_collapses(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    doc, scene, view = canvas_of(qtbot, "resnet50")
    view.set_zoom(1.0)
    card = scene.blocks.cards["layer2"]
    view.centerOn(card)
    toggle = view.mapFromScene(card.toggle.scenePos())
    head_before = scene.blocks.cards["head"].y()
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=toggle)
    assert "layer2" not in scene.blocks.cards and "layer2" in scene.blocks.frames
    inner = [b for b in doc.network.blocks if b.startswith("layer2_")]
    assert sorted(scene.blocks.cards).count("layer2_0") == 1 and len(inner) == 4
    assert all(b in scene.blocks.cards for b in inner)  # its bottlenecks, each a card
    assert scene.blocks.cards["head"].y() == head_before + 3 * 100  # 4 rows for its 1: room
    doc.undo_stack.undo()
    assert "layer2" in scene.blocks.cards and scene.blocks.cards["head"].y() == head_before


def test_selecting_a_block_card_selects_its_layers_and_delete_removes_them(qtbot):
    doc, scene, view = canvas_of(qtbot, "resnet18")
    members = doc.network.blocks["head"].members
    scene.blocks.cards["head"].setSelected(True)
    assert set(doc.selection) == set(members)
    view.actions_by_name["delete"].trigger()
    assert not set(members) & set(doc.network.nodes) and "head" not in doc.network.blocks
    doc.undo_stack.undo()
    assert "head" in doc.network.blocks and "head" in scene.blocks.cards


def test_group_with_ctrl_g_and_ungroup(qtbot):
    doc, scene, view = canvas_of(qtbot, "vgg16")
    doc.select(["fc6", "relu6", "drop6"])
    view.actions_by_name["group"].trigger()
    new = [b for b in doc.network.blocks if b not in {f"stage{i}" for i in range(1, 6)}]
    assert len(new) == 1 and new[0] in scene.blocks.frames
    assert view.actions_by_name["group"].shortcut().toString() == "Ctrl+G"
    doc.select(["fc6"])
    view.actions_by_name["collapse"].trigger()
    assert new[0] in scene.blocks.cards
    view.actions_by_name["ungroup"].trigger()
    assert new[0] not in doc.network.blocks and scene.cards["fc6"].isVisible()


def shown_where_the_design_says(doc, scene) -> list[str]:
    """The shown layers whose card is not at the design's position, or whose wires do not
    start and end at their cards (empty when all is as it should be)."""
    wrong = []
    for nid, card in scene.cards.items():
        if not card.isVisible():
            continue
        pos = doc.network.nodes[nid].pos
        if pos is not None and (card.x(), card.y()) != pos:
            wrong.append(f"{nid} at {(card.x(), card.y())}, not {pos}")
        for wire in card.wires_in:
            if wire.isVisible():
                path = wire.path()
                start, end = path.pointAtPercent(0), path.pointAtPercent(1)
                if (start - wire.src.output_anchor()).manhattanLength() > 0.5 or \
                        (end - card.input_anchor(wire.index, wire.count)).manhattanLength() > 0.5:
                    wrong.append(f"the wire {wire.key} is not at its cards")
    return wrong


def test_layers_shown_again_are_where_the_design_puts_them_with_their_wires(qtbot):
    """A collapsed block's layers are moved only when shown again: after collapsing, moving
    the block's card, expanding, undo and redo, every shown card is at the design's place."""
    from designer.ui.canvas import arrange

    doc, scene, view = canvas_of(qtbot, "resnet50")
    scene.request_toggle("layer2")  # open: its four bottlenecks as cards
    scene.request_toggle("layer2_1")  # and one of them: its layers
    assert shown_where_the_design_says(doc, scene) == []
    scene.request_toggle("layer2")  # closed again: all of it squashed into one card
    members = doc.network.blocks["layer2"].members
    card = scene.blocks.cards["layer2"]
    assert scene.position_of(members[0]) == doc.network.nodes[members[0]].pos
    doc.move({m: (doc.network.nodes[m].pos[0] + 600, doc.network.nodes[m].pos[1])
              for m in members}, "Move the block")  # as a drag of its card does
    assert card.x() == doc.network.nodes[members[0]].pos[0]
    scene.request_toggle("layer2")
    assert shown_where_the_design_says(doc, scene) == []
    assert scene.card("layer2_1_conv1").isVisible()  # (the bottleneck opened before)
    assert scene.card("layer2_1_conv1").x() > 500
    for _ in range(3):
        doc.undo_stack.undo()
        assert shown_where_the_design_says(doc, scene) == []
    for _ in range(3):
        doc.undo_stack.redo()
        assert shown_where_the_design_says(doc, scene) == []
    arrange.show_all(view, True)
    arrange.show_all(view, False)
    assert shown_where_the_design_says(doc, scene) == []
    assert all(c.isVisible() for c in scene.cards.values())


def test_the_wires_to_block_cards_follow_every_toggle_back_and_forth(qtbot):
    """The wires between block cards and layers are the ones the shown blocks ask for after
    each toggle, also when a state comes back (the wires wanted are kept for a few states)."""
    from designer.model import blocks as model_blocks
    from designer.ui.canvas.block_view import BlockView

    doc, scene, view = canvas_of(qtbot, "resnet50")
    net = doc.network
    inputs_of = {nid: n.inputs for nid, n in net.nodes.items()}
    seen = set()
    for bid in ("layer2", "layer3", "layer2", "layer2_1", "layer3", "layer2_1", "layer2",
                "layer3", "layer2"):
        scene.request_toggle(bid)
        hidden = model_blocks.hidden(net.blocks)
        wanted = BlockView._wanted_wires(inputs_of, hidden)
        wires = scene.blocks.wires
        assert wires.keys() == wanted.keys(), bid
        for (src, dst), wire in wires.items():
            assert wire.isVisible() and wire.src is scene.blocks._item(src), (bid, src, dst)
            assert wire.dst is scene.blocks._item(dst) and (wire.index, wire.count) == \
                wanted[(src, dst)], (bid, src, dst)
        seen.add(frozenset(wanted))
    assert len(seen) >= 4
    assert shown_where_the_design_says(doc, scene) == []


def test_cards_shown_again_say_what_the_design_says_now(qtbot):
    """A stage expanded, collapsed, its layers edited and renamed while its bottlenecks are
    hidden, expanded again: one card per shown block, each with the Report's figures and its
    wires at its cards; ungrouped, its cards are gone."""
    from designer.model.blocks import shown_collapsed, summary
    from designer.ui.canvas.block_items import BlockCard, BlockFrame

    doc, scene, view = canvas_of(qtbot, "resnet50")
    scene.request_toggle("layer3")  # its six bottlenecks as cards
    before = scene.blocks.cards["layer3_4"].figures
    scene.request_toggle("layer3")  # one card again
    commands.set_params(doc, "layer3_4_conv2", out_channels=512)  # more params and MACs
    scene.request_toggle("layer3")

    def shown_cards():
        return sorted(it.block.id for it in scene.items()
                      if isinstance(it, BlockCard) and it.isVisible())

    assert shown_cards() == sorted(shown_collapsed(doc.network.blocks))
    frames = [it for it in scene.items() if isinstance(it, BlockFrame) and it.isVisible()]
    assert [f.block.id for f in frames] == ["layer3"]
    members = [scene.blocks.cards[b].sceneBoundingRect() for b in scene.blocks.cards
               if b.startswith("layer3_")]
    assert all(frames[0].sceneBoundingRect().contains(r) for r in members)
    inputs = {n: doc.network.nodes[n].inputs for n in doc.network.nodes}
    for bid, card in scene.blocks.cards.items():
        s = summary(doc.network.blocks[bid], inputs, doc.report)
        assert card.summary == s, bid
    assert scene.blocks.cards["layer3_4"].figures != before
    assert scene.blocks.cards["layer3_4"].figures != scene.blocks.cards["layer3_3"].figures
    assert shown_where_the_design_says(doc, scene) == []
    for card in scene.blocks.cards.values():
        for wire in card.wires_in + card.wires_out:
            assert wire.isVisible() == (wire.src.isVisible() and wire.dst.isVisible())
    ins = sorted(w.src.node_id for w in scene.blocks.cards["layer3_2"].wires_in
                 if w.isVisible())
    assert ins == ["layer3_1"]
    # collapsed and expanded again, one bottleneck ungrouped: its card is gone
    from designer.ui.canvas import arrange

    scene.request_toggle("layer3")
    scene.request_toggle("layer3")
    scene.blocks.cards["layer3_4"].setSelected(True)
    arrange.ungroup_selection(view)
    assert "layer3_4" not in doc.network.blocks
    assert "layer3_4" not in shown_cards()
    assert shown_cards() == sorted(shown_collapsed(doc.network.blocks))
    scene.request_toggle("layer3")
    assert not any(isinstance(it, BlockFrame) and it.isVisible() for it in scene.items())


def test_block_cards_follow_every_edit_and_its_undo(qtbot):
    """A collapsed block's card sums its figures again where an edit reached it (an edit
    inside it, or a new input size that changes every volume) and not from stale parts."""
    from designer.model.blocks import summary

    doc, scene, view = canvas_of(qtbot, "resnet50")

    def figures_match() -> list[str]:
        inputs = {n: doc.network.nodes[n].inputs for n in doc.network.nodes}
        return [bid for bid, card in scene.blocks.cards.items()
                if card.summary != summary(doc.network.blocks[bid], inputs, doc.report)]

    before = {bid: card.text_lines() for bid, card in scene.blocks.cards.items()}
    commands.set_params(doc, "layer2_1_conv2", out_channels=192)  # inside layer2 only
    assert figures_match() == []
    assert scene.blocks.cards["layer2"].text_lines() != before["layer2"]
    assert scene.blocks.cards["layer3"].text_lines() == before["layer3"]
    commands.set_params(doc, "input", height=256, width=256)  # every volume after the input
    assert figures_match() == []
    assert scene.blocks.cards["layer3"].text_lines()[1] == "32×32×512 → 16×16×1024"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert figures_match() == []
    assert {bid: card.text_lines() for bid, card in scene.blocks.cards.items()} == before


# ------------------------------------------------------------------- a block card's drawing

def _painted(card, zoom: float, dx: float, dy: float, direct: bool = False):
    """The card painted into a clear image at `zoom`, placed at (dx, dy) device pixels: by
    paint() (the drawing it keeps) or, `direct`, drawn straight onto the image."""
    from PySide6.QtGui import QImage, QPainter, QTransform
    from PySide6.QtWidgets import QStyleOptionGraphicsItem

    image = QImage(420, 220, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.setTransform(QTransform.fromScale(zoom, zoom) * QTransform.fromTranslate(dx, dy))
    if direct:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        full = lod >= 1.0 and card.detail(lod) == "full"
        card._draw(painter, lod, full, None if full else card._compact(lod))
    else:
        card.paint(painter, QStyleOptionGraphicsItem())
    painter.end()
    return image


@pytest.mark.parametrize(("zoom", "dx", "dy"), [(1.0, 210.25, 110.5), (0.7376, 200.6, 101.3),
                                                 (1.6, 210.0, 110.75)])
def test_a_block_card_kept_drawn_is_the_card_drawn(qtbot, zoom, dx, dy):
    doc, scene, view = canvas_of(qtbot, "resnet50")
    card = scene.blocks.cards["layer2"]
    kept = _painted(card, zoom, dx, dy)
    again = _painted(card, zoom, dx, dy)  # (from what it kept)
    assert kept == _painted(card, zoom, dx, dy, direct=True)
    assert again == kept
    card.setSelected(True)
    assert _painted(card, zoom, dx, dy) == _painted(card, zoom, dx, dy, direct=True)


def test_a_block_card_is_drawn_again_only_when_what_it_shows_changed(qtbot, monkeypatch):
    from designer.ui.canvas.block_items import BlockCard

    doc, scene, view = canvas_of(qtbot, "resnet50")
    drawn = []
    draw = BlockCard._draw
    monkeypatch.setattr(BlockCard, "_draw", lambda self, *a: (drawn.append(self.block.id),
                                                              draw(self, *a))[1])
    card = scene.blocks.cards["layer2"]
    first = _painted(card, 1.0, 210.0, 110.0)
    assert drawn == ["layer2"]
    card.hide()
    card.show()  # (Qt drops its own cache of a hidden item)
    _painted(card, 1.0, 213.0, 90.0)  # moved by whole pixels: the same drawing
    assert drawn == ["layer2"]
    commands.set_params(doc, "layer2_0_conv1", out_channels=64)  # its figures change
    changed = _painted(card, 1.0, 210.0, 110.0)
    assert drawn == ["layer2", "layer2"] and changed != first
    assert changed == _painted(card, 1.0, 210.0, 110.0, direct=True)
    before = len(drawn)
    _painted(card, 1.0, 210.5, 110.0)  # half a pixel over: drawn again
    assert len(drawn) == before + 1


def test_a_block_card_follows_a_rewiring_of_what_feeds_it_and_what_reads_it(qtbot):
    """LeNet-5's layers after the first pool grouped and collapsed; its input rewired to come
    from the first conv, then one of its layers read from outside: the card's figures are the
    Report's summed afresh each time (the layers at the block's edges are worked out again
    when the wiring changes)."""
    from designer.model.blocks import summary

    doc = Document()
    doc.open(str(PRESETS / "lenet5.convnet.json"))
    from designer.ui.canvas import CanvasScene, CanvasView

    scene = CanvasScene(doc)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    order = list(doc.report.order)
    pool = next(n for n in order if doc.network.nodes[n].type == "AvgPool2d")
    conv = next(n for n in order if doc.network.nodes[n].type == "Conv2d")
    after = order[order.index(pool) + 1:order.index(pool) + 4]
    bid = commands.group(doc, after)
    if not doc.network.blocks[bid].collapsed:
        scene.request_toggle(bid)  # one card

    def agrees():
        inputs = {n: doc.network.nodes[n].inputs for n in doc.network.nodes}
        card = scene.blocks.cards[bid]
        return card.summary == summary(doc.network.blocks[bid], inputs, doc.report)

    assert agrees()
    first = after[0]
    commands.disconnect(doc, pool, first)
    commands.connect(doc, conv, first)  # fed by the conv now: another volume comes in
    assert agrees()
    assert scene.blocks.cards[bid].in_str != ""
    reader = commands.add_layer(doc, "ReLU")
    commands.connect(doc, after[1], reader)  # a layer inside read from outside
    assert agrees()
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert agrees()
