"""Property: for every network, the analysis agrees with what torch really computes.

Random valid networks (stacks, branches merged by Add and Concat) are built and run; every
layer's output shape and parameter count must equal the analysis exactly. Random invalid networks
must give the analysis's error (and BuildError), never an exception from deeper code.
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from designer.bridge.module import BuildError, build_module
from designer.model import Network, analyze
from tests.strategies import networks


def _module_of(model, node_id):
    for name, module in model.named_modules():
        if name.split(".")[-1] == node_id:
            return module
    return None


def check_agreement(net: Network):
    report = analyze(net)
    model = build_module(net, report)
    model.train()
    c, h, w = report.layers[model.input_id].shape
    x = torch.randn(2, c, h, w)
    outputs = model.trace(x)
    for nid in report.order:
        rep = report.layers[nid]
        assert tuple(outputs[nid].shape[1:]) == rep.shape, nid
        module = _module_of(model, nid)
        params = sum(p.numel() for p in module.parameters()) if module is not None else 0
        buffers = sum(b.numel() for b in module.buffers()) if module is not None else 0
        assert (params, buffers) == (rep.params, rep.buffers), nid
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    assert model(x).shape[1:] == outputs[report.output].shape[1:]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(networks(valid_only=False))
def test_analysis_agrees_with_torch_for_random_networks(net):
    report = analyze(net)  # never raises
    if report.ok:
        check_agreement(net)
    else:
        assert any(r.errors for r in report.layers.values()) or any(
            i.severity == "error" for _, i in report.issues)
        with pytest.raises(BuildError):
            build_module(net, report)


def test_a_network_torch_rejects_is_an_analysis_error():
    """Spot checks of invalid sizes torch refuses: the analysis must say so first."""
    cases = [
        [("Conv2d", {"kernel_size": 7})],  # larger than 4×4
        [("MaxPool2d", {"kernel_size": 2, "padding": 2})],  # more than half the window
        [("Conv2d", {"out_channels": 3, "groups": 2})],
        [("Conv2d", {"stride": 2, "padding": "same"})],
        [("Linear", {}), ("Conv2d", {})],
        [("Flatten", {}), ("BatchNorm2d", {})],
    ]
    for layers in cases:
        net = Network()
        prev = net.add("Input", {"channels": 4, "height": 4, "width": 4})
        specs = []
        for t, p in layers:
            prev = net.add(t, p, inputs=[prev])
            specs.append((t, p))
        assert not analyze(net).ok, layers
        with pytest.raises(BuildError):
            build_module(net)


def test_in_place_relu_never_overwrites_a_volume_another_layer_reads():
    """Dropout hands its input through in eval mode: a ReLU after it must not run in place
    when the volume before the Dropout also feeds a shortcut."""
    net = Network()
    x = net.add("Input", {"channels": 2, "height": 5, "width": 5})
    conv = net.add("Conv2d", {"out_channels": 2, "padding": 1}, inputs=[x])
    drop = net.add("Dropout", {"p": 0.5}, inputs=[conv])
    relu = net.add("ReLU", inputs=[drop])
    net.add("Add", inputs=[relu, conv])
    model = build_module(net).eval()
    data = torch.randn(3, 2, 5, 5)
    c = getattr(model, conv)(data)
    expected = torch.relu(c) + c
    torch.testing.assert_close(model(data), expected)


@pytest.mark.parametrize("bad", ["forward", "training", "trace", "layers_to_x"])
def test_ids_that_clash_with_module_names_give_a_build_error(bad):
    net = Network()
    x = net.add("Input", {"channels": 1, "height": 4, "width": 4})
    if bad == "layers_to_x":  # a layer named like the run next to it
        a = net.add("ReLU", id="a", inputs=[x])
        b = net.add("Tanh", id="b", inputs=[a])
        net.add("Sigmoid", id="a_to_b", inputs=[x])
        net.add("Add", inputs=[b, "a_to_b"])
    else:
        net.add("Conv2d", id=bad, inputs=[x])
    with pytest.raises(BuildError, match="rename the layer"):
        build_module(net)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(networks(valid_only=False, loose=True))
def test_no_analysis_error_iff_the_module_builds_and_runs(net):
    """The analysis and the builder agree on validity, unconnected layers included: a merge fed
    by a layer no INPUT reaches is an error at the merge, not a silent unknown shape."""
    report = analyze(net)
    try:
        model = build_module(net, report)
        c, h, w = report.layers[model.input_id].shape
        model(torch.randn(2, c, h, w))
    except BuildError as e:
        assert not report.ok, f"the analysis saw no error, the builder said: {e}"
    else:
        assert report.ok, report.first_error()


def test_a_merge_fed_by_an_unconnected_layer_is_an_error_the_builder_repeats():
    net = Network()
    x = net.add("Input", {"channels": 2, "height": 6, "width": 6})
    conv = net.add("Conv2d", {"out_channels": 2, "padding": 1}, inputs=[x])
    orphan = net.add("ReLU", id="orphan")
    net.add("Add", id="add", inputs=[conv, orphan])
    report = analyze(net)
    assert report.first_error().startswith("add: input 2 (orphan) is not connected")
    with pytest.raises(BuildError, match="orphan"):
        build_module(net, report)


# ---------------------------------------------------------------------------------------------
# ceil_mode: PyTorch's output-size rule, case by case


def _torch_pool(kind, size, k, s, p, d, ceil_mode):
    x = torch.zeros(1, 1, size, size)
    try:
        if kind == "MaxPool2d":
            return tuple(torch.nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil_mode)(x).shape)
        return tuple(torch.nn.AvgPool2d(k, s, p, ceil_mode=ceil_mode)(x).shape)
    except RuntimeError:
        return None


def _analysed_pool(kind, size, k, s, p, d, ceil_mode):
    net = Network()
    x = net.add("Input", {"channels": 1, "height": size, "width": size})
    params = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil_mode}
    if kind == "MaxPool2d":
        params["dilation"] = d
    pool = net.add(kind, params, inputs=[x])
    rep = analyze(net).layers[pool]
    return None if rep.shape is None else (1, *rep.shape), rep


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("size,k,s,p,d,ceil_mode,expected", [
    # the window wider than the padded input: ceil_mode still gives one window (1×1)
    (2, 3, 2, 0, 1, True, 1),
    (1, 3, 3, 1, 1, True, 1),
    (2, 3, 3, 0, 1, True, 1),
    (2, 3, 2, 0, 1, False, None),  # without ceil_mode: (2 − 3)/2 + 1 ≤ 0, an error
    (2, 4, 2, 0, 1, True, None),  # even rounded up: ⌈−2/2⌉ + 1 = 0
    # the last window would start in the right padding: dropped (>=, not >)
    (5, 2, 2, 1, 1, True, 3),
    (3, 2, 2, 1, 1, True, 2),
    (7, 2, 2, 1, 1, True, 4),
    (9, 2, 2, 1, 1, True, 5),
    # ... and where it starts before W + P: kept
    (6, 3, 3, 1, 1, True, 3),  # starts at 6 < W + P = 7
    (4, 2, 2, 1, 1, True, 3),  # starts at 4 < W + P = 5
    # rounded up where the last window starts inside the input
    (112, 3, 2, 0, 1, True, 56),
    (55, 3, 2, 0, 1, True, 27),
    (13, 3, 2, 0, 1, True, 6),
    (6, 2, 2, 0, 1, True, 3),
    (29, 2, 2, 0, 1, True, 15),
    (29, 2, 2, 0, 1, False, 14),
])
def test_ceil_mode_output_sizes_are_pytorchs(kind, size, k, s, p, d, ceil_mode, expected):
    got = _torch_pool(kind, size, k, s, p, d, ceil_mode)
    assert (None if got is None else got[-1]) == expected
    shape, rep = _analysed_pool(kind, size, k, s, p, d, ceil_mode)
    assert shape == got, rep.issues
    assert bool(rep.errors) == (got is None)


def test_pool_output_sizes_are_pytorchs_on_a_grid():
    """Every (size, k, s, p, dilation, ceil_mode) on a small grid: the same size as PyTorch,
    and an error exactly where PyTorch refuses."""
    for kind in ("MaxPool2d", "AvgPool2d"):
        for size in range(1, 13):
            for k in range(1, 5):
                for s in range(1, 5):
                    for p in range(0, k // 2 + 1):
                        for d in ((1, 2) if kind == "MaxPool2d" else (1,)):
                            for ceil_mode in (False, True):
                                case = (kind, size, k, s, p, d, ceil_mode)
                                got = _torch_pool(*case)
                                shape, rep = _analysed_pool(*case)
                                assert shape == got, (case, rep.issues)


# ---------------------------------------------------------------------------------------------
# Receptive fields, measured: the input pixels one output unit's gradient reaches


def _measured_fields(net, nid, size):
    """(height, width) of the widest field among the units at the centre of `nid`'s output,
    channel by channel: the input pixels with a nonzero gradient, every weight a positive
    constant and every pixel one (so nothing cancels and no ReLU cuts a path)."""
    report = analyze(net)
    model = build_module(net, report)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.fill_(0.01)
                if m.bias is not None:
                    m.bias.zero_()
    c = report.layers[model.input_id].shape[0]
    x = torch.ones(1, c, size, size, requires_grad=True)
    out = model.trace(x)[nid]
    _, channels, h, w = out.shape
    best = (0, 0)
    for ch in range(channels):
        x.grad = None
        out[0, ch, h // 2, w // 2].backward(retain_graph=True)
        seen = x.grad[0].abs().sum(0) > 0
        rows = seen.any(1).nonzero()
        cols = seen.any(0).nonzero()
        field = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
        best = max(best, field)
    return best


def _branches(merge, first, second, after=None, size=33):
    """INPUT → two branches (lists of (type, params)) → merge (→ an optional layer)."""
    net = Network()
    x = net.add("Input", {"channels": 1, "height": size, "width": size})
    ends = []
    for branch in (first, second):
        prev = x
        for t, p in branch:
            prev = net.add(t, p, inputs=[prev])
        ends.append(prev)
    out = net.add(merge, id="merge", inputs=ends)
    if after is not None:
        out = net.add(after[0], after[1], id="after", inputs=[out])
    return net, out


def _c(k, s=1, p=None, n=2):
    return ("Conv2d", {"out_channels": n, "kernel_size": k, "stride": s,
                       "padding": k // 2 if p is None else p})


@pytest.mark.parametrize("merge", ["Add", "Concat"])
@pytest.mark.parametrize("first,second,after,field", [
    # the narrow branch first: a merge that took its first input would say 3
    ([_c(3)], [_c(3), _c(3)], None, 5),
    ([_c(1)], [_c(5), _c(3)], None, 7),
    ([_c(3)], [_c(3), _c(3)], _c(3), 7),
    # different jumps: an average pool then a 3×3 on one side, a 2×2/2 CONV on the other
    ([_c(2, 2, 0)], [("AvgPool2d", {"kernel_size": 2, "stride": 2}), _c(3)], _c(3), 10),
    ([_c(3), _c(3), _c(3)], [_c(3)], None, 7),  # the wide branch first
])
def test_a_merges_receptive_field_is_its_widest_inputs_as_measured(merge, first, second, after,
                                                                  field):
    net, out = _branches(merge, first, second, after)
    report = analyze(net)
    assert report.ok, report.first_error()
    assert report.layers[out].rf.size == (field, field)
    assert _measured_fields(net, out, 33) == (field, field)


@pytest.mark.parametrize("size,out", [(8, 6), (12, 6), (10, 4), (9, 9), (7, 3)])
def test_adaptive_pooling_field_is_its_widest_window_as_measured(size, out):
    net = Network()
    x = net.add("Input", {"channels": 1, "height": size, "width": size})
    gap = net.add("AdaptiveAvgPool2d", {"output_size": out}, inputs=[x])
    report = analyze(net)
    model = build_module(net, report)
    xin = torch.ones(1, 1, size, size, requires_grad=True)
    y = model.trace(xin)[gap]
    widest = 0
    for i in range(out):
        xin.grad = None
        y[0, 0, i, 0].backward(retain_graph=True)
        rows = (xin.grad[0, 0].abs().sum(1) > 0).nonzero()
        widest = max(widest, int(rows.max() - rows.min() + 1))
    assert report.layers[gap].rf.size[0] == widest
    uneven = size % out != 0
    assert bool(report.layers[gap].issues) == uneven  # the note: fields from here approximate
