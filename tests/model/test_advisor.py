"""The design advisor: each of the notes' rules of thumb fires where it must and not where it
must not, and applying a hint's edit gives exactly the effect it predicted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.model import advisor
from designer.model.advisor import (
    SECTION_COMPUTE,
    SECTION_FC_TO_CONV,
    SECTION_HEADACHES,
    SECTION_MEMORY,
    SECTION_NO_POOL,
    SECTION_SIZING,
    SECTION_SMALL_FILTERS,
    advise,
    ignored_keys,
)
from designer.model.analysis import analyze
from designer.model.network import Network, NetworkError
from designer.model.units import format_bytes


def stack(hw, depth, *layers) -> Network:
    """INPUT hw×hw×depth followed by a plain stack of (id, type, params)."""
    h, w = hw if isinstance(hw, tuple) else (hw, hw)
    net = Network("test")
    prev = net.add("Input", {"channels": depth, "height": h, "width": w}, id="input",
                   pos=(0.0, 0.0))
    for i, (nid, kind, params) in enumerate(layers, 1):
        prev = net.add(kind, params, id=nid, inputs=(prev,), pos=(0.0, 100.0 * i))
    return net


def conv(nid, filters, k, stride=1, padding=0, **kw):
    return (nid, "Conv2d", {"out_channels": filters, "kernel_size": k, "stride": stride,
                            "padding": padding, **kw})


def relu(nid):
    return (nid, "ReLU", {})


def pool(nid, k=2, s=2, **kw):
    return (nid, "MaxPool2d", {"kernel_size": k, "stride": s, **kw})


def fc(nid, n):
    return (nid, "Linear", {"out_features": n})


def hints_of(net, **analysis):
    report = analyze(net, **analysis)
    return report, {h.key: h for h in advise(net, report)}


def assert_exact(net, report, hint):
    """Applying the hint's edit to a copy gives exactly the figures the hint predicted."""
    effect = hint.effect()
    assert effect is not None, hint.key
    copy = net.copy()
    hint.apply(copy)
    settings = {"batch": report.batch, "dtype": report.dtype, "optimizer": report.optimizer,
                "budget": report.textbook.budget, **(hint.settings or {})}
    after = analyze(copy, **settings)
    assert after.totals.params == effect.after.params
    assert after.totals.macs == effect.after.macs
    assert after.textbook.total == effect.after.memory
    anchor = after.layers.get(hint.anchor or after.output or "")
    assert (anchor.rf.size if anchor is not None and anchor.rf else None) == effect.after.rf
    assert (after.totals.errors, after.totals.warnings) == (effect.after.errors,
                                                           effect.after.warnings)
    new = [n for n in after.order if n not in report.layers or n in hint.layers]
    assert sum(after.layers[n].params for n in new) == effect.after.local_params
    assert report.totals.params == effect.before.params
    return after


# ------------------------------------------------------------------------- the notes' example


@pytest.mark.parametrize("c", [8, 64])
def test_the_notes_7x7_conv_becomes_three_3x3_with_49_to_27_c_squared(c):
    net = stack(224, c, conv("conv", c, 7, padding=3, bias=False))
    report, hints = hints_of(net)
    hint = hints["stack3x3:conv"]
    assert hint.section == SECTION_SMALL_FILTERS == "Prefer a stack of small filter CONV"
    assert "three 3×3" in hint.title
    assert hint.note == "49·C² → 27·C²"
    effect = hint.effect()
    assert effect.before.local_params == 49 * c * c
    assert effect.after.local_params == 27 * c * c
    assert effect.before.rf == effect.after.rf == (7, 7)
    rows = {what: (b, a) for what, b, a in hint.effect_rows()}
    assert rows["weights"] == ("49·C²", "27·C²")
    assert rows["receptive field of conv"] == ("7×7", "7×7 (kept)")

    after = assert_exact(net, report, hint)
    convs = [n for n in after.order if after.layers[n].type == "Conv2d"]
    assert len(convs) == 3 and convs[-1] == "conv"
    assert [after.layers[n].type for n in after.order[1:]] == [
        "Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d"]
    assert all(after.layers[n].params == 9 * c * c for n in convs)
    assert after.layers["conv"].shape == (c, 224, 224)  # the sizes are kept too


def test_stack_hint_keeps_valid_padding_sizes_and_bias():
    net = stack(32, 16, conv("conv", 16, 5), relu("relu"))  # 32 → 28 without padding
    report, hints = hints_of(net)
    hint = hints["stack3x3:conv"]
    assert hint.note == "25·C² → 18·C²"
    after = assert_exact(net, report, hint)
    assert after.layers["relu"].shape == (16, 28, 28)
    assert after.layers["relu"].inputs == ("conv",)
    assert after.layers["conv"].rf.size == (5, 5)


@pytest.mark.parametrize("layers", [
    [conv("conv", 64, 3, padding=1)],  # already small
    [conv("conv", 64, 7, stride=2, padding=3)],  # strided: the memory compromise, not this
    [conv("conv", 64, 7, padding=3, groups=2)],
    [conv("conv", 64, 7, padding=3, dilation=1, out_channels=256)],  # more weights as a stack
])
def test_stack_hint_does_not_fire(layers):
    _, hints = hints_of(stack(56, 64, *layers))
    assert not [k for k in hints if k.startswith("stack3x3")]


def test_stack_hint_not_for_a_first_layer_on_rgb():
    """7×7 on 3 channels to 64: three 3×3 CONVs would have 8× the weights."""
    _, hints = hints_of(stack(224, 3, conv("conv", 64, 7, padding=3)))
    assert "stack3x3:conv" not in hints


# ------------------------------------------------------------------------------- padding


def test_valid_conv_gets_the_same_padding_hint():
    net = stack(32, 3, conv("conv1", 16, 5), relu("relu1"), pool("pool1"), fc("fc", 10))
    report, hints = hints_of(net)
    hint = hints["pad:conv1"]
    assert hint.section == SECTION_HEADACHES
    assert "32×32 to 28×28" in hint.reason
    after = assert_exact(net, report, hint)
    assert after.layers["conv1"].shape == (16, 32, 32)
    assert after.layers["conv1"].rf.size == report.layers["conv1"].rf.size


@pytest.mark.parametrize("layers", [
    [conv("conv1", 16, 5, padding=2)],
    [conv("conv1", 16, 5, padding="same")],
    [conv("conv1", 16, 1)],
    [conv("conv1", 16, 32)],  # covers the whole input: an FC in disguise
])
def test_no_padding_hint_where_the_size_is_kept(layers):
    _, hints = hints_of(stack(32, 3, *layers))
    assert not [k for k in hints if k.startswith("pad:")]


# ------------------------------------------------------------------------------- strides


def pooled_with_strided_conv():
    return stack(64, 3, conv("conv1", 16, 3, padding=1), relu("relu1"), pool("pool1"),
                 conv("conv2", 32, 3, stride=2, padding=1), relu("relu2"), pool("pool2"),
                 fc("fc", 10))


def test_strided_conv_among_pools_gets_stride_one_and_a_pool():
    net = pooled_with_strided_conv()
    report, hints = hints_of(net)
    hint = hints["stride:conv2"]
    assert hint.kind == "rule" and hint.section == SECTION_HEADACHES
    after = assert_exact(net, report, hint)
    assert net.nodes["conv2"].params["stride"] == 2  # the hint changed a copy only
    assert after.layers["conv2_pool"].inputs == ("relu2",)  # after the RELU
    assert after.layers["pool2"].inputs == ("conv2_pool",)
    assert after.layers[after.output].shape == report.layers[report.output].shape
    assert after.totals.params == report.totals.params


def test_strided_first_conv_is_the_memory_compromise():
    net = stack(224, 3, conv("conv1", 64, 11, stride=4, padding=2), relu("relu1"),
                pool("pool1", 3, 2), fc("fc", 10))
    report, hints = hints_of(net)
    hint = hints["stride:conv1"]
    assert hint.kind == "compromise" and hint.section == SECTION_MEMORY
    effect = hint.effect()
    assert effect.after.memory > effect.before.memory  # what the compromise saves
    assert_exact(net, report, hint)


def test_no_stride_hint_without_pools_or_on_a_residual_branch():
    allconv = stack(32, 3, conv("conv1", 16, 3, padding=1), relu("relu1"),
                    conv("conv2", 16, 3, stride=2, padding=1), relu("relu2"))
    _, hints = hints_of(allconv)
    assert not [k for k in hints if k.startswith("stride:")]

    net = stack(64, 16, conv("stem", 16, 3, padding=1), pool("pool", 2, 2))
    net.add("Conv2d", {"out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1},
            id="branch", inputs=("pool",))
    net.add("Conv2d", {"out_channels": 32, "kernel_size": 1, "stride": 2}, id="short",
            inputs=("pool",))
    net.add("Add", {}, id="add", inputs=("branch", "short"))
    _, hints = hints_of(net)
    assert "stride:branch" not in hints and "stride:short" not in hints


# ------------------------------------------------------------------------------- pooling


def test_pool_other_than_2x2_stride_2_on_even_sizes():
    net = stack(32, 3, conv("conv", 8, 3, padding=1), pool("pool", 3, 2, padding=1),
                fc("fc", 10))
    report, hints = hints_of(net)
    hint = hints["pool2x2:pool"]
    assert hint.section == SECTION_SIZING
    after = assert_exact(net, report, hint)
    assert net.nodes["pool"].params["kernel_size"] == 3
    assert after.layers["pool"].shape == report.layers["pool"].shape == (8, 16, 16)


@pytest.mark.parametrize("layers", [
    [pool("pool", 2, 2)],
    [pool("pool", 3, 1, padding=1)],  # not a down-sampling (an Inception branch)
    [("pool", "AvgPool2d", {"kernel_size": 32, "stride": 1})],  # global
    [conv("c", 8, 3, stride=2), pool("pool", 3, 2)],  # 15×15: 3×3/2 is what works out
])
def test_no_pool_hint(layers):
    _, hints = hints_of(stack(32, 3, *layers))
    assert not [k for k in hints if k.startswith("pool2x2")]


def test_getting_rid_of_pooling_is_offered_as_an_alternative():
    net = stack(32, 3, conv("conv1", 16, 3, padding=1), relu("relu1"), pool("pool1"),
                conv("conv2", 32, 3, padding=1), relu("relu2"), pool("pool2"), fc("fc", 10))
    report, hints = hints_of(net)
    hint = hints["allconv:pool1,pool2"]
    assert hint.kind == "alternative" and hint.section == SECTION_NO_POOL
    after = assert_exact(net, report, hint)
    assert not [n for n in after.order if after.layers[n].type == "MaxPool2d"]
    assert after.layers["pool1_conv"].params == 16 * 16 * 4 + 16
    assert after.layers["fc"].in_shapes == report.layers["fc"].in_shapes
    assert after.layers["fc"].rf == report.layers["fc"].rf


def test_no_pooling_alternative_without_pools_or_with_ceil_mode():
    _, hints = hints_of(stack(32, 3, conv("conv", 8, 3, stride=2, padding=1)))
    assert not [k for k in hints if k.startswith("allconv")]
    _, hints = hints_of(stack(32, 3, conv("conv", 8, 3), pool("pool", 3, 2, ceil_mode=True)))
    assert not [k for k in hints if k.startswith("allconv")]


# ------------------------------------------------------------------------------- FC → CONV


def test_fc_on_a_volume_can_be_a_conv():
    net = stack(32, 3, conv("conv", 16, 3, padding=1), relu("relu"), pool("pool"),
                fc("fc1", 64), relu("relu_fc"), fc("fc2", 10))
    report, hints = hints_of(net)
    hint = hints["fc2conv:fc1,fc2"]
    assert hint.section == SECTION_FC_TO_CONV and hint.kind == "alternative"
    assert "16×16×16" in hint.reason
    after = assert_exact(net, report, hint)
    assert after.totals.params == report.totals.params
    assert not [n for n in after.order if after.layers[n].type == "Linear"]
    assert after.layers["fc1"].params == report.layers["fc1"].params


def test_no_fc_hint_after_global_pooling():
    net = stack(32, 3, conv("conv", 16, 3, padding=1),
                ("gap", "AdaptiveAvgPool2d", {"output_size": 1}), ("flat", "Flatten", {}),
                fc("fc", 10))
    _, hints = hints_of(net)
    assert not [k for k in hints if k.startswith("fc2conv")]


# ------------------------------------------------------------------------------- memory


def big_first_layers():
    return stack(224, 3, conv("conv1", 64, 3, padding=1), relu("relu1"),
                 conv("conv2", 64, 3, padding=1), relu("relu2"), pool("pool1"),
                 conv("conv3", 128, 3, padding=1), relu("relu3"), pool("pool2"),
                 ("gap", "AdaptiveAvgPool2d", {"output_size": 1}), ("flat", "Flatten", {}),
                 fc("fc", 10))


def test_over_budget_gets_the_first_layer_compromise_and_the_largest_batch():
    net = big_first_layers()
    report, hints = hints_of(net, batch=256, budget=4 * 1024**3)
    assert report.textbook.fits is False
    first = hints["memory:conv1"]
    assert first.section == SECTION_MEMORY
    assert first.layers == ("conv1", "pool1")
    assert "takes the place of pool1" in first.reason
    effect = first.effect()
    assert effect.after.memory < effect.before.memory
    # the compromise alone (17.8 → 7.04 GiB) still does not fit 4 GiB: the hint says so
    assert effect.after.memory > 4 * 1024**3
    assert "still more than 4 GiB: it does not fit without a smaller batch too" in first.reason
    rows = {what: (b, a) for what, b, a in first.effect_rows()}
    over = format_bytes(effect.after.memory - 4 * 1024**3)
    assert rows["fits 4 GiB"] == ("no", f"no (still {over} over)")
    after = assert_exact(net, report, first)
    assert "pool1" not in after.layers
    assert after.layers["conv1"].shape == (64, 112, 112)
    assert after.layers["conv3"].shape == report.layers["conv3"].shape  # later sizes kept
    batch = hints["batch"]
    assert batch.section == SECTION_COMPUTE and batch.settings == {
        "batch": report.textbook.max_batch}
    assert dict((w, (b, a)) for w, b, a in batch.effect_rows())["fits 4 GiB"] == ("no", "yes")
    assert batch.effect().after.memory <= 4 * 1024**3 < batch.effect().before.memory
    assert_exact(net, report, batch)


def test_no_memory_hints_when_it_fits_or_without_a_budget():
    net = big_first_layers()
    for analysis in ({"batch": 256}, {"batch": 2, "budget": 4 * 1024**3}):
        _, hints = hints_of(net, **analysis)
        assert "batch" not in hints and "memory:conv1" not in hints


def test_not_even_one_image_fits_has_no_edit():
    _, hints = hints_of(big_first_layers(), batch=4, budget=1024)
    assert not hints["batch"].applicable and hints["batch"].effect() is None


# ------------------------------------------------------------------------------- input size


def test_input_not_divisible_by_two_as_often_as_the_network_halves_it():
    layers = [conv("c1", 8, 3, padding=1), pool("p1"), conv("c2", 8, 3, padding=1), pool("p2"),
              conv("c3", 8, 3, padding=1), pool("p3"), fc("fc", 10)]
    net = stack(100, 3, *layers)  # 100 → 50 → 25 → 12: p3 floors
    report, hints = hints_of(net)
    hint = hints["input-size:input"]
    assert hint.section == SECTION_SIZING
    assert hint.layers == ("input", "p3")
    assert "96×96 works out" in hint.reason
    after = assert_exact(net, report, hint)
    assert after.layers["input"].shape == (3, 96, 96)
    assert after.totals.warnings == 0 < report.totals.warnings
    _, hints = hints_of(stack(96, 3, *layers))
    assert "input-size:input" not in hints


def test_the_input_hint_agrees_with_the_analysis_on_what_is_dropped():
    """A 3×3/2 pad-1 CONV on 50 floors 25.5 to 25, dropping one column of zero padding: no
    pixel is lost, so no input-size hint (the analysis says a note, not a warning); 2×2/2 POOLs
    on 50 drop a real row at 25 → 12: the hint, naming that POOL only."""
    convs = stack(50, 3, conv("c1", 8, 3, stride=2, padding=1), conv("c2", 8, 3, stride=2,
                                                                      padding=1), fc("fc", 10))
    report, hints = hints_of(convs)
    assert report.layers["c1"].issues[0].severity == "info" and report.totals.warnings == 0
    assert advisor.sizing.drops(advisor.DesignView(convs, report), report) == []
    assert "input-size:input" not in hints
    pools = stack(50, 3, pool("p1"), pool("p2"), fc("fc", 10))
    report, hints = hints_of(pools)
    assert [n for n in report.order if report.layers[n].warnings] == ["p2"]
    assert hints["input-size:input"].layers == ("input", "p2")


def test_alexnets_227_works_out_and_gets_no_input_hint():
    net = stack(227, 3, conv("conv1", 96, 11, stride=4), pool("pool1", 3, 2),
                pool("pool2", 3, 2), fc("fc", 10))
    _, hints = hints_of(net)
    assert not [k for k in hints if k.startswith("input-size")]


# ------------------------------------------------------------------------------- receptive field


def test_output_that_does_not_see_the_whole_input():
    net = stack(64, 3, conv("conv1", 16, 3, padding=1), relu("relu1"),
                conv("conv2", 10, 3, padding=1))
    report, hints = hints_of(net)
    hint = hints["rf:conv2"]
    assert hint.title == "Receptive field 5×5 does not cover the 64×64 input"
    after = assert_exact(net, report, hint)
    assert min(after.layers[after.output].rf.size) >= 64
    assert after.layers[after.output].type == "AdaptiveAvgPool2d"


def test_a_classifier_covers_its_input():
    net = stack(64, 3, conv("conv1", 16, 3, padding=1), relu("relu1"), fc("fc", 10))
    _, hints = hints_of(net)
    assert not [k for k in hints if k.startswith("rf:")]


# ------------------------------------------------------------------------------- the API


def test_hints_are_cached_per_network_version_and_settings():
    net = pooled_with_strided_conv()
    report = analyze(net)
    first = advise(net, report)
    assert advise(net, report)[0] is first[0]
    net.set_params("conv1", out_channels=8)
    again = advise(net, analyze(net))
    assert again[0] is not first[0]


def test_an_edit_that_no_longer_fits_is_refused_with_a_network_error():
    net = pooled_with_strided_conv()
    hint = {h.key: h for h in advise(net, analyze(net))}["stride:conv2"]
    net.remove("relu2")
    with pytest.raises(NetworkError):
        hint.apply(net)


def test_edits_keep_the_layer_order_and_make_room_on_the_canvas():
    net = stack(32, 16, conv("conv", 16, 7, padding=3), relu("relu"), fc("fc", 10))
    hint = {h.key: h for h in advise(net, analyze(net))}["stack3x3:conv"]
    copy = net.copy()
    hint.apply(copy)
    assert list(copy.nodes) == ["input", "conv_a", "conv_a_relu", "conv_b", "conv_b_relu",
                                "conv", "relu", "fc"]
    ys = [copy.nodes[n].pos[1] for n in copy.nodes]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)


def test_hints_never_raise_on_a_broken_design():
    net = stack(8, 3, conv("conv", 8, 11))  # the filter is larger than the input: an error
    net.add("ReLU", {}, id="loose")
    report = analyze(net)
    assert not report.ok
    assert isinstance(advise(net, report), list)
    assert advise(Network("empty"), analyze(Network("empty"))) == []


def test_ignored_keys_read_from_the_design_file_section():
    assert ignored_keys({"ignored": ["pad:conv1", 3]}) == {"pad:conv1"}
    assert ignored_keys({}) == set() == ignored_keys(None) == ignored_keys({"ignored": "x"})


# ------------------------------------------------------------------------------- any design


_LAYER = st.one_of(
    st.tuples(st.just("conv"), st.sampled_from([8, 16]), st.sampled_from([1, 3, 5, 7]),
              st.sampled_from([1, 1, 2]), st.sampled_from([0, 1, 2, 3, "same"])),
    st.tuples(st.just("pool"), st.sampled_from([2, 3]), st.sampled_from([1, 2])),
    st.tuples(st.just("relu")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.sampled_from([20, 28, 32, 36, 64, 100]), depth=st.sampled_from([1, 3, 8]),
       body=st.lists(_LAYER, min_size=1, max_size=8), head=st.booleans(),
       budget=st.sampled_from([None, 64 * 1024**2]))
def test_every_hint_predicts_exactly_what_its_edit_does(size, depth, body, head, budget):
    layers = []
    for i, spec in enumerate(body):
        if spec[0] == "conv":
            _, f, k, s, p = spec
            if p == "same" and s != 1:
                p = k // 2
            layers.append(conv(f"conv{i}", f, k, s, p))
        elif spec[0] == "pool":
            layers.append(pool(f"pool{i}", spec[1], spec[2]))
        else:
            layers.append(relu(f"relu{i}"))
    if head:
        layers.append(fc("fc", 10))
    net = stack(size, depth, *layers)
    report = analyze(net, batch=64, budget=budget)
    advisor._CACHE.clear()
    for hint in advise(net, report):
        assert hint.title and hint.reason.endswith(".") and hint.section
        if hint.applicable and report.ok:
            after = assert_exact(net, report, hint)
            assert hint.safe == (after.totals.errors == 0)


# ------------------------------------------------------------------ designs that crashed hints


def test_input_size_hint_offers_no_size_past_the_input_limit():
    net = Network("deep")
    prev = net.add("Input", {"channels": 1, "height": 8000, "width": 8000})
    for _ in range(14):  # a jump of 16,384: the next multiple up would be 16,384 > 8,192
        prev = net.add("Conv2d", {"out_channels": 1, "kernel_size": 1, "stride": 2},
                       inputs=[prev])
    hints = advise(net, analyze(net))
    for h in hints:
        for op in h.edit or ():
            assert getattr(op, "params", {}).get("height", 0) <= 8192
        h.effect()


def test_an_unwired_fc_gives_no_hint_and_no_crash():
    net = Network("loose")
    i = net.add("Input", {"channels": 3, "height": 8, "width": 8})
    c = net.add("Conv2d", {"out_channels": 4, "kernel_size": 3}, inputs=[i])
    f = net.add("Flatten", inputs=[c])
    net.add("Linear", {"out_features": 10}, inputs=[f])
    net.add("Linear", {"out_features": 10})  # dropped here, not wired yet
    assert not [h for h in advise(net, analyze(net)) if h.key.startswith("fc2conv")]


def test_fc_to_conv_checks_no_wire_for_cycles(monkeypatch):
    """Rebuilding a DAG cannot make a cycle; checking each wire walked the network once per
    layer (8,000 FC layers: over 20 s to summarise)."""
    from designer.model import transforms

    net = Network("fcs")
    prev = net.add("Input", {"channels": 3, "height": 4, "width": 4})
    prev = net.add("Flatten", inputs=[prev])
    for _ in range(50):
        prev = net.add("Linear", {"out_features": 8}, inputs=[prev])
    walks = []
    monkeypatch.setattr(Network, "_reaches", lambda self, a, b: walks.append(a) or False)
    out = transforms.fc_to_conv(net)
    assert walks == [] and len(out.nodes) == 51
