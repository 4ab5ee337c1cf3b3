"""Issue 16's canvas and window polish, as a user meets it: an opened design is fitted to the
view and its hints start at the top; a layer dropped just below a card or on its output port is
wired after it; the empty canvas says what to do; counts read "1 layer"; the title keeps the
file's name as it is on disk; the code export suggests a name Python can import."""

from __future__ import annotations

import keyword
import re
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, QRect, QSettings, Qt
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QScrollArea

from designer.app import _offer_recovery
from designer.model.design_file import Design, load
from designer.model.network import Network
from designer.model.units import plural
from designer.ui import commands
from designer.ui.canvas import CanvasScene, CanvasView
from designer.ui.canvas.items import CARD_H, CARD_W
from designer.ui.canvas.view import EMPTY_HINT
from designer.ui.document import Document
from designer.ui.file_names import module_stem as _module_stem
from designer.ui.main_window import MainWindow
from designer.ui.recovery import find_recoverable

from .gestures import at, drop, layer_mime

PRESETS = Path(__file__).resolve().parents[2] / "presets"
CIFAR = PRESETS / "cifar10_example.convnet.json"
VGG16 = PRESETS / "vgg16.convnet.json"
ZFNET = PRESETS / "zfnet.convnet.json"  # four hints
ALEXNET = PRESETS / "alexnet.convnet.json"  # three others


# ------------------------------------------------------------------------------------ fixtures

@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(a[2]))

    def make(recovery_dir=None, document=None):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        settings.setValue("last_dir", str(tmp_path))
        window = MainWindow(document, settings=settings,
                            recovery_dir=recovery_dir or tmp_path / "rec")
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        qtbot.waitExposed(window)
        return window
    return make


@pytest.fixture
def window(make_window):
    return make_window()


def make_canvas(qtbot, doc: Document):
    scene = CanvasScene(doc)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(900, 800)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(1.0)
    view.centerOn(0, 200)
    return scene, view


@pytest.fixture
def canvas(qtbot):
    doc = Document()
    doc.open(str(CIFAR))  # input → conv → relu → pool → fc, one below the other
    scene, view = make_canvas(qtbot, doc)
    return doc, scene, view


def shows_whole_design(view) -> bool:
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    return all(visible.contains(c.sceneBoundingRect()) for c in view.canvas.cards.values())


def opened_as_a_person_reads_it(view) -> bool:
    """The whole design where every card can still say its kind and volume there; else the
    least such zoom, the design's start (its INPUT) in view and the overview map for the rest."""
    z = view.zoom()
    readable = all(c.detail(z) != "box" for c in view.canvas.cards.values() if c.isVisible())
    if shows_whole_design(view):
        return readable
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    return (readable and z == pytest.approx(view.readable_zoom(), abs=1e-3)
            and visible.contains(view.canvas.card("input").sceneBoundingRect())
            and view.overview.isVisible())


def assert_no_overlapping_cards(scene):
    cards = list(scene.cards.values())
    for i, a in enumerate(cards):
        for b in cards[i + 1:]:
            assert abs(a.x() - b.x()) >= CARD_W or abs(a.y() - b.y()) >= CARD_H, \
                f"{a.node_id} and {b.node_id} overlap"


# ------------------------------------------------------------------------------------ opening

def open_by_file_dialog(window, path, monkeypatch, tmp_path):
    mine = tmp_path / Path(path).name  # a design of the user's, not a preset
    shutil.copy(path, mine)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(mine), ""))
    window.open_dialog()
    assert window.doc.path == str(mine)


@pytest.mark.parametrize("how", ["file_open", "example"])
def test_an_opened_design_is_fitted_to_the_view_whatever_the_zoom_was(
        window, how, monkeypatch, tmp_path):
    view = window.view

    def open_(path):
        if how == "example":
            assert window.open_example(path)
        else:
            open_by_file_dialog(window, path, monkeypatch, tmp_path)

    open_(VGG16)
    assert opened_as_a_person_reads_it(view) and view.zoom() < 1.0
    view.set_zoom(2.5)  # the user looks closely at a layer far down
    view.centerOn(window.scene.position_of("fc8")[0], window.scene.position_of("fc8")[1])
    assert not shows_whole_design(view)

    open_(CIFAR)  # shares the layer id "input" with VGG-16
    assert view.zoom() == pytest.approx(1.0)  # fits, but never magnified beyond 100 %
    assert shows_whole_design(view)

    open_(VGG16)  # and back to the tall one: as the first time
    assert view.zoom() < 1.0 and opened_as_a_person_reads_it(view)
    view.actions_by_name["fit_all"].trigger()  # Fit Design: all of it, whatever the zoom
    assert shows_whole_design(view)


def test_a_recovered_design_is_fitted_to_the_view(make_window, tmp_path, monkeypatch):
    rec = tmp_path / "recovery"
    first = make_window(rec)
    first.open_example(VGG16)
    commands.set_params(first.doc, "conv1_1", out_channels=32)
    first.recovery.write()
    first.recovery.lock.unlock()  # as after a crash
    found = find_recoverable(rec, skip_own=False)

    second = make_window(tmp_path / "other")  # a new design: one INPUT card, id "input"
    second.view.set_zoom(3.0)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    _offer_recovery(second, found, QMessageBox)
    assert second.doc.network["conv1_1"].params["out_channels"] == 32
    assert second.view.zoom() < 1.0 and opened_as_a_person_reads_it(second.view)


def test_the_hints_panel_starts_at_the_top_of_an_opened_design(window, qtbot, monkeypatch,
                                                                tmp_path):
    window.docks["hints"].raise_()
    panel = window.hints_panel
    window.open_example(ZFNET)
    qtbot.waitUntil(lambda: panel.isVisible() and len(panel.cards) == 4)
    bar = panel.findChild(QScrollArea).verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)  # the dock is shorter than its hints
    bar.setValue(bar.maximum())  # the user reads the last hint
    assert bar.value() > 0

    open_by_file_dialog(window, ALEXNET, monkeypatch, tmp_path)
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    assert bar.value() == 0
    qtbot.waitUntil(lambda: not panel.cards[0].visibleRegion().isEmpty())

    bar.setValue(bar.maximum())
    open_by_file_dialog(window, ALEXNET, monkeypatch, tmp_path)  # the same hints again
    assert bar.value() == 0


# ------------------------------------------------------------------------------------ drops

def drag_over(view, mime, pos):
    """A drag hovering over the canvas (no drop)."""
    args = (pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), QDragEnterEvent(*args))
    event = QDragMoveEvent(*args)
    QApplication.sendEvent(view.viewport(), event)
    assert event.isAccepted()


def test_a_layer_dropped_just_below_the_last_card_is_appended(canvas):
    doc, scene, view = canvas
    x, y = scene.position_of("fc")
    below = at(view, x + 25, y + CARD_H / 2 + 0.7 * CARD_H)  # in the empty space under it
    drag_over(view, layer_mime("ReLU"), below)
    assert scene.card("fc").drop_hint == "after"  # the card says where it will go
    drop(view, layer_mime("ReLU"), below)

    new = doc.selection[0]
    assert doc.network[new].type == "ReLU" and doc.network[new].inputs == ("fc",)
    assert (new, "fc") not in scene.wires and ("fc", new) in scene.wires
    nx, ny = scene.position_of(new)
    assert nx == x and ny > y  # right below it, in the stack
    assert scene.card("fc").drop_hint is None
    assert_no_overlapping_cards(scene)


def test_a_layer_dropped_far_below_the_last_card_stays_unconnected(canvas):
    doc, scene, view = canvas
    x, y = scene.position_of("fc")
    drop(view, layer_mime("ReLU"), at(view, x, y + CARD_H / 2 + 2.5 * CARD_H))
    assert doc.network[doc.selection[0]].inputs == ()


def output_port(view, scene, nid):
    x, y = scene.position_of(nid)
    return at(view, x, y + CARD_H / 2 + 2)


def test_dropped_on_the_output_port_of_the_last_card_appends(canvas):
    doc, scene, view = canvas
    drop(view, layer_mime("Dropout"), output_port(view, scene, "fc"))
    new = doc.selection[0]
    assert doc.network[new].inputs == ("fc",)
    assert_no_overlapping_cards(scene)


def test_dropped_on_an_output_port_with_one_consumer_goes_between(canvas):
    doc, scene, view = canvas
    drop(view, layer_mime("BatchNorm2d"), output_port(view, scene, "conv"))
    new = doc.selection[0]
    assert doc.network[new].inputs == ("conv",) and doc.network["relu"].inputs == (new,)
    assert_no_overlapping_cards(scene)
    doc.undo_stack.undo()  # one step
    assert doc.network["relu"].inputs == ("conv",) and new not in doc.network


def test_dropped_on_the_output_port_of_a_fork_starts_a_new_branch(canvas):
    doc, scene, view = canvas
    rx, ry = scene.position_of("relu")
    side = commands.add_layer(doc, "MaxPool2d", pos=(rx + 220, ry + 100), after=None)
    commands.connect(doc, "relu", side)  # relu now feeds pool and `side`
    drop(view, layer_mime("Dropout"), output_port(view, scene, "relu"))
    new = doc.selection[0]
    assert doc.network[new].inputs == ("relu",)
    assert doc.network["pool"].inputs == ("relu",) and doc.network[side].inputs == ("relu",)
    assert sorted(doc.network.consumers("relu")) == sorted(["pool", side, new])
    assert_no_overlapping_cards(scene)


# ------------------------------------------------------------------------------------ empty canvas

def dark_pixels_in_the_middle(view) -> int:
    image = view.viewport().grab().toImage()
    w, h = image.width(), image.height()
    box = QRect(int(w * 0.15), int(h * 0.4), int(w * 0.7), int(h * 0.2))
    step = 2
    return sum(1 for x in range(box.left(), box.right(), step)
               for y in range(box.top(), box.bottom(), step)
               if QColor(image.pixel(x, y)).lightness() < 160)


def test_the_empty_canvas_says_what_to_do_until_there_is_a_layer(qtbot):
    doc = Document()  # a new design: one INPUT
    scene, view = make_canvas(qtbot, doc)
    assert view.empty_hint() == ""

    doc.select(["input"])
    view.actions_by_name["delete"].trigger()
    assert not scene.cards
    assert view.empty_hint() == EMPTY_HINT
    assert "File → Examples" in EMPTY_HINT and "Drag layers here" in EMPTY_HINT
    qtbot.waitUntil(lambda: dark_pixels_in_the_middle(view) > 50)  # the hint is painted

    view.verticalScrollBar().setValue(view.verticalScrollBar().value() + 37)  # still centred
    qtbot.waitUntil(lambda: dark_pixels_in_the_middle(view) > 50)

    corner = view.mapToScene(view.viewport().rect().topLeft() + QPointF(60, 40).toPoint())
    drop(view, layer_mime("Input"), at(view, corner.x(), corner.y()))
    assert len(scene.cards) == 1
    assert view.empty_hint() == ""
    card = next(iter(scene.cards.values()))
    card.hide()  # (only to look behind it: the view may centre the first card)
    qtbot.waitUntil(lambda: dark_pixels_in_the_middle(view) == 0)  # gone at once
    card.show()

    doc.undo_stack.undo()  # empty again: the hint is back
    assert not scene.cards and view.empty_hint() == EMPTY_HINT
    qtbot.waitUntil(lambda: dark_pixels_in_the_middle(view) > 50)


def test_the_hint_is_not_in_an_exported_picture(qtbot, tmp_path):
    from PySide6.QtGui import QImage

    from designer.ui.canvas import render_png

    doc = Document(Design(Network("empty")))
    scene, view = make_canvas(qtbot, doc)
    assert view.empty_hint() == EMPTY_HINT
    out = tmp_path / "empty.png"
    render_png(scene, str(out))
    image = QImage(str(out))
    assert image.isNull() or all(QColor(image.pixel(x, y)).lightness() >= 160
                                 for x in range(0, image.width(), 2)
                                 for y in range(0, image.height(), 2))


# ------------------------------------------------------------------------------------ texts

def test_plural():
    assert plural(1, "layer") == "1 layer"
    assert plural(0, "layer") == "0 layers"
    assert plural(12345, "parameter") == "12,345 parameters"
    assert plural(2, "batch", "batches") == "2 batches"


def test_the_status_bar_counts_read_right(window, qtbot):
    status = window.statusBar()
    assert status.currentMessage().startswith("1 layer · 0 parameters · ")  # a new design
    commands.add_layer(window.doc, "Conv2d", pos=(300, 0))  # unconnected: one warning
    message = status.currentMessage()
    assert message.startswith("2 layers · 0 parameters · ")
    assert message.endswith("· 1 warning"), message
    assert "(s)" not in message


def test_pasting_one_layer_says_one_layer(canvas):
    doc, scene, view = canvas
    doc.select(["relu"])
    view.actions_by_name["copy"].trigger()
    view.actions_by_name["paste"].trigger()
    assert doc.undo_stack.undoText() == "Paste 1 layer"


def test_a_card_with_one_parameter_says_param(qtbot):
    net = Network("tiny")
    net.add("Input", {"channels": 1, "height": 8, "width": 8}, id="input", pos=(0, 0))
    net.add("Conv2d", {"out_channels": 1, "kernel_size": 1, "bias": False}, id="conv",
            inputs=("input",), pos=(0, 100))
    scene, view = make_canvas(qtbot, Document(Design(net)))
    assert scene.card("conv").text_lines()[2].endswith(" 1 param")


# ------------------------------------------------------------------------------------ names

def test_saving_keeps_the_designs_capitals_in_the_file_and_the_title(window, monkeypatch,
                                                                     tmp_path):
    window.open_example(CIFAR)
    assert window.windowTitle().startswith("CIFAR-10 example[*]")
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda _w, _c, start, *a, **k: (offered.append(start) or start, ""))
    assert window.save_as()  # the user accepts the suggested name
    name = Path(offered[0]).name
    assert name == "CIFAR-10_example.convnet.json"
    assert [p.name for p in tmp_path.glob("*.convnet.json")] == [name]  # on disk as offered
    assert window.windowTitle() == f"{name}[*] — ConvNet Designer"


def test_the_title_shows_the_file_name_as_the_disk_spells_it(make_window, tmp_path):
    # as a disk that ignores case opens 'mynet.convnet.json' when asked for it
    on_disk = tmp_path / "MyNet.convnet.json"
    shutil.copy(CIFAR, on_disk)
    doc = Document(load(on_disk), str(tmp_path / "mynet.convnet.json"))  # as typed
    window = make_window(document=doc)
    assert window.windowTitle() == "MyNet.convnet.json[*] — ConvNet Designer"


def test_the_code_export_suggests_an_importable_module_name(window, monkeypatch):
    window.open_example(CIFAR)
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda _w, _c, start, *a, **k: (offered.append(start) or "", ""))
    window.export("code")
    assert Path(offered[0]).name == "cifar_10_example.py"


@pytest.mark.parametrize("name, stem", [
    ("CIFAR-10 example", "cifar_10_example"),
    ("ResNet-18", "resnet_18"),
    ("VGG 16 (ImageNet)", "vgg_16_imagenet"),
    ("3×3 stacks", "net_3_3_stacks"),
    ("ÆON net", "on_net"),
    ("Café net", "cafe_net"),
    ("class", "class_model"),
    ("torch", "torch_model"),
    ("random", "random_model"),
    ("", "design"),
    ("---", "design"),
])
def test_module_names(name, stem):
    got = _module_stem(name)
    assert got == stem
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", got) and not keyword.iskeyword(got)
