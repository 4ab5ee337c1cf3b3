"""The notes' own numbers, reproduced exactly by the analysis."""

import pytest

from designer.model import Network, analyze, fmt_shape
from designer.model.units import format_bytes


def stack(c, h, w, *layers):
    net = Network()
    prev = net.add("Input", {"channels": c, "height": h, "width": w})
    ids = [prev]
    for type_name, params in layers:
        prev = net.add(type_name, params, inputs=[prev])
        ids.append(prev)
    return net, ids


def test_5x5_filter_on_32x32x3_has_75_weights_and_1_bias():
    net, (_, conv) = stack(3, 32, 32, ("Conv2d", {"out_channels": 1, "kernel_size": 5}))
    assert analyze(net).layers[conv].params == 75 + 1
    net.set_params(conv, bias=False)
    assert analyze(net).layers[conv].params == 75


def test_3x3_neuron_on_16x16x20_has_180_connections():
    net, (_, conv) = stack(20, 16, 16,
                           ("Conv2d", {"out_channels": 1, "kernel_size": 3, "bias": False}))
    rep = analyze(net).layers[conv]
    assert rep.params == 180
    _, h, w = rep.shape
    assert rep.macs == 180 * h * w  # each output neuron: 3·3·20 multiply-adds


@pytest.mark.parametrize("c", [1, 16, 64])
def test_three_3x3_convs_have_27_c2_weights_vs_49_c2_for_one_7x7_same_field(c):
    conv3 = {"out_channels": c, "kernel_size": 3, "padding": 1, "bias": False}
    three, ids = stack(c, 56, 56, ("Conv2d", conv3), ("ReLU", {}), ("Conv2d", conv3),
                       ("ReLU", {}), ("Conv2d", conv3))
    one, ids7 = stack(c, 56, 56, ("Conv2d", {"out_channels": c, "kernel_size": 7, "padding": 3,
                                            "bias": False}))
    r3, r7 = analyze(three), analyze(one)
    assert r3.totals.params == 27 * c * c
    assert r7.totals.params == 49 * c * c
    assert r3.layers[ids[-1]].rf.size == (7, 7) == r7.layers[ids7[-1]].rf.size
    # the neuron on the second CONV sees 5×5
    assert r3.layers[ids[3]].rf.size == (5, 5)


def test_three_3x3x64_pad1_convs_on_224x224x3_memory():
    conv = {"out_channels": 64, "kernel_size": 3, "padding": 1}
    net, ids = stack(3, 224, 224, ("Conv2d", conv), ("ReLU", {}), ("Conv2d", conv),
                     ("ReLU", {}), ("Conv2d", conv), ("ReLU", {}))
    rep = analyze(net, batch=1, dtype="fp32")
    assert rep.totals.activations == 3 * 224 * 224 * 64 == 9_633_792
    both = rep.textbook.part("activations") + rep.textbook.part("activation gradients")
    assert both == 9_633_792 * 2 * 4
    assert format_bytes(both) == "73.5 MiB"
    for nid in ids[1:]:
        assert fmt_shape(rep.layers[nid].shape) == "224×224×64"


def test_cifar10_example_volumes():
    net, (inp, conv, relu, pool, fc) = stack(
        3, 32, 32, ("Conv2d", {"out_channels": 12, "kernel_size": 3, "padding": "same"}),
        ("ReLU", {}), ("MaxPool2d", {"kernel_size": 2, "stride": 2}),
        ("Linear", {"out_features": 10}))
    rep = analyze(net)
    assert [fmt_shape(rep.layers[n].shape) for n in (inp, conv, relu, pool, fc)] == [
        "32×32×3", "32×32×12", "32×32×12", "16×16×12", "1×1×10"]
    # 2×2/2 pooling discards 75% of the activations
    assert rep.layers[pool].activations == rep.layers[conv].activations // 4
    assert rep.ok and not rep.layers[pool].issues


def test_224_halved_five_times_is_7():
    layers = [("MaxPool2d", {"kernel_size": 2, "stride": 2})] * 5
    net, ids = stack(512, 224, 224, *layers)
    assert fmt_shape(analyze(net).layers[ids[-1]].shape) == "7×7×512"


@pytest.mark.parametrize("dtype,nbytes", [("fp32", 4), ("fp16", 2), ("bf16", 2), ("fp64", 8)])
def test_bytes_per_value_by_dtype(dtype, nbytes):
    net, _ = stack(3, 8, 8, ("Conv2d", {"out_channels": 4}))
    rep = analyze(net, dtype=dtype)
    assert rep.textbook.part("weights") == rep.totals.params * nbytes


@pytest.mark.parametrize("opt,factor", [("sgd", 2), ("momentum", 3), ("adagrad", 3),
                                        ("rmsprop", 3), ("adam", 4)])
def test_parameter_memory_is_weights_grads_and_optimizer_state(opt, factor):
    net, _ = stack(3, 8, 8, ("Conv2d", {"out_channels": 4}))
    rep = analyze(net, optimizer=opt)
    t = rep.textbook
    assert t.part("weights") + t.part("weight gradients") + t.part("optimizer state") == (
        factor * rep.totals.params * 4)
