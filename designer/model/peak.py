"""The memory one training step really reaches in PyTorch: a walk through the step in time.

What autograd keeps is only half the story: the highest point of a step is reached somewhere in
the backward pass, where the tensors saved by the layers not yet differentiated, the gradients in
flight, the weight gradients produced so far and the convolution's scratch space are all alive at
once — or in the optimizer's step, where every gradient and the optimizer's temporaries are.
This module walks the step the way PyTorch runs it (the forward pass in topological order, the
backward pass in reverse, then the optimizer) and keeps the highest point, split into parts.

Precision, as the Trainer runs it:
- "fp32" / "fp64": every tensor in that type;
- "fp16" / "bf16": automatic mixed precision (torch.autocast). Weights, their gradients and the
  optimizer state stay fp32; CONV and FC layers cast their input (where it is not already
  16-bit) and their weights to 16 bits and keep those copies for backward; their outputs are
  16-bit and what follows stays 16-bit, except LRN, whose power runs in fp32 (and with it what
  follows, up to the next CONV or FC); the loss's log-softmax is fp32.

Device: on CUDA, Dropout keeps a one-byte mask (a float one on the CPU), and convolutions take
cuDNN scratch space ("workspace") while they run, a rule of round figures fitted to the op-by-op
H100 timeline (benchmarks/gpu_memory_timeline.py; neither the timeline nor fitting code is in
the repository) of the 9 designs in tests/bridge/data/h100_step_peaks.json, all of them; the
held-out designs are `--verify`'s with no row there (tests/bridge/test_peak_calibration.py). In
backward 2.5× the larger of the volume a CONV reads and the one it makes (in its compute type);
in forward 2× that, except for a CONV on an image's few channels (none); for a CONV that
computes no input gradient (the first), none in fp32 and its output's size in fp32 under
autocast.

Frozen layers (Node.frozen, a fine-tune): their parameters are weights only ("frozen weights": no
gradient, no optimizer state or temporaries), and a frozen BatchNorm2d runs in eval mode. What
autograd keeps follows from which tensors need a gradient: a layer's output needs one where some
input does or it has trainable parameters. A frozen layer whose input needs no gradient (a frozen
prefix at the network's start) keeps nothing for backward and is never reached by it; one whose
input does keeps what the input's gradient needs: a CONV its input (PyTorch's convolution saves
it either way), a frozen FC nothing but its weight (the input serves only the weight's gradient),
a frozen BatchNorm2d its input (as in training mode).

The walk is kept (Walk): an edit that changes only sizes (a layer's channels, the image) reads
again only the layers it changed and adds their differences where the walk put them, instead of
walking the ~500 layers of a ResNet-152 again (tests/model/test_peak_walk.py: the result is, point
for point, a fresh walk's).

Pure Python: no Qt, no torch. The figures are checked against torch.cuda.max_memory_allocated
(benchmarks/gpu_memory_timeline.py, BENCHMARKS.md) and, for what is held, against the tensors a
real CPU step keeps (tests/bridge/test_memory_estimate.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import accumulate, compress, islice
from operator import add, is_not

from .layers import numel

# The parts of the estimate, in the order the readouts show them.
PARTS = ("saved for backward", "gradients in flight", "workspace", "data batch", "weights",
         "frozen weights", "16-bit weight copies", "weight gradients", "optimizer state",
         "optimizer temporaries", "buffers")
(SAVED, GRADS, WORK, DATA, WEIGHTS, FROZEN, COPIES, WGRADS, STATE, TEMP,
 BUFFERS) = range(len(PARTS))

# Optimizer temporaries in PyTorch's foreach step, in weights' sizes: Adam, AdamW, RMSprop and
# Adagrad take a square root of their running average into a new tensor list; Nesterov adds the
# momentum to the gradients into a new list.
OPTIMIZER_TEMPORARIES = {"sgd": 0, "momentum": 0, "nesterov": 1, "adagrad": 1, "rmsprop": 1,
                         "adam": 1, "adamw": 1}

_WITH_WEIGHTS = {"Conv2d", "Linear"}  # autocast casts these to 16 bits
_SAVES_FOR_WEIGHTS = {"Conv2d", "Linear", "BatchNorm2d"}
_DROPOUT = {"Dropout", "Dropout2d"}
# cuDNN's scratch space while a convolution runs, in volumes of the larger of its input and
# output (fitted to the H100 timeline of the fitted designs, see the docstring: 1.5–3× typically,
# more for deep layers with small maps in fp32).
WORKSPACE = 2.5


class StepMemory:
    """The walk's result: the highest point for a batch size, and the largest batch that fits.

    A point of the walk is (saved, gradients in flight, workspace: bytes per sample; 16-bit
    weight copies, weight gradients, temporaries: bytes); the data batch, weights (trainable
    and frozen), optimizer state and buffers are there at every point. Kept as two sums a
    point (per sample, fixed) and, for the parts of one point, the walk's running changes of
    each of the six and what each point adds of its own (the last point, the optimizer's step,
    apart)."""

    __slots__ = ("per", "fixed", "_runs", "_last", "held", "data", "weights", "frozen", "state",
                 "buffers")

    def __init__(self, per: list, fixed: list, runs: list[list], last: tuple,
                 held: dict[str, tuple[int, int]], data: int, weights: int, state: int,
                 buffers: int, frozen: int = 0):
        self.per, self.fixed = per, fixed  # a point's per-sample and fixed bytes, summed
        self._runs, self._last = runs, last
        self.held = held  # part -> (per sample, fixed): what stays allocated between phases
        self.data, self.weights, self.state, self.buffers = data, weights, state, buffers
        self.frozen = frozen

    def point(self, i: int) -> tuple:
        """The i-th point's six parts."""
        if i == len(self.per) - 1:
            return self._last
        runs = self._runs
        return tuple([sum(islice(runs[c], i + 1)) + runs[_LOCAL + c][i] for c in range(6)])

    @property
    def points(self) -> list[tuple]:
        runs = self._runs
        columns = [list(map(add, accumulate(runs[c]), runs[_LOCAL + c])) for c in range(6)]
        return [*zip(*columns), self._last]

    def peak(self, batch: int) -> tuple[tuple[tuple[str, int], ...], int, int]:
        """The highest point at `batch`: (bytes per part, bytes per sample, fixed bytes)."""
        top = -1
        best = i = 0
        for a, f in zip(self.per, self.fixed):  # (a ResNet-152 step has some 1,000 points)
            total = a * batch + f
            if total > top:
                top, best = total, i
            i += 1
        saved, flight, work, copies, wgrads, tmp = self.point(best)
        parts = (saved * batch, flight * batch, work * batch, self.data * batch, self.weights,
                 self.frozen, copies, wgrads, self.state, tmp, self.buffers)
        return (tuple(zip(PARTS, parts)), self.per[best] + self.data,
                self.fixed[best] + self.weights + self.frozen + self.state + self.buffers)

    def max_batch(self, budget: int) -> int:
        """The largest batch whose highest point fits the budget (0: not even one)."""
        room = budget - (self.weights + self.frozen + self.state + self.buffers)
        if max(self.fixed) > room:
            return 0
        data = self.data
        best = None
        for a, f in zip(self.per, self.fixed):
            per = a + data
            if per:
                n = (room - f) // per  # per may be a float (the workspace): the batch is whole
                if best is None or n < best:
                    best = n
        return max(int(best) if best is not None else 1 << 40, 0)


# What the walk adds up are terms, each read from a layer's report: _ACT its output's values
# × a, _PARAMS / _BUFFERS its parameters / buffers × a, _ITEM the a-th volume it saves (in b
# bytes a value where the catalogue leaves the type open), _WVALS its 16-bit weight copy,
# _WORK a CONV's scratch space (a × the larger of its input b[0]'s and its output's values ×
# b[1]), _BNSMALL a BatchNorm2d's saved mean and deviation, _CONST a.
_ACT, _PARAMS, _BUFFERS, _ITEM, _WVALS, _WORK, _BNSMALL, _CONST = range(8)
# Where a term goes (Walk.arrays): 0–5 a column's running total from a point on, 6–11 a
# column at one point only, 12 the step's scalars; 13–16 what is summed in the columns per sample
# (saved, in flight, workspace) and fixed (copies, weight gradients, temporaries): from a point
# on, at one point.
_LOCAL, _SCALAR, _PER, _FIXED = 6, 12, 13, 15
_BOTH = (13, 13, 13, 15, 15, 15, 14, 14, 14, 16, 16, 16)  # where -> where in the sums
_S_WEIGHTS, _S_FROZEN, _S_BUFFERS, _S_DATA, _S_SAVED, _S_SMALL, _S_COPIES, _S_WGRADS = range(8)


def _value(term: tuple, layers: Mapping, nodes: Mapping):
    kind, nid, a, b = term
    if kind == _CONST:
        return a
    rep = layers[nid]
    if kind == _ACT:
        return rep.activations * a
    if kind == _PARAMS:
        return rep.params * a
    if kind == _BUFFERS:
        return rep.buffers * a
    if kind == _ITEM:
        item = rep.saved[a]
        return item[1] * (b if item[2] is None else item[2])
    if kind == _WVALS:
        return _weight_values(rep.type, nodes[nid].params, rep) * 2
    if kind == _WORK:
        return a * max(layers[b[0]].activations, rep.activations) * b[1]
    return 2 * rep.in_shapes[0][0] * a  # _BNSMALL


def _form(rep, node) -> tuple:
    """What in a layer's report decides the walk's course (not only its sums)."""
    kind = rep.type
    return (kind, rep.inputs, rep.shape is None, not rep.params, not rep.buffers, rep.frozen,
            tuple([(item[0], item[1] if item[0] == "input" else len(item) > 2 and item[2] is None)
                   for item in rep.saved]),
            kind in _DROPOUT and node.params["p"] == 0,
            kind == "Conv2d" and bool(rep.in_shapes) and rep.in_shapes[0][0] >= 8)


class Walk:
    """One training step walked (see the module's docstring), kept with its structure.

    The walk is traced: every figure it adds up is a term read from a layer's report, and every
    point of the step a sum of terms. update() answers an analysis of the same structure (the
    same order, wiring and kinds; the same layers trained, frozen, saving the same kinds of
    volume) by reading again only the terms of the layers whose reports changed and adding
    their differences where the trace put them: an edit of a layer's sizes costs a few terms
    and the columns' running sums, not the walk."""

    def __init__(self, nodes: Mapping, order, layers: Mapping, consumers: Mapping[str, int],
                 output: str | None, inplace, *, dtype: str, optimizer: str, device: str,
                 state_values: int, value_bytes: Mapping[str, int]):
        self.order, self.output, self.consumers, self.inplace = order, output, consumers, inplace
        self.nodes, self.layers = nodes, layers
        self.state_values = state_values
        self.temporaries = OPTIMIZER_TEMPORARIES.get(optimizer, 0)
        amp = dtype in ("fp16", "bf16")
        full = 4 if amp else value_bytes[dtype]  # weights, gradients, optimizer state, data
        half = 2 if amp else full  # CONV / FC compute type
        cuda = device == "cuda"
        terms: list[tuple] = []
        values: list = []
        # (term, where, point or scalar, sign), four ints an event, one after the other: a flat
        # list is made and freed faster than one of tuples
        events: list[int] = []
        log = events.extend
        pos = 0  # the point the next events take effect at
        param_t: dict[str, int] = {}  # layer -> the term of its parameters' bytes

        def term(kind, nid, a, b, value) -> int:
            terms.append((kind, nid, a, b))
            values.append(value)
            return len(terms) - 1

        # ---- forward: types, storages, what is saved and who uses it last -----------------
        storage: dict[str, str] = {}  # layer -> the storage its output lives in
        size: dict[str, int] = {}  # storage -> its term (bytes per sample)
        width: dict[str, int] = {}  # layer -> bytes per value of its output
        out_size: dict[str, int] = {}  # layer -> term: bytes per sample of its output
        saved_per: dict[str, int] = {}  # saved storage -> its term
        saved_fix: dict[str, int] = {}  # saved weight copy -> its term
        last_user: dict[str, str] = {}  # saved storage -> the layer whose backward frees it
        needs_grad: set[str] = set()
        data = None
        extra_n = 0  # extras get storage names of their own
        live: dict[str, int] = {}  # storage -> consumers still to run (outputs not saved)
        run = [nid for nid in order if layers[nid].shape is not None]
        for nid in run:
            rep = layers[nid]
            kind = rep.type
            ins = rep.inputs
            trained = rep.params and not rep.frozen
            if rep.params:
                p_t = param_t[nid] = term(_PARAMS, nid, full, None, rep.params * full)
                log((p_t, _SCALAR, _S_FROZEN if rep.frozen else _S_WEIGHTS, 1))
            if rep.buffers:
                log((term(_BUFFERS, nid, full, None, rep.buffers * full), _SCALAR, _S_BUFFERS, 1))
            if kind == "Input":
                data = nid
                storage[nid] = nid
                width[nid] = full
                t = term(_ACT, nid, full, None, rep.activations * full)
                log((t, _SCALAR, _S_DATA, 1))
                size[nid] = out_size[nid] = t
                continue
            in_w = width[ins[0]] if len(ins) == 1 else max([width[s] for s in ins])
            if kind in _WITH_WEIGHTS:
                w = half
            elif amp and kind == "LocalResponseNorm":
                w = 4
            else:
                w = in_w
            width[nid] = w
            same = (kind == "Flatten" or nid in inplace
                    or (kind in _DROPOUT and nodes[nid].params["p"] == 0))
            st = storage[ins[0]] if same else nid
            storage[nid] = st
            out_t = out_size[nid] = len(terms)  # (made here, not by term(): one a layer)
            terms.append((_ACT, nid, w, None))
            values.append(rep.activations * w)
            if not same:
                size[st] = out_t
            grad_in = False
            for s in ins:
                if s in needs_grad:
                    grad_in = True
                    break
            if grad_in or trained:
                needs_grad.add(nid)
            if not grad_in:  # only a weight gradient: the input it is made from
                saved = (("input", 0),) if trained and kind in _SAVES_FOR_WEIGHTS else ()
            elif rep.frozen and kind == "Linear":
                saved = ()  # the input's gradient needs only the weight
            else:
                saved = rep.saved
            for k, item in enumerate(saved):
                tag = item[0]
                if tag == "input":
                    source = ins[item[1]]
                    src = storage[source]
                    if kind in _WITH_WEIGHTS and width[source] != half:
                        # autocast keeps the 16-bit copy it made of the input
                        src = f"{nid}:cast"
                        size[src] = term(_ACT, source, half, None,
                                         layers[source].activations * half)
                    if src == data:
                        continue  # the data batch is counted on its own (an INPUT is its storage)
                elif tag == "output":
                    src = st
                else:
                    extra_n += 1
                    src = f"{nid}:{extra_n}"
                    nbytes = open_type = item[2]
                    if nbytes is None:
                        if kind == "Dropout" and cuda:
                            nbytes = 1  # CUDA's fused dropout keeps a bool mask
                        elif amp and kind == "LocalResponseNorm" and k != 1:
                            nbytes = 4  # the power's base and the denominator: fp32
                        else:
                            nbytes = in_w
                        open_type = nbytes
                    size[src] = term(_ITEM, nid, k, open_type, item[1] * nbytes)
                if src not in saved_per:
                    t = saved_per[src] = size[src]
                    log((t, 0, pos, 1))
                    log((t, _SCALAR, _S_SAVED, 1))
                    if src in live:  # an output that was only in flight is now kept
                        log((t, 1, pos, -1))
                        del live[src]
                last_user[src] = nid
            if kind == "BatchNorm2d" and not rep.frozen and (grad_in or trained):
                # training mode keeps the batch's mean and inverse deviation per channel (fp32)
                b = 4 if amp else full
                t = term(_BNSMALL, nid, b, None, 2 * rep.in_shapes[0][0] * b)
                log((t, _SCALAR, _S_SMALL, 1))
            if amp and kind in _WITH_WEIGHTS and (grad_in or trained):
                key = f"{nid}:w16"
                t = saved_fix[key] = term(
                    _WVALS, nid, None, None, _weight_values(kind, nodes[nid].params, rep) * 2)
                log((t, 3, pos, 1))
                log((t, _SCALAR, _S_COPIES, 1))
                last_user[key] = nid
            # the point: (saved, in flight and this output, workspace, copies)
            log((out_t, _LOCAL + 1, pos, 1))
            if cuda and kind == "Conv2d" and rep.in_shapes[0][0] >= 8:
                # (a CONV on a few channels, an image's, runs without scratch space)
                t = term(_WORK, nid, 2, (ins[0], half),
                         2 * max(layers[ins[0]].activations, rep.activations) * half)
                log((t, _LOCAL + 2, pos, 1))
            pos += 1
            if not same and st not in saved_per:
                readers = consumers.get(nid, 0)
                if readers:
                    live[st] = readers
                    log((out_t, 1, pos, 1))
            for s in ins:
                ss = storage[s]
                if ss in live:
                    live[ss] -= 1
                    if live[ss] <= 0:
                        log((size[ss], 1, pos, -1))
                        del live[ss]
        for st in live:  # (read by a layer that is not run) the backward's flight starts anew
            log((size[st], 1, pos, -1))
        if output is not None and output in needs_grad:
            # the log-softmax the loss keeps (fp32 under autocast) and the labels; and its
            # total weight, a scalar (nothing at all where no layer is trained: no backward)
            for t in (term(_ACT, output, full, None, layers[output].activations * full),
                      term(_CONST, None, 8, None, 8)):
                log((t, 0, pos, 1))
                log((t, _SCALAR, _S_SAVED, 1))
            log((term(_CONST, None, full, None, full), _SCALAR, _S_SMALL, 1))
        # (the few bytes of "small" are left out of the walk's points: its peak is per sample)

        # ---- backward: reverse order; saved tensors freed after their last user ------------
        frees: dict[str, list[str]] = {}
        for src, nid in last_user.items():
            frees.setdefault(nid, []).append(src)
        pending: dict[str, int] = {}  # layer -> the term of its output's gradient, in flight
        if output is not None and output in needs_grad:
            pending[output] = out_size[output]
            log((out_size[output], 1, pos, 1))
        for nid in reversed(run):
            g = pending.pop(nid, None)
            if g is None:
                continue
            rep = layers[nid]
            kind = rep.type
            ins = rep.inputs
            view = storage[nid] == storage[ins[0]] and nid not in inplace
            if len(ins) == 1:  # (most layers: no list made)
                targets = ins if ins[0] in needs_grad else ()
            else:
                targets = [s for s in ins if s in needs_grad]
            new = () if view else [out_size[s] for s in targets]
            work = None
            if cuda and kind == "Conv2d":
                if targets:
                    work = term(_WORK, nid, WORKSPACE, (ins[0], half),
                                WORKSPACE * max(layers[ins[0]].activations, rep.activations)
                                * half)
                elif amp:  # weight gradient only: scratch of about the output's size in fp32
                    work = term(_ACT, nid, 4, None, rep.activations * 4)
            wg = None if rep.frozen else param_t.get(nid)
            wg16 = None
            two = amp and kind in _WITH_WEIGHTS
            for t in new:
                log((t, _LOCAL + 1, pos, 1))
            if work is not None:
                log((work, _LOCAL + 2, pos, 1))
            if two:
                # the op makes a 16-bit weight gradient; once its saved tensors are released,
                # autocast's cast turns it into the fp32 gradient
                if wg is not None:
                    wg16 = term(_PARAMS, nid, 2, None, rep.params * 2)
                    log((wg16, _LOCAL + 5, pos, 1))
            elif wg is not None:
                log((wg, _LOCAL + 4, pos, 1))
            pos += 1
            log((g, 1, pos, -1))
            for src in frees.get(nid, ()):
                if src in saved_per:
                    log((saved_per.pop(src), 0, pos, -1))
                elif src in saved_fix:
                    log((saved_fix.pop(src), 3, pos, -1))
            if two:
                for t in new:
                    log((t, _LOCAL + 1, pos, 1))
                if wg is not None:
                    log((wg, _LOCAL + 4, pos, 1))
                    log((wg16, _LOCAL + 5, pos, 1))
                pos += 1
            if wg is not None:
                log((wg, 4, pos, 1))
                log((wg, _SCALAR, _S_WGRADS, 1))
            for s in targets:
                if s not in pending:
                    pending[s] = out_size[s]
                    log((out_size[s], 1, pos, 1))
        # ---- the optimizer step: its point is made from the scalars (see _memory) ----------

        self.terms, self.values, self.events = terms, values, events
        self.uses: list[list[tuple[int, int, int]]] | None = None  # made at the first update
        self.owners: dict[str, list[int]] = {}
        arrays = self.arrays = ([[0] * (pos + 1) for _ in range(6)] + [[0] * pos for _ in range(6)]
                                + [[0] * 8])
        it = iter(events)
        for t, where, p, sign in zip(it, it, it, it):
            arrays[where][p] += sign * values[t]
        for first in (0, _LOCAL, 3, _LOCAL + 3):  # the sums per sample and fixed
            arrays.append(list(map(add, map(add, arrays[first], arrays[first + 1]),
                                   arrays[first + 2])))
        self.memory = self._memory()

    def _memory(self) -> StepMemory:
        arrays = self.arrays
        (weights, frozen, buffers, data, saved, small, copies, wgrads) = arrays[_SCALAR]
        per = list(map(add, accumulate(arrays[_PER]), arrays[_PER + 1]))
        per.append(0)
        fixed = list(map(add, accumulate(arrays[_FIXED]), arrays[_FIXED + 1]))
        state = self.state_values * weights
        tmp = self.temporaries * weights
        fixed.append(wgrads + tmp)  # the optimizer's step
        held = {"saved for backward": (saved, small), "16-bit weight copies": (0, copies),
                "data batch": (data, 0), "weights": (0, weights),
                "frozen weights": (0, frozen), "weight gradients": (0, weights),
                "optimizer state": (0, state), "buffers": (0, buffers)}
        return StepMemory(per, fixed, [list(a) for a in arrays[:_SCALAR]],
                          (0, 0, 0, 0, wgrads, tmp), held, data, weights, state, buffers, frozen)

    def update(self, nodes: Mapping, order, layers: Mapping, consumers: Mapping[str, int],
               output: str | None, inplace) -> StepMemory | None:
        """The step of another analysis of the same structure, or None where its structure
        differs (walk it anew)."""
        if ((order is not self.order and order != self.order) or output != self.output
                or (consumers is not self.consumers and consumers != self.consumers)
                or (inplace is not self.inplace and inplace != self.inplace)):
            return None
        old_layers, old_nodes = self.layers, self.nodes
        changed = list(compress(order, map(is_not, map(layers.__getitem__, order),
                                           map(old_layers.__getitem__, order))))
        for nid in changed:
            if _form(layers[nid], nodes[nid]) != _form(old_layers[nid], old_nodes[nid]):
                return None
        self.layers, self.nodes = layers, nodes
        if not changed:
            return self.memory
        terms, values, arrays, both = self.terms, self.values, self.arrays, _BOTH
        uses, owners = self.uses, self.owners
        if uses is None:  # the events by term, the terms by the layers they read
            uses = self.uses = [[] for _ in terms]
            it = iter(self.events)
            for t, where, p, sign in zip(it, it, it, it):
                uses[t].append((where, p, sign))
            for t, (kind, nid, _, b) in enumerate(terms):
                if nid is not None:
                    owners.setdefault(nid, []).append(t)
                if kind == _WORK and b[0] != nid:
                    owners.setdefault(b[0], []).append(t)
        touched = set()
        for nid in changed:
            touched.update(owners.get(nid, ()))
        for t in touched:
            v = _value(terms[t], layers, nodes)
            d = v - values[t]
            if d:
                values[t] = v
                for where, p, sign in uses[t]:
                    arrays[where][p] += sign * d
                    if where < _SCALAR:
                        arrays[both[where]][p] += sign * d
        self.memory = self._memory()
        return self.memory


def _weight_values(kind: str, params: Mapping, rep) -> int:
    """Values in a CONV's or FC's weight (its bias left out)."""
    if kind == "Conv2d":
        return rep.params - (params["out_channels"] if params["bias"] else 0)
    return rep.params - (params["out_features"] if params["bias"] else 0)


__all__ = ["PARTS", "OPTIMIZER_TEMPORARIES", "StepMemory", "Walk", "numel"]
