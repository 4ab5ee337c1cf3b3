"""The canvas as a user meets it: cards and wires for a design, drag and drop from the palette,
drawing wires between ports, deleting, moving, selecting, copying, laying out, exporting."""

import math
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from designer.ui import commands
from designer.ui.canvas import CanvasScene, CanvasView, render_png, render_svg
from designer.ui.canvas.items import CARD_H, CARD_W
from designer.ui.document import Document
from designer.ui.theme import severity_colour

from .gestures import at, click, drag_mouse, drop, layer_mime, mouse

PRESETS = Path(__file__).parents[2] / "presets"
CIFAR = PRESETS / "cifar10_example.convnet.json"


@pytest.fixture
def canvas(qtbot):
    doc = Document()
    doc.open(str(CIFAR))
    scene = CanvasScene(doc)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(900, 800)
    view.show()
    qtbot.waitExposed(view)
    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is view)
    view.set_zoom(1.0)
    view.centerOn(0, 200)
    return doc, scene, view


# ------------------------------------------------------------------------------------ helpers

def text(scene, nid) -> str:
    return "\n".join(scene.card(nid).text_lines())


def assert_no_overlapping_cards(scene, cards=None):
    cards = sorted(scene.cards.values() if cards is None else cards, key=lambda c: (c.y(), c.x()))
    for i, a in enumerate(cards):
        for b in cards[i + 1:]:
            if b.y() - a.y() >= CARD_H:
                break
            assert abs(a.x() - b.x()) >= CARD_W or abs(a.y() - b.y()) >= CARD_H, \
                f"{a.node_id} and {b.node_id} overlap"


# ------------------------------------------------------------------------------------ showing

def test_one_card_per_layer_showing_what_the_report_says(canvas):
    doc, scene, view = canvas
    assert len(scene.cards) == len(doc.network.nodes) == 5
    assert len(scene.wires) == 4
    assert "32×32×12" in text(scene, "conv")
    assert "CONV · Conv2d" in text(scene, "conv")
    assert "3×3 /1 pad same · 12" in text(scene, "conv")
    assert "336 params" in text(scene, "conv")
    assert "2×2 /2" in text(scene, "pool") and "16×16×12" in text(scene, "pool")
    assert "→ 10" in text(scene, "fc")
    assert scene.card("conv").y() > scene.card("input").y()


def test_an_edit_repaints_only_what_changed(canvas):
    doc, scene, view = canvas
    before = dict(scene.cards)
    wires = dict(scene.wires)
    commands.set_params(doc, "fc", out_features=100)
    assert scene.cards == before  # the same card objects
    assert scene.wires == wires
    assert "→ 100" in text(scene, "fc")
    assert "32×32×12" in text(scene, "conv")


def test_a_design_made_of_the_same_layers_gets_cards_of_its_own(canvas):
    """Another design whose network is a copy of this one (its layers and their reports the
    very same objects) replaces every card: each shows its layer, wired."""
    from designer.model.design_file import Design

    doc, scene, view = canvas
    old = dict(scene.cards)
    doc._set_design(Design(doc.network.copy()), None)
    assert scene.cards.keys() == doc.network.nodes.keys()
    assert all(scene.cards[n] is not old[n] and scene.cards[n].scene() is scene
               for n in scene.cards)
    assert all(card.node is doc.network.nodes[n] for n, card in scene.cards.items())
    assert len(scene.wires) == 4 and "32×32×12" in text(scene, "conv")


def test_selection_goes_both_ways(canvas):
    doc, scene, view = canvas
    doc.select(["fc"])
    assert [c.node_id for c in scene.selected_cards()] == ["fc"]
    click(view, at(view, *scene.position_of("conv")))
    assert doc.selection == ["conv"]
    assert scene.card("conv").isSelected() and not scene.card("fc").isSelected()


def test_the_resnet152_preset_opens_with_every_layer(canvas):
    doc, scene, view = canvas
    doc.open(str(PRESETS / "resnet152.convnet.json"))
    assert len(scene.cards) == 516
    assert len(scene.wires) == len(doc.network.edges())
    # its stem, four stages and head collapsed, each one card
    shown = [c for c in scene.cards.values() if c.isVisible()] + list(scene.blocks.cards.values())
    assert sorted(scene.blocks.cards) == ["head", "layer1", "layer2", "layer3", "layer4", "stem"]
    assert [c.node_id for c in scene.cards.values() if c.isVisible()] == ["input"]
    assert_no_overlapping_cards(scene, shown)
    view.actions_by_name["expand_all"].trigger()  # every layer, each in a place of its own
    assert scene.blocks.cards == {}
    assert all(c.isVisible() for c in scene.cards.values())
    assert_no_overlapping_cards(scene)


# ------------------------------------------------------------------------------------ drops

def test_dropping_a_conv_on_a_wire_inserts_it_there(canvas):
    doc, scene, view = canvas
    assert "16×16×12" in text(scene, "pool")
    relu, pool = scene.position_of("relu"), scene.position_of("pool")
    mid = at(view, relu[0], (relu[1] + CARD_H / 2 + pool[1] - CARD_H / 2) / 2)
    event = drop(view, layer_mime("CONV"), mid)
    assert event.isAccepted()

    assert len(scene.cards) == 6
    new = doc.selection[0]
    assert doc.network[new].type == "Conv2d"
    assert doc.network[new].inputs == ("relu",)
    assert doc.network["pool"].inputs == (new,)
    # a default CONV (16 filters, 3×3, no padding) makes 30×30×16: the pool below shows it
    assert "30×30×16" in text(scene, new)
    assert "15×15×16" in text(scene, "pool")
    assert_no_overlapping_cards(scene)
    assert scene.card(new).y() > scene.card("relu").y()
    assert scene.card("pool").y() > scene.card(new).y()

    doc.undo_stack.undo()  # one step takes it all back, positions too
    assert len(scene.cards) == 5
    assert "16×16×12" in text(scene, "pool")
    assert scene.position_of("pool") == pool


def test_dropping_on_a_cards_lower_half_adds_after_it(canvas):
    doc, scene, view = canvas
    x, y = scene.position_of("conv")
    drop(view, layer_mime("ReLU"), at(view, x + 30, y + CARD_H / 4))
    new = doc.selection[0]
    assert doc.network[new].inputs == ("conv",)
    assert doc.network["relu"].inputs == (new,)
    assert_no_overlapping_cards(scene)


def test_dropping_on_empty_space_adds_an_unconnected_layer(canvas):
    doc, scene, view = canvas
    drop(view, layer_mime("Linear"), at(view, 320, 150))
    new = doc.selection[0]
    assert doc.network[new].inputs == ()
    assert doc.network[new].pos == (320.0, 150.0)
    assert scene.position_of(new) == (320.0, 150.0)


def test_dropping_a_block_on_a_card_puts_it_after_that_card(canvas):
    doc, scene, view = canvas
    mime = QMimeData()
    mime.setData("application/x-convnet-block", b"basic")
    drop(view, mime, at(view, *scene.position_of("relu")))
    out = doc.network["pool"].inputs[0]
    assert out != "relu" and doc.network[out].type == "ReLU"
    assert "16×16×12" in text(scene, "pool")
    assert_no_overlapping_cards(scene)


def test_a_merge_cannot_go_on_a_wire_and_the_user_is_told(canvas, qtbot):
    doc, scene, view = canvas
    relu, pool = scene.position_of("relu"), scene.position_of("pool")
    with qtbot.waitSignal(doc.error) as signal:
        drop(view, layer_mime("Add"), at(view, relu[0], (relu[1] + pool[1]) / 2))
    assert "wire" in signal.args[0]
    assert len(scene.cards) == 5


def test_add_layer_goes_after_the_selected_layer(canvas):
    doc, scene, view = canvas
    doc.select(["pool"])
    nid = view.add_layer("Dropout")
    assert doc.network[nid].inputs == ("pool",) and doc.network["fc"].inputs == (nid,)
    assert doc.selection == [nid]
    assert_no_overlapping_cards(scene)


def test_dropping_a_design_file_asks_to_open_it(canvas, qtbot, tmp_path):
    doc, scene, view = canvas
    mime = QMimeData()
    path = tmp_path / "mine.convnet.json"
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    with qtbot.waitSignal(view.file_dropped) as signal:
        drop(view, mime, at(view, 300, 300))
    assert signal.args == [str(path)]


def test_other_drops_are_refused(canvas):
    doc, scene, view = canvas
    mime = QMimeData()
    mime.setText("hello")
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), enter)
    assert not enter.isAccepted()


# ------------------------------------------------------------------------------------ wires

def test_dragging_from_an_output_port_to_an_input_port_connects(canvas):
    doc, scene, view = canvas
    nid = commands.add_layer(doc, "ReLU", pos=(260.0, 300.0))
    conv = scene.card("conv")
    start = at(view, conv.x(), conv.y() + CARD_H / 2)
    end = at(view, 260.0, 300.0 - CARD_H / 2)
    steps = doc.undo_stack.count()
    drag_mouse(view, start, end)
    assert doc.network[nid].inputs == ("conv",)
    assert ("conv", nid) in scene.wires
    assert doc.undo_stack.count() == steps + 1
    assert scene.interaction is None
    assert len([i for i in scene.items() if i.zValue() == 10]) == 0  # rubber wire gone


def test_dragging_from_an_input_port_onto_a_card_connects_it(canvas):
    doc, scene, view = canvas
    nid = commands.add_layer(doc, "ReLU", pos=(260.0, 300.0))
    start = at(view, 260.0, 300.0 - CARD_H / 2)
    drag_mouse(view, start, at(view, *scene.position_of("input")))
    assert doc.network[nid].inputs == ("input",)


def test_a_refused_connection_says_why(canvas, qtbot):
    doc, scene, view = canvas
    fc = scene.card("fc")
    start = at(view, fc.x(), fc.y() + CARD_H / 2)
    with qtbot.waitSignal(doc.error) as signal:
        drag_mouse(view, start, at(view, *scene.position_of("conv")))
    assert "cycle" in signal.args[0]
    assert doc.network["conv"].inputs == ("input",)


def test_a_selected_wire_is_deleted_with_delete(canvas):
    doc, scene, view = canvas
    relu, pool = scene.position_of("relu"), scene.position_of("pool")
    click(view, at(view, relu[0], (relu[1] + pool[1]) / 2))
    assert [w.key for w in scene.selected_wires()] == [("relu", "pool")]
    view.actions_by_name["delete"].trigger()
    assert doc.network["pool"].inputs == ()
    assert ("relu", "pool") not in scene.wires


def test_a_wire_is_picked_along_its_new_route_after_its_card_moved(canvas):
    """The pick area (a stroke 12 wide) is made when first asked for: it follows the route
    the wire has now, and lies within the wire's bounds (what Qt's index finds it by)."""
    doc, scene, view = canvas
    wire = scene.wires[("relu", "pool")]
    old_mid = wire.path().pointAtPercent(0.5)
    assert wire.shape().contains(old_mid)  # (made now, for the route before the move)
    x, y = scene.position_of("pool")
    doc.move({"pool": (x + 400, y + 150)})
    new_mid = wire.path().pointAtPercent(0.5)
    assert new_mid != old_mid
    assert wire.shape().contains(new_mid) and not wire.shape().contains(old_mid)
    a = math.radians(wire.path().angleAtPercent(0.5))  # (counter-clockwise, y down)
    normal = QPointF(math.sin(a), math.cos(a))
    assert wire.shape().contains(new_mid + normal * 5.5)
    assert wire.shape().contains(new_mid - normal * 5.5)
    assert not wire.shape().contains(new_mid + normal * 7.0)
    assert wire.boundingRect().contains(wire.shape().boundingRect())
    assert wire in scene.items(new_mid + QPointF(5.0, 0))
    click(view, at(view, new_mid.x(), new_mid.y()))
    assert [w.key for w in scene.selected_wires()] == [("relu", "pool")]


def test_a_wire_is_routed_again_whenever_an_end_or_its_slot_moves_and_only_then(canvas):
    doc, scene, view = canvas
    wire = scene.wires[("relu", "pool")]
    before = wire.path()
    wire.update_path()
    assert wire.path() == before  # nothing moved: the same route
    end = before.pointAtPercent(1.0)
    wire.set_slot(0, 2)  # the first of two inputs: its end moves left along the card's top
    assert wire.path().pointAtPercent(1.0).x() < end.x()
    wire.set_slot(0, 1)
    assert wire.path() == before
    x, y = scene.position_of("relu")
    doc.move({"relu": (x - 60, y)})
    assert wire.path().pointAtPercent(0.0).x() == before.pointAtPercent(0.0).x() - 60


# ------------------------------------------------------------------------------------ editing

def test_deleting_a_middle_card_reconnects_its_neighbours_and_undo_restores(canvas):
    doc, scene, view = canvas
    click(view, at(view, *scene.position_of("pool")))
    assert doc.selection == ["pool"]
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert "pool" not in scene.cards and len(scene.cards) == 4
    assert doc.network["fc"].inputs == ("relu",)
    assert ("relu", "fc") in scene.wires
    assert "1×1×10" in text(scene, "fc")
    doc.undo_stack.undo()
    assert len(scene.cards) == 5
    assert ("relu", "pool") in scene.wires and ("pool", "fc") in scene.wires


def test_moving_cards_with_the_mouse_is_one_undo_step(canvas):
    doc, scene, view = canvas
    x, y = scene.position_of("fc")
    steps = doc.undo_stack.count()
    drag_mouse(view, at(view, x, y), at(view, x + 120, y + 40), steps=8)
    assert scene.position_of("fc") == pytest.approx((x + 120, y + 40))
    assert doc.network["fc"].pos == pytest.approx((x + 120, y + 40))
    assert doc.undo_stack.count() == steps + 1
    wire = scene.wires[("pool", "fc")]
    assert wire.path().pointAtPercent(1.0).x() == pytest.approx(x + 120)
    doc.undo_stack.undo()
    assert scene.position_of("fc") == (x, y)


def test_several_selected_cards_move_together_in_one_step(canvas):
    doc, scene, view = canvas
    doc.select(["relu", "pool"])
    (rx, ry), (px, py) = scene.position_of("relu"), scene.position_of("pool")
    steps = doc.undo_stack.count()
    drag_mouse(view, at(view, px, py), at(view, px + 200, py))
    assert scene.position_of("relu") == pytest.approx((rx + 200, ry))
    assert scene.position_of("pool") == pytest.approx((px + 200, py))
    assert doc.undo_stack.count() == steps + 1
    doc.undo_stack.undo()
    assert doc.network["relu"].pos == (rx, ry) and doc.network["pool"].pos == (px, py)


def test_rubber_band_on_empty_space_selects_the_cards_it_covers(canvas):
    doc, scene, view = canvas
    (cx, cy), ry = scene.position_of("conv"), scene.position_of("relu")[1]
    start = at(view, cx - CARD_W, cy - CARD_H / 2 - 10)
    end = at(view, cx + CARD_W, ry + 10)
    drag_mouse(view, start, end)
    assert sorted(doc.selection) == ["conv", "relu"]


def test_keyboard_select_all_copy_paste(canvas):
    doc, scene, view = canvas
    QTest.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert doc.selection == list(doc.network.nodes)
    QTest.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(scene.cards) == 10
    assert len(scene.wires) == 8
    QTest.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(scene.cards) == 15


def test_copy_paste_and_duplicate(canvas):
    doc, scene, view = canvas
    doc.select(["conv", "relu"])
    view.actions_by_name["copy"].trigger()
    mime = QApplication.clipboard().mimeData()
    assert mime.hasFormat("application/x-convnet-nodes")
    view.actions_by_name["paste"].trigger()
    assert len(scene.cards) == 7
    pasted = doc.selection
    assert len(pasted) == 2 and not set(pasted) & {"conv", "relu"}
    conv2, relu2 = pasted
    assert doc.network[conv2].type == "Conv2d" and doc.network[relu2].inputs == (conv2,)
    assert doc.network[conv2].pos == (scene.position_of("conv")[0] + 40,
                                      scene.position_of("conv")[1] + 40)
    view.actions_by_name["duplicate"].trigger()
    assert len(scene.cards) == 9
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert len(scene.cards) == 5


def test_auto_layout_leaves_no_overlaps_in_one_step(canvas):
    doc, scene, view = canvas
    doc.open(str(PRESETS / "googlenet.convnet.json"))
    doc.move({nid: (0.0, 0.0) for nid in doc.network.nodes})  # everything in a heap
    steps = doc.undo_stack.count()
    view.actions_by_name["auto_layout"].trigger()
    assert doc.undo_stack.count() == steps + 1
    # the cards shown (its blocks are collapsed: one card each) each in a place of their own
    assert_no_overlapping_cards(scene, [c for c in scene.cards.values() if c.isVisible()]
                                + list(scene.blocks.cards.values()))
    for nid, node in doc.network.nodes.items():
        for src in node.inputs:
            assert scene.position_of(nid)[1] > scene.position_of(src)[1]


def test_insert_a_residual_block_after_the_selected_layer(canvas):
    doc, scene, view = canvas
    doc.select(["relu"])
    out = view.insert_block("basic")
    assert out is not None
    assert doc.network["pool"].inputs == (out,)
    assert "32×32×12" in text(scene, out)  # same depth, stride 1
    assert "16×16×12" in text(scene, "pool")
    assert_no_overlapping_cards(scene)
    doc.undo_stack.undo()
    assert len(scene.cards) == 5


def test_inception_and_bottleneck_blocks(canvas):
    doc, scene, view = canvas
    doc.select(["conv"])
    out = view.insert_block("inception")
    assert "32×32×256" in text(scene, out)  # 64 + 128 + 32 + 32, the 3a numbers
    doc.select([out])
    out2 = view.insert_block("bottleneck")
    assert "32×32×256" in text(scene, out2)
    assert_no_overlapping_cards(scene)


# ------------------------------------------------------------------------------------ issues

def test_a_warning_card_has_a_fix_badge_that_applies_the_fix(canvas):
    doc, scene, view = canvas
    commands.set_params(doc, "pool", kernel_size=3, stride=2)  # (32 − 3)/2 + 1 = 15.5
    card = scene.card("pool")
    assert card.severity == "warning"
    assert card.border_colour() == severity_colour("warning")
    assert card.badge is not None and card.badge.isVisible()
    fix = card.fix
    steps = doc.undo_stack.count()
    badge = card.badge.scenePos()
    click(view, at(view, badge.x(), badge.y()))
    assert doc.undo_stack.count() == steps + 1
    assert doc.undo_stack.text(doc.undo_stack.index() - 1).startswith("Fix pool")
    assert all(doc.network["pool"].params[k] == v for k, v in fix.params.items())
    assert scene.card("pool").severity is None
    assert not card.badge.isVisible()


def test_an_error_card_is_red_and_its_tooltip_says_why(canvas):
    doc, scene, view = canvas
    commands.set_params(doc, "conv", kernel_size=40, padding=0)  # larger than the image
    card = scene.card("conv")
    assert card.severity == "error"
    assert card.border_colour() == severity_colour("error")
    reason = doc.report.layers["conv"].errors[0].message
    assert reason[:30].replace("<", "&lt;") in card.tooltip()
    assert "?" in text(scene, "pool")  # unknown after the error


# ------------------------------------------------------------------------------------ viewing

def wheel(view, pos, dy: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    event = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                        QPoint(0, dy), Qt.MouseButton.NoButton, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_ctrl_wheel_zooms_around_the_cursor_and_fit_all_shows_everything(canvas):
    doc, scene, view = canvas
    pos = at(view, *scene.position_of("relu"))
    before = view.zoom()
    wheel(view, pos, 120, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() > before
    after = view.mapToScene(pos)
    assert after.x() == pytest.approx(scene.position_of("relu")[0], abs=2)
    assert after.y() == pytest.approx(scene.position_of("relu")[1], abs=2)
    view.actions_by_name["fit_all"].trigger()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(scene.design_rect())


def test_the_wheel_scrolls_as_everywhere_in_qt(canvas):
    doc, scene, view = canvas
    view.set_zoom(2.0)  # taller than the view: there is somewhere to scroll
    bar = view.verticalScrollBar()
    bar.setValue((bar.minimum() + bar.maximum()) // 2)
    zoom, top = view.zoom(), view.mapToScene(0, 0).y()
    wheel(view, view.viewport().rect().center(), -120)  # the wheel turned towards the user
    assert view.zoom() == zoom
    assert view.mapToScene(0, 0).y() > top  # further down the design
    wheel(view, view.viewport().rect().center(), 120)
    assert view.mapToScene(0, 0).y() == pytest.approx(top, abs=1)


def test_middle_button_drag_pans(canvas):
    doc, scene, view = canvas
    centre = view.mapToScene(view.viewport().rect().center())
    start = view.viewport().rect().center()
    mouse(view, QMouseEvent.Type.MouseButtonPress, start, button=Qt.MouseButton.MiddleButton)
    mouse(view, QMouseEvent.Type.MouseMove, start + QPoint(0, 100), button=Qt.MouseButton.NoButton,
          buttons=Qt.MouseButton.MiddleButton)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, start + QPoint(0, 100),
          button=Qt.MouseButton.MiddleButton)
    moved = view.mapToScene(view.viewport().rect().center())
    assert moved.y() == pytest.approx(centre.y() - 100, abs=2)
    assert doc.selection == []


def test_space_and_drag_pans_instead_of_selecting(canvas):
    doc, scene, view = canvas
    centre = view.mapToScene(view.viewport().rect().center())
    QTest.keyPress(view, Qt.Key.Key_Space)
    start = at(view, *scene.position_of("conv"))  # even on a card: it pans, not moves
    drag_mouse(view, start, start + QPoint(0, -80))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert view.mapToScene(view.viewport().rect().center()).y() == \
        pytest.approx(centre.y() + 80, abs=2)
    assert doc.network["conv"].pos == (0.0, 100.0)


def test_png_and_svg_exports_write_pictures(canvas, tmp_path):
    doc, scene, view = canvas
    doc.select(["conv"])
    png, svg = tmp_path / "net.png", tmp_path / "net.svg"
    size = render_png(scene, png, scale=2)
    render_svg(scene, svg)
    assert png.stat().st_size > 1000 and size.height() > 2 * 5 * CARD_H
    content = svg.read_text()
    assert "<svg" in content and "CONV" in content
    assert doc.selection == ["conv"] and scene.card("conv").isSelected()
