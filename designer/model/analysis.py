"""analyze(network, ...) -> Report: every number the readouts show, computed in one pass.

Per layer: output volume, parameters (trainable and buffers), MACs, activations, receptive field,
issues with fixes. Totals. Memory for training two ways: the notes' textbook count ("Computational
Considerations": activations + their gradients, parameters × (weight, gradient, optimizer state),
the data batch; a frozen layer's parameters count once, as "frozen weights") and an estimate of
the highest point PyTorch really reaches in a step (peak.py: the tensors autograd saves,
gradients in flight, scratch space, weights and optimizer state, walked through the step in
time). Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from .issues import severity_counts
from .layers import Issue, Shape, numel
from .network import Network, Node
from .peak import Walk

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
    params: int  # weights and biases (trained unless the layer is frozen)
    buffers: int  # non-trainable (BatchNorm running statistics)
    macs: int
    activations: int  # values in the output volume, per sample
    field: tuple | None  # receptive field (size h, size w, jump h, jump w, start h, start w)
    issues: tuple[Issue, ...]
    in_place: bool  # elementwise: counted with the volume it acts on, as the notes do for RELU
    saved: tuple  # what PyTorch keeps for backward (the catalogue's `saved` rule)
    frozen: bool = False  # a fine-tune keeps this layer's parameters (Node.frozen)

    @property
    def trainable_params(self) -> int:
        return 0 if self.frozen else self.params

    @property
    def frozen_params(self) -> int:
        return self.params if self.frozen else 0

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
    params: int  # all of them: trainable + frozen
    buffers: int
    macs: int
    activations: int  # per sample, the notes' way: each layer's output, RELU counted in place
    input_values: int  # per sample
    layers: int
    errors: int
    warnings: int
    params_frozen: int = 0  # the parameters of frozen layers (a fine-tune keeps them)

    @property
    def params_trainable(self) -> int:
        return self.params - self.params_frozen

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

    @property
    def totals_remark(self) -> str:
        """What the notes say of this design's totals where it differs from what they compute
        (VGG-16's '24M' forward values): for the places that show the totals ('' if nothing)."""
        return next((i.message for nid, i in self.issues
                     if nid is None and i.message.startswith(_VGG16_REMARK_HEAD)), "")

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
    fix_effects: bool = True,
) -> Report:
    """Analyse a design. Never raises for a bad design: problems become issues in the report.

    `dtype` is the precision of training: fp32 / fp64 for every tensor, fp16 / bf16 for mixed
    precision (the textbook count puts every value in that type; the PyTorch estimate models
    autocast, as the Trainer runs it). `device` ("cuda" or "cpu") changes what the PyTorch
    estimate counts: cuDNN's scratch space and Dropout's one-byte mask on CUDA.

    With `fix_effects` each fix a layer's issue offers is tried on a copy of the design: its
    effect (params, MACs, memory before → after) is written into the Fix, and a fix to a
    warning or note that would add an error is not offered (callers that only want numbers,
    like the advisor's predictions, leave this off)."""
    report = _analyze(network, batch, dtype, optimizer, budget, device)
    if not fix_effects:
        return report
    from .fix_trials import with_fix_effects

    return with_fix_effects(network, report)


def _analyze(network, batch, dtype, optimizer, budget, device) -> Report:
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
    wired = network._wired  # (kept while no layer comes, goes or is rewired)
    if wired is None:
        counted = {nid: len(read) for nid, read in network.readers().items()}
        wired = network._wired = (MappingProxyType(counted),
                                  frozenset(inplace_activations(network, counted)))
    consumers, inplace = wired
    if not any(nodes[nid].type == "Input" for nid in order):
        net_issues.append((None, Issue("error", "the network has no INPUT layer: add one")))

    params = frozen = buffers = macs = acts = input_values = 0
    for rep in layers.values():
        if rep.shape is not None:
            params += rep.params
            if rep.frozen:
                frozen += rep.params
            buffers += rep.buffers
            macs += rep.macs
            if rep.type == "Input":
                if not input_values:
                    input_values = rep.activations
            elif not rep.in_place:
                acts += rep.activations
    n_err, n_warn = severity_counts(layers.values())

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
    if frozen and frozen == params:
        net_issues.append((None, Issue(
            "warning", "every layer with weights is frozen: training would change nothing "
                       "(make the layers to fine-tune trainable in the inspector)")))
        n_warn += 1
    n_err += sum(1 for _, i in net_issues if i.severity == "error")
    if (params == _VGG16_PARAMS and acts + input_values == _VGG16_FORWARD
            and input_values == 3 * 224 * 224):
        net_issues.append((None, Issue("info", _VGG16_REMARK)))

    totals = Totals(params, buffers, macs, acts, input_values, len(order), n_err, n_warn,
                    frozen)
    textbook = _textbook(totals, batch, budget, dtype, optimizer)
    state = OPTIMIZER_STATE[optimizer]
    # The PyTorch estimate walks the step in time: made when first asked for, from what this
    # analysis saw (the network may be edited in place afterwards)
    peak = _Peak((dict(nodes), order, layers, consumers, output, inplace, dtype, optimizer,
                  device, state, batch, budget))
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
    # loose[n]: the layer that starts the unconnected chain n is on (one with no input), or
    # None where n is fed from the INPUT (or is one)
    loose: dict[str, str | None] = {}
    first_input = None
    for nid in order:
        node = nodes[nid]
        ins = node.inputs
        kind = node.type
        cut: tuple = ()  # a merge's inputs that no INPUT feeds: (port, id, chain start)
        if kind == "Input":
            prev = (first_input,)  # the first INPUT is the network's; others are errors
            if first_input is None:
                first_input = nid
            loose[nid] = None
        elif len(ins) == 1:
            prev = (layers[ins[0]],)
            loose[nid] = loose[ins[0]]
        elif not ins:
            prev = ()
            loose[nid] = nid
        else:
            prev = tuple([layers[s] for s in ins])
            cut = tuple((i, s, loose[s]) for i, s in enumerate(ins, 1) if loose[s] is not None)
            # a merge of loose chains only is loose too; one that also takes the network's
            # volume cannot be built (its other inputs have no size): an error here
            loose[nid] = cut[0][2] if len(cut) == len(ins) else None
            if len(cut) == len(ins):
                cut = ()
        hit = cache.get(nid)
        # a moved or relabelled layer keeps its params object, so it keeps its report too
        if (hit is not None and hit[0] is node.params and hit[1] == prev
                and hit[3] == kind and hit[2].inputs == ins and hit[4] == cut
                and hit[2].frozen == node.frozen):
            layers[nid] = hit[2]
            continue
        rep = _fresh(nid, node, prev, cut, first_input)
        layers[nid] = rep
        cache[nid] = (node.params, prev, rep, kind, cut)
    if len(cache) > len(layers):
        for nid in [k for k in cache if k not in layers]:
            del cache[nid]
    return layers


def _fresh(nid: str, node: Node, prev: tuple, cut: tuple, first_input: str | None) -> LayerReport:
    """A layer's report made anew: `prev` its inputs' reports (an INPUT's: the first INPUT's
    id), `cut` its inputs that no INPUT feeds (a merge's: (port, id, chain start))."""
    kind = node.type
    ins = node.inputs
    layer = node.layer
    issues = ()
    if cut:
        issues = tuple(Issue(
            "error",
            f"input {i} ({src}) is not connected to the INPUT"
            + (f" (its chain starts at {start}, which has no input)" if start != src
               else " (it has no input)")
            + f": {layer.name} cannot size it; wire {start} or take {src} off this merge",
        ) for i, src, start in cut)
    elif kind == "Input":
        if first_input == nid:
            shape = (node.params["channels"], node.params["height"], node.params["width"])
            return LayerReport(nid, "Input", (), (), shape, 0, 0, 0, numel(shape),
                               (1, 1, 1, 1, 0.5, 0.5), (), False, ())
        issues = (Issue("error", f"a network has one INPUT layer; {first_input} is the first"),)
    elif len(ins) < layer.min_inputs:
        issues = _NOT_CONNECTED if not ins else (Issue(
            "error", f"{layer.name} needs at least {layer.min_inputs} inputs, it has "
                     f"{len(ins)}"),)
    else:
        in_shapes = tuple([p.shape for p in prev])
        if None not in in_shapes:
            shape, issues, n_p, n_b, n_macs, n_values, step, saved = _evaluate(node, in_shapes)
            if shape is not None:
                return LayerReport(nid, kind, ins, in_shapes, shape, n_p, n_b, n_macs, n_values,
                                   _field(prev, step), issues, layer.elementwise, saved,
                                   node.frozen)
    return LayerReport(nid, kind, ins, (), None, 0, 0, 0, 0, None, issues, layer.elementwise, (),
                       node.frozen)


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


# (dtype, optimizer, device, output) -> the last walk of a step in that setting, traced: an
# analysis of the same structure (an edit of a layer's sizes, another batch or budget) updates
# it from the layers that changed (peak.Walk.update) instead of walking again.
_WALKS: dict[tuple, Walk] = {}
# (training, the learning-rate finder and sweeps analyse in their threads: a walk is updated in
# place, one thread at a time)
_WALKS_LOCK = threading.Lock()


def _walk(nodes, order, layers, consumers, output, inplace, dtype, optimizer, device, state):
    key = (dtype, optimizer, device, output)
    with _WALKS_LOCK:
        hit = _WALKS.get(key)
        if hit is not None:
            step = hit.update(nodes, order, layers, consumers, output, inplace)
            if step is not None:
                return step
        traced = Walk(nodes, order, layers, consumers, output, inplace, dtype=dtype,
                      optimizer=optimizer, device=device, state_values=state,
                      value_bytes=DTYPE_BYTES)
        if len(_WALKS) > 16:
            _WALKS.clear()
        _WALKS[key] = traced
        return traced.memory


def _textbook(totals: Totals, batch: int, budget: int | None, dtype: str,
              optimizer: str) -> MemoryEstimate:
    """The notes' count of a training step's memory: activations and their gradients, the data
    batch, weights, their gradients and the optimizer's state, buffers."""
    value = DTYPE_BYTES[dtype]
    acts, frozen = totals.activations, totals.params_frozen
    trained = totals.params - frozen  # a frozen parameter has no gradient and no optimizer state
    return _estimate(
        batch, budget,
        per_sample=(("activations", acts * value), ("activation gradients", acts * value),
                    ("data batch", totals.input_values * value)),
        fixed=(("weights", trained * value),)
        + ((("frozen weights", frozen * value),) if frozen else ())
        + (("weight gradients", trained * value),
           ("optimizer state", OPTIMIZER_STATE[optimizer] * trained * value),
           ("buffers", totals.buffers * value)),
    )


def _estimate(batch, budget, per_sample, fixed) -> MemoryEstimate:
    per = sum(b for _, b in per_sample)
    fix = sum(b for _, b in fixed)
    parts = tuple((name, b * batch) for name, b in per_sample) + tuple(fixed)
    max_batch = None
    if budget is not None:
        max_batch = max((budget - fix) // per, 0) if per else None
    return MemoryEstimate(batch, parts, per, fix, budget, max_batch)


# ---------------------------------------------------------------------------------------------
# The notes' VGG-16 figures

_VGG16_PARAMS = 138_357_544
_VGG16_FORWARD = 15_237_608  # input 150,528 + activations 15,087,080 per image
_VGG16_REMARK_HEAD = "The notes give VGG-16's forward pass as"
_VGG16_REMARK = (
    f"{_VGG16_REMARK_HEAD} ~24M values (~93 MB) per image, but their own per-layer table sums "
    "to 15.2 M values (58 MiB in fp32), the count here: the 24M is a slip in their total, not "
    "a different way of counting")
