"""Big networks readable on the canvas (issue 19): at every zoom a card says its kind and its
output volume in a font of at least 9 px on screen, zoomed out as a compact card; an opened
design is fitted to the view."""

from pathlib import Path

import pytest
from PySide6.QtCore import QRectF

from designer.ui.canvas import CanvasScene, CanvasView
from designer.ui.canvas.items import MIN_TEXT_PX, text_px
from designer.ui.document import Document

PRESETS = Path(__file__).parents[2] / "presets"


def make_view(qtbot, name: str, size=(900, 700)):
    doc = Document()
    doc.open(str(PRESETS / f"{name}.convnet.json"))
    scene = CanvasScene(doc)
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return doc, scene, view


def on_screen_px(font, view) -> float:
    """The font's height in pixels on screen: its size in canvas units times the zoom."""
    return text_px(font) * view.transform().m22()


def readable(card, view) -> list[str]:
    """The texts the card shows at the view's zoom that are at least MIN_TEXT_PX on screen."""
    return [text for text, font in card.label_lines(view.zoom())
            if on_screen_px(font, view) >= MIN_TEXT_PX - 1e-6]


def says_kind_and_volume(card, view) -> bool:
    words = " ".join(readable(card, view))
    return card.kind in words and card.shape_str in words


@pytest.mark.parametrize("zoom", [1.0, 0.8, 0.6, 0.5])
def test_a_card_says_its_kind_and_volume_at_9_px_at_these_zooms(qtbot, zoom):
    doc, scene, view = make_view(qtbot, "vgg16")
    view.set_zoom(zoom)
    for card in scene.cards.values():
        assert says_kind_and_volume(card, view), (card.node_id, card.label_lines(zoom))


def test_zoomed_out_the_card_is_compact_and_its_text_keeps_its_size_on_screen(qtbot):
    doc, scene, view = make_view(qtbot, "vgg16")
    card = scene.card("conv3_1")
    view.set_zoom(1.0)
    assert card.detail(view.zoom()) == "full"
    full = card.label_lines(1.0)
    assert [t for t, _ in full][2] == "56×56×256"
    sizes = []
    for zoom in (0.75, 0.6, 0.5):
        view.set_zoom(zoom)
        assert card.detail(zoom) == "compact"
        lines = card.label_lines(zoom)
        assert " ".join(t for t, _ in lines).split() == ["CONV", "56×56×256"]
        sizes.append(on_screen_px(lines[0][1], view))
    assert max(sizes) - min(sizes) < 1.0  # a screen-constant size
    # the text stays inside its card
    for text, font in card.label_lines(0.5):
        from PySide6.QtGui import QFontMetricsF

        assert QFontMetricsF(font).horizontalAdvance(text) <= card.boundingRect().width()


def test_far_out_a_card_is_a_plain_box(qtbot):
    doc, scene, view = make_view(qtbot, "vgg16")
    view.set_zoom(0.1)
    assert scene.card("conv3_1").detail(0.1) == "box"
    assert scene.card("conv3_1").label_lines(0.1) == []


def test_a_compact_card_paints_its_text(qtbot):
    """The compact text is drawn: the card's pixels hold the text's colour in its middle."""
    from PySide6.QtGui import QImage, QPainter

    doc, scene, view = make_view(qtbot, "vgg16")
    card = scene.card("conv3_1")
    for zoom, detail in ((0.6, "compact"), (0.2, "box")):
        image = QImage(round(190 * zoom), round(84 * zoom), QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        painter.scale(zoom, zoom)
        painter.translate(95, 42)
        card.paint(painter, None)
        painter.end()
        h, w = image.height(), image.width()
        middle = [image.pixel(x, y) for x in range(w // 4, 3 * w // 4)
                  for y in range(h // 4, 3 * h // 4)]
        fill = max(set(middle), key=middle.count)  # the card's colour
        inked = [p for p in middle if p != fill]
        assert bool(inked) == (detail == "compact"), detail


def test_opening_a_small_design_after_a_big_one_fits_it(qtbot):
    doc, scene, view = make_view(qtbot, "googlenet")
    rect = scene.design_rect()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(rect)
    view.set_zoom(3.0)
    view.centerOn(rect.bottomRight())
    doc.open(str(PRESETS / "lenet5.convnet.json"))
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(QRectF(scene.design_rect()))
    assert 0.3 < view.zoom() <= 1.0  # fitted, never magnified beyond 100 %


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from .windows import shown_window

    return shown_window(qtbot, tmp_path, monkeypatch)


def top_level_cards(scene) -> list:
    return [c for c in scene.cards.values() if c.isVisible()] + list(scene.blocks.cards.values())


def test_resnet152_opened_in_a_1400x900_window_says_every_cards_kind_and_volume(window, qtbot):
    assert window.open_path(str(PRESETS / "resnet152.convnet.json"), ask=False)
    view, scene = window.view, window.scene
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    cards = top_level_cards(scene)
    assert len(cards) == 7  # the input, the stem, four stages, the head
    for card in cards:
        assert visible.contains(card.sceneBoundingRect()), card.node_id
        assert says_kind_and_volume(card, view), (card.node_id, card.label_lines(view.zoom()))
    # a stage opened in place: its 36 bottlenecks, each a card that says what it is
    scene.request_toggle("layer3")
    window.view.actions_by_name["layout_columns"].trigger()
    cards = top_level_cards(scene)
    assert len(cards) == 1 + 1 + 3 + 36 + 1  # input, stem, stages 1, 2 and 4, 36 blocks, head
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for card in cards:
        assert visible.contains(card.sceneBoundingRect()), card.node_id
        assert says_kind_and_volume(card, view), (card.node_id, card.label_lines(view.zoom()))


def test_the_layouts_are_one_undo_step_each(window):
    assert window.open_path(str(PRESETS / "googlenet.convnet.json"), ask=False)
    doc = window.doc
    before = {n: doc.network.nodes[n].pos for n in doc.network.nodes}
    for style in ("left-right", "columns", "top-down"):
        count = doc.undo_stack.count()
        window.view.actions_by_name[f"layout_{style}"].trigger()
        assert doc.undo_stack.count() == count + 1
    for _ in range(3):
        doc.undo_stack.undo()
    assert {n: doc.network.nodes[n].pos for n in doc.network.nodes} == before


# ---------------------------------------------------------------------------------- the dots

def _dot_columns(view, top: int, bottom: int) -> list[float]:
    """The centres (viewport pixels, across) of the background's dots on the row between
    `top` and `bottom` that has the most of them."""
    image = view.viewport().grab().toImage()
    base = view.palette().color(view.backgroundRole())
    best: list[int] = []
    for y in range(top, bottom):
        xs = [x for x in range(image.width()) if image.pixelColor(x, y).rgb() != base.rgb()]
        if len(xs) > len(best):
            best = xs
    runs: list[list[int]] = []
    for x in best:
        if runs and x - runs[-1][-1] <= 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return [sum(r) / len(r) for r in runs]


def _empty_view(qtbot):
    scene = CanvasScene(Document())
    view = CanvasView(scene)
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    view.setSceneRect(QRectF(-2000, -2000, 4000, 4000))  # room to scroll
    return view


@pytest.mark.parametrize(("zoom", "period"), [(1.0, 20), (0.7376, 15), (1.5, 30), (0.5, 10)])
def test_the_background_has_a_dot_every_20_units_and_they_move_with_the_design(qtbot, zoom,
                                                                               period):
    view = _empty_view(qtbot)
    view.set_zoom(zoom)
    qtbot.wait(10)
    dots = _dot_columns(view, 4, 4 + period + 2)  # (the empty-canvas hint is in the middle)
    assert len(dots) >= 400 // period - 2
    gaps = {round(b - a) for a, b in zip(dots, dots[1:])}
    assert gaps == {period}  # 20 units at this zoom, in whole pixels
    bar = view.horizontalScrollBar()
    bar.setValue(bar.value() + 7)  # the design moves 7 pixels left: so do the dots
    qtbot.wait(10)
    moved = _dot_columns(view, 4, 4 + period + 2)
    assert {round((a - b) % period) for a, b in zip(dots, moved)} == {7 % period}


def test_no_dots_below_45_percent(qtbot):
    view = _empty_view(qtbot)
    view.set_zoom(0.4)
    qtbot.wait(10)
    assert _dot_columns(view, 4, 30) == []
