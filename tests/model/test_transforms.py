"""Block templates (Inception, ResNet basic and bottleneck), FC→CONV and a new input size.

The templates must give the published shapes and parameter counts; FC→CONV must compute the same
scores as the original at its input size (weights carried over by designer.bridge.convert) and, on
a larger image, the score map the notes describe, of the size the analysis predicts.
"""

from __future__ import annotations

import pytest
import torch

from designer.bridge.convert import convert_fc_weights
from designer.bridge.module import build_module
from designer.model.analysis import analyze
from designer.model.network import Network, NetworkError
from designer.model.transforms import (
    basic_block,
    bottleneck_block,
    fc_to_conv,
    inception_module,
    with_input_size,
)


def _stem(c: int, h: int, w: int | None = None) -> Network:
    net = Network("test")
    net.add("Input", {"channels": c, "height": h, "width": w or h}, id="input", pos=(0, 0))
    return net


def _shapes_match_torch(net: Network, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's torch output has the analysed shape; returns the traced outputs."""
    report = analyze(net)
    assert report.ok
    module = build_module(net).eval()
    with torch.no_grad():
        out = module.trace(x)
    assert set(out) == set(net.nodes)
    for nid, t in out.items():
        assert tuple(t.shape[1:]) == report.layers[nid].shape, nid
    return out


def _conv_params(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


# ---------------------------------------------------------------------------------------------
# Inception


def test_inception_3a_gives_28x28x256_with_the_published_parameters():
    net = _stem(192, 28)
    out = inception_module(net, "input", 64, 96, 128, 16, 32, 32, prefix="inception_3a")
    report = analyze(net)
    assert report.ok and out == "inception_3a_output"
    assert report.layers[out].shape == (256, 28, 28)  # 64 + 128 + 32 + 32 deep
    assert report.totals.params == (
        _conv_params(192, 64, 1, True)
        + _conv_params(192, 96, 1, True) + _conv_params(96, 128, 3, True)
        + _conv_params(192, 16, 1, True) + _conv_params(16, 32, 5, True)
        + _conv_params(192, 32, 1, True)
    ) == 163_696
    # every CONV is followed by a RELU; the Concat takes the four branches in the paper's order
    for nid, node in net.nodes.items():
        if node.type == "Conv2d":
            assert [net.nodes[c].type for c in net.consumers(nid)] == ["ReLU"], nid
    assert net.nodes[out].inputs == ("inception_3a_1x1_relu", "inception_3a_3x3_relu",
                                     "inception_3a_5x5_relu", "inception_3a_pool_proj_relu")
    assert net.nodes["inception_3a_5x5"].params["kernel_size"] == 5
    assert net.nodes["inception_3a_pool"].params == {
        "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1, "ceil_mode": False}


def test_inception_layout_puts_branches_side_by_side_and_the_concat_below():
    net = _stem(192, 28)
    net.move("input", (40, 300))
    out = inception_module(net, "input", 64, 96, 128, 16, 32, 32, prefix="i")
    heads = ["i_1x1", "i_3x3_reduce", "i_5x5_reduce", "i_pool"]
    xs = [net.nodes[h].pos[0] for h in heads]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert {net.nodes[h].pos[1] for h in heads} == {400.0}
    assert net.nodes[out].pos[0] == 40.0
    assert net.nodes[out].pos[1] > max(n.pos[1] for n in net.nodes.values() if n.id != out)


def test_inception_concat_stacks_the_branches_in_order():
    torch.manual_seed(0)
    net = _stem(8, 9)
    out = inception_module(net, "input", 2, 3, 4, 2, 3, 5, prefix="m")
    values = _shapes_match_torch(net, torch.randn(2, 8, 9, 9))
    cat = values[out]
    assert cat.shape == (2, 14, 9, 9)
    parts = [values[f"m_{b}_relu"] for b in ("1x1", "3x3", "5x5", "pool_proj")]
    assert torch.equal(cat, torch.cat(parts, 1))


# ---------------------------------------------------------------------------------------------
# ResNet blocks


def test_basic_block_with_identity_shortcut():
    net = _stem(64, 56)
    out = basic_block(net, "input", 64, 1, prefix="layer1_0")
    report = analyze(net)
    assert report.ok and out == "layer1_0_relu2"
    assert report.layers[out].shape == (64, 56, 56)
    # two bias-free 3×3 CONVs and two BatchNorms (scale and shift), as torchvision's layer1.0
    assert report.totals.params == 2 * 64 * 64 * 9 + 2 * 2 * 64 == 73_984
    assert net.nodes["layer1_0_add"].inputs == ("layer1_0_bn2", "input")
    assert not any("downsample" in nid for nid in net.nodes)
    assert all(not n.params["bias"] for n in net.nodes.values() if n.type == "Conv2d")


def test_basic_block_projects_the_shortcut_when_the_shape_changes():
    net = _stem(64, 56)
    out = basic_block(net, "input", 128, 2, prefix="layer2_0")
    report = analyze(net)
    assert report.ok
    assert report.layers[out].shape == (128, 28, 28)
    assert net.nodes["layer2_0_add"].inputs == ("layer2_0_bn2", "layer2_0_downsample_bn")
    ds = net.nodes["layer2_0_downsample_conv"].params
    assert (ds["kernel_size"], ds["stride"], ds["padding"], ds["bias"]) == (1, 2, 0, False)
    # torchvision's resnet18 layer2.0: 73,728 + 147,456 + 8,192 weights, 3 BNs of 2·128
    assert report.totals.params == 230_144
    # the shortcut sits beside the main path
    assert net.nodes["layer2_0_downsample_conv"].pos[0] > net.nodes["layer2_0_conv1"].pos[0]


def test_basic_block_projects_when_only_the_depth_changes():
    net = _stem(16, 8)
    basic_block(net, "input", 32, 1, prefix="b")
    assert "b_downsample_conv" in net.nodes
    assert analyze(net).layers["b_relu2"].shape == (32, 8, 8)


def test_bottleneck_block_matches_torchvision_layer_counts_and_puts_the_stride_on_the_3x3():
    net = _stem(64, 56)
    a = bottleneck_block(net, "input", 64, 1, prefix="layer1_0")  # 64 -> 256: projection
    b = bottleneck_block(net, a, 64, 1, prefix="layer1_1")  # 256 -> 256: identity
    c = bottleneck_block(net, b, 128, 2, prefix="layer2_0")
    report = analyze(net)
    assert report.ok
    assert report.layers[a].shape == (256, 56, 56)
    assert report.layers[c].shape == (512, 28, 28)
    params = {p: sum(r.params for nid, r in report.layers.items() if nid.startswith(p))
              for p in ("layer1_0", "layer1_1", "layer2_0")}
    # torchvision resnet50: layer1[0], layer1[1], layer2[0]
    assert params == {"layer1_0": 75_008, "layer1_1": 70_400, "layer2_0": 379_392}
    assert net.nodes["layer1_1_add"].inputs == ("layer1_1_bn3", a)
    assert net.nodes["layer2_0_conv1"].params["stride"] == 1
    assert net.nodes["layer2_0_conv2"].params["stride"] == 2
    assert net.nodes["layer2_0_downsample_conv"].params["stride"] == 2


def test_blocks_build_and_run_with_the_analysed_shapes():
    torch.manual_seed(0)
    net = _stem(3, 16)
    x = basic_block(net, "input", 8, 2, prefix="a")
    x = basic_block(net, x, 8, 1, prefix="b")
    x = bottleneck_block(net, x, 4, 2, prefix="c", expansion=2)
    inception_module(net, x, 2, 2, 3, 1, 2, 2, prefix="d")
    _shapes_match_torch(net, torch.randn(2, 3, 16, 16))


def test_a_block_inserted_inside_a_stack_takes_over_the_wire():
    net = _stem(16, 8)
    net.add("ReLU", id="relu", inputs=("input",), pos=(0, 100))
    net.add("Flatten", id="flatten", inputs=("relu",), pos=(0, 200))
    out = basic_block(net, "relu", 16, 1, prefix="b")
    assert net.nodes["flatten"].inputs == (out,)
    assert analyze(net).ok


def test_a_refused_block_leaves_the_network_unchanged():
    net = _stem(16, 8)
    net.add("ReLU", id="b_add", inputs=("input",))
    net.add("Flatten", id="flat", inputs=("input",))
    before = dict(net.nodes)
    with pytest.raises(NetworkError, match="b_add"):
        basic_block(net, "input", 16, 1, prefix="b")
    with pytest.raises(NetworkError, match="flat vector"):
        basic_block(net, "flat", 16, 1, prefix="c")
    with pytest.raises(NetworkError, match="no layer named"):
        inception_module(net, "nowhere", 1, 1, 1, 1, 1, 1, prefix="d")
    with pytest.raises(NetworkError, match="channels"):
        basic_block(net, "input", 0, 1, prefix="e")
    with pytest.raises(NetworkError, match="inception_3x3: out_channels"):
        # fails at the fifth layer: the four added before it are taken out again
        inception_module(net, "input", 1, 1, 70_000, 1, 1, 1)
    assert net.nodes == before


# ---------------------------------------------------------------------------------------------
# FC -> CONV


def _small_cifar_net(valid: bool = True) -> Network:
    """32×32×3 -> CONV 5×5 -> BN -> RELU -> POOL -> CONV 3×3 -> RELU -> POOL -> 6×6×8 ->
    Flatten -> Dropout -> FC 24 -> RELU -> Dropout -> FC 10. No padding (valid), so every crop of
    a larger image sees exactly what the small network sees."""
    net = _stem(3, 32)
    pad = 0 if valid else "same"
    layers = [
        ("conv1", "Conv2d", {"out_channels": 6, "kernel_size": 5, "padding": pad}),
        ("bn1", "BatchNorm2d", {}),
        ("relu1", "ReLU", {}),
        ("pool1", "MaxPool2d", {"kernel_size": 2, "stride": 2}),
        ("conv2", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": pad}),
        ("relu2", "ReLU", {}),
        ("pool2", "MaxPool2d", {"kernel_size": 2, "stride": 2}),
        ("flatten", "Flatten", {}),
        ("drop1", "Dropout", {}),
        ("fc1", "Linear", {"out_features": 24}),
        ("relu3", "ReLU", {}),
        ("drop2", "Dropout", {}),
        ("fc2", "Linear", {"out_features": 10}),
    ]
    prev = "input"
    for i, (nid, kind, params) in enumerate(layers, 1):
        prev = net.add(kind, params, id=nid, inputs=(prev,), pos=(0, 100 * i))
    return net


def _trained_pair(net: Network):
    torch.manual_seed(1)
    original = build_module(net).eval()
    with torch.no_grad():  # running statistics that are not the defaults, so buffers must travel
        bn = next(m for m in original.modules() if isinstance(m, torch.nn.BatchNorm2d))
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    conv_net = fc_to_conv(net)
    converted = convert_fc_weights(original, build_module(conv_net)).eval()
    return conv_net, original, converted


def test_fc_to_conv_rewrites_the_layers_and_keeps_the_parameter_count():
    net = _small_cifar_net()
    conv_net = fc_to_conv(net)
    assert "flatten" not in conv_net.nodes and "flatten" in net.nodes  # a copy
    assert net.nodes["fc1"].type == "Linear"
    fc1, fc2 = conv_net.nodes["fc1"], conv_net.nodes["fc2"]
    assert fc1.type == fc2.type == "Conv2d"
    p1, p2 = fc1.params, fc2.params
    assert (p1["kernel_size"], p1["out_channels"], p1["padding"]) == (6, 24, 0)
    assert (p2["kernel_size"], p2["out_channels"]) == (1, 10)
    drop = conv_net.nodes["drop1"]
    assert drop.type == "Dropout" and drop.inputs == ("pool2",)
    assert conv_net.nodes["fc1"].pos == net.nodes["fc1"].pos
    a, b = analyze(net), analyze(conv_net)
    assert b.ok and b.totals.params == a.totals.params
    assert b.layers["fc2"].shape == (10, 1, 1)


def test_converted_network_gives_the_same_scores_at_the_original_size():
    conv_net, original, converted = _trained_pair(_small_cifar_net())
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        want = original(x)
        got = converted(x)
    assert got.shape == (4, 10, 1, 1)
    torch.testing.assert_close(got.flatten(1), want, atol=1e-5, rtol=0)


def test_on_a_larger_image_the_converted_network_slides_the_original_over_it():
    conv_net, original, converted = _trained_pair(_small_cifar_net())
    big = with_input_size(conv_net, 48, 48)
    report = analyze(big)
    assert report.ok
    # 48 -> conv 44 -> pool 22 -> conv 20 -> pool 10 -> 6×6 filter: 5×5 positions, 4 px apart
    assert report.layers["fc2"].shape == (10, 5, 5)
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        scores = converted(x)
        assert tuple(scores.shape[1:]) == report.layers[report.output].shape
        jump = report.layers["pool2"].rf.jump[0]
        assert jump == 4
        for i, j in ((0, 0), (2, 3), (4, 4)):
            crop = x[:, :, jump * i:jump * i + 32, jump * j:jump * j + 32]
            torch.testing.assert_close(scores[:, :, i, j], original(crop), atol=1e-5, rtol=0)
    _shapes_match_torch(big, torch.randn(1, 3, 48, 48))


def test_fc_reading_a_volume_directly_and_padded_convs_convert_too():
    net = _small_cifar_net(valid=False)
    net.remove("flatten")  # fc1 now reads the 8×8×8 volume itself (PyTorch flattens it)
    conv_net, original, converted = _trained_pair(net)
    assert conv_net.nodes["fc1"].params["kernel_size"] == 8
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(converted(x).flatten(1), original(x), atol=1e-5, rtol=0)


def _notes_network() -> Network:
    """The notes' example: 224×224×3 reduced by five 2×2 POOLs to 7×7×512, then FC 4096, FC 4096,
    FC 1000 (AlexNet-like)."""
    net = _stem(3, 224)
    prev, depth = "input", 64
    for i in range(1, 6):
        prev = net.add("Conv2d", {"out_channels": min(depth, 512), "kernel_size": 3,
                                  "padding": 1}, id=f"conv{i}", inputs=(prev,))
        prev = net.add("ReLU", id=f"relu{i}", inputs=(prev,))
        prev = net.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id=f"pool{i}", inputs=(prev,))
        depth *= 2
    prev = net.add("Flatten", id="flatten", inputs=(prev,))
    for i, n in ((6, 4096), (7, 4096), (8, 1000)):
        prev = net.add("Linear", {"out_features": n}, id=f"fc{i}", inputs=(prev,))
        if i < 8:
            prev = net.add("ReLU", id=f"relu{i}", inputs=(prev,))
            prev = net.add("Dropout", id=f"drop{i}", inputs=(prev,))
    return net


def test_notes_example_224_to_384_gives_a_6x6_score_map():
    net = _notes_network()
    report = analyze(net)
    assert report.layers["pool5"].shape == (512, 7, 7)
    conv_net = fc_to_conv(net)
    fc6 = conv_net.nodes["fc6"].params
    assert (fc6["kernel_size"], fc6["out_channels"]) == (7, 4096)
    assert conv_net.nodes["fc7"].params["kernel_size"] == 1
    assert analyze(conv_net).totals.params == report.totals.params
    big = with_input_size(conv_net, 384, 384)
    big_report = analyze(big)
    assert big_report.ok
    assert big_report.layers["pool5"].shape == (512, 12, 12)
    assert big_report.layers["fc8"].shape == (1000, 6, 6)  # the notes' 6×6 array of scores
    assert big_report.layers["fc6"].rf.jump == (32, 32)  # evaluated every 32 pixels
    with torch.device("meta"):
        module = build_module(big)
        values = module.trace(torch.empty(1, 3, 384, 384))
    for nid, t in values.items():
        assert tuple(t.shape[1:]) == big_report.layers[nid].shape, nid


def test_fc_to_conv_refuses_a_non_square_volume_and_a_flat_input():
    net = _stem(3, 32, 24)
    net.add("Conv2d", {"out_channels": 4}, id="conv", inputs=("input",))
    net.add("Flatten", id="flatten", inputs=("conv",))
    net.add("Linear", {"out_features": 10}, id="fc", inputs=("flatten",))
    with pytest.raises(ValueError, match=r"fc: .*22×30×4 volume, which is not square"):
        fc_to_conv(net)

    net = _stem(3, 8)
    net.add("Flatten", id="f1", inputs=("input",))
    net.add("Flatten", id="f2", inputs=("input",))
    net.add("Concat", id="cat", inputs=("f1", "f2"))
    net.add("Linear", {"out_features": 10}, id="fc", inputs=("cat",))
    with pytest.raises(ValueError, match="nothing to slide"):
        fc_to_conv(net)

    with pytest.raises(ValueError, match="no FC"):
        fc_to_conv(_stem(3, 8))


def test_with_input_size_returns_a_resized_copy():
    net = _small_cifar_net()
    big = with_input_size(net, 64, 48)
    assert analyze(big).layers["input"].shape == (3, 64, 48)
    assert analyze(net).layers["input"].shape == (3, 32, 32)
    assert analyze(with_input_size(net, 40)).layers["input"].shape == (3, 40, 40)
