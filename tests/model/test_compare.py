"""Comparing two designs: totals side by side and rows where the designs align."""

from pathlib import Path

import pytest

from designer.model import Network, analyze
from designer.model.compare import ROW_HEADERS, compare, render_text, row_cells, total_cells
from designer.model.design_file import load

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def stack(c, h, w, *layers, name="net"):
    net = Network(name)
    prev = net.add("Input", {"channels": c, "height": h, "width": w}, id="input")
    ids = [prev]
    for nid, type_name, params in layers:
        prev = net.add(type_name, params, id=nid, inputs=[prev])
        ids.append(prev)
    return net, ids


def three_3x3_vs_7x7(c):
    conv3 = {"out_channels": c, "kernel_size": 3, "padding": 1, "bias": False}
    three, _ = stack(c, 56, 56, ("conv1", "Conv2d", conv3), ("relu1", "ReLU", {}),
                     ("conv2", "Conv2d", conv3), ("relu2", "ReLU", {}),
                     ("conv3", "Conv2d", conv3), ("relu3", "ReLU", {}), name="three 3×3")
    one, _ = stack(c, 56, 56, ("conv7", "Conv2d", {"out_channels": c, "kernel_size": 7,
                                                   "padding": 3, "bias": False}),
                   ("relu", "ReLU", {}), name="one 7×7")
    return three, one


@pytest.mark.parametrize("c", [1, 16, 64])
def test_three_3x3_convs_align_with_one_7x7_at_27_vs_49_c2_weights(c):
    three, one = three_3x3_vs_7x7(c)
    cmp = compare(analyze(three), analyze(one), three.name, one.name)
    assert cmp.pairs == [("input", "input"), ("conv3", "conv7"), ("relu3", "relu")]
    row = cmp.rows[1]
    assert row.aligned
    assert row.a.ids == ("conv1", "relu1", "conv2", "relu2", "conv3")
    assert row.b.ids == ("conv7",)
    assert row.a.field == row.b.field == (7, 7)
    assert row.a.shape == row.b.shape == (c, 56, 56)
    assert (row.a.params, row.b.params) == (27 * c * c, 49 * c * c)
    assert (row.a.macs, row.b.macs) == (27 * c * c * 56 * 56, 49 * c * c * 56 * 56)
    # three volumes made (the RELUs work in place, as the notes count them) against one
    assert row.a.activations == 3 * row.b.activations == 3 * c * 56 * 56
    assert cmp.total("parameters").a == 27 * c * c
    assert cmp.total("parameters").b == 49 * c * c
    assert cmp.total("output receptive field").a == cmp.total("output receptive field").b == (7, 7)
    cells = dict(zip(ROW_HEADERS, row_cells(row)))
    assert cells["params A"] == f"{27 * c * c:,}" and cells["params B"] == f"{49 * c * c:,}"
    assert cells["receptive field"] == "7×7" and cells["output W×H×D"] == f"56×56×{c}"
    assert cells["Δ params"] == f"+{22 * c * c:,} (+81%)"


def test_memory_of_the_stack_is_three_volumes_for_the_batch():
    three, one = three_3x3_vs_7x7(64)
    cmp = compare(analyze(three, batch=8), analyze(one, batch=8))
    row = cmp.rows[1]
    assert row.a.memory == 3 * 64 * 56 * 56 * 8 * 4
    assert row.b.memory == 64 * 56 * 56 * 8 * 4
    mem = cmp.total("training memory (the notes' count)")
    assert mem.a > mem.b
    assert total_cells(mem)[3].startswith("−")  # B needs less


def test_a_design_and_its_edited_version_align_by_id_where_sizes_changed():
    net = load(PRESETS / "cifar10_example.convnet.json").network
    edited = net.copy()
    edited.set_params("conv", out_channels=24)
    cmp = compare(analyze(net), analyze(edited), "before", "after")
    assert cmp.pairs == [("input", "input"), ("fc", "fc")]
    # conv, relu, pool and fc changed volume: they pair by id in the rows, not as aligned runs
    assert [(r.a.ids, r.b.ids) for r in cmp.rows[1:]] == [
        (("conv",), ("conv",)), (("relu",), ("relu",)), (("pool",), ("pool",)),
        (("fc",), ("fc",))]
    assert [r.aligned for r in cmp.rows] == [True, False, False, False, True]
    fc = cmp.rows[-1]
    assert fc.a.params == 12 * 16 * 16 * 10 + 10 and fc.b.params == 24 * 16 * 16 * 10 + 10
    assert cmp.total("parameters").b - cmp.total("parameters").a == (
        analyze(edited).totals.params - analyze(net).totals.params)


def test_identical_designs_align_everywhere():
    net = load(PRESETS / "resnet20_cifar.convnet.json").network
    rep = analyze(net)
    cmp = compare(rep, rep)
    assert cmp.pairs == [(nid, nid) for nid in rep.order]
    assert all(r.a.ids == r.b.ids and len(r.a.ids) == 1 for r in cmp.rows)
    assert all(total_cells(m)[3] == "=" for m in cmp.totals)


def test_vgg16_vs_vgg19_align_at_every_stage_end():
    a = analyze(load(PRESETS / "vgg16.convnet.json").network)
    b = analyze(load(PRESETS / "vgg19.convnet.json").network)
    cmp = compare(a, b, "VGG-16", "VGG-19")
    # every POOL makes the same volume in both (VGG-19 adds a CONV to stages 3-5, which
    # also widens the field, so the pools do not see the same field there)
    aligned = {x for x, _ in cmp.pairs}
    assert "input" in aligned and cmp.rows[-1].a.ids[-1] == a.order[-1]
    assert sum(r.a.params for r in cmp.rows) == a.totals.params
    assert sum(r.b.params for r in cmp.rows) == b.totals.params
    assert cmp.total("layers").b - cmp.total("layers").a == 6  # three CONVs and their RELUs


def test_layers_after_the_last_match_make_a_trailing_row():
    a, _ = stack(3, 8, 8, ("conv", "Conv2d", {"out_channels": 4}))
    b, _ = stack(3, 8, 8, ("pool", "MaxPool2d", {}), ("fc", "Linear", {"out_features": 2}))
    cmp = compare(analyze(a), analyze(b))
    assert cmp.pairs == [("input", "input")]
    last = cmp.rows[-1]
    assert not last.aligned and last.a.ids == ("conv",) and last.b.ids == ("pool", "fc")
    text = render_text(cmp)
    assert "parameters" in text
    assert [line.split()[0] for line in text.splitlines()[-2:]] == ["=", "≠"]


def test_a_design_with_errors_still_compares():
    a, _ = stack(3, 4, 4, ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 7}))
    b, _ = stack(3, 4, 4, ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3}))
    cmp = compare(analyze(a), analyze(b))
    assert ("conv", "conv") not in cmp.pairs  # an unknown volume pairs by id only
    assert [r.a.ids for r in cmp.rows] == [("input",), ("conv",)]
    assert "?" in row_cells(cmp.rows[-1])[4]
