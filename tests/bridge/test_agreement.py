"""Property: for every network, the analysis agrees with what torch really computes.

Random valid networks (stacks, branches merged by Add and Concat) are built and run; every
layer's output shape and parameter count must equal the analysis exactly. Random invalid networks
must give the analysis's error (and BuildError), never an exception from deeper code.
"""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.bridge.module import BuildError, build_module
from designer.model import Network, analyze

SMALL = st.integers(1, 6)


def layer_params(draw, type_name):
    if type_name == "Conv2d":
        return {
            "out_channels": draw(st.sampled_from([1, 2, 4, 6])),
            "kernel_size": draw(st.integers(1, 5)),
            "stride": draw(st.integers(1, 3)),
            "padding": draw(st.one_of(st.integers(0, 2), st.just("same"), st.just("valid"))),
            "dilation": draw(st.integers(1, 2)),
            "groups": draw(st.sampled_from([1, 1, 2])),
            "bias": draw(st.booleans()),
        }
    if type_name == "MaxPool2d":
        k = draw(st.integers(1, 3))
        return {"kernel_size": k, "stride": draw(st.integers(1, 3)),
                "padding": draw(st.integers(0, k // 2)), "dilation": draw(st.integers(1, 2)),
                "ceil_mode": draw(st.booleans())}
    if type_name == "AvgPool2d":
        k = draw(st.integers(1, 3))
        return {"kernel_size": k, "stride": draw(st.integers(1, 3)),
                "padding": draw(st.integers(0, k // 2)), "ceil_mode": draw(st.booleans()),
                "count_include_pad": draw(st.booleans())}
    if type_name == "AdaptiveAvgPool2d":
        return {"output_size": draw(st.integers(1, 3))}
    if type_name == "Linear":
        return {"out_features": draw(st.integers(1, 8)), "bias": draw(st.booleans())}
    if type_name == "BatchNorm2d":
        return {"affine": draw(st.booleans()), "track_running_stats": draw(st.booleans())}
    if type_name == "LocalResponseNorm":
        return {"size": draw(st.integers(1, 5)), "k": 2.0}
    if type_name == "LeakyReLU":
        return {"negative_slope": 0.1}
    if type_name in ("Dropout", "Dropout2d"):
        return {"p": 0.5}
    return {}


VOLUME = ["Conv2d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d",
          "LocalResponseNorm", "Dropout2d"]
ANY = ["ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Dropout"]
FLAT = ["Flatten", "Linear"]


@st.composite
def networks(draw, valid_only: bool):
    net = Network()
    prev = net.add("Input", {"channels": draw(SMALL), "height": draw(st.integers(4, 20)),
                             "width": draw(st.integers(4, 20))})

    def add_layer(src, pool):
        t = draw(st.sampled_from(pool))
        return net.add(t, layer_params(draw, t), inputs=[src])

    for _ in range(draw(st.integers(1, 6))):
        shape = analyze(net).layers[prev].shape
        if valid_only and shape is None:
            break
        flat = shape is not None and len(shape) == 1
        kind = draw(st.sampled_from(["layer", "layer", "branch"]))
        if kind == "branch" and not flat:
            a = add_layer(prev, VOLUME + ANY)
            b = add_layer(prev, VOLUME + ANY)
            merge = draw(st.sampled_from(["Add", "Concat"]))
            prev = net.add(merge, inputs=[a, b])
        else:
            pool = ANY + FLAT if flat else VOLUME + ANY + FLAT
            prev = add_layer(prev, pool)
    return net


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
