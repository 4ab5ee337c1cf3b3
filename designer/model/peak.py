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

Pure Python: no Qt, no torch. The figures are checked against torch.cuda.max_memory_allocated
(benchmarks/gpu_memory_timeline.py, BENCHMARKS.md) and, for what is held, against the tensors a
real CPU step keeps (tests/bridge/test_memory_estimate.py).
"""

from __future__ import annotations

from collections.abc import Mapping

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
    and frozen), optimizer state and buffers are there at every point."""

    __slots__ = ("points", "held", "data", "weights", "frozen", "state", "buffers")

    def __init__(self, points: list[tuple[int, int, int, int, int, int]],
                 held: dict[str, tuple[int, int]], data: int, weights: int, state: int,
                 buffers: int, frozen: int = 0):
        self.points = points
        self.held = held  # part -> (per sample, fixed): what stays allocated between phases
        self.data, self.weights, self.state, self.buffers = data, weights, state, buffers
        self.frozen = frozen

    def _totals(self, p: tuple) -> tuple[int, int]:
        return (p[0] + p[1] + p[2] + self.data,
                p[3] + p[4] + p[5] + self.weights + self.frozen + self.state + self.buffers)

    def peak(self, batch: int) -> tuple[tuple[tuple[str, int], ...], int, int]:
        """The highest point at `batch`: (bytes per part, bytes per sample, fixed bytes)."""
        best = self.points[0]
        top = -1
        for p in self.points:
            a, b, c, d, e, f = p  # (unpacked: a ResNet-152 step has some 1,500 points)
            total = (a + b + c) * batch + d + e + f
            if total > top:
                top, best = total, p
        saved, flight, work, copies, wgrads, tmp = best
        parts = (saved * batch, flight * batch, work * batch, self.data * batch, self.weights,
                 self.frozen, copies, wgrads, self.state, tmp, self.buffers)
        per, fix = self._totals(best)
        return tuple(zip(PARTS, parts)), per, fix

    def max_batch(self, budget: int) -> int:
        """The largest batch whose highest point fits the budget (0: not even one)."""
        best = None
        for p in self.points:
            per, fix = self._totals(p)
            if fix > budget:
                return 0
            if per:
                n = int((budget - fix) // per)  # per may be a float: the batch is whole
                if best is None or n < best:
                    best = n
        return max(best if best is not None else 1 << 40, 0)


def walk(nodes: Mapping, order, layers: Mapping, consumers: Mapping[str, int],
         output: str | None, inplace: set[str], *, dtype: str, optimizer: str, device: str,
         state_values: int, value_bytes: Mapping[str, int]) -> StepMemory:
    """Walk one training step of the analysed design (see the module's docstring). `nodes`:
    the network's nodes by id, as they were analysed."""
    amp = dtype in ("fp16", "bf16")
    full = 4 if amp else value_bytes[dtype]  # weights, gradients, optimizer state, data
    half = 2 if amp else full  # CONV / FC compute type
    cuda = device == "cuda"

    # ---- forward: types, storages, what is saved and who uses it last ---------------------
    storage: dict[str, str] = {}  # layer -> the storage its output lives in
    size: dict[str, int] = {}  # storage -> bytes per sample
    width: dict[str, int] = {}  # layer -> bytes per value of its output
    out_size: dict[str, int] = {}  # layer -> bytes per sample of its output (and its gradient)
    saved_per: dict[str, int] = {}  # saved storage -> bytes per sample
    saved_fix: dict[str, int] = {}  # saved weight copy -> bytes
    last_user: dict[str, str] = {}  # saved storage -> the layer whose backward frees it
    needs_grad: set[str] = set()
    weights = frozen = buffers = 0
    data = None
    data_bytes = 0
    extra_n = 0  # extras get storage names of their own
    fwd_points: list[tuple[int, int, int, int]] = []  # (saved, in flight, workspace, copies)
    live: dict[str, int] = {}  # storage -> consumers still to run (outputs not saved)
    live_total = 0
    saved_total = 0
    saved_small = 0  # saved bytes that do not grow with the batch (held only, see below)
    copies_total = 0
    remaining = dict(consumers)
    run = [nid for nid in order if layers[nid].shape is not None]
    for nid in run:
        rep = layers[nid]
        kind = rep.type
        ins = rep.inputs
        trained = rep.params and not rep.frozen
        if rep.frozen:
            frozen += rep.params * full
        else:
            weights += rep.params * full
        buffers += rep.buffers * full
        if kind == "Input":
            data = nid
            storage[nid] = nid
            width[nid] = full
            data_bytes = rep.activations * full
            size[nid] = out_size[nid] = data_bytes
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
        out_bytes = out_size[nid] = rep.activations * w
        if not same:
            size[st] = out_bytes
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
        work = 0
        for item in saved:
            tag = item[0]
            if tag == "input":
                src = storage[ins[item[1]]]
                if kind in _WITH_WEIGHTS and width[ins[item[1]]] != half:
                    # autocast keeps the 16-bit copy it made of the input
                    src = f"{nid}:cast"
                    size[src] = layers[ins[item[1]]].activations * half
                if src == data:
                    continue  # the data batch is counted on its own (an INPUT is its storage)
            elif tag == "output":
                src = st
            else:
                extra_n += 1
                src = f"{nid}:{extra_n}"
                nbytes = item[2]
                if nbytes is None:
                    if kind == "Dropout" and cuda:
                        nbytes = 1  # CUDA's fused dropout keeps a bool mask
                    elif amp and kind == "LocalResponseNorm" and item is not saved[1]:
                        nbytes = 4  # the power's base and the denominator: fp32
                    else:
                        nbytes = in_w
                size[src] = item[1] * nbytes
            if src not in saved_per:
                saved_per[src] = size[src]
                saved_total += size[src]
                if src in live:  # an output that was only in flight is now kept
                    live_total -= size[src]
                    del live[src]
            last_user[src] = nid
        if kind == "BatchNorm2d" and not rep.frozen and (grad_in or trained):
            # training mode keeps the batch's mean and inverse deviation per channel (fp32)
            saved_small += 2 * rep.in_shapes[0][0] * (4 if amp else full)
        if amp and kind in _WITH_WEIGHTS and (grad_in or trained):
            n_w = _weight_values(kind, nodes[nid].params, rep)
            key = f"{nid}:w16"
            saved_fix[key] = n_w * 2
            copies_total += n_w * 2
            last_user[key] = nid
        if cuda and kind == "Conv2d" and rep.in_shapes[0][0] >= 8:
            # (a CONV on a few channels, an image's, runs without scratch space)
            work = 2 * max(layers[ins[0]].activations, rep.activations) * half
        fwd_points.append((saved_total, live_total + out_bytes, work, copies_total))
        if not same and st not in saved_per:
            live[st] = remaining.get(nid, 0)
            live_total += out_bytes
            if not live[st]:
                live_total -= out_bytes
                del live[st]
        for s in ins:
            ss = storage[s]
            if ss in live:
                live[ss] -= 1
                if live[ss] <= 0:
                    live_total -= size[ss]
                    del live[ss]
    if output is not None and output in needs_grad:
        # the log-softmax the loss keeps (fp32 under autocast) and the labels; and its total
        # weight, a scalar (nothing at all where no layer is trained: no backward)
        saved_total += layers[output].activations * full + 8
        saved_small += full
    state = state_values * weights
    # (the few bytes of saved_small are left out of the walk's points: its peak is per sample)
    held = {"saved for backward": (saved_total, saved_small),
            "16-bit weight copies": (0, copies_total), "data batch": (data_bytes, 0),
            "weights": (0, weights), "frozen weights": (0, frozen),
            "weight gradients": (0, weights), "optimizer state": (0, state),
            "buffers": (0, buffers)}
    temp = OPTIMIZER_TEMPORARIES.get(optimizer, 0) * weights

    points: list[tuple[int, int, int, int, int, int]] = [
        (s_p, flight, work, copies, 0, 0) for s_p, flight, work, copies in fwd_points]
    point = points.append

    # ---- backward: reverse order; saved tensors freed after their last user ----------------
    frees: dict[str, list[str]] = {}
    for src, nid in last_user.items():
        frees.setdefault(nid, []).append(src)
    pending: dict[str, int] = {}  # layer -> bytes of the gradient of its output, in flight
    pending_total = 0
    if output is not None and output in needs_grad:
        pending[output] = pending_total = out_size[output]
    wgrads = 0
    for nid in reversed(run):
        g = pending.pop(nid, None)
        if g is None:
            continue
        rep = layers[nid]
        kind = rep.type
        ins = rep.inputs
        view = storage[nid] == storage[ins[0]] and nid not in inplace
        new = 0
        if len(ins) == 1:  # (most layers: no list made)
            targets = ins if ins[0] in needs_grad else ()
        else:
            targets = [s for s in ins if s in needs_grad]
        if not view:
            for s in targets:
                new += out_size[s]
        work = 0
        if cuda and kind == "Conv2d":
            if targets:
                work = WORKSPACE * max(layers[ins[0]].activations, rep.activations) * half
            elif amp:  # weight gradient only: scratch of about the output's size in fp32
                work = rep.activations * 4
        wg = 0 if rep.frozen else rep.params * full
        if amp and kind in _WITH_WEIGHTS:
            # the op makes a 16-bit weight gradient; once its saved tensors are released,
            # autocast's cast turns it into the fp32 gradient
            wg16 = 0 if rep.frozen else rep.params * 2
            point((saved_total, pending_total + new, work, copies_total, wgrads, wg16))
        else:
            point((saved_total, pending_total + new, work, copies_total, wgrads + wg, 0))
        pending_total -= g
        for src in frees.get(nid, ()):
            if src in saved_per:
                saved_total -= saved_per.pop(src)
            elif src in saved_fix:
                copies_total -= saved_fix.pop(src)
        if amp and kind in _WITH_WEIGHTS:
            point((saved_total, pending_total + new, 0, copies_total, wgrads + wg, wg16))
        wgrads += wg
        for s in targets:
            if s not in pending:
                b = out_size[s]
                pending[s] = b
                pending_total += b
    # ---- optimizer step --------------------------------------------------------------------
    point((0, 0, 0, 0, wgrads, temp))

    return StepMemory(points, held, data_bytes, weights, state, buffers, frozen)


def _weight_values(kind: str, params: Mapping, rep) -> int:
    """Values in a CONV's or FC's weight (its bias left out)."""
    if kind == "Conv2d":
        return rep.params - (params["out_channels"] if params["bias"] else 0)
    return rep.params - (params["out_features"] if params["bias"] else 0)


__all__ = ["PARTS", "OPTIMIZER_TEMPORARIES", "StepMemory", "walk", "numel"]
