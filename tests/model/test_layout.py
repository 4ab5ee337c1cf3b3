"""auto_layout: a readable top-to-bottom drawing of every design."""

import random
from pathlib import Path

import pytest

from designer.model.design_file import load
from designer.model.layout import COLUMN, ROW, auto_layout
from designer.model.network import Network
from designer.model.transforms import basic_block, inception_module

PRESETS = sorted((Path(__file__).parents[2] / "presets").glob("*.convnet.json"))
CARD_W, CARD_H = 170, 64


def assert_no_overlaps(pos):
    by_row: dict[float, list[float]] = {}
    for x, y in pos.values():
        by_row.setdefault(y, []).append(x)
    rows = sorted(by_row)
    for a, b in zip(rows, rows[1:]):
        assert b - a >= CARD_H
    for y, xs in by_row.items():
        xs.sort()
        for a, b in zip(xs, xs[1:]):
            assert b - a >= CARD_W, f"cards overlap in the row at y={y}: x={a} and x={b}"


def assert_below_inputs(net, pos):
    for nid, node in net.nodes.items():
        for src in node.inputs:
            assert pos[nid][1] > pos[src][1], f"{nid} is not below its input {src}"


def chain(n=6):
    net = Network("chain")
    prev = net.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    for i in range(n):
        prev = net.add("Conv2d", {"padding": 1}, id=f"conv{i}", inputs=[prev])
    return net


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name.split(".")[0])
def test_presets_have_no_overlaps_and_flow_downwards(path):
    net = load(path).network
    pos = auto_layout(net)
    assert set(pos) == set(net.nodes)
    assert_no_overlaps(pos)
    assert_below_inputs(net, pos)


def test_a_chain_is_one_column_under_the_input():
    net = chain()
    pos = auto_layout(net)
    assert pos["input"] == (0.0, 0.0)
    assert {x for x, _ in pos.values()} == {0.0}
    assert [pos[f"conv{i}"][1] for i in range(6)] == [ROW * (i + 1) for i in range(6)]


def test_inception_branches_side_by_side_and_the_concat_centred():
    net = chain(1)
    out = inception_module(net, "conv0", 64, 96, 128, 16, 32, 32, prefix="inc")
    net.add("ReLU", id="after", inputs=[out])
    pos = auto_layout(net)
    heads = ["inc_1x1", "inc_3x3_reduce", "inc_5x5_reduce", "inc_pool"]
    ys = {pos[h][1] for h in heads}
    assert ys == {pos["conv0"][1] + ROW}
    xs = [pos[h][0] for h in heads]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert min(b - a for a, b in zip(xs, xs[1:])) >= COLUMN - 1e-9
    assert sum(xs) / 4 == pytest.approx(pos["conv0"][0])
    assert pos[out][0] == pytest.approx(pos["conv0"][0])
    assert pos["after"][0] == pos[out][0]  # the stack goes on straight below the merge
    # each branch is a straight column
    assert pos["inc_3x3"][0] == pos["inc_3x3_reduce"][0]
    assert_no_overlaps(pos)


def test_residual_trunk_stays_a_column():
    net = chain(1)
    out = basic_block(net, "conv0", 16, prefix="b1")  # identity shortcut
    out = basic_block(net, out, 16, prefix="b2")
    pos = auto_layout(net)
    assert {x for x, _ in pos.values()} == {0.0}  # the skip wires need no column of their own
    assert_below_inputs(net, pos)


def test_a_layer_not_wired_yet_sits_beside_the_design_not_on_it():
    net = chain(3)
    lone = net.add("ReLU", id="lone")
    feeder = net.add("Conv2d", id="feeder")
    net.add("Add", id="merge", inputs=["conv2", feeder])
    pos = auto_layout(net)
    assert_no_overlaps(pos)
    assert pos[lone][0] != 0.0
    assert pos[feeder][1] == pos["merge"][1] - ROW  # just above what it feeds


def test_empty_network():
    assert auto_layout(Network()) == {}


def test_random_dags_never_overlap():
    rng = random.Random(7)
    for _ in range(30):
        net = Network()
        ids = [net.add("Input", id="input")]
        for i in range(rng.randint(1, 40)):
            k = rng.choice([1, 1, 1, 2, 3])
            srcs = rng.sample(ids, min(k, len(ids)))
            kind = "ReLU" if len(srcs) == 1 else "Concat"
            ids.append(net.add(kind, id=f"n{i}", inputs=srcs))
        pos = auto_layout(net)
        assert_no_overlaps(pos)
        assert_below_inputs(net, pos)


# ------------------------------------------------------------------------------- arrange

from designer.model.layout import SQUASH, arrange, toggle_moves  # noqa: E402

RESNET152 = Path(__file__).parents[2] / "presets" / "resnet152.convnet.json"


def shown(net, pos):
    from designer.model.blocks import anchor, hidden, shown_collapsed

    hide = hidden(net.blocks)
    units = {n: p for n, p in pos.items() if n not in hide}
    units.update({b: anchor(net.blocks[b].members, pos) for b in shown_collapsed(net.blocks)})
    return units


def test_wrapped_columns_fill_a_16_by_10_window():
    net = load(RESNET152).network
    net.set_collapsed(list(net.blocks), False)
    for b in net.blocks.values():
        if b.kind == "bottleneck":
            net.set_collapsed([b.id], True)
    tall = shown(net, arrange(net, "top-down"))
    wide = shown(net, arrange(net, "columns"))
    assert len(wide) == 1 + 4 + 50 + 3  # input, stem, 50 bottleneck cards, head
    assert_no_overlaps(wide)

    def fit(units):  # the zoom that shows them all in a 1600 x 1000 view
        xs = [x for x, _ in units.values()]
        ys = [y for _, y in units.values()]
        return min(1600 / (max(xs) - min(xs) + 170), 1000 / (max(ys) - min(ys) + 64))
    assert fit(tall) < 0.2 < 0.6 < fit(wide)


def test_left_to_right_runs_along_x():
    net = chain(5)
    pos = arrange(net, "left-right")
    xs = [pos[n][0] for n in net.topological_order()]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert len({pos[n][1] for n in net.nodes}) == 1


def test_a_collapsed_block_takes_one_place_and_opens_with_room_made():
    net = chain(3)
    out = basic_block(net, "conv2", 16, 1, prefix="b")
    net.add("ReLU", id="after", inputs=[out])
    net.set_collapsed(["b"], True)
    pos = arrange(net, "top-down")
    members = net.blocks["b"].members
    top = min(pos[m][1] for m in members)
    assert max(pos[m][1] for m in members) - top < ROW / 2  # squashed into the card's row
    assert pos["after"][1] == top + ROW
    moves = toggle_moves(net, "b", pos)
    readers = {}
    for n in net.nodes.values():
        for src in n.inputs:
            readers.setdefault(src, []).append(n.id)
    assert toggle_moves(net, "b", pos, readers) == moves  # (the canvas passes the readers)
    assert toggle_moves(net, "b", pos, {}) != moves  # (and they are what moves "after")
    opened = {**pos, **moves}
    net.set_collapsed(["b"], False)
    assert_no_overlaps(shown(net, opened))
    assert_below_inputs(net, opened)
    back = toggle_moves(net, "b", opened)  # and closed again: the gap goes
    net.set_collapsed(["b"], True)
    closed = {**opened, **back}
    assert closed["after"] == pos["after"]
    assert all(abs(closed[m][1] - top) < len(members) * SQUASH + 1 for m in members)


def test_a_block_opened_again_is_laid_out_as_if_for_the_first_time():
    """Opening a block lays its layers out once per wiring and inner cards (kept): opened
    again it is the same, and after a rewiring or an inner block opened it is laid out anew."""
    from designer.model import layout

    net = load(Path(__file__).parents[2] / "presets" / "resnet50.convnet.json").network
    pos = arrange(net, "top-down")

    def fresh():
        layout._INNER.clear()
        return toggle_moves(net, "layer2", pos)

    first = fresh()
    assert toggle_moves(net, "layer2", pos) == first
    stage = set(net.blocks["layer2"].members)
    inner = next(b for b in net.blocks.values()
                 if b.collapsed and b.id != "layer2" and set(b.members) <= stage)
    net.set_collapsed([inner.id], False)  # its layers get places of their own in the stage
    opened = toggle_moves(net, "layer2", pos)
    assert opened == fresh() != first
    conv2, conv3 = (next(m for m in inner.members if m.endswith(s)) for s in ("conv2", "conv3"))
    net.set_inputs(conv3, [conv2])  # bn2 and relu2 left hanging: a branch of their own
    rewired = toggle_moves(net, "layer2", pos)
    assert rewired == fresh() != opened
