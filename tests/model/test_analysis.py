"""Sizes that don't work out, errors that stop at a layer, merges, receptive fields, budgets."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.model import Network, analyze, fmt_shape
from designer.model.design_file import load
from designer.model.units import format_bytes

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def chain(c=3, h=32, w=32):
    net = Network()
    return net, net.add("Input", {"channels": c, "height": h, "width": w})


def test_sizes_that_dont_work_out_warn_and_offer_fixes_that_work():
    net, inp = chain(3, 32, 32)
    conv = net.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 3}, inputs=[inp])
    rep = analyze(net)
    [issue] = rep.layers[conv].issues
    assert issue.severity == "warning"
    assert "(32 − 3 + 0)/3 + 1 = 10.6667" in issue.message and "not an integer" in issue.message
    assert rep.ok and fmt_shape(rep.layers[conv].shape) == "10×10×8"  # PyTorch floors
    assert [f.label for f in issue.fixes] == ["padding 0 → 2", "stride 3 → 1"]
    for fix in issue.fixes:
        trial = net.copy()
        trial.set_params(conv, **fix.params)
        assert not analyze(trial).layers[conv].issues, fix.label


def test_output_size_at_most_zero_is_an_error_downstream_unknown_rest_analysed():
    net, inp = chain(3, 8, 8)
    side = net.add("Conv2d", {"out_channels": 4, "kernel_size": 3}, inputs=[inp])
    big = net.add("Conv2d", {"out_channels": 4, "kernel_size": 11}, inputs=[inp])
    after = net.add("ReLU", inputs=[big])
    rep = analyze(net)
    assert not rep.ok
    assert rep.layers[big].errors and rep.layers[big].shape is None
    assert "larger than the padded input" in rep.layers[big].errors[0].message
    assert rep.layers[after].shape is None and not rep.layers[after].errors
    assert fmt_shape(rep.layers[side].shape) == "6×6×4"


def test_mismatched_merges_are_errors_at_the_merge():
    net, inp = chain(3, 16, 16)
    a = net.add("Conv2d", {"out_channels": 8, "padding": 1}, inputs=[inp])
    b = net.add("Conv2d", {"out_channels": 4, "padding": 1}, inputs=[inp])
    add = net.add("Add", inputs=[a, b])
    cat = net.add("Concat", inputs=[a, b])
    rep = analyze(net)
    assert "equal shape" in rep.layers[add].errors[0].message
    assert fmt_shape(rep.layers[cat].shape) == "16×16×12"
    c = net.add("Conv2d", {"out_channels": 4, "stride": 2, "padding": 1}, inputs=[inp])
    cat2 = net.add("Concat", inputs=[a, c])
    assert "widths and heights must match" in analyze(net).layers[cat2].errors[0].message


def test_strided_same_padding_is_an_error_with_a_fix():
    net, inp = chain()
    conv = net.add("Conv2d", {"kernel_size": 3, "stride": 2, "padding": "same"}, inputs=[inp])
    [err] = analyze(net).layers[conv].errors
    assert err.fixes[0].params == {"padding": 1}


def test_conv_after_fc_is_an_error_naming_the_problem():
    net, inp = chain()
    fc = net.add("Linear", {"out_features": 10}, inputs=[inp])
    conv = net.add("Conv2d", inputs=[fc])
    assert "flat vector" in analyze(net).layers[conv].errors[0].message


def test_no_input_and_unconnected_layers_are_reported_not_raised():
    net = Network()
    relu = net.add("ReLU")
    rep = analyze(net)
    assert not rep.ok
    assert any("no INPUT" in i.message for _, i in rep.issues)
    assert rep.layers[relu].shape is None


def test_receptive_field_jump_and_start():
    net, inp = chain(3, 32, 32)
    c1 = net.add("Conv2d", {"kernel_size": 3, "padding": 1}, inputs=[inp])
    p1 = net.add("MaxPool2d", inputs=[c1])
    c2 = net.add("Conv2d", {"kernel_size": 3, "padding": 1}, inputs=[p1])
    rep = analyze(net)
    assert rep.layers[c1].rf.size == (3, 3) and rep.layers[c1].rf.start == (0.5, 0.5)
    assert rep.layers[p1].rf.size == (4, 4) and rep.layers[p1].rf.jump == (2, 2)
    assert rep.layers[c2].rf.size == (8, 8) and rep.layers[c2].rf.jump == (2, 2)
    assert rep.layers[c2].rf.start == (1.0, 1.0)


def test_largest_batch_that_fits_the_budget():
    net, inp = chain(3, 64, 64)
    net.add("Conv2d", {"out_channels": 64, "padding": 1}, inputs=[inp])
    rep = analyze(net, batch=1, budget=64 * 1024**2)
    for est in (rep.textbook, rep.pytorch):
        n = est.max_batch
        assert n > 1
        assert est.fixed + n * est.per_sample <= est.budget < est.fixed + (n + 1) * est.per_sample
        big = analyze(net, batch=n + 1, budget=est.budget)
        same = big.textbook if est is rep.textbook else big.pytorch
        assert same.fits is False
    tiny = analyze(net, budget=1024)
    assert tiny.textbook.max_batch == 0 and tiny.textbook.fits is False


def test_batchnorm_counts_running_statistics_as_buffers():
    net, inp = chain(3, 8, 8)
    bn = net.add("BatchNorm2d", inputs=[inp])
    rep = analyze(net).layers[bn]
    assert (rep.params, rep.buffers) == (6, 7)


def test_fc_receptive_field_covers_the_whole_volume():
    net, inp = chain(3, 32, 32)
    pool = net.add("MaxPool2d", inputs=[inp])
    fc = net.add("Linear", inputs=[pool])
    assert analyze(net).layers[fc].rf.size == (32, 32)


# ------------------------------------------------------------------ what the floor really drops


def one_layer(size, kind, **params):
    net, inp = chain(1, size, size)
    layer = net.add(kind, params, inputs=[inp])
    return net, layer, analyze(net)


@pytest.mark.parametrize("size,kind,params", [
    (224, "Conv2d", {"kernel_size": 7, "stride": 2, "padding": 3}),  # ResNet's conv1
    (112, "MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),  # ResNet's max-pool
    (56, "Conv2d", {"kernel_size": 3, "stride": 2, "padding": 1}),  # every 3×3/2 pad-1 CONV
    (224, "Conv2d", {"kernel_size": 11, "stride": 4, "padding": 2}),  # torchvision's AlexNet
    (32, "Conv2d", {"kernel_size": 3, "stride": 3, "padding": 1}),
])
def test_where_the_floor_drops_only_padding_it_is_a_note_not_a_warning(size, kind, params):
    _, layer, report = one_layer(size, kind, **params)
    [issue] = report.layers[layer].issues
    assert issue.severity == "info"
    assert "sizes don't work out" in issue.message and "not an integer" in issue.message
    assert "the notes' rule is not met" in issue.message
    assert "zero padding only" in issue.message and "never seen" not in issue.message
    assert report.totals.warnings == 0
    assert not any(f.label.startswith("stride") for f in issue.fixes)  # nothing is lost


@pytest.mark.parametrize("size,kind,params,lost", [
    (56, "Conv2d", {"kernel_size": 1, "stride": 2}, 1),  # ResNet's 1×1/2 shortcut
    (29, "MaxPool2d", {"kernel_size": 2, "stride": 2}, 1),
    (32, "Conv2d", {"kernel_size": 3, "stride": 3}, 2),
    (32, "Conv2d", {"kernel_size": 5, "stride": 4, "padding": 1}, 0),  # padding only
    (32, "Conv2d", {"kernel_size": 5, "stride": 4}, 3),
])
def test_where_real_pixels_are_dropped_the_warning_counts_them(size, kind, params, lost):
    _, layer, report = one_layer(size, kind, **params)
    if not lost:
        assert not report.layers[layer].warnings
        return
    [issue] = report.layers[layer].warnings
    assert f"the last {lost} pixel row(s)/column(s) of the input are never seen" in issue.message


def _past_the_last_window(size, eff, s, p, out):
    """Brute force: the real pixels (0 … size − 1) after the last position any window covers
    (a stride wider than the window also skips pixels between windows: not counted here)."""
    covered = {start - p + t for start in range(0, out * s, s) for t in range(eff)}
    return sum(1 for i in range(size) if i > max(covered))


def test_a_window_wholly_in_the_padding_misses_every_pixel_and_no_more():
    # a 1×1 window every 5 on 1 pixel padded by 2: the one window sits at the padding's first
    # position; the one real pixel is never seen (found by the property test below)
    _, layer, report = one_layer(1, "Conv2d", kernel_size=1, stride=5, padding=2)
    (warning,) = [i for i in report.layers[layer].warnings if "never seen" in i.message]
    assert "the last 1 pixel row(s)/column(s)" in warning.message


@given(size=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5),
       p=st.integers(0, 3), ceil_mode=st.booleans(), kind=st.sampled_from(["conv", "pool"]))
@settings(max_examples=400, deadline=None)
def test_the_warning_is_given_exactly_where_a_window_misses_the_last_pixels(
        size, k, s, p, ceil_mode, kind):
    if kind == "conv":
        if ceil_mode:
            return
        _, layer, report = one_layer(size, "Conv2d", kernel_size=k, stride=s, padding=p)
    else:
        p = min(p, k // 2)
        _, layer, report = one_layer(size, "MaxPool2d", kernel_size=k, stride=s, padding=p,
                                     ceil_mode=ceil_mode)
    rep = report.layers[layer]
    if rep.shape is None:
        return
    out = rep.shape[1]
    missed = _past_the_last_window(size, k, s, p, out)
    warned = [i for i in rep.warnings if "never seen" in i.message]
    assert bool(warned) == (missed > 0), rep.issues
    if missed:
        assert f"the last {missed} pixel" in warned[0].message


def test_fixes_never_offer_a_stride_wider_than_the_window_and_show_their_effect():
    net, pool, report = one_layer(29, "MaxPool2d", kernel_size=2, stride=2)
    [issue] = report.layers[pool].warnings
    labels = [f.label for f in issue.fixes]
    assert labels == ["ceil_mode false → true", "stride 2 → 1"]  # not "stride 2 → 3"
    for fix in issue.fixes:
        trial = net.copy()
        trial.set_params(pool, **fix.params)
        after = analyze(trial)
        assert not after.layers[pool].warnings, fix.label
        rows = {what: (b, a) for what, b, a in fix.effect}
        assert rows["memory"] == (format_bytes(report.textbook.total),
                                  format_bytes(after.textbook.total))
        assert rows["output"] == ("14×14×1", fmt_shape(after.layers[pool].shape))
        assert rows["params"] == ("0", "0 (kept)")
        assert f"memory {rows['memory'][0]} → {rows['memory'][1]}" in fix.effect_text
    # the cost-keeping fix first: one more window costs (15/14)², stride 1 four times as much
    ceil, stride = issue.fixes
    assert ceil.effect[0] == ("output", "14×14×1", "15×15×1")
    assert stride.effect[0] == ("output", "14×14×1", "28×28×1")


def test_resnets_strided_layers_get_no_fix_that_costs_or_breaks():
    """ResNet's conv1 and max-pool drop only padding: no 'stride 2 → 1' (4× the activations),
    no 'stride 2 → 3' (windows that skip rows); the 1×1/2 shortcut really drops a row, but
    stride 1 there would break its Add: not offered."""
    design = load(PRESETS / "resnet18.convnet.json")
    report = analyze(design.network)
    offered = {nid: [f.label for i in report.layers[nid].issues for f in i.fixes]
               for nid in report.order}
    assert offered["conv1"] == [] and offered["maxpool"] == []
    assert [nid for nid in report.order if report.layers[nid].warnings] == [
        "layer2_0_downsample_conv", "layer3_0_downsample_conv", "layer4_0_downsample_conv"]
    assert all(labels == [] for labels in offered.values())
    for name in ("resnet50", "googlenet", "zfnet", "allconv_cifar10", "alexnet_single_tower"):
        report = analyze(load(PRESETS / f"{name}.convnet.json").network)
        for nid in report.order:
            for issue in report.layers[nid].issues:
                for fix in issue.fixes:
                    assert fix.params.get("stride", 0) <= report.layers[nid].field[0], (name, nid)
                    assert fix.effect, (name, nid, fix.label)


# ------------------------------------------------------------------ merges fed by loose layers


def test_a_merge_fed_by_an_unconnected_layer_is_an_error_naming_it():
    net, inp = chain(3, 8, 8)
    conv = net.add("Conv2d", {"out_channels": 4, "padding": 1}, id="conv", inputs=[inp])
    orphan = net.add("ReLU", id="orphan")
    after = net.add("Tanh", id="after_orphan", inputs=[orphan])
    add = net.add("Add", id="add", inputs=[conv, after])
    net.add("Linear", {"out_features": 3}, id="fc", inputs=[add])
    report = analyze(net)
    assert not report.ok and report.totals.errors == 1
    [err] = report.layers[add].errors
    assert "input 2 (after_orphan) is not connected to the INPUT" in err.message
    assert "starts at orphan" in err.message
    assert report.first_error().startswith("add: input 2 (after_orphan)")
    assert report.layers[orphan].warnings  # the orphan itself: "not connected"
    # wiring the orphan clears it; an edit that cuts it again brings it back (no stale cache)
    net.set_inputs(orphan, [conv])
    assert analyze(net).ok
    net.set_inputs(orphan, [])
    assert not analyze(net).ok


def test_a_merge_of_loose_layers_only_is_loose_not_an_error():
    net, inp = chain(3, 8, 8)
    net.add("Conv2d", {"out_channels": 4, "padding": 1}, inputs=[inp])
    a, b = net.add("ReLU", id="a"), net.add("Tanh", id="b")
    net.add("Concat", id="cat", inputs=[a, b])
    report = analyze(net)
    assert report.ok and report.totals.warnings == 2  # a and b: not connected


# ------------------------------------------------------------------ adaptive pooling's windows


def test_adaptive_pooling_that_does_not_divide_says_its_fields_are_approximate():
    for size, out, uneven in ((8, 6, True), (12, 6, False), (7, 1, False), (5, 3, True)):
        net, gap, report = one_layer(size, "AdaptiveAvgPool2d", output_size=out)
        notes = [i.message for i in report.layers[gap].issues]
        assert bool(notes) == uneven, (size, out)
    _, gap, report = one_layer(8, "AdaptiveAvgPool2d", output_size=6)
    [note] = report.layers[gap].issues
    assert "windows start at 0, 1, 2, 4, 5, 6" in note.message and "approximate" in note.message
    assert report.layers[gap].rf.size == (2, 2)  # the widest of PyTorch's windows


# ------------------------------------------------------------------ the notes' VGG-16 total


def test_vgg16s_total_carries_the_notes_24m_remark():
    report = analyze(load(PRESETS / "vgg16.convnet.json").network)
    assert report.totals.forward_values == 15_237_608
    assert "~24M values" in report.totals_remark and "15.2 M" in report.totals_remark
    assert any(i.message == report.totals_remark for _, i in report.issues)
    assert report.ok and report.totals.warnings == 0  # a note only
    assert analyze(load(PRESETS / "vgg19.convnet.json").network).totals_remark == ""
