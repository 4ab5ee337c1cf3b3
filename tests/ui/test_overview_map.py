"""The overview map (issue 19): a thumbnail of the whole design in the canvas's corner with the
visible part outlined; dragging in it moves the view there; the outline follows scrolling and
zooming; it is hidden while the whole design fits."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt

from designer.ui import commands
from designer.ui.canvas import CanvasScene, CanvasView, arrange
from designer.ui.document import Document

PRESETS = Path(__file__).parents[2] / "presets"


def open_view(qtbot, name: str, size=(1000, 700)):
    doc = Document()
    doc.open(str(PRESETS / f"{name}.convnet.json"))
    view = CanvasView(CanvasScene(doc))
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return doc, view


def big_view(qtbot):
    """ResNet-152 with every block open, at 100 %: far more than the view shows."""
    doc, view = open_view(qtbot, "resnet152")
    arrange.show_all(view, False)
    view.set_zoom(1.0)
    view.centerOn(view.canvas.card(next(iter(doc.network.nodes))))
    qtbot.waitUntil(lambda: view.overview.isVisible())
    return doc, view


def on_screen(view, card) -> bool:
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    return shown.contains(card.sceneBoundingRect().center())


def test_the_map_is_hidden_while_the_design_fits_and_shown_when_it_does_not(qtbot):
    doc, view = open_view(qtbot, "lenet5")
    qtbot.wait(10)
    assert not view.overview.isVisible()
    doc, view = big_view(qtbot)
    overview = view.overview
    assert overview.isVisible()
    # in the view's bottom-right corner, over the canvas
    vp = view.viewport().geometry()
    assert vp.contains(overview.geometry())
    assert overview.geometry().right() > vp.center().x()
    assert overview.geometry().bottom() > vp.center().y()
    arrange.show_all(view, True)  # seven cards again, and Ctrl+0
    view.fit_all()
    qtbot.waitUntil(lambda: not overview.isVisible())


def test_dragging_in_the_map_scrolls_the_view_to_that_place(qtbot):
    doc, view = big_view(qtbot)
    overview = view.overview
    last = view.canvas.card(list(doc.network.nodes)[-1])  # the classifier, far down
    middle = view.canvas.card(list(doc.network.nodes)[len(doc.network.nodes) // 2])
    assert not on_screen(view, last) and not on_screen(view, middle)
    start = overview.frame_rect().center().toPoint()
    to_middle = overview.map_point(middle.sceneBoundingRect().center()).toPoint()
    to_last = overview.map_point(last.sceneBoundingRect().center()).toPoint()
    assert overview.rect().contains(to_last) and overview.rect().contains(to_middle)
    qtbot.mousePress(overview, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(overview, to_middle)
    assert on_screen(view, middle)  # the view follows the drag, not only its end
    qtbot.mouseMove(overview, to_last)
    qtbot.mouseRelease(overview, Qt.MouseButton.LeftButton, pos=to_last)
    assert on_screen(view, last) and not on_screen(view, middle)
    # the outline is drawn around where the view now is
    assert overview.frame_rect().contains(QPointF(to_last))


def test_a_click_in_the_map_moves_the_view_there(qtbot):
    doc, view = big_view(qtbot)
    last = view.canvas.card(list(doc.network.nodes)[-1])
    target = view.overview.map_point(last.sceneBoundingRect().center()).toPoint()
    qtbot.mouseClick(view.overview, Qt.MouseButton.LeftButton, pos=target)
    assert on_screen(view, last)


def test_the_outline_follows_scrolling_and_zooming(qtbot):
    doc, view = big_view(qtbot)
    overview = view.overview
    before = overview.frame_rect()
    bar = view.verticalScrollBar()
    bar.setValue(bar.value() + 600)  # 600 px down at 100 %: 600 scene units
    after = overview.frame_rect()
    assert after.top() > before.top()
    assert abs((after.top() - before.top()) - (after.height() / view.viewport().height()) * 600) \
        < 1.0
    assert abs(after.height() - before.height()) < 0.5
    # and it is drawn there: the outline's top edge in the highlight colour
    image = overview.grab().toImage()
    highlight = overview.palette().color(overview.palette().ColorRole.Highlight)
    edge = image.pixelColor(round(after.center().x()), round(after.top()))
    assert abs(edge.hue() - highlight.hue()) < 20 and edge.saturation() > 60
    view.set_zoom(0.5)  # twice as much of the design in view: an outline twice as large
    zoomed = overview.frame_rect()
    assert abs(zoomed.height() / after.height() - 2.0) < 0.05
    # the outline is what the view shows: its corners are the view's corners on the map
    corner = view.mapToScene(QPoint(0, 0))
    assert (overview.map_point(corner) - zoomed.topLeft()).manhattanLength() < 1.5



def test_the_map_is_drawn_again_when_the_design_is_laid_out_again(qtbot):
    doc, view = big_view(qtbot)
    overview = view.overview
    assert overview.height() > 2 * overview.width()  # one tall column
    arrange.relayout(view, "columns")  # wrapped columns as wide as the window (it fits)
    view.set_zoom(1.0)
    qtbot.waitUntil(lambda: overview.isVisible())
    assert overview.width() > overview.height()
    # an edit that moves nothing keeps the picture; the outline still follows the view
    picture = overview.grab().toImage()
    commands.set_params(doc, "fc", out_features=10)
    qtbot.wait(10)
    assert overview.grab().toImage() == picture


def test_each_shown_card_is_a_box_of_its_colour_where_the_map_puts_it(qtbot):
    doc, view = open_view(qtbot, "lenet5", size=(300, 250))
    view.set_zoom(1.0)
    overview = view.overview
    qtbot.waitUntil(lambda: overview.isVisible())
    overview.refresh()
    picture = overview._pixmap.toImage()
    ratio = picture.devicePixelRatio()
    units = view.canvas.blocks.visible_units()
    assert len(units) == len(doc.network.nodes)
    for unit in units:
        box = overview._to_map(unit.sceneBoundingRect().adjusted(2, 2, -2, -2))
        assert box.height() > 4  # (big enough for its inside to be told)
        for point in (box.center(), box.topLeft() + QPointF(1, 1),
                      box.bottomRight() - QPointF(1, 1)):
            pixel = picture.pixelColor(int(point.x() * ratio), int(point.y() * ratio))
            assert pixel.name() == unit.fill_colour().name(), (unit.node_id, point)
        beside = box.center() + QPointF(box.width() / 2 + 3, 0)  # the map's own background
        pixel = picture.pixelColor(int(beside.x() * ratio), int(beside.y() * ratio))
        assert pixel.name() != unit.fill_colour().name(), unit.node_id


def test_the_map_follows_layers_that_come_and_not_an_edit_of_parameters(qtbot):
    """A layer added far below shows the map (the design no longer fits); an edit of a layer's
    parameters moves no card: the map is neither placed nor painted again for it."""
    from PySide6.QtCore import QEvent, QObject

    doc, view = open_view(qtbot, "lenet5", size=(700, 900))
    view.fit_all()
    qtbot.wait(10)
    overview = view.overview
    assert not overview.isVisible()
    last = doc.report.order[-1]
    x, y = view.canvas.position_of(last)
    commands.add_layer(doc, "ReLU", pos=(x, y + 6000))  # far below: off the view
    qtbot.waitUntil(lambda: overview.isVisible())

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                Paints.count += 1
            return False

    paints = Paints()
    overview.installEventFilter(paints)
    placed = []
    real = overview._place
    overview._place = lambda: (placed.append(1), real())
    conv = next(n for n, node in doc.network.nodes.items() if node.type == "Conv2d")
    commands.set_params(doc, conv, out_channels=9)
    qtbot.wait(30)
    assert placed == [] and Paints.count == 0
    assert overview.isVisible()
    doc.undo_stack.undo()  # the parameters back: still no card moved
    doc.undo_stack.undo()  # the added layer gone: everything fits again
    qtbot.waitUntil(lambda: not overview.isVisible())
