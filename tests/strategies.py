"""Random networks for property tests: stacks with branches merged by Add and Concat, every
layer's parameters drawn from what the catalogue allows (hypothesis strategies, no torch)."""

from hypothesis import strategies as st

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
def networks(draw, valid_only: bool, loose: bool = False):
    """Random stacks with branches merged by Add and Concat; with `loose`, some merges take a
    layer no INPUT reaches (an orphan, maybe with a layer after it) and orphans float beside."""
    net = Network()
    prev = net.add("Input", {"channels": draw(SMALL), "height": draw(st.integers(4, 20)),
                             "width": draw(st.integers(4, 20))})

    def add_layer(src, pool):
        t = draw(st.sampled_from(pool))
        return net.add(t, layer_params(draw, t), inputs=[src] if src else [])

    def orphan():
        head = add_layer(None, VOLUME + ANY)
        return add_layer(head, ANY) if draw(st.booleans()) else head

    for _ in range(draw(st.integers(1, 6))):
        shape = analyze(net).layers[prev].shape
        if valid_only and shape is None:
            break
        flat = shape is not None and len(shape) == 1
        kind = draw(st.sampled_from(["layer", "layer", "branch"]))
        if kind == "branch" and not flat:
            a = add_layer(prev, VOLUME + ANY)
            b = orphan() if loose and draw(st.integers(0, 3)) == 0 else add_layer(
                prev, VOLUME + ANY)
            merge = draw(st.sampled_from(["Add", "Concat"]))
            prev = net.add(merge, inputs=[a, b] if draw(st.booleans()) else [b, a])
        else:
            pool = ANY + FLAT if flat else VOLUME + ANY + FLAT
            prev = add_layer(prev, pool)
    if loose:
        for _ in range(draw(st.integers(0, 2))):
            orphan()
    return net
