"""Hovering a unit of a feature map outlines, on the input picture, the pixels it sees (issue
19): the analysis's receptive field placed at that unit, clipped at the borders, with the
mouse as a user moves it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF
from pytestqt.exceptions import TimeoutError as WaitTimedOut

from designer.model.windows import input_window
from tests.ui.test_feature_maps import VGG16, open_panel, small, window  # noqa: F401


def hover(qtbot, view, tile: int, x: float, y: float) -> tuple[int, int, int] | None:
    """Move the mouse over pixel (x, y) of a tile of the feature-map view, as a user does;
    the (tile, row, column) the view says is under it."""
    mosaic = view.mosaic

    def move() -> bool:
        """Map the point again each time (a busy machine may lay the dock out after a move)."""
        x0, y0 = mosaic.mosaic.origin(tile)
        scene = mosaic.box.mapViewToScene(QPointF(x0 + x + 0.5, y0 + y + 0.5))
        point = mosaic.graphics.mapFromScene(scene)
        target = QPoint(round(point.x()), round(point.y()))
        # the mouse comes from a pixel beside it (a move to where it already is sends nothing)
        qtbot.mouseMove(mosaic.graphics.viewport(), target + QPoint(1, 1))
        qtbot.mouseMove(mosaic.graphics.viewport(), target)
        qtbot.wait(20)
        return mosaic.hover_at is not None and mosaic.hover_at[0] == tile

    qtbot.wait(50)  # the view laid out at its final size
    try:
        qtbot.waitUntil(move, timeout=3_000)
    except WaitTimedOut:  # off every tile, say: the caller's assertions judge
        pass
    return mosaic.hover_at


def test_a_unit_s_receptive_field_is_outlined_on_the_input(window, qtbot):  # noqa: F811
    panel = open_panel(window, qtbot, VGG16, small(train=16, val=8))
    picture = panel.input_view.mosaic
    view = panel.maps_view
    report = window.doc.report
    assert picture.outlined is None

    def expected(where) -> tuple:
        fm = view.feature_map
        rows, cols = fm.units(where[1], where[2])
        return input_window(report.layers[fm.id].field, rows, cols, (224, 224))

    # conv5_3, 14×14: one value per unit; its 196-pixel field clipped at the borders
    window.doc.select(["conv5_3"])
    qtbot.waitUntil(lambda: view.feature_map.id == "conv5_3", timeout=10_000)
    where = hover(qtbot, view, 0, 7, 7)
    assert where is not None and where[0] == 0 and abs(where[1] - 7) <= 1
    assert picture.outlined == expected(where)
    assert "clipped at the border" in panel.input_view.field_label.text()

    # conv2_1, 112×112 shown shrunk: each value is a step×step block of units
    window.doc.select(["conv2_1"])
    qtbot.waitUntil(lambda: view.feature_map.id == "conv2_1", timeout=10_000)
    step = view.feature_map.step
    assert step > 1
    where = hover(qtbot, view, 3, 20, 20)
    assert where is not None and where[0] == 3
    top, bottom, left, right = picture.outlined
    assert picture.outlined == expected(where)
    # two 3×3 CONVs (5), a 2×2 POOL (6, jump 2), a 3×3 CONV (10): a block of `step` units
    # two pixels apart sees 2·(step − 1) more
    assert (bottom - top, right - left) == (10 + 2 * (step - 1),) * 2
    rows, cols = view.feature_map.units(where[1], where[2])
    assert panel.input_view.field_label.text().startswith(
        f"conv2_1 units x {cols[0]}–{cols[1]}, y {rows[0]}–{rows[1]} sees "
        f"{right - left}×{bottom - top} input pixels")

    # conv1_2 at the top-left corner: its 5×5 field clipped
    window.doc.select(["conv1_2"])
    qtbot.waitUntil(lambda: view.feature_map.id == "conv1_2", timeout=10_000)
    step = view.feature_map.step
    where = hover(qtbot, view, 0, 0.2, 0.2)
    assert where is not None and where[0] == 0 and max(where[1:]) <= 2
    assert picture.outlined == expected(where)
    (r0, r1), (c0, c1) = view.feature_map.units(where[1], where[2])
    top, bottom, left, right = picture.outlined
    assert (bottom, right) == (r1 + 3, c1 + 3)  # 5×5 centred on the last unit of the block
    assert (top, left) == (max(0, r0 - 2), max(0, c0 - 2))  # clipped at the border

    # off the tiles: no outline
    hover(qtbot, view, 0, -3, -3)  # in the margin left of the first tile
    assert picture.outlined is None


def test_the_notes_three_3x3_convs_see_7x7():
    """The notes: three stacked 3×3 CONVs give each unit of the third a 7×7 view."""
    from designer.model.analysis import analyze
    from designer.model.network import Network

    net = Network("three")
    prev = net.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    for i in range(1, 4):
        prev = net.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1},
                       inputs=[prev], id=f"conv{i}")
    top, bottom, left, right = input_window(analyze(net).layers["conv3"].field, (16, 16),
                                            (16, 16), (32, 32))
    assert (bottom - top, right - left) == (7, 7) and (top, left) == (13, 13)


def test_the_effective_field_tints_the_input_where_the_unit_looks(window, qtbot):  # noqa: F811
    panel = open_panel(window, qtbot, VGG16, small(train=16, val=8))
    picture = panel.input_view.mosaic
    view = panel.maps_view
    window.doc.select(["conv3_1"])
    qtbot.waitUntil(lambda: view.feature_map.id == "conv3_1", timeout=10_000)
    panel.input_view.effective.setChecked(True)
    where = hover(qtbot, view, 0, 20, 20)
    assert where is not None
    qtbot.waitUntil(lambda: picture.tinted, timeout=30_000)
    veil = picture._tint.image[..., 3]
    top, bottom, left, right = picture.outlined
    inside = veil[top:bottom, left:right]
    assert inside.max() == 220  # the strongest pixel, fully tinted
    outside = veil.copy()
    outside[top:bottom, left:right] = 0
    assert outside.max() == 0  # nothing outside the field the analysis gives
    panel.input_view.effective.setChecked(False)
    assert not picture.tinted
