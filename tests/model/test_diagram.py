"""The volumes figure (designer/model/diagram.py): the notes' AlexNet numbers on it in order, the
kernels on the arrows, generic fonts only, branches and repeated blocks, pages it fits, and
nothing on it overlapping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from designer.model import Network
from designer.model.analysis import analyze
from designer.model.design_file import load
from designer.model.diagram import DiagramError, volumes_figure, volumes_svg
from designer.model.diagram_layout import (
    FONT_CAPTION,
    FONT_DIMS,
    FONT_EDGE,
    FONT_FOLDED,
    text_width,
)

PRESETS = Path(__file__).resolve().parents[2] / "presets"
SVG = "{http://www.w3.org/2000/svg}"
GENERIC = {"serif", "sans-serif", "monospace"}

# the notes' AlexNet: the input and every CONV, POOL and FC output volume, in order
ALEXNET_VOLUMES = ["227×227×3", "55×55×96", "27×27×96", "27×27×256", "13×13×256", "13×13×384",
                   "13×13×384", "13×13×256", "6×6×256", "1×1×4096", "1×1×4096", "1×1×1000"]
ALEXNET_KERNELS = ["11×11 /4", "3×3 /2", "5×5 /1", "3×3 /2", "3×3 /1", "3×3 /1", "3×3 /1",
                   "3×3 /2"]
DIMS = re.compile(r"^\d+×\d+×\d+$")


def preset(name: str) -> Network:
    return load(PRESETS / f"{name}.convnet.json").network


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_alexnet_shows_the_notes_volumes_in_order_with_kernels_on_the_arrows():
    svg = volumes_svg(preset("alexnet"))
    words = texts(svg)
    assert [w for w in words if DIMS.match(w)] == ALEXNET_VOLUMES
    assert [w for w in words if "/" in w] == ALEXNET_KERNELS
    kinds = [w for w in words if w in ("INPUT", "CONV", "POOL", "FC")]
    assert kinds == ["INPUT", "CONV", "POOL", "CONV", "POOL", "CONV", "CONV", "CONV", "POOL",
                     "FC", "FC", "FC"]
    # RELU and NORM are folded into the caption of the CONV before them, not boxes of their own
    assert words.count("+ RELU, NORM") == 2 and "RELU" not in words


def test_the_volumes_come_from_the_analysis():
    """Another input size: every label follows the report, none is a constant."""
    net = preset("alexnet")
    net.set_params("input", height=259, width=259)
    report = analyze(net)
    drawn = [w for w in texts(volumes_svg(net, report)) if DIMS.match(w)]
    assert drawn[:2] == ["259×259×3", "63×63×96"]
    assert drawn[-1] == "1×1×1000" and len(drawn) == len(ALEXNET_VOLUMES)


def test_the_svg_names_generic_font_families_only_and_has_no_window_decorations():
    for name in ("alexnet", "googlenet", "resnet50"):
        svg = volumes_svg(preset(name))
        root = ET.fromstring(svg)  # well-formed XML
        families = {e.get("font-family") for e in root.iter() if e.get("font-family")}
        assert families and families <= GENERIC, families
        assert "font:" not in svg and "style=" not in svg  # no CSS that could name another
        words = texts(svg)
        assert not any(w == "fix" or "…" in w or "💡" in w for w in words)
        assert not any(w.endswith("...") for w in words)


def test_resnet152_fits_a_page_with_and_without_repeated_blocks_drawn_once():
    net = preset("resnet152")
    whole = volumes_figure(net, repeats=False)
    assert whole.aspect <= 3.0 and len(whole.rows) > 1  # wrapped into rows
    convs = sum(n.type == "Conv2d" for n in net.nodes.values())
    assert sum(v.kind == "CONV" for v in whole.volumes) == convs
    short = volumes_figure(net)
    assert short.aspect <= 3.0 and short.width < whole.width
    # stages of 3, 8, 36 and 3 blocks: the first of each differs (it downsamples), the rest
    # are drawn once, framed
    assert [f.label for f in short.frames] == ["×2", "×7", "×35", "×2"]


def test_resnet50_draws_the_projection_below_and_the_identity_skip_over_the_top():
    fig = volumes_figure(preset("resnet50"))
    by_id = {v.id: v for v in fig.volumes}
    assert by_id["layer1_0_downsample_conv"].lane == 1  # a branch of its own
    assert by_id["layer1_0_conv1"].lane == 0
    add = by_id["layer1_1_add"]  # the identity: a wire from the block's input over the top
    arcs = [line for line in fig.lines if line.arrow and len(line.points) == 6
            and line.points[-1][1] == add.y and abs(line.points[-1][0] - (add.x - 6)) < 1e-6]
    assert arcs and min(y for _, y in arcs[0].points) < add.y - 20
    assert [f.label for f in fig.frames] == ["×2", "×3", "×5", "×2"]


def test_googlenet_draws_the_inception_branches_in_lanes():
    fig = volumes_figure(preset("googlenet"))
    by_id = {v.id: v for v in fig.volumes}
    lanes = {by_id[i].lane for i in ("inception_3a_1x1", "inception_3a_3x3_reduce",
                                     "inception_3a_5x5_reduce", "inception_3a_pool")}
    assert lanes == {0, 1, 2, 3}
    assert by_id["inception_3a_5x5"].lane == by_id["inception_3a_5x5_reduce"].lane
    assert sum(v.kind == "CONCAT" for v in fig.volumes) == 9
    assert not fig.frames  # no two inception modules are alike
    assert fig.aspect <= 3.0


def _boxes(fig):
    """Every drawn thing as a rectangle: the slabs and the text lines (estimated widths)."""
    out = []
    for v in fig.volumes:
        out.append((f"box {v.id}", v.x, v.y - v.fh / 2 - v.dy, v.x + v.footprint, v.y + v.fh / 2))
        cx = v.x + v.footprint / 2
        lines = [(v.dims, FONT_DIMS, False, 0.0), (v.kind, FONT_CAPTION, True, FONT_CAPTION + 3)]
        if v.folded:
            lines.append((v.folded_text, FONT_FOLDED, False, FONT_CAPTION + FONT_FOLDED + 6))
        for text, size, bold, dy in lines:
            w = text_width(text, size, bold)
            base = v.label_y + dy
            out.append((f"text {text} of {v.id}", cx - w / 2, base - size, cx + w / 2, base))
    for label in fig.edge_labels:
        w = text_width(label.text, FONT_EDGE)
        out.append((f"label {label.text}", label.x - w / 2, label.y - FONT_EDGE,
                    label.x + w / 2, label.y))
    return out


@pytest.mark.parametrize("name", sorted(p.name.split(".")[0]
                                        for p in PRESETS.glob("*.convnet.json")))
def test_nothing_overlaps_and_everything_is_on_the_page(name):
    fig = volumes_figure(preset(name))
    boxes = _boxes(fig)
    for k, (what, x0, y0, x1, y1) in enumerate(boxes):
        assert 0 <= x0 and x1 <= fig.width and 0 <= y0 and y1 <= fig.height, what
        for other, a0, b0, a1, b1 in boxes[k + 1:]:
            assert x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0, f"{what} overlaps {other}"
    for line in fig.lines:
        assert all(0 <= x <= fig.width and 0 <= y <= fig.height for x, y in line.points)
    assert fig.aspect <= 3.0


def test_wires_do_not_run_through_boxes():
    """Every segment of every wire misses every slab (it may touch the ones it joins)."""
    for name in ("googlenet", "resnet50", "alexnet"):
        fig = volumes_figure(preset(name))
        for line in fig.lines:
            for (x0, y0), (x1, y1) in zip(line.points, line.points[1:]):
                for v in fig.volumes:
                    left, right = v.x + 0.5, v.x + v.footprint - 0.5
                    top, bottom = v.y - v.fh / 2 - v.dy + 0.5, v.y + v.fh / 2 - 0.5
                    crosses = (max(x0, x1) > left and min(x0, x1) < right
                               and max(y0, y1) > top and min(y0, y1) < bottom)
                    assert not crosses, f"{name}: a wire runs through {v.id}"


def test_what_cannot_be_drawn_is_said():
    with pytest.raises(DiagramError, match="no layers"):
        volumes_svg(Network("empty"))
    net = preset("alexnet")
    net.set_params("conv1", kernel_size=300)  # larger than the input
    with pytest.raises(DiagramError, match="error"):
        volumes_svg(net)
    with pytest.raises(DiagramError, match="max_aspect"):
        volumes_figure(preset("alexnet"), max_aspect=0)


def test_a_name_with_markup_is_escaped():
    net = preset("lenet5")
    net.name = 'Le<Net> & "5"'
    root = ET.fromstring(volumes_svg(net))
    assert root.find(f"{SVG}title").text.startswith('Le<Net> & "5"')


def test_a_kept_layer_with_two_consumers_is_a_box_of_its_own():
    """A RELU on one of two branches out of a CONV: folded into the CONV's box, it would say
    that the other branch sees it too."""
    net = Network("fork")
    net.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    net.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, id="conv",
            inputs=("input",))
    net.add("ReLU", id="relu", inputs=("conv",))
    net.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, id="a",
            inputs=("relu",))
    net.add("Conv2d", {"out_channels": 8, "kernel_size": 1}, id="b", inputs=("conv",))
    net.add("Add", id="add", inputs=("a", "b"))
    fig = volumes_figure(net)
    assert {v.id for v in fig.volumes} == {"input", "conv", "relu", "a", "b", "add"}
    assert next(v for v in fig.volumes if v.id == "conv").folded == []
    words = texts(volumes_svg(net))
    assert "RELU" in words and "3×3 /1" in words and "1×1 /1" in words
    # and on a single path it folds
    net.set_inputs("b", ("relu",))
    assert {v.id for v in volumes_figure(net).volumes} == {"input", "conv", "a", "b", "add"}
