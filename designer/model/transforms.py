"""Edits that act on a whole design at once: block templates, FC→CONV, a new input size.

Block templates (GoogLeNet's Inception module, ResNet's basic and bottleneck blocks) add a
ready-made, wired and laid-out group of layers after a given node and return the id of the
block's output; the layers are grouped as a block (blocks.py) named by the prefix. They use only
the Network API, so a template is one more series of ordinary edits.

`fc_to_conv` is the notes' "Converting Fully-Connected Layers to Convolutional Layers": an FC layer
that looks at a W×H×D volume is the same function as a CONV layer with an F = W filter and no
padding, and every FC after it is a 1×1 CONV. The converted network slides over a larger image and
gives a map of class scores, as if the original had been evaluated at many positions at once.
The weights are carried over by designer/bridge/convert.py (it needs torch).

Pure Python: no Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .analysis import Report, analyze
from .layers import Shape
from .network import Network, NetworkError

# Canvas spacing of a template: one row per layer, branches side by side.
ROW = 100.0
COLUMN = 250.0

# Layers that leave the shape of what passes through them unchanged (FC→CONV walks through them).
_PASS_THROUGH = {"ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Dropout"}


# ---------------------------------------------------------------------------------------------
# Block templates


class _Block:
    """Adds the layers of one template; on any failure removes what it added (all or nothing)."""

    def __init__(self, net: Network, after: str, prefix: str):
        if after not in net:
            raise NetworkError(f"no layer named {after!r} to put the block after")
        self.net = net
        self.after = after
        self.prefix = prefix
        self.origin = net[after].pos or (0.0, 0.0)
        self.consumers = net.consumers(after)
        self.added: list[str] = []

    def check_ids(self, suffixes: list[str]) -> None:
        for suffix in suffixes:
            nid = f"{self.prefix}_{suffix}"
            if nid in self.net:
                raise NetworkError(f"there is already a layer named {nid!r}: choose another "
                                   f"prefix than {self.prefix!r}")
            if not nid.isidentifier():
                raise NetworkError(f"{nid!r} is not a valid layer name: choose another prefix "
                                   f"than {self.prefix!r}")

    def add(self, suffix: str, type_name: str, params: Mapping[str, Any] | None,
            inputs: tuple[str, ...], col: float, row: float) -> str:
        x0, y0 = self.origin
        nid = self.net.add(type_name, params, id=f"{self.prefix}_{suffix}", inputs=inputs,
                           pos=(x0 + col * COLUMN, y0 + row * ROW))
        self.added.append(nid)
        return nid

    def finish(self, out: str, kind: str) -> str:
        """Wire the layers that read `after` to the block's output instead (insert semantics)
        and group the new layers as a block of this kind."""
        for c in self.consumers:
            ins = self.net[c].inputs
            self.net.set_inputs(c, tuple(out if s == self.after else s for s in ins))
        block_id = self.prefix if self.prefix not in self.net.blocks else None
        if block_id is None or not block_id.isidentifier():
            block_id = self.net.unique_block_id(self.prefix)
        self.net.add_block(self.added, kind, self.prefix, id=block_id)
        return out

    def rollback(self) -> None:
        for nid in reversed(self.added):
            if nid in self.net:
                self.net.remove(nid, reconnect=False)


def _shape_of(net: Network, node_id: str) -> Shape:
    shape = analyze(net).layers[node_id].shape
    if shape is None:
        raise NetworkError(f"the output of {node_id} is unknown (an error at or before it): fix "
                           "it before adding a block after it")
    if len(shape) != 3:
        raise NetworkError(f"a block needs a W×H×D volume, but {node_id} gives a flat vector "
                           f"of {shape[0]} values")
    return shape


def _positive(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise NetworkError(f"{name} must be a whole number ≥ 1, got {v!r}")


def _conv(filters: int, k: int, stride: int = 1, bias: bool = True) -> dict[str, Any]:
    return {"out_channels": filters, "kernel_size": k, "stride": stride, "padding": k // 2,
            "bias": bias}


def inception_module(
    net: Network, after: str, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int,
    prefix: str = "inception",
) -> str:
    """GoogLeNet (v1) Inception module after `after`; returns the id of its Concat.

    Four branches, concatenated along depth in this order: 1×1 CONV (c1); 1×1 CONV (c3r) → 3×3
    CONV (c3); 1×1 CONV (c5r) → 5×5 CONV (c5); 3×3/1 max POOL (pad 1) → 1×1 CONV (pool_proj).
    Every CONV has a bias and is followed by a RELU; the output depth is c1 + c3 + c5 + pool_proj
    at the input's width and height. Ids are `{prefix}_1x1`, `{prefix}_3x3_reduce`, ... as in the
    original Caffe model.
    """
    _positive(c1=c1, c3r=c3r, c3=c3, c5r=c5r, c5=c5, pool_proj=pool_proj)
    b = _Block(net, after, prefix)
    b.check_ids(["1x1", "1x1_relu", "3x3_reduce", "3x3_reduce_relu", "3x3", "3x3_relu",
                 "5x5_reduce", "5x5_reduce_relu", "5x5", "5x5_relu", "pool", "pool_proj",
                 "pool_proj_relu", "output"])
    _shape_of(net, after)
    try:
        a = (after,)
        x1 = b.add("1x1", "Conv2d", _conv(c1, 1), a, -1.5, 1)
        x1 = b.add("1x1_relu", "ReLU", None, (x1,), -1.5, 2)
        x3 = b.add("3x3_reduce", "Conv2d", _conv(c3r, 1), a, -0.5, 1)
        x3 = b.add("3x3_reduce_relu", "ReLU", None, (x3,), -0.5, 2)
        x3 = b.add("3x3", "Conv2d", _conv(c3, 3), (x3,), -0.5, 3)
        x3 = b.add("3x3_relu", "ReLU", None, (x3,), -0.5, 4)
        x5 = b.add("5x5_reduce", "Conv2d", _conv(c5r, 1), a, 0.5, 1)
        x5 = b.add("5x5_reduce_relu", "ReLU", None, (x5,), 0.5, 2)
        x5 = b.add("5x5", "Conv2d", _conv(c5, 5), (x5,), 0.5, 3)
        x5 = b.add("5x5_relu", "ReLU", None, (x5,), 0.5, 4)
        xp = b.add("pool", "MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, a, 1.5, 1)
        xp = b.add("pool_proj", "Conv2d", _conv(pool_proj, 1), (xp,), 1.5, 2)
        xp = b.add("pool_proj_relu", "ReLU", None, (xp,), 1.5, 3)
        out = b.add("output", "Concat", None, (x1, x3, x5, xp), 0, 5)
        return b.finish(out, "inception")
    except BaseException:
        b.rollback()
        raise


def basic_block(net: Network, after: str, channels: int, stride: int = 1,
                prefix: str = "block") -> str:
    """ResNet basic block after `after`; returns the id of its final RELU.

    conv 3×3/stride (pad 1) → BN → RELU → conv 3×3 (pad 1) → BN, plus the shortcut, Add, RELU.
    The shortcut is the input itself, or — where the stride or the depth changes the shape —
    a 1×1 CONV with that stride and `channels` filters followed by BN (the projection, option B
    of He et al.). CONVs have no bias: the BN after each supplies the shift.
    """
    _positive(channels=channels, stride=stride)
    b = _Block(net, after, prefix)
    in_c = _shape_of(net, after)[0]
    project = stride != 1 or in_c != channels
    ids = ["conv1", "bn1", "relu1", "conv2", "bn2", "add", "relu2"]
    b.check_ids(ids + (["downsample_conv", "downsample_bn"] if project else []))
    try:
        x = b.add("conv1", "Conv2d", _conv(channels, 3, stride, bias=False), (after,), 0, 1)
        x = b.add("bn1", "BatchNorm2d", None, (x,), 0, 2)
        x = b.add("relu1", "ReLU", None, (x,), 0, 3)
        x = b.add("conv2", "Conv2d", _conv(channels, 3, bias=False), (x,), 0, 4)
        x = b.add("bn2", "BatchNorm2d", None, (x,), 0, 5)
        short = _shortcut(b, after, channels, stride, project)
        x = b.add("add", "Add", None, (x, short), 0, 6)
        return b.finish(b.add("relu2", "ReLU", None, (x,), 0, 7), "basic")
    except BaseException:
        b.rollback()
        raise


def bottleneck_block(net: Network, after: str, width: int, stride: int = 1,
                     prefix: str = "block", expansion: int = 4) -> str:
    """ResNet bottleneck block after `after`; returns the id of its final RELU.

    1×1 CONV (width) → BN → RELU → 3×3 CONV (width, the stride here as in torchvision's
    ResNet v1.5) → BN → RELU → 1×1 CONV (width·expansion) → BN, plus the shortcut (identity, or
    a 1×1 CONV/stride + BN projection where the shape changes), Add, RELU. CONVs have no bias.
    """
    _positive(width=width, stride=stride, expansion=expansion)
    b = _Block(net, after, prefix)
    in_c = _shape_of(net, after)[0]
    out_c = width * expansion
    project = stride != 1 or in_c != out_c
    ids = ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "add", "relu3"]
    b.check_ids(ids + (["downsample_conv", "downsample_bn"] if project else []))
    try:
        x = b.add("conv1", "Conv2d", _conv(width, 1, bias=False), (after,), 0, 1)
        x = b.add("bn1", "BatchNorm2d", None, (x,), 0, 2)
        x = b.add("relu1", "ReLU", None, (x,), 0, 3)
        x = b.add("conv2", "Conv2d", _conv(width, 3, stride, bias=False), (x,), 0, 4)
        x = b.add("bn2", "BatchNorm2d", None, (x,), 0, 5)
        x = b.add("relu2", "ReLU", None, (x,), 0, 6)
        x = b.add("conv3", "Conv2d", _conv(out_c, 1, bias=False), (x,), 0, 7)
        x = b.add("bn3", "BatchNorm2d", None, (x,), 0, 8)
        short = _shortcut(b, after, out_c, stride, project)
        x = b.add("add", "Add", None, (x, short), 0, 9)
        return b.finish(b.add("relu3", "ReLU", None, (x,), 0, 10), "bottleneck")
    except BaseException:
        b.rollback()
        raise


def _shortcut(b: _Block, after: str, channels: int, stride: int, project: bool) -> str:
    if not project:
        return after
    x = b.add("downsample_conv", "Conv2d",
              {"out_channels": channels, "kernel_size": 1, "stride": stride, "padding": 0,
               "bias": False}, (after,), 1, 1)
    return b.add("downsample_bn", "BatchNorm2d", None, (x,), 1, 2)


# ---------------------------------------------------------------------------------------------
# Whole-network transforms


def with_input_size(net: Network, height: int, width: int | None = None) -> Network:
    """A copy of the network whose INPUT is height × width (width defaults to height)."""
    width = height if width is None else width
    inputs = [nid for nid, n in net.nodes.items() if n.type == "Input"]
    if not inputs:
        raise ValueError("the network has no INPUT layer to resize")
    out = net.copy()
    for nid in inputs:
        out.set_params(nid, height=height, width=width)
    return out


def fc_to_conv(net: Network) -> Network:
    """A copy of the network in which every FC layer is a CONV layer computing the same function.

    An FC layer that sees a W×H×D volume (directly, or through a Flatten, which is removed)
    becomes a CONV with F = W filter, stride 1, no padding and out_features filters; an FC that
    sees the output of an earlier FC (through RELUs, Dropouts, ...) becomes a 1×1 CONV. Layers in
    between stay. Layer ids, labels and positions are kept, so designer.bridge.convert can carry
    the weights over. Raises ValueError where a volume is not square, or where an FC's input is a
    flat vector that no FC made (nothing to slide over).
    """
    converted, removed = fc_to_conv_plan(net)
    nodes = net.nodes
    out = Network(f"{net.name} (fully convolutional)", net.description)
    for nid, node in nodes.items():
        if nid in removed:
            continue
        if nid in converted:
            out.add("Conv2d", converted[nid], id=nid, label=node.label, pos=node.pos,
                    frozen=node.frozen)
        else:
            out.add(node.type, node.params, id=nid, label=node.label, pos=node.pos,
                    frozen=node.frozen)

    def source(s: str) -> str:
        while s in removed:
            s = removed[s]
        return s

    for nid, node in nodes.items():
        if nid not in removed and node.inputs:
            # the wires of a DAG with some nodes bypassed: no cycle can appear, and checking
            # each wire would walk the network once per layer (minutes for 8,000 layers)
            out.set_inputs(nid, tuple(source(s) for s in node.inputs), check_cycles=False)
    for block in net.blocks.values():  # the blocks stay, less the Flattens that went
        members = [m for m in block.members if m not in removed]
        if members:
            try:
                out.add_block(members, block.kind, block.name, id=block.id,
                              collapsed=block.collapsed)
            except NetworkError:  # (what is left is another block's layers: it goes)
                pass
    return out


def fc_to_conv_plan(net: Network, report: Report | None = None
                    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """What fc_to_conv would do, without doing it: ({FC id: its CONV's parameters},
    {removed Flatten id: the id of its input}). Raises ValueError as fc_to_conv does. `report`:
    the network's analysis, where the caller has one."""
    if report is None:
        report = analyze(net)
    if not report.ok:
        problems = [f"{nid}: {i.message}" for nid in report.order
                    for i in report.layers[nid].errors]
        problems += [i.message for _, i in report.issues if i.severity == "error"]
        raise ValueError(f"fix the design's errors first ({problems[0]})")
    nodes = net.nodes
    linears = [nid for nid in report.order if nodes[nid].type == "Linear"]
    if not linears:
        raise ValueError("the network has no FC (Linear) layer to convert")
    converted: dict[str, dict[str, Any]] = {}
    removed: dict[str, str] = {}  # Flatten id -> the id of its input
    for nid in linears:
        node = nodes[nid]
        if not node.inputs:
            raise ValueError(f"{nid}: the FC layer is not connected: wire its input first")
        src = node.inputs[0]
        path = []
        while (nodes[src].type in _PASS_THROUGH and len(report.layers[src].shape or ()) == 1
               and nodes[src].inputs):
            path.append(src)
            src = nodes[src].inputs[0]
        kind = nodes[src].type
        shape = report.layers[src].shape
        if kind == "Flatten":
            if not nodes[src].inputs:
                raise ValueError(f"{src}: the Flatten is not connected: wire its input first")
            removed[src] = nodes[src].inputs[0]
            shape = report.layers[nodes[src].inputs[0]].shape
        if shape is not None and len(shape) == 3:
            c, h, w = shape
            if h != w:
                raise ValueError(
                    f"{nid}: the FC layer looks at a {w}×{h}×{c} volume, which is not square; "
                    f"a CONV layer with one F×F filter cannot stand in for it (make the volume "
                    f"square first)")
            k = h
        elif kind == "Linear":
            k = 1
        else:
            raise ValueError(f"{nid}: the FC layer's input is a flat vector made by {src} "
                             f"({kind}), not a W×H×D volume or another FC layer: there is "
                             "nothing to slide a filter over")
        converted[nid] = {"out_channels": node.params["out_features"], "kernel_size": k,
                          "stride": 1, "padding": 0, "bias": node.params["bias"]}
    for fid in removed:
        for c in net.consumers(fid):
            if c not in converted and nodes[c].type not in _PASS_THROUGH:
                raise ValueError(f"{fid}: the Flatten also feeds {c} ({nodes[c].type}), which "
                                 "needs a flat vector; it cannot be removed")

    return converted, removed
