"""analyze(network, ...) -> Report: every number the readouts show, computed in one pass.

Per layer: output volume, parameters (trainable and buffers), MACs, activations, receptive field,
issues with fixes. Totals. Memory for training two ways: the notes' textbook count ("Computational
Considerations": activations + their gradients, parameters × (weight, gradient, optimizer state),
the data batch) and an estimate of the highest point PyTorch really reaches in a step (peak.py:
the tensors autograd saves, gradients in flight, scratch space, weights and optimizer state,
walked through the step in time). Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .layers import Issue, Shape, numel
from .network import Network, Node
from .peak import walk

DTYPE_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "fp64": 8}

# Values of optimizer state per parameter: the notes' "step cache" for momentum, Adagrad,
# RMSProp; Adam keeps two moments.
OPTIMIZER_STATE: dict[str, int] = {
    "sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2,
}


@dataclass(frozen=True, slots=True)
class ReceptiveField:
    """Per axis (height, width): field size in input pixels, jump (stride product), centre of
    the first output's field (input pixel centres are at 0.5, 1.5, ...)."""

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]


class LayerReport(NamedTuple):
    """One layer's readouts (a named tuple: made ~500 times per analysis, so it must be cheap)."""

    id: str
    type: str
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    shape: Shape | None  # None: unknown (an error here or upstream)
    params: int  # trainable
    buffers: int  # non-trainable (BatchNorm running statistics)
    macs: int
    activations: int  # values in the output volume, per sample
    field: tuple | None  # receptive field (size h, size w, jump h, jump w, start h, start w)
    issues: tuple[Issue, ...]
    in_place: bool  # elementwise: counted with the volume it acts on, as the notes do for RELU
    saved: tuple  # what PyTorch keeps for backward (the catalogue's `saved` rule)

    @property
    def rf(self) -> ReceptiveField | None:
        f = self.field
        return None if f is None else ReceptiveField((f[0], f[1]), (f[2], f[3]), (f[4], f[5]))

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")


@dataclass(frozen=True, slots=True)
class Totals:
    params: int
    buffers: int
    macs: int
    activations: int  # per sample, the notes' way: each layer's output, RELU counted in place
    input_values: int  # per sample
    layers: int
    errors: int
    warnings: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def forward_values(self) -> int:
        """Input plus activations per image: the notes' 'total memory' of a forward pass."""
        return self.input_values + self.activations


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Bytes for one training step at `batch`, split into named parts."""

    batch: int
    parts: tuple[tuple[str, int], ...]
    per_sample: int  # bytes that grow with the batch
    fixed: int  # bytes that do not
    budget: int | None
    max_batch: int | None  # the largest batch that fits the budget (0: not even one)

    @property
    def total(self) -> int:
        return sum(b for _, b in self.parts)

    @property
    def fits(self) -> bool | None:
        return None if self.budget is None else self.total <= self.budget

    def part(self, name: str) -> int:
        return dict(self.parts).get(name, 0)


@dataclass(frozen=True, slots=True)
class Report:
    order: tuple[str, ...]
    layers: Mapping[str, LayerReport]
    issues: tuple[tuple[str | None, Issue], ...]  # (layer id or None for the network, issue)
    totals: Totals
    textbook: MemoryEstimate
    output: str | None  # the layer whose output is the network's output
    batch: int
    dtype: str
    optimizer: str
    device: str
    _peak: _Peak = field(repr=False, compare=False)

    @property
    def pytorch(self) -> MemoryEstimate:
        """The highest point PyTorch reaches in one training step (peak.py), by part."""
        return self._peak.get()[0]

    @property
    def held(self) -> tuple[tuple[str, int], ...]:
        """What stays allocated between the phases of a step (the tensors autograd saves,
        weights, gradients, optimizer state, data): the parts a CPU step's tensors are checked
        against."""
        return self._peak.get()[1]

    @property
    def ok(self) -> bool:
        return self.totals.errors == 0

    def first_error(self) -> str | None:
        """The first error in the design's order, as 'layer: message' (None when there is none):
        what building or training a design with errors reports."""
        for nid in self.order:
            for issue in self.layers[nid].issues:
                if issue.severity == "error":
                    return f"{nid}: {issue.message}"
        for _, issue in self.issues:
            if issue.severity == "error":
                return issue.message
        return None

    def volume_bytes(self, layer_id: str) -> int:
        """Bytes of a layer's output volume for the whole batch, in the report's dtype."""
        return self.layers[layer_id].activations * self.batch * DTYPE_BYTES[self.dtype]


def analyze(
    network: Network,
    batch: int = 1,
    dtype: str = "fp32",
    optimizer: str = "sgd",
    budget: int | None = None,
    device: str = "cuda",
) -> Report:
    """Analyse a design. Never raises for a bad design: problems become issues in the report.

    `dtype` is the precision of training: fp32 / fp64 for every tensor, fp16 / bf16 for mixed
    precision (the textbook count puts every value in that type; the PyTorch estimate models
    autocast, as the Trainer runs it). `device` ("cuda" or "cpu") changes what the PyTorch
    estimate counts: cuDNN's scratch space and Dropout's one-byte mask on CUDA."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPE_BYTES)})")
    if device not in ("cuda", "cpu"):
        raise ValueError(f"unknown device {device!r} (known: cuda, cpu)")
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"unknown optimizer {optimizer!r} (known: {', '.join(OPTIMIZER_STATE)})")
    batch = max(int(batch), 1)
    nodes = network.nodes
    order = network.topological_order()
    layers = _layers(network, order)
    net_issues: list[tuple[str | None, Issue]] = []
    consumers: dict[str, int] = {}
    for n in nodes.values():
        for s in n.inputs:
            consumers[s] = consumers.get(s, 0) + 1
    if not any(nodes[nid].type == "Input" for nid in order):
        net_issues.append((None, Issue("error", "the network has no INPUT layer: add one")))

    params = buffers = macs = acts = input_values = n_err = n_warn = 0
    for rep in layers.values():
        if rep.shape is not None:
            params += rep.params
            buffers += rep.buffers
            macs += rep.macs
            if rep.type == "Input":
                if not input_values:
                    input_values = rep.activations
            elif not rep.in_place:
                acts += rep.activations
        for i in rep.issues:
            if i.severity == "error":
                n_err += 1
            elif i.severity == "warning":
                n_warn += 1

    sinks = [nid for nid in order if consumers.get(nid, 0) == 0 and layers[nid].shape is not None
             and nodes[nid].type != "Input"]
    output = sinks[-1] if sinks else None
    if len(sinks) > 1:
        net_issues.append((None, Issue(
            "warning",
            f"the network has {len(sinks)} outputs ({', '.join(sinks)}); {output} is taken as the "
            "output and the others are computed for nothing",
        )))
        n_warn += 1
    n_err += sum(1 for _, i in net_issues if i.severity == "error")

    totals = Totals(params, buffers, macs, acts, input_values, len(order), n_err, n_warn)
    value = DTYPE_BYTES[dtype]
    state = OPTIMIZER_STATE[optimizer]
    textbook = _estimate(
        batch, budget,
        per_sample=(("activations", acts * value), ("activation gradients", acts * value),
                    ("data batch", input_values * value)),
        fixed=(("weights", params * value), ("weight gradients", params * value),
               ("optimizer state", state * params * value), ("buffers", buffers * value)),
    )
    # The PyTorch estimate walks the step in time: made when first asked for, from what this
    # analysis saw (the network may be edited in place afterwards)
    peak = _Peak((dict(nodes), order, layers, consumers, output,
                  inplace_activations(network, consumers), dtype, optimizer, device, state,
                  batch, budget))
    return Report(order, layers, tuple(net_issues), totals, textbook, output, batch, dtype,
                  optimizer, device, peak)


# (type, input shapes, parameter values) -> what the catalogue computes for such a layer. Shared
# by every analysis: repeated blocks (ResNet stages) and unchanged layers cost a lookup.
_MEMO: dict[tuple, tuple] = {}
_NOT_CONNECTED = (Issue("warning", "not connected: wire a layer's output into it"),)


def _evaluate(node: Node, in_shapes: tuple[Shape, ...]) -> tuple:
    """(shape, issues, params, buffers, macs, values, step, saved) of one layer, memoised."""
    params = node.params
    key = (node.type, in_shapes, *params.values())
    hit = _MEMO.get(key)
    if hit is None:
        layer = node.layer
        shape, issues = layer.shape(params, in_shapes)
        if shape is None:
            hit = (None, tuple(issues), 0, 0, 0, 0, None, ())
        else:
            count = layer.count(params, in_shapes, shape)
            hit = (shape, tuple(issues), count[0], count[1], layer.macs(params, in_shapes, shape),
                   numel(shape), layer.step(params, in_shapes),
                   layer.saved(params, in_shapes, shape))
        if len(_MEMO) > 200_000:
            _MEMO.clear()
        _MEMO[key] = hit
    return hit


def _layers(network: Network, order: tuple[str, ...]) -> dict[str, LayerReport]:
    """Per-layer reports. A layer whose node and input reports are the very objects of the last
    analysis of this network keeps its report, so an edit re-analyses only what it changed."""
    nodes = network.nodes
    cache = network._reports
    layers: dict[str, LayerReport] = {}
    first_input = None
    for nid in order:
        node = nodes[nid]
        ins = node.inputs
        kind = node.type
        if kind == "Input":
            prev = (first_input,)  # the first INPUT is the network's; others are errors
            if first_input is None:
                first_input = nid
        elif len(ins) == 1:
            prev = (layers[ins[0]],)
        else:
            prev = tuple([layers[s] for s in ins])
        hit = cache.get(nid)
        # a moved or relabelled layer keeps its params object, so it keeps its report too
        if (hit is not None and hit[0] is node.params and hit[1] == prev
                and hit[3] == kind and hit[2].inputs == ins):
            layers[nid] = hit[2]
            continue
        layer = node.layer
        rep = None
        issues = ()
        if kind == "Input":
            if first_input == nid:
                shape = (node.params["channels"], node.params["height"], node.params["width"])
                rep = LayerReport(nid, "Input", (), (), shape, 0, 0, 0, numel(shape),
                                  (1, 1, 1, 1, 0.5, 0.5), (), False, ())
            else:
                issues = (Issue("error", f"a network has one INPUT layer; {first_input} is the "
                                         "first"),)
        elif len(ins) < layer.min_inputs:
            issues = _NOT_CONNECTED if not ins else (Issue(
                "error", f"{layer.name} needs at least {layer.min_inputs} inputs, it has "
                         f"{len(ins)}"),)
        else:
            in_shapes = tuple([p.shape for p in prev])
            if None not in in_shapes:
                shape, issues, n_p, n_b, n_macs, n_values, step, saved = _evaluate(node, in_shapes)
                if shape is not None:
                    rep = LayerReport(nid, kind, ins, in_shapes, shape, n_p, n_b, n_macs,
                                      n_values, _field(prev, step), issues, layer.elementwise,
                                      saved)
        if rep is None:
            rep = LayerReport(nid, kind, ins, (), None, 0, 0, 0, 0, None, issues,
                              layer.elementwise, ())
        layers[nid] = rep
        cache[nid] = (node.params, prev, rep, kind)
    if len(cache) > len(layers):
        for nid in [k for k in cache if k not in layers]:
            del cache[nid]
    return layers


def _field(prev: tuple[LayerReport, ...], step) -> tuple:
    """Receptive field after a layer: r ← r + (k−1)·j, start ← start + ((k−1)/2 − p)·j,
    j ← j·s, per axis; merges take the widest field among their inputs."""
    rf = prev[0].field
    if len(prev) > 1:
        for p in prev[1:]:
            f = p.field
            if (f[0] * f[1], f[2] * f[3]) > (rf[0] * rf[1], rf[2] * rf[3]):
                rf = f
    if step is None:
        return rf
    rh, rw, jh, jw, sh, sw = rf
    (kh, kw), (th, tw), (ph, pw) = step.kernel, step.stride, step.pad
    return (
        rh + (kh - 1) * jh, rw + (kw - 1) * jw, jh * th, jw * tw,
        sh + ((kh - 1) / 2 - ph) * jh, sw + ((kw - 1) / 2 - pw) * jw,
    )


def inplace_activations(network: Network, consumers: dict[str, int] | None = None) -> set[str]:
    """The ReLU layers the built module runs in place (saving a volume, as torchvision does).

    Safe only where nothing else reads the volume it overwrites: the producer feeds this layer
    alone, is not the INPUT (the user's data), and does not keep its own output for backward.
    """
    nodes = network.nodes
    if consumers is None:
        consumers = {}
        for n in nodes.values():
            for s in n.inputs:
                consumers[s] = consumers.get(s, 0) + 1
    out = set()
    for n in nodes.values():
        if n.type != "ReLU" or len(n.inputs) != 1:
            continue
        src = nodes.get(n.inputs[0])
        if src is None or src.type in _NOT_INPLACE_AFTER or consumers.get(src.id) != 1:
            continue
        out.add(n.id)
    return out


# An in-place ReLU must not overwrite the data, a volume kept for backward, or a view; nor come
# after Dropout, which hands its input straight through in eval mode (and at p = 0).
_NOT_INPLACE_AFTER = {"Input", "ReLU", "Sigmoid", "Tanh", "Flatten", "Dropout", "Dropout2d"}
# Parts of the PyTorch estimate shown even when they are zero.
_ALWAYS = ("saved for backward", "weights", "weight gradients", "optimizer state")


class _Peak:
    """The PyTorch estimate of a Report, walked on first use."""

    __slots__ = ("_args", "_value")

    def __init__(self, args: tuple):
        self._args = args
        self._value = None

    def get(self) -> tuple[MemoryEstimate, tuple[tuple[str, int], ...]]:
        if self._value is None:
            (nodes, order, layers, consumers, output, inplace, dtype, optimizer, device, state,
             batch, budget) = self._args
            step = _walk(nodes, order, layers, consumers, output, inplace, dtype, optimizer,
                         device, state)
            parts, per, fix = step.peak(batch)
            estimate = MemoryEstimate(
                batch, tuple((n, b) for n, b in parts if b or n in _ALWAYS), per, fix, budget,
                None if budget is None else step.max_batch(budget))
            held = tuple((name, p * batch + f) for name, (p, f) in step.held.items())
            self._value = (estimate, held)
            self._args = None
        return self._value


# (dtype, optimizer, device, output) -> (the layer reports walked, the walk). The walk does not
# depend on the batch or the budget: changing those re-analyses without walking again.
_WALKS: dict[tuple, tuple] = {}


def _walk(nodes, order, layers, consumers, output, inplace, dtype, optimizer, device, state):
    key = (dtype, optimizer, device, output)
    reps = [layers[nid] for nid in order]
    hit = _WALKS.get(key)
    if hit is not None and len(hit[0]) == len(reps) and all(map(operator.is_, hit[0], reps)):
        return hit[1]
    step = walk(nodes, order, layers, consumers, output, inplace, dtype=dtype,
                optimizer=optimizer, device=device, state_values=state, value_bytes=DTYPE_BYTES)
    if len(_WALKS) > 16:
        _WALKS.clear()
    _WALKS[key] = (reps, step)
    return step


def _estimate(batch, budget, per_sample, fixed) -> MemoryEstimate:
    per = sum(b for _, b in per_sample)
    fix = sum(b for _, b in fixed)
    parts = tuple((name, b * batch) for name, b in per_sample) + tuple(fixed)
    max_batch = None
    if budget is not None:
        max_batch = max((budget - fix) // per, 0) if per else None
    return MemoryEstimate(batch, parts, per, fix, budget, max_batch)
