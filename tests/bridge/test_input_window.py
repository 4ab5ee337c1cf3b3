"""The input pixels a unit sees (model/windows.input_window, what the Inside tab outlines on
the input picture) are the pixels its gradient reaches in the built module: with positive
weights and average pooling every pixel of the window contributes, so the bounding box of the
non-zero gradient is the window, clipped at the borders."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from designer.bridge.module import build_module  # noqa: E402
from designer.model.analysis import analyze  # noqa: E402
from designer.model.network import Network  # noqa: E402
from designer.model.windows import input_window  # noqa: E402

STACKS = {
    "three 3×3 (the notes' 7×7)": [("conv", 3, 1, 1)] * 3,
    "VGG's first stage": [("conv", 3, 1, 1), ("conv", 3, 1, 1), ("pool", 2, 2, 0),
                          ("conv", 3, 1, 1)],
    "AlexNet-like stem": [("conv", 11, 4, 2), ("pool", 3, 2, 0), ("conv", 5, 1, 2)],
    "ResNet stem": [("conv", 7, 2, 3), ("pool", 3, 2, 1), ("conv", 3, 1, 1)],
    "even kernels": [("conv", 4, 2, 1), ("conv", 2, 1, 0), ("pool", 2, 2, 0)],
    "dilated": [("conv", 3, 1, 2, 2), ("conv", 3, 2, 1)],
}


def network(stack, side=40) -> Network:
    net = Network("rf")
    prev = net.add("Input", {"channels": 1, "height": side, "width": side}, id="input")
    for i, (kind, k, s, p, *d) in enumerate(stack):
        if kind == "conv":
            params = {"out_channels": 2, "kernel_size": k, "stride": s, "padding": p,
                      "bias": False}
            if d:
                params["dilation"] = d[0]
            prev = net.add("Conv2d", params, inputs=[prev], id=f"l{i}")
        else:
            prev = net.add("AvgPool2d", {"kernel_size": k, "stride": s, "padding": p},
                           inputs=[prev], id=f"l{i}")
    return net


def gradient_box(model, layer: str, r: int, c: int, side: int):
    x = torch.ones(1, 1, side, side, requires_grad=True)
    out = model.trace(x)[layer]
    out[0, 0, r, c].backward()
    nz = (x.grad[0, 0] != 0).nonzero()
    return (int(nz[:, 0].min()), int(nz[:, 0].max()) + 1,
            int(nz[:, 1].min()), int(nz[:, 1].max()) + 1)


@pytest.mark.parametrize("name", list(STACKS))
def test_the_window_is_where_the_gradient_reaches(name):
    side = 40
    net = network(STACKS[name], side)
    report = analyze(net)
    model = build_module(net, report)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p) + 0.1)  # positive: nothing cancels
    last = f"l{len(STACKS[name]) - 1}"
    _c, h, w = report.layers[last].shape
    field = report.layers[last].field
    for r, c in {(0, 0), (h // 2, w // 3), (h - 1, w - 1), (1, w - 2)}:
        assert input_window(field, (r, r), (c, c), (side, side)) == \
            gradient_box(model, last, r, c, side), (name, r, c)


def test_the_notes_three_3x3_convs_see_7x7_and_a_block_of_units_sees_their_union():
    net = network(STACKS["three 3×3 (the notes' 7×7)"], 32)
    field = analyze(net).layers["l2"].field
    top, bottom, left, right = input_window(field, (10, 10), (5, 5), (32, 32))
    assert (bottom - top, right - left) == (7, 7)
    assert input_window(field, (0, 0), (0, 0), (32, 32)) == (0, 4, 0, 4)  # clipped
    assert input_window(field, (10, 11), (5, 7), (32, 32)) == (7, 15, 2, 11)


def test_the_effective_field_lies_inside_the_window_and_leaves_the_model_as_it_was():
    from designer.training.probes import Prober

    side = 40
    net = network(STACKS["ResNet stem"], side)
    report = analyze(net)
    model = build_module(net, report)
    model.train()
    prober = Prober(model, net, report=report)
    image = torch.rand(1, side, side).numpy()
    before = [p.detach().clone() for p in model.parameters()]
    erf = prober.effective_field(image, "l2", (3, 4), (5, 5))
    assert erf.shape == (side, side) and erf.max() == 1.0 and erf.min() >= 0
    nz = erf.nonzero()
    box = (nz[0].min(), nz[0].max() + 1, nz[1].min(), nz[1].max() + 1)
    top, bottom, left, right = input_window(report.layers["l2"].field, (3, 4), (5, 5),
                                            (side, side))
    assert top <= box[0] and box[1] <= bottom and left <= box[2] and box[3] <= right
    assert model.training  # its mode as before
    assert all(p.grad is None for p in model.parameters())  # no parameter gradient left
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
