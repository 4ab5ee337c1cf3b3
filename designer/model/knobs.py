"""Design knobs: the edits a design search turns (designer/training/sweep.py asks Optuna for
their values). Pure Python: no torch, no Qt.

    found = design_knobs(network)      # the knobs that apply, and those that don't (and why)
    variant = apply_knobs(network, {"width": 2.0, "kernel": 5})   # a new Network

The knobs, each left out (and said so in `found.left_out`) where it does not apply:
- width: a multiplier of every CONV's filters and every FC's neurons, except the layers that make
  the output (the classes): round(n × m), at least 1 (a grouped CONV keeps a multiple of its
  groups).
- kernel: the filter size of every CONV of size 3, 5 or 7 whose padding keeps the size ("same",
  or dilation·(F−1)/2 on both sides, strided ones too): 3, 5 or 7, the padding following.
- dropout: p of every Dropout and Dropout2d layer.
- stageN_blocks: how many copies of a repeated block a stage has (ResNet's basic blocks, VGG's
  CONV-RELU pairs, ...): the design's blocks between two layers every path goes through, the
  same layers with the same settings, the input's shape kept; 1 up to twice the design's
  count. Fewer: the last copies go; more: the last copy is repeated.

A variant can still be one the analysis refuses (a grouped CONV whose input depth no longer
divides): the caller analyses it and says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .analysis import analyze
from .layout import auto_layout
from .network import Network

WIDTHS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
KERNELS = (3, 5, 7)
DROPOUT = (0.0, 0.7, 0.05)  # low, high, step
_MAX_PERIOD = 16  # segments in one repeated block, at most
_WEIGHTED = ("Conv2d", "Linear")


class KnobError(ValueError):
    """A knob's value that cannot be applied to the design; the message names the knob."""


@dataclass(frozen=True)
class Knob:
    """One dimension of a search. kind: "choice" (one of `choices`), "int" or "float" (low ..
    high, `step` or a log scale). `default`: the design's (or the settings') own value."""

    name: str
    kind: str
    doc: str
    default: Any = None
    choices: tuple = ()
    low: float = 0
    high: float = 0
    step: float | None = None
    log: bool = False

    def describe(self) -> str:
        """'width: one of 0.25, 0.5, ... (design: 1.0)' for the listing of a search space."""
        if self.kind == "choice":
            values = "one of " + ", ".join(f"{v:g}" if isinstance(v, float) else str(v)
                                           for v in self.choices)
        else:
            values = f"{self.low:g} .. {self.high:g}" + (" (log)" if self.log else "") + (
                f" step {self.step:g}" if self.step else "")
        own = "" if self.default is None else f" (now {self.default})"
        return f"{self.name}: {values}{own}: {self.doc}"


@dataclass(frozen=True)
class Block:
    """A run of `count` identical copies of a block: copy i is the nodes `copies[i]`, entered
    from `entry` (copy 0) or the exit of the copy before, left by its last node."""

    entry: str
    copies: tuple[tuple[str, ...], ...]

    @property
    def count(self) -> int:
        return len(self.copies)

    @property
    def exit(self) -> str:
        return self.copies[-1][-1]


@dataclass
class Knobs:
    knobs: list[Knob] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # "dropout: the design has no Dropout"
    blocks: dict[str, Block] = field(default_factory=dict)  # stageN_blocks -> its block

    def names(self) -> list[str]:
        return [k.name for k in self.knobs]


def design_knobs(network: Network) -> Knobs:
    """The knobs that apply to `network`, and the ones that do not, each with its reason."""
    found = Knobs()
    report = analyze(network, fix_effects=False)
    if not report.ok:
        found.left_out.append(f"every design knob: the design has errors ({report.first_error()})")
        return found
    heads = output_layers(network, report.output)
    scaled = [nid for nid in report.order if network.nodes[nid].type in _WEIGHTED
              and nid not in heads]
    if scaled:
        found.knobs.append(Knob(
            "width", "choice", f"multiplies the filters / neurons of {_names(scaled)} (not "
            f"{_names(sorted(heads))}: the output)", 1.0, WIDTHS))
    else:
        found.left_out.append("width: no CONV or FC besides the output layer")
    kernels = _kernel_convs(network)
    if kernels:
        sizes = sorted({network.nodes[n].params["kernel_size"] for n in kernels})
        found.knobs.append(Knob(
            "kernel", "choice", f"filter size of {_names(kernels)} (padding kept 'same')",
            sizes[0] if len(sizes) == 1 else None, KERNELS))
    else:
        found.left_out.append("kernel: no CONV of size 3, 5 or 7 with 'same' padding")
    drops = [nid for nid in report.order if network.nodes[nid].type in ("Dropout", "Dropout2d")]
    if drops:
        ps = sorted({network.nodes[n].params["p"] for n in drops})
        low, high, step = DROPOUT
        found.knobs.append(Knob("dropout", "float", f"p of {_names(drops)}",
                                ps[0] if len(ps) == 1 else None, low=low, high=high, step=step))
    else:
        found.left_out.append("dropout: the design has no Dropout layer")
    blocks = repeated_blocks(network, report)
    for i, block in enumerate(blocks, 1):
        name = f"stage{i}_blocks"
        first = block.copies[0]
        found.blocks[name] = block
        found.knobs.append(Knob(
            name, "int", f"copies of the block {first[0]} .. {first[-1]} ({len(first)} layers)",
            block.count, low=1, high=2 * block.count))
    if not blocks:
        found.left_out.append("stageN_blocks: the design has no repeated block")
    return found


def apply_knobs(network: Network, values: dict[str, Any], found: Knobs | None = None) -> Network:
    """A copy of `network` with the knobs' values applied (knobs not named keep the design's
    value). KnobError names a knob that does not apply or a value out of its range."""
    found = found if found is not None else design_knobs(network)
    knobs = {k.name: k for k in found.knobs}
    for name, value in values.items():
        knob = knobs.get(name)
        if knob is None:
            why = next((w for w in found.left_out if w.startswith(name.split("_")[0]) or
                        w.startswith("every")), "not a design knob")
            raise KnobError(f"{name}: does not apply to this design ({why})")
        _check_value(knob, value)
    net = network.copy()
    relaid = False
    # structure first (the copies made then get the width and kernel of the others)
    for name, block in reversed(found.blocks.items()):  # from the output: ids stay valid
        n = values.get(name)
        if n is not None and n != block.count:
            _set_copies(net, block, int(n))
            relaid = True
    m = values.get("width")
    if m is not None and m != 1:
        heads = output_layers(net, analyze(net, fix_effects=False).output)
        for nid in net.topological_order():
            node = net.nodes[nid]
            if node.type not in _WEIGHTED or nid in heads:
                continue
            if node.type == "Linear":
                net.set_params(nid, out_features=max(1, round(node.params["out_features"] * m)))
            else:
                g = node.params["groups"]
                out = max(g, round(node.params["out_channels"] * m / g) * g)
                net.set_params(nid, out_channels=out)
    k = values.get("kernel")
    if k is not None:
        for nid in _kernel_convs(net):
            p = net.nodes[nid].params
            pad = p["padding"] if p["padding"] == "same" else p["dilation"] * (k - 1) // 2
            net.set_params(nid, kernel_size=int(k), padding=pad)
    p = values.get("dropout")
    if p is not None:
        for nid in list(net.nodes):
            if net.nodes[nid].type in ("Dropout", "Dropout2d"):
                net.set_params(nid, p=float(p))
    if relaid:
        for nid, pos in auto_layout(net).items():
            net.move(nid, pos)
    return net


def output_layers(network: Network, output: str | None) -> set[str]:
    """The CONVs and FCs whose outputs reach the network's output through no other CONV or FC:
    their widths are the classes, which a width multiplier leaves alone."""
    heads: set[str] = set()
    stack, seen = ([output] if output else []), set()
    while stack:
        nid = stack.pop()
        if nid in seen or nid not in network.nodes:
            continue
        seen.add(nid)
        node = network.nodes[nid]
        if node.type in _WEIGHTED:
            heads.add(nid)
        else:
            stack.extend(node.inputs)
    return heads


def repeated_blocks(network: Network, report=None) -> list[Block]:
    """The runs of identical, shape-keeping blocks, in the design's order (see the module's
    doc): [] for a design with several inputs or outputs, or errors."""
    report = report if report is not None else analyze(network, fix_effects=False)
    order = list(report.order)
    nodes = network.nodes
    if (not report.ok or not order or nodes[order[0]].type != "Input"
            or sum(1 for n in nodes.values() if n.type == "Input") != 1
            or any(i.message.startswith("the network has") for _, i in report.issues)):
        return []
    pos = {nid: i for i, nid in enumerate(order)}
    # the layers every path goes through: no wire jumps over them
    reach = [0] * len(order)
    for nid in order:
        for src in nodes[nid].inputs:
            reach[pos[src]] = max(reach[pos[src]], pos[nid])
    cuts, furthest = [0], 0
    for i in range(len(order)):
        if i and furthest <= i:
            cuts.append(i)
        furthest = max(furthest, reach[i])
    segments = [tuple(order[a + 1:b + 1]) for a, b in zip(cuts, cuts[1:])]
    entries = [order[a] for a in cuts[:-1]]
    shape = {nid: report.layers[nid].shape for nid in order}
    def run_at(s: int) -> tuple[int, int]:
        """(period, copies) of the longest run of identical blocks from segment s."""
        best_p, best_k = 0, 1
        for p in range(1, min(_MAX_PERIOD, (len(segments) - s) // 2) + 1):
            unit = _signature(network, segments[s:s + p], entries[s])
            k = 1
            while s + (k + 1) * p <= len(segments):
                start = s + k * p
                if _signature(network, segments[start:start + p], entries[start]) != unit or \
                        shape[entries[start]] != shape[segments[start + p - 1][-1]]:
                    break
                k += 1
            if k >= 2 and p * k > best_p * best_k:
                best_p, best_k = p, k
        return best_p, best_k

    blocks: list[Block] = []
    s = 0
    while s < len(segments):
        p, k = run_at(s)
        if k < 2:
            s += 1
            continue
        if nodes[segments[s][0]].type not in _WEIGHTED:  # the same run, a block that starts
            for d in range(1, p):  # with its CONV or FC (ResNet: CONV .. Add, RELU)
                if nodes[segments[s + d][0]].type in _WEIGHTED and run_at(s + d) == (p, k):
                    s += d
                    break
        copies = tuple(tuple(n for seg in segments[s + i * p:s + (i + 1) * p] for n in seg)
                       for i in range(k))
        blocks.append(Block(entries[s], copies))
        s += p * k
    return blocks


# -- helpers ------------------------------------------------------------------------------------


def _signature(network: Network, segments, entry: str) -> tuple:
    """What makes two blocks the same: their layers' types, settings and wiring (by place)."""
    ids = [n for seg in segments for n in seg]
    place = {entry: -1, **{nid: i for i, nid in enumerate(ids)}}
    out = []
    for nid in ids:
        node = network.nodes[nid]
        wires = tuple(place.get(s, None) for s in node.inputs)
        if None in wires:
            return ("open", nid)  # a wire from outside the block: never repeated
        out.append((node.type, tuple(sorted(node.params.items())), wires, node.frozen))
    return tuple(out)


def _set_copies(net: Network, block: Block, n: int) -> None:
    """Keep the first n copies of `block` (n ≤ count), or add copies of the last (n > count)."""
    consumers = net.consumers(block.exit)
    if n < block.count:
        new_exit = block.copies[n - 1][-1]
        for copy in block.copies[n:]:
            for nid in copy:
                del net.nodes[nid]
    else:
        last = block.copies[-1]
        entry = block.copies[-2][-1] if block.count > 1 else block.entry
        new_exit = block.exit
        for j in range(block.count, n):
            names = {entry: new_exit}
            for nid in last:
                node = net.nodes[nid]
                new_id = _fresh(net, f"{nid}_x{j}")
                names[nid] = new_id
                net.nodes[new_id] = replace(node, id=new_id, pos=None,
                                            inputs=tuple(names[s] for s in node.inputs))
            new_exit = names[last[-1]]
    for c in consumers:
        node = net.nodes[c]
        net.nodes[c] = replace(node, inputs=tuple(new_exit if s == block.exit else s
                                                  for s in node.inputs))
    net.replace_nodes(dict(net.nodes))  # the order and version follow the edit


def _fresh(net: Network, base: str) -> str:
    name, i = base, 1
    while name in net.nodes:
        name, i = f"{base}_{i}", i + 1
    return name


def _kernel_convs(network: Network) -> list[str]:
    out = []
    for nid in network.topological_order():
        node = network.nodes[nid]
        if node.type != "Conv2d":
            continue
        p = node.params
        k = p["kernel_size"]
        if k in KERNELS and (p["padding"] == "same" and p["stride"] == 1
                             or p["padding"] == p["dilation"] * (k - 1) // 2):
            out.append(nid)
    return out


def _check_value(knob: Knob, value: Any) -> None:
    if knob.kind == "choice":
        if value not in knob.choices:
            raise KnobError(f"{knob.name}: {value!r} is not one of "
                            f"{', '.join(map(str, knob.choices))}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            knob.low <= value <= knob.high) or knob.kind == "int" and value != int(value):
        kind = "a whole number" if knob.kind == "int" else "a number"
        raise KnobError(f"{knob.name}: expected {kind} from {knob.low:g} to {knob.high:g}, got "
                        f"{value!r}")


def _names(ids) -> str:
    ids = list(ids)
    return ", ".join(ids) if len(ids) <= 4 else f"{', '.join(ids[:3])} and {len(ids) - 3} more"
