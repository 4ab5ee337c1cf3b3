"""analyze(network, ...) -> Report: every number the readouts show, computed in one pass.

Per layer: output volume, parameters (trainable and buffers), MACs, activations, receptive field,
issues with fixes. Totals. Memory for training two ways: the notes' textbook count ("Computational
Considerations": activations + their gradients, parameters × (weight, gradient, optimizer state),
the data batch) and an estimate of what PyTorch really holds (the tensors autograd saves for
backward, deduplicated, plus the same parameter memory). Pure Python: no Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .layers import Issue, Shape, numel
from .network import Network, Node

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


@dataclass(frozen=True, slots=True)
class LayerReport:
    id: str
    type: str
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    shape: Shape | None  # None: unknown (an error here or upstream)
    params: int  # trainable
    buffers: int  # non-trainable (BatchNorm running statistics)
    macs: int
    activations: int  # values in the output volume, per sample
    rf: ReceptiveField | None
    issues: tuple[Issue, ...]
    in_place: bool  # elementwise: counted with the volume it acts on, as the notes do for RELU

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
    pytorch: MemoryEstimate
    output: str | None  # the layer whose output is the network's output
    batch: int
    dtype: str
    optimizer: str

    @property
    def ok(self) -> bool:
        return self.totals.errors == 0


def analyze(
    network: Network,
    batch: int = 1,
    dtype: str = "fp32",
    optimizer: str = "sgd",
    budget: int | None = None,
) -> Report:
    """Analyse a design. Never raises for a bad design: problems become issues in the report."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPE_BYTES)})")
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"unknown optimizer {optimizer!r} (known: {', '.join(OPTIMIZER_STATE)})")
    batch = max(int(batch), 1)
    nodes = network.nodes
    order = network.topological_order()
    shapes: dict[str, Shape | None] = {}
    fields: dict[str, tuple] = {}
    layers: dict[str, LayerReport] = {}
    net_issues: list[tuple[str | None, Issue]] = []
    consumers: dict[str, int] = {}
    for n in nodes.values():
        for s in n.inputs:
            consumers[s] = consumers.get(s, 0) + 1

    inputs = [nid for nid in order if nodes[nid].type == "Input"]
    if not inputs:
        net_issues.append((None, Issue("error", "the network has no INPUT layer: add one")))

    params = buffers = macs = acts = input_values = n_err = n_warn = 0
    for nid in order:
        node = nodes[nid]
        layer = node.layer
        ins = node.inputs
        issues: list[Issue] = []
        shape: Shape | None = None
        in_shapes: tuple[Shape, ...] = ()
        rf = None
        p_count = b_count = m_count = 0
        if node.type == "Input" and inputs and nid != inputs[0]:
            issues.append(Issue("error",
                                f"a network has one INPUT layer; {inputs[0]} is the first"))
        elif len(ins) < layer.min_inputs:
            if not ins:
                issues.append(Issue("warning", "not connected: wire a layer's output into it"))
            else:
                issues.append(Issue("error", f"{layer.name} needs at least {layer.min_inputs} "
                                             f"inputs, it has {len(ins)}"))
        else:
            known = [shapes.get(s) for s in ins]
            if all(k is not None for k in known):
                in_shapes = tuple(known)  # type: ignore[arg-type]
                shape, found = layer.shape(node.params, in_shapes)
                issues.extend(found)
                if shape is not None:
                    p_count, b_count = layer.count(node.params, in_shapes, shape)
                    m_count = layer.macs(node.params, in_shapes, shape)
                    rf = _field(layer, node, in_shapes, fields)
                    fields[nid] = rf
        shapes[nid] = shape
        in_place = layer.elementwise
        if shape is not None:
            params += p_count
            buffers += b_count
            macs += m_count
            if node.type == "Input":
                if nid == inputs[0]:
                    input_values = numel(shape)
            elif not in_place:
                acts += numel(shape)
        for i in issues:
            if i.severity == "error":
                n_err += 1
            elif i.severity == "warning":
                n_warn += 1
        layers[nid] = LayerReport(
            nid, node.type, ins, in_shapes, shape, p_count, b_count, m_count,
            numel(shape) if shape is not None else 0,
            ReceptiveField((rf[0], rf[1]), (rf[2], rf[3]), (rf[4], rf[5])) if rf else None,
            tuple(issues), in_place,
        )

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
    saved, working = _pytorch_saved(network, order, layers, consumers, output, value)
    pytorch = _estimate(
        batch, budget,
        per_sample=(("saved for backward", saved), ("backward working set", working),
                    ("data batch", input_values * value)),
        fixed=(("weights", params * value), ("weight gradients", params * value),
               ("optimizer state", state * params * value), ("buffers", buffers * value)),
    )
    return Report(order, layers, tuple(net_issues), totals, textbook, pytorch, output,
                  batch, dtype, optimizer)


def _field(layer, node: Node, in_shapes, fields) -> tuple:
    """Receptive field after this layer: r ← r + (k−1)·j, start ← start + ((k−1)/2 − p)·j,
    j ← j·s, per axis; merges take the widest field among their inputs."""
    if not node.inputs:
        return (1, 1, 1, 1, 0.5, 0.5)
    prev = [fields[s] for s in node.inputs]
    rf = max(prev, key=lambda f: (f[0] * f[1], f[2] * f[3]))
    step = layer.step(node.params, in_shapes)
    if step is None:
        return rf
    rh, rw, jh, jw, sh, sw = rf
    (kh, kw), (th, tw), (ph, pw) = step.kernel, step.stride, step.pad
    return (
        rh + (kh - 1) * jh, rw + (kw - 1) * jw, jh * th, jw * tw,
        sh + ((kh - 1) / 2 - ph) * jh, sw + ((kw - 1) / 2 - pw) * jw,
    )


def inplace_activations(network: Network) -> set[str]:
    """The ReLU layers the built module runs in place (saving a volume, as torchvision does).

    Safe only where nothing else reads the volume it overwrites: the producer feeds this layer
    alone, is not the INPUT (the user's data), and does not keep its own output for backward.
    """
    consumers: dict[str, int] = {}
    for n in network.nodes.values():
        for s in n.inputs:
            consumers[s] = consumers.get(s, 0) + 1
    out = set()
    for n in network.nodes.values():
        if n.type != "ReLU" or len(n.inputs) != 1:
            continue
        src = network.nodes.get(n.inputs[0])
        if src is None or src.type == "Input" or consumers.get(src.id) != 1:
            continue
        if src.type in _SAVES_OUTPUT or src.type == "Flatten":
            continue
        out.add(n.id)
    return out


_SAVES_OUTPUT = {"ReLU", "Sigmoid", "Tanh"}
# Layers that keep their input even when it does not require grad (for their weight gradient).
_SAVES_FOR_WEIGHTS = {"Conv2d", "Linear", "BatchNorm2d"}


def _pytorch_saved(
    network: Network, order, layers, consumers, output, value: int
) -> tuple[int, int]:
    """Bytes per sample of the distinct tensors autograd keeps between forward and backward,
    and the largest gradient pair alive at once during backward."""
    nodes = network.nodes
    inplace = inplace_activations(network)
    storage: dict[str, str] = {}  # node id -> id of the node whose tensor it shares
    kept: dict[str, int] = {}  # storage id -> bytes
    extra = 0
    working = 0
    data = None
    needs_grad: dict[str, bool] = {}
    for nid in order:
        rep = layers[nid]
        node = nodes[nid]
        if rep.shape is None:
            continue
        if node.type == "Input":
            data = nid
        if nid in inplace or node.type == "Flatten":
            storage[nid] = storage[node.inputs[0]]
        else:
            storage[nid] = nid
        size = rep.activations * value
        needs_grad[nid] = rep.params > 0 or any(needs_grad.get(s, False) for s in node.inputs)
        if not any(needs_grad.get(s, False) for s in node.inputs):
            # On the data batch (or what comes of it without weights) autograd records nothing,
            # but layers with weights keep their input for the weight gradient.
            saved = ((("input", 0),) if node.type in _SAVES_FOR_WEIGHTS else ())
        else:
            saved = node.layer.saved(node.params, rep.in_shapes, rep.shape)
        for item in saved:
            if item[0] == "input":
                src = storage[node.inputs[item[1]]]
                kept[src] = numel(layers[src].shape) * value
            elif item[0] == "output":
                kept[storage[nid]] = size
            else:
                extra += item[1] * (item[2] or value)
        if node.type != "Input":
            ins = sum(numel(s) for s in rep.in_shapes) * value
            working = max(working, size + ins)
    if data is not None:
        kept.pop(storage.get(data, data), None)  # the data batch is counted on its own
    if output is not None:
        extra += numel(layers[output].shape) * value + 8  # log-softmax of the loss, the label
    return sum(kept.values()) + extra, working


def _estimate(batch, budget, per_sample, fixed) -> MemoryEstimate:
    per = sum(b for _, b in per_sample)
    fix = sum(b for _, b in fixed)
    parts = tuple((name, b * batch) for name, b in per_sample) + tuple(fixed)
    max_batch = None
    if budget is not None:
        max_batch = max((budget - fix) // per, 0) if per else None
    return MemoryEstimate(batch, parts, per, fix, budget, max_batch)
