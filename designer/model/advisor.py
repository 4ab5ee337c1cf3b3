"""advise(network, report) -> list[Hint]: the notes' rules of thumb as live, explained hints.

The notes do not only define layers; they teach how to size them ("Layer Sizing Patterns",
"Prefer a stack of small filter CONV", "Reducing sizing headaches", "Compromising based on memory
constraints", "Getting rid of pooling", "Converting FC layers to CONV layers"). Each rule here
looks at a design and its Report and, where the design departs from the rule, says which layers,
why (one sentence), which section of the notes it comes from and, where one exists, a concrete
edit: a list of network operations (SetParams, ReplaceByChain, InsertAfter, ConvertFcToConv)
that `Hint.apply` runs on a Network, so a window can run it as one undoable step.

The predicted effect (parameters, MACs, training memory, receptive field, before → after) is
made by applying the edit to a copy of the design and analysing it again: it is exact by
construction, and computed only when asked (`Hint.effect()`), once per hint.

Hints never block anything: they are suggestions ("rule"), first-layer compromises the notes
allow on purpose ("compromise"), and alternatives offered, not pushed ("alternative").

Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .analysis import LayerReport, Report, analyze
from .layers import fmt_shape
from .network import Network, NetworkError
from .units import format_bytes, format_count

SECTION_SIZING = "Layer Sizing Patterns"
SECTION_SMALL_FILTERS = "Prefer a stack of small filter CONV"
SECTION_HEADACHES = "Reducing sizing headaches"
SECTION_MEMORY = "Compromising based on memory constraints"
SECTION_NO_POOL = "Getting rid of pooling"
SECTION_FC_TO_CONV = "Converting FC layers to CONV layers"
SECTION_COMPUTE = "Computational Considerations"

ROW = 100.0  # canvas row height: layers an edit adds go one row apart, and what follows moves

_POOLS = ("MaxPool2d", "AvgPool2d")
_WINDOWED = ("Conv2d", "MaxPool2d", "AvgPool2d")
# layers that stay with a CONV when a POOL is put after it (its normalisation and non-linearity)
_FOLLOWERS = {"ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "BatchNorm2d",
              "LocalResponseNorm"}
# what an FC may look through at a volume (the same walk as transforms.fc_to_conv)
_PASS_THROUGH = {"ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Dropout"}
_WORDS = {2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}


# ---------------------------------------------------------------------------------------------
# Network operations: what a hint's edit is made of


class Operation(Protocol):
    def apply(self, net: Network, layout: bool = True) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class NewLayer:
    id: str
    type: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SetParams:
    """New values for some of a layer's parameters."""

    node: str
    params: Mapping[str, Any]

    def apply(self, net: Network, layout: bool = True) -> None:
        net.set_params(self.node, **self.params)

    def describe(self) -> str:
        return f"{self.node}: " + ", ".join(f"{k} = {v}" for k, v in self.params.items())


@dataclass(frozen=True)
class ReplaceByChain:
    """Replace a single-input layer by a chain of new layers; what read the old layer reads the
    last of the chain (which may keep the old id). The chain takes the old layer's place in the
    layer order and on the canvas; the layers below move down to make room."""

    node: str
    chain: tuple[NewLayer, ...]

    def apply(self, net: Network, layout: bool = True) -> None:
        old = net[self.node]
        if len(old.inputs) != 1:
            raise NetworkError(f"{self.node} must have exactly one input to be replaced")
        readers = {c: net[c].inputs for c in net.consumers(self.node)}
        index = list(net.nodes).index(self.node)
        if layout:
            _make_room(net, self.node, len(self.chain) - 1)
        net.remove(self.node, reconnect=False)
        prev = old.inputs[0]
        for i, layer in enumerate(self.chain):
            pos = None if old.pos is None else (old.pos[0], old.pos[1] + i * ROW)
            prev = net.add(layer.type, layer.params, id=layer.id, inputs=(prev,), pos=pos)
        for c, ins in readers.items():
            net.set_inputs(c, tuple(prev if s == self.node else s for s in ins))
        _place_in_order(net, [layer.id for layer in self.chain], index)

    def describe(self) -> str:
        return f"{self.node} → " + " → ".join(f"{n.id} ({n.type})" for n in self.chain)


@dataclass(frozen=True)
class InsertAfter:
    """A new single-input layer reading `node`; what read `node` reads the new layer."""

    node: str
    layer: NewLayer

    def apply(self, net: Network, layout: bool = True) -> None:
        src = net[self.node]
        readers = {c: net[c].inputs for c in net.consumers(self.node)}
        index = list(net.nodes).index(self.node) + 1
        if layout:
            _make_room(net, self.node, 1)
        pos = None if src.pos is None else (src.pos[0], src.pos[1] + ROW)
        new = net.add(self.layer.type, self.layer.params, id=self.layer.id, inputs=(self.node,),
                      pos=pos)
        for c, ins in readers.items():
            net.set_inputs(c, tuple(new if s == self.node else s for s in ins))
        _place_in_order(net, [new], index)

    def describe(self) -> str:
        return f"{self.layer.id} ({self.layer.type}) after {self.node}"


@dataclass(frozen=True)
class RemoveLayer:
    """Take a single-input layer out of its stack; what read it reads its input."""

    node: str

    def apply(self, net: Network, layout: bool = True) -> None:
        if len(net[self.node].inputs) != 1:
            raise NetworkError(f"{self.node} must have exactly one input to be taken out")
        if layout:
            _make_room(net, self.node, -1)
        net.remove(self.node, reconnect=True)

    def describe(self) -> str:
        return f"remove {self.node}"


@dataclass(frozen=True)
class ConvertFcToConv:
    """The notes' FC → CONV conversion of every FC layer (transforms.fc_to_conv)."""

    def apply(self, net: Network, layout: bool = True) -> None:
        from .transforms import fc_to_conv

        try:
            converted = fc_to_conv(net)
        except ValueError as e:
            raise NetworkError(str(e)) from None
        net.replace_nodes(dict(converted.nodes))

    def describe(self) -> str:
        return "every FC layer → a CONV layer computing the same function"


def _descendants(net: Network, start: str) -> set[str]:
    readers: dict[str, list[str]] = {}
    for n in net.nodes.values():
        for s in n.inputs:
            readers.setdefault(s, []).append(n.id)
    seen: set[str] = set()
    stack = list(readers.get(start, ()))
    while stack:
        nid = stack.pop()
        if nid not in seen:
            seen.add(nid)
            stack.extend(readers.get(nid, ()))
    return seen


def _make_room(net: Network, node: str, rows: int) -> None:
    """Move the layers below `node` that follow from it down by `rows` canvas rows (up where
    rows < 0: a layer was taken out)."""
    top = net[node].pos
    if rows == 0 or top is None:
        return
    for d in _descendants(net, node):
        pos = net.nodes[d].pos
        if pos is not None and pos[1] > top[1]:
            net.move(d, (pos[0], pos[1] + rows * ROW))


def _place_in_order(net: Network, ids: list[str], index: int) -> None:
    """Put the layers `ids` at `index` in the layer order (the table lists layers that way)."""
    rest = [nid for nid in net.nodes if nid not in ids]
    ordered = rest[:index] + ids + rest[index:]
    if ordered != list(net.nodes):
        net.replace_nodes({nid: net.nodes[nid] for nid in ordered})


# ---------------------------------------------------------------------------------------------
# Hints and their predicted effect


@dataclass(frozen=True)
class Figures:
    """What the readouts say of a design, for a before → after comparison."""

    params: int  # trainable parameters of the whole network
    macs: int
    memory: int  # bytes for one training step, the notes' count, at the design's batch
    rf: tuple[int, int] | None  # receptive field (height, width) at the hint's anchor layer
    local_params: int  # of the layers the hint concerns (after: of what took their place)
    warnings: int
    errors: int
    batch: int


@dataclass(frozen=True)
class Effect:
    before: Figures
    after: Figures
    anchor: str | None  # the layer whose receptive field is compared (None: the output)

    def rows(self, note: str = "", local_name: str = "") -> list[tuple[str, str, str]]:
        """(what, before, after) rows as the panel and the command line write them."""
        b, a = self.before, self.after
        out: list[tuple[str, str, str]] = []
        if note:
            head, _, tail = note.partition(" → ")
            out.append(("weights", head, tail))
        if b.local_params != a.local_params:
            out.append((f"params of {local_name}" if local_name else "params of these layers",
                        f"{b.local_params:,}", f"{a.local_params:,}"))
        out.append(("params", _count(b.params), _count(a.params)))
        out.append(("MACs", format_count(b.macs), format_count(a.macs)))
        memory = "memory" if b.batch == a.batch else "memory per step"
        out.append((memory, format_bytes(b.memory), format_bytes(a.memory)))
        if b.batch != a.batch:
            out.append(("batch", str(b.batch), str(a.batch)))
        where = f"receptive field of {self.anchor}" if self.anchor else "receptive field"
        out.append((where, _rf(b.rf), _rf(a.rf) + (" (kept)" if a.rf == b.rf else "")))
        if (b.warnings, b.errors) != (a.warnings, a.errors):
            out.append(("warnings", str(b.warnings), str(a.warnings)))
            if b.errors != a.errors:
                out.append(("errors", str(b.errors), str(a.errors)))
        return out


def _count(n: int) -> str:
    return f"{n:,}" if n < 10_000_000 else format_count(n)


def _rf(rf: tuple[int, int] | None) -> str:
    return "?" if rf is None else f"{rf[1]}×{rf[0]}"


@dataclass(frozen=True)
class Hint:
    key: str  # stable id: "ignore" remembers it in the design file
    layers: tuple[str, ...]  # the layers it concerns (their cards get a marker)
    title: str
    reason: str  # one sentence
    section: str  # the section of the notes it comes from
    edit: tuple[Operation, ...] | None = None  # network operations, one undoable step
    settings: Mapping[str, Any] | None = None  # analysis settings it changes (the batch)
    kind: str = "rule"  # "rule" | "compromise" | "alternative"
    anchor: str | None = None  # layer whose receptive field the prediction compares
    note: str = ""  # a formula for the prediction, "49·C² → 27·C²"
    _report: Report | None = field(default=None, compare=False, repr=False)
    _base: Network | None = field(default=None, compare=False, repr=False)
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def applicable(self) -> bool:
        return bool(self.edit) or bool(self.settings)

    @property
    def safe(self) -> bool:
        """Whether applying it keeps the design free of new errors (a prediction that says
        otherwise still shows; the window does not offer such an edit)."""
        effect = self.effect()
        return effect is not None and effect.after.errors <= effect.before.errors

    def apply(self, net: Network, layout: bool = True) -> None:
        """Run the edit on `net` (raises NetworkError where it no longer fits the design).
        layout=False leaves the canvas positions alone (they change nothing analysed)."""
        for op in self.edit or ():
            op.apply(net, layout)

    def edited(self) -> Network | None:
        """A copy of the design with the edit applied (None where it does not apply); the
        canvas positions are left as they were."""
        if self._base is None or not self.edit:
            return self._base.copy() if self._base is not None else None
        net = self._base.copy()
        try:
            self.apply(net, layout=False)
        except NetworkError:
            return None
        return net

    def effect(self) -> Effect | None:
        """Before → after, from analysing the edited copy; None where the hint has no edit."""
        memo = self._memo
        if "effect" not in memo:
            memo["effect"] = self._predict()
        return memo["effect"]

    def effect_rows(self) -> list[tuple[str, str, str]]:
        effect = self.effect()
        if effect is None:
            return []
        local = ", ".join(self.layers[:3]) + ("…" if len(self.layers) > 3 else "")
        return effect.rows(self.note, local)

    def _predict(self) -> Effect | None:
        report = self._report
        if not self.applicable or report is None or self._base is None:
            return None
        net = self.edited()
        if net is None:
            return None
        settings = {"batch": report.batch, "dtype": report.dtype, "optimizer": report.optimizer,
                    "budget": report.textbook.budget, **(self.settings or {})}
        after = analyze(net, **settings)
        old = set(report.layers)
        local_after = [nid for nid in after.order if nid not in old or nid in self.layers]
        return Effect(_figures(report, self.layers, self.anchor),
                      _figures(after, local_after, self.anchor), self.anchor)


def _figures(report: Report, local, anchor: str | None) -> Figures:
    layers = report.layers
    at = layers.get(anchor if anchor is not None else report.output or "")
    rf = at.rf.size if at is not None and at.rf is not None else None
    t = report.totals
    return Figures(t.params, t.macs, report.textbook.total, rf,
                   sum(layers[n].params for n in local if n in layers), t.warnings, t.errors,
                   report.batch)


# ---------------------------------------------------------------------------------------------
# advise


_CACHE: OrderedDict[tuple, tuple[Any, list[Hint]]] = OrderedDict()
_CACHE_SIZE = 8


def advise(network: Network, report: Report) -> list[Hint]:
    """The hints for a design and its report, in network order (network-wide ones first).

    Cheap (one pass over the report; a few small analyses only where the input size needs a
    fix), and cached per network version and analysis settings: the window calls it on every
    edit. Predicted effects are computed when asked for, by Hint.effect().
    """
    key = (id(network), network.version, report.batch, report.dtype, report.optimizer,
           report.textbook.budget)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is network:
        _CACHE.move_to_end(key)
        return list(hit[1])
    hints = _Advisor(network, report).hints()
    _CACHE[key] = (weakref.ref(network), hints)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return list(hints)


class _Advisor:
    def __init__(self, network: Network, report: Report):
        self.net = network
        self.report = report
        self.nodes = network.nodes
        self.layers = report.layers
        self.readers: dict[str, list[str]] = {}
        for n in self.nodes.values():
            for s in n.inputs:
                self.readers.setdefault(s, []).append(n.id)
        self.input_id = next((nid for nid in report.order if self.nodes[nid].type == "Input"),
                             None)
        self.input_shape = self.layers[self.input_id].shape if self.input_id else None
        self._base: Network | None = None
        self._taken: set[str] = set()
        self._pools: list[str] | None = None
        self.convs = [nid for nid, rep in self.layers.items() if rep.type == "Conv2d"]

    # ------------------------------------------------------------------------- helpers

    def base(self) -> Network:
        if self._base is None:
            self._base = self.net.copy()
        return self._base

    def hint(self, key: str, layers, title: str, reason: str, section: str, **kw) -> Hint:
        return Hint(key, tuple(layers), title, reason, section, _report=self.report,
                    _base=self.base() if kw.get("edit") or kw.get("settings") else None, **kw)

    def fresh_id(self, base: str) -> str:
        nid, i = base, 2
        while nid in self.nodes or nid in self._taken:
            nid = f"{base}_{i}"
            i += 1
        self._taken.add(nid)
        return nid

    def volume_in(self, rep: LayerReport) -> tuple[int, int, int] | None:
        if len(rep.in_shapes) != 1 or len(rep.in_shapes[0]) != 3 or rep.shape is None:
            return None
        return rep.in_shapes[0]

    def is_global(self, nid: str) -> bool:
        """A POOL whose window covers its whole input (a global pool, not a down-sampling)."""
        rep = self.layers[nid]
        vol = self.volume_in(rep)
        k = self.nodes[nid].params["kernel_size"]
        return vol is None or (k >= vol[1] and k >= vol[2])

    def downsampling_pools(self) -> list[str]:
        if self._pools is None:
            self._pools = [nid for nid, rep in self.layers.items()
                           if rep.type in _POOLS and rep.shape is not None
                           and self.nodes[nid].params["stride"] > 1 and not self.is_global(nid)]
        return self._pools

    def feeds_add(self, nid: str) -> bool:
        """Whether a layer is on a residual branch: its output reaches an Add within a few
        single-reader layers (a residual block down-samples both of its branches)."""
        cur = nid
        for _ in range(8):
            readers = self.readers.get(cur, ())
            if any(self.nodes[r].type == "Add" for r in readers):
                return True
            if len(readers) != 1 or self.nodes[readers[0]].type in _POOLS + ("Concat",):
                return False
            cur = readers[0]
        return False

    def after_followers(self, nid: str) -> str:
        """The last of the normalisation and non-linearity layers that follow `nid` alone."""
        cur = nid
        while True:
            readers = self.readers.get(cur, ())
            if len(readers) != 1 or self.nodes[readers[0]].type not in _FOLLOWERS:
                return cur
            cur = readers[0]

    def first_halving_pool(self, conv: str) -> str | None:
        """The first down-sampling layer after `conv`, where it is a stride-2 POOL in the same
        stack (the first CONV's stride 2 can take its place)."""
        cur = conv
        while True:
            readers = self.readers.get(cur, ())
            if len(readers) != 1:
                return None
            cur = readers[0]
            node = self.nodes[cur]
            if node.type in _WINDOWED and node.params["stride"] != 1:
                ok = (node.type in _POOLS and node.params["stride"] == 2
                      and len(node.inputs) == 1 and not self.is_global(cur))
                return cur if ok else None
            if self.layers[cur].shape is None or len(self.layers[cur].shape) != 3:
                return None

    def drops(self, report: Report) -> list[str]:
        """Strided layers that floor (W − F + 2P)/S + 1 and so never see border pixels."""
        out = []
        for nid in report.order:
            node = self.nodes[nid]  # a trial differs in its INPUT only
            rep = report.layers[nid]
            if node.type not in _WINDOWED or rep.shape is None:
                continue
            p = node.params
            if p["stride"] == 1 or p.get("ceil_mode") or len(rep.in_shapes[0]) != 3:
                continue
            step = node.layer.step(p, rep.in_shapes)
            _, h, w = rep.in_shapes[0]
            if any((size + 2 * pad - k) % s for size, k, s, pad in
                   zip((h, w), step.kernel, step.stride, step.pad)):
                out.append(nid)
        return out

    # ------------------------------------------------------------------------- rules

    def hints(self) -> list[Hint]:
        out: list[Hint] = []
        if self.input_shape is None or len(self.input_shape) != 3:
            return out
        for rule in (self.memory, self.input_size, self.receptive_field):
            out.extend(rule())
        per_layer: list[tuple[int, Hint]] = []
        position = {nid: i for i, nid in enumerate(self.report.order)}
        for rule in (self.small_filters, self.padding, self.strides, self.pool_windows,
                     self.no_pooling, self.fc_to_conv):
            for h in rule():
                per_layer.append((min((position.get(n, 0) for n in h.layers), default=0), h))
        per_layer.sort(key=lambda x: x[0])
        return out + [h for _, h in per_layer]

    def input_size(self) -> list[Hint]:
        """Layer Sizing Patterns: the input divisible by 2 as many times as the network halves
        it, or the strided layers floor their sizes and drop border pixels."""
        c, h, w = self.input_shape
        jump_h = jump_w = 1
        for rep in self.layers.values():
            f = rep.field  # (size h, size w, jump h, jump w, start h, start w)
            if f is not None and rep.type in _WINDOWED:
                jump_h, jump_w = max(jump_h, f[2]), max(jump_w, f[3])
        mh, mw = _power_of_two(jump_h), _power_of_two(jump_w)
        if h % mh == 0 and w % mw == 0:
            return []
        dropping = self.drops(self.report)
        if not dropping:
            return []  # the sizes work out by design (AlexNet's 227)
        halvings = max(mh, mw).bit_length() - 1
        times = _WORDS.get(halvings, f"{halvings} times")
        best = None
        for ch, cw in ((_near(h, mh, -1), _near(w, mw, -1)), (_near(h, mh, 1), _near(w, mw, 1))):
            if min(ch, cw) < 1:
                continue
            trial = self.net.copy()
            trial.set_params(self.input_id, height=ch, width=cw)
            r = analyze(trial)
            if r.totals.errors:
                continue
            n = len(self.drops(r))
            score = (n, abs(ch - h) + abs(cw - w), ch)
            if n < len(dropping) and (best is None or score < best[0]):
                best = (score, ch, cw)
        where = ", ".join(dropping[:4]) + ("…" if len(dropping) > 4 else "")
        reason = (f"The network halves the image {times}, so the notes' input sizes are "
                  f"divisible by {max(mh, mw)}; at {w}×{h} {where} floor their sizes and never "
                  "see the last row or column of their input")
        edit = None
        if best is not None:
            _, ch, cw = best
            reason += f" ({cw}×{ch} works out)"
            edit = (SetParams(self.input_id, {"height": ch, "width": cw}),)
        return [self.hint(f"input-size:{self.input_id}", (self.input_id, *dropping),
                          f"Input {w}×{h} is not divisible by {max(mh, mw)}", reason + ".",
                          SECTION_SIZING, edit=edit)]

    def small_filters(self) -> list[Hint]:
        """Prefer a stack of small filter CONV: a k×k CONV (k = 5, 7, …) is m = (k−1)/2 stacked
        3×3 CONVs with RELUs between: the same receptive field, fewer parameters where the
        depth does not grow much."""
        out = []
        for nid in self.convs:
            node = self.nodes[nid]
            p = node.params
            rep = self.layers[nid]
            vol = self.volume_in(rep)
            k = p["kernel_size"]
            if (vol is None or k < 5 or k % 2 == 0 or p["stride"] != 1 or p["dilation"] != 1
                    or p["groups"] != 1):
                continue
            m = (k - 1) // 2
            pad = p["padding"]
            pads = _stack_paddings(pad, m)
            cin, cout = vol[0], p["out_channels"]
            if pads is None or k >= min(vol[1], vol[2]):
                continue
            single = k * k * cin * cout
            stack = 9 * cin * cout + (m - 1) * 9 * cout * cout
            if stack >= single:
                continue
            chain: list[NewLayer] = []
            for i in range(m):
                conv_id = nid if i == m - 1 else self.fresh_id(f"{nid}_{chr(ord('a') + i)}")
                chain.append(NewLayer(conv_id, "Conv2d", {
                    "out_channels": cout, "kernel_size": 3, "stride": 1, "padding": pads[i],
                    "bias": p["bias"]}))
                if i < m - 1:
                    chain.append(NewLayer(self.fresh_id(f"{conv_id}_relu"), "ReLU", {}))
            note = f"{k * k}·C² → {9 * m}·C²" if cin == cout else ""
            words = {2: "two", 3: "three", 4: "four", 5: "five"}.get(m, str(m))
            out.append(self.hint(
                f"stack3x3:{nid}", (nid,), f"{nid}: {k}×{k} CONV → {words} 3×3 CONVs",
                f"{words.capitalize()} stacked 3×3 CONVs with RELUs between see the same {k}×{k} "
                f"region with fewer parameters ({stack:,} vs {single:,} weights) and more "
                "non-linearities, for more activation memory.",
                SECTION_SMALL_FILTERS, edit=(ReplaceByChain(nid, tuple(chain)),), anchor=nid,
                note=note))
        return out

    def padding(self) -> list[Hint]:
        """Reducing sizing headaches: a stride-1 CONV that does not zero-pad shrinks the volume
        and washes away the border information."""
        out = []
        for nid in self.convs:
            node = self.nodes[nid]
            if node.params["stride"] != 1:
                continue
            p = node.params
            rep = self.layers[nid]
            vol = self.volume_in(rep)
            if vol is None:
                continue
            _, h, w = vol
            oh, ow = rep.shape[1], rep.shape[2]
            if (oh, ow) == (h, w) or oh >= h and ow >= w or min(oh, ow) <= 1:
                continue  # keeps the size, or covers its whole input (an FC in disguise)
            total = p["dilation"] * (p["kernel_size"] - 1)
            new_pad: Any = total // 2 if total % 2 == 0 else "same"
            out.append(self.hint(
                f"pad:{nid}", (nid,), f"{nid}: zero-pad to keep {w}×{h}",
                f"Without enough zero-padding this CONV shrinks {w}×{h} to {ow}×{oh}; padding "
                f"{new_pad} keeps the size, so the border information is not washed away and the "
                "sizes stay easy to track.",
                SECTION_HEADACHES, edit=(SetParams(nid, {"padding": new_pad}),), anchor=nid))
        return out

    def strides(self) -> list[Hint]:
        """Reducing sizing headaches: where POOL layers do the down-sampling, CONVs keep
        stride 1. The first CONV is the notes' memory compromise (AlexNet, ZFNet); CONVs on a
        residual branch are left alone (both branches must down-sample alike)."""
        if not self.downsampling_pools():
            return []
        first_conv = self.convs[0] if self.convs else None
        out = []
        for nid in self.convs:
            node = self.nodes[nid]
            if node.params["stride"] == 1:
                continue
            rep = self.layers[nid]
            if self.volume_in(rep) is None or self.feeds_add(nid):
                continue
            p = node.params
            s, k = p["stride"], p["kernel_size"]
            total = p["dilation"] * (k - 1)
            pad: Any = total // 2 if total % 2 == 0 else "same"
            where = self.after_followers(nid)
            pool = NewLayer(self.fresh_id(f"{nid}_pool"), "MaxPool2d",
                            {"kernel_size": s, "stride": s})
            edit = (SetParams(nid, {"stride": 1, "padding": pad}), InsertAfter(where, pool))
            if nid == first_conv:
                out.append(self.hint(
                    f"stride:{nid}", (nid,),
                    f"{nid}: {k}×{k} stride {s} in the first CONV (the memory compromise)",
                    "The notes keep CONVs at stride 1 and leave down-sampling to POOL, but allow "
                    "a larger stride in the first CONV, where the volumes are largest, to save "
                    f"memory; the prediction shows what stride 1 and a {s}×{s} POOL would cost.",
                    SECTION_MEMORY, edit=edit, kind="compromise"))
            else:
                out.append(self.hint(
                    f"stride:{nid}", (nid,), f"{nid}: stride {s} CONV among POOL layers",
                    "The network leaves its other down-sampling to POOL; stride 1 here and a "
                    f"{s}×{s} POOL after keep this CONV a depth-wise transform and the sizes easy "
                    "to work out (smaller strides work better in practice).",
                    SECTION_HEADACHES, edit=edit))
        return out

    def pool_windows(self) -> list[Hint]:
        """Layer Sizing Patterns: the most common POOL is 2×2 with stride 2. Only where that
        works out (an even width and height): on odd sizes an overlapping 3×3 window with stride
        2 is what makes the sizes work (AlexNet's 55 → 27 → 13)."""
        odd = []
        for nid in self.downsampling_pools():
            p = self.nodes[nid].params
            _, h, w = self.layers[nid].in_shapes[0]
            if (p["kernel_size"], p["stride"]) != (2, 2) and h % 2 == 0 and w % 2 == 0:
                odd.append(nid)
        if not odd:
            return []
        kinds = {(self.nodes[n].params["kernel_size"], self.nodes[n].params["stride"])
                 for n in odd}
        if len(kinds) == 1:
            k, s = next(iter(kinds))
            what = f"{k}×{k} window{'s' if len(odd) > 1 else ''}, stride {s}"
        else:
            what = "windows other than 2×2 with stride 2"
        title = (f"{odd[0]}: POOL with a {what}" if len(odd) == 1
                 else f"{len(odd)} POOLs with {what}")
        edit = tuple(SetParams(n, {"kernel_size": 2, "stride": 2, "padding": 0,
                                   **({"ceil_mode": False}
                                      if self.nodes[n].params["ceil_mode"] else {})})
                     for n in odd)
        return [self.hint(
            "pool2x2:" + ",".join(odd), odd, title,
            "The notes' usual POOL is max-pooling with 2×2 windows and stride 2, which halves "
            "the width and height and discards 75% of the activations; larger, overlapping "
            "windows discard more.",
            SECTION_SIZING, edit=edit)]

    def no_pooling(self) -> list[Hint]:
        """Getting rid of pooling: each POOL can be a CONV with the same window and stride (the
        All Convolutional Net). Offered, not pushed."""
        pools = self.downsampling_pools()
        if not pools or any(self.nodes[nid].params["ceil_mode"]
                            or self.nodes[nid].params.get("dilation", 1) != 1 for nid in pools):
            return []  # a CONV has no ceil_mode or dilated window to match such a POOL
        edit = []
        for nid in pools:
            p = self.nodes[nid].params
            depth = self.layers[nid].shape[0]
            conv = NewLayer(self.fresh_id(f"{nid}_conv"), "Conv2d", {
                "out_channels": depth, "kernel_size": p["kernel_size"], "stride": p["stride"],
                "padding": p["padding"]})
            relu = NewLayer(self.fresh_id(f"{nid}_relu"), "ReLU", {})
            edit.append(ReplaceByChain(nid, (conv, relu)))
        n = len(pools)
        return [self.hint(
            "allconv:" + ",".join(pools), pools,
            f"Getting rid of pooling: {'the POOL' if n == 1 else f'{n} POOLs'} as strided CONV"
            f"{'' if n == 1 else 's'}",
            "The All Convolutional Net replaces each POOL by a CONV with the same window and "
            "stride, so the network learns its own down-sampling, for more parameters (an "
            "alternative, not a fix).",
            SECTION_NO_POOL, edit=tuple(edit), kind="alternative")]

    def fc_to_conv(self) -> list[Hint]:
        """Converting FC layers to CONV layers: an FC that looks at a W×H×D volume is a CONV
        with W×H filters; converted, the network slides over larger images."""
        if not self.report.ok:
            return []
        fcs = [nid for nid in self.report.order if self.nodes[nid].type == "Linear"]
        first = None
        for nid in fcs:
            src = self.nodes[nid].inputs[0] if self.nodes[nid].inputs else None
            while (src is not None and self.nodes[src].type in _PASS_THROUGH
                   and len(self.layers[src].shape or ()) == 1):
                src = self.nodes[src].inputs[0]
            if src is not None and self.nodes[src].type == "Flatten":
                src = self.nodes[src].inputs[0]
            shape = self.layers[src].shape if src is not None else None
            if shape is not None and len(shape) == 3 and shape[1] * shape[2] > 1:
                first = (nid, shape)
                break
        if first is None:
            return []
        from .transforms import fc_to_conv_plan

        try:  # the conversion's checks only, on this analysis: no network is built
            fc_to_conv_plan(self.net, self.report)
        except ValueError:
            return []
        nid, shape = first
        c, h, w = shape
        names = ", ".join(fcs[:3]) + ("…" if len(fcs) > 3 else "")
        later = "" if len(fcs) == 1 else " (and the FCs after it 1×1 CONVs)"
        return [self.hint(
            "fc2conv:" + ",".join(fcs), fcs, f"FC → CONV: {names} can be CONV layers",
            f"{nid} looks at a {fmt_shape(shape)} volume, so it is a CONV with {w}×{h} "
            f"filters{later}: the same function and parameters, and the network can then slide "
            "over a larger image in one pass and give a map of class scores.",
            SECTION_FC_TO_CONV, edit=(ConvertFcToConv(),), kind="alternative")]

    def memory(self) -> list[Hint]:
        """Compromising based on memory constraints: where a training step does not fit the
        budget, a larger stride in the first CONV (where most activations are), or a smaller
        batch (Computational Considerations)."""
        est = self.report.textbook
        if est.budget is None or est.fits:
            return []
        out = []
        budget = format_bytes(est.budget)
        b = self.report.batch
        first = self.convs[0] if self.convs else None
        acts = self.report.totals.activations
        if first is not None and self.layers[first].shape is not None and acts:
            p = self.nodes[first].params
            full = sum(r.activations for r in self.layers.values()
                       if r.field is not None and r.field[2:4] == (1, 1) and r.type != "Input"
                       and not r.in_place and r.shape is not None)
            share = full / acts
            c, h, w = self.input_shape
            if p["stride"] == 1 and share >= 0.25 and min(h, w) >= 64:
                k = max(p["kernel_size"], 7)
                edit: tuple[Operation, ...] = (
                    SetParams(first, {"kernel_size": k, "stride": 2, "padding": (k - 1) // 2}),)
                pool = self.first_halving_pool(first)
                instead = ""
                if pool is not None:
                    edit += (RemoveLayer(pool),)
                    instead = f" (it takes the place of {pool}, so every later size is kept)"
                out.append(self.hint(
                    f"memory:{first}", (first,) + ((pool,) if pool else ()),
                    f"Batch {b} needs {format_bytes(est.total)} of {budget}: compromise at "
                    f"{first}",
                    f"{share:.0%} of the activations are at the full {w}×{h} resolution; a "
                    f"{k}×{k} stride-2 first CONV, as in ZFNet, quarters them{instead}.",
                    SECTION_MEMORY, edit=edit, kind="compromise"))
        mb = est.max_batch
        if mb:
            out.append(self.hint(
                "batch", (), f"Batch {b} does not fit {budget}: the largest that does is {mb:,}",
                "Most of the memory is activations, which grow with the batch, so the notes' "
                "common heuristic to make a network fit is a smaller batch.",
                SECTION_COMPUTE, settings={"batch": mb}))
        elif mb == 0:
            out.append(self.hint(
                "batch", (), f"Not even one image fits {budget}",
                f"The parameters with their gradients and optimizer state alone need "
                f"{format_bytes(est.fixed)}: make the network smaller or the budget larger.",
                SECTION_COMPUTE))
        return out

    def receptive_field(self) -> list[Hint]:
        """A network whose output sees only part of the input cannot respond to the whole
        image (receptive fields grow with depth, as the stacked 3×3 CONVs show)."""
        out_id = self.report.output
        rep = self.layers.get(out_id) if out_id else None
        if rep is None or rep.rf is None or self.report.totals.errors:
            return []
        c, h, w = self.input_shape
        rh, rw = rep.rf.size
        if rh >= h and rw >= w:
            return []
        edit = None
        shape = rep.shape
        if len(shape) == 3 and shape[1] * shape[2] > 1:
            gap = NewLayer(self.fresh_id("global_pool"), "AdaptiveAvgPool2d", {"output_size": 1})
            edit = (InsertAfter(out_id, gap),)
        return [self.hint(
            f"rf:{out_id}", (out_id,),
            f"Receptive field {rw}×{rh} does not cover the {w}×{h} input",
            f"Each output of {out_id} sees only {rw}×{rh} of the input, so none can respond to "
            "the whole image; add down-sampling or layers, or end with a global average POOL.",
            SECTION_SMALL_FILTERS, edit=edit)]


def _power_of_two(n: int) -> int:
    """The largest power of two that divides n."""
    return n & -n if n > 0 else 1


def _near(size: int, multiple: int, direction: int) -> int:
    if size % multiple == 0:
        return size
    lower = size - size % multiple
    return lower if direction < 0 else lower + multiple


def _stack_paddings(pad: Any, m: int) -> list[Any] | None:
    """Paddings of m stacked 3×3 CONVs giving the same output size as one (2m+1)×(2m+1)."""
    if pad == "same":
        return ["same"] * m
    if pad == "valid":
        pad = 0
    if pad > m:
        return None
    return [1] * pad + [0] * (m - pad)


def ignored_keys(hints_section: Mapping[str, Any] | None) -> set[str]:
    """The keys a design file's "hints" section says to hide."""
    value = (hints_section or {}).get("ignored", [])
    return {k for k in value if isinstance(k, str)} if isinstance(value, list) else set()
