"""Measure what one real training step holds in memory, part by part.

The counterpart of the analysis's `Report.pytorch` estimate (designer/model/analysis.py): it runs
one step — forward, cross-entropy loss, backward, optimizer step — on a built module and reports
bytes under the estimate's part names, so the two can be shown side by side and checked.

"saved for backward" is what autograd keeps between forward and backward: every tensor packed by
`torch.autograd.graph.saved_tensors_hooks` while the forward pass and the loss run, counted once
per storage (views of one volume, and in-place results, share a storage). Parameters and module
buffers are left out (they are counted as "weights" and "buffers"), and so is the data batch
(counted as "data batch"). The label tensor and the loss's log-softmax are included, as in the
estimate.

"weights" are the parameters that require a gradient (the ones the optimizer is given), "frozen
weights" those that do not (a fine-tune's frozen layers: no gradient, no optimizer state).

"optimizer state" sums the tensors in `optimizer.state` after the step except the scalar "step"
counters Adam, AdamW, Adagrad and RMSProp keep per parameter: a few bytes that the estimate (the
notes' "step cache" count: values per parameter) does not model.

TORCH, no Qt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "PARTS", "make_optimizer", "measure_training_step"]

# The parts measured, named as in MemoryEstimate.parts (the estimate's "backward working set" is
# transient and has no counterpart here).
PARTS = ("saved for backward", "data batch", "weights", "frozen weights", "weight gradients",
         "optimizer state", "buffers")

# Optimizer name (as in analysis.OPTIMIZER_STATE) -> constructor taking the parameters.
OPTIMIZERS: dict[str, Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]] = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.01),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
    "nesterov": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True),
    "adagrad": lambda ps: torch.optim.Adagrad(ps, lr=0.01),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-3),
}


def make_optimizer(name: str, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer called `name` (a key of OPTIMIZERS) over `params`."""
    return _factory(name)(params)


def _factory(name: str) -> Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        known = ", ".join(OPTIMIZERS)
        raise ValueError(f"unknown optimizer {name!r} (known: {known})") from None


def _bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def measure_training_step(
    module: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    optimizer_name: str,
    dtype: torch.dtype = torch.float32,
) -> dict[str, int]:
    """Run one training step of `module` on the batch (x, target) and return bytes per part.

    The module is put in training mode and converted to `dtype` (in place, on its own device); x
    is converted to `dtype` on that device, `target` (class indices) is moved there. The step
    really updates the weights; the optimizer gets only the parameters that require a gradient
    (a step with none of them runs the forward pass only). Keys are PARTS.
    """
    module.train()
    params = list(module.parameters())
    device = params[0].device if params else x.device
    module.to(device=device, dtype=dtype)
    x = x.to(device=device, dtype=dtype)
    target = target.to(device)
    trained = [p for p in params if p.requires_grad]
    factory = _factory(optimizer_name)
    optimizer = factory(trained) if trained else None
    for p in params:
        p.grad = None

    excluded = {t.untyped_storage().data_ptr()
                for t in (*module.parameters(), *module.buffers(), x)}
    saved: dict[int, int] = {}  # storage address -> storage bytes
    alive: list[torch.Tensor] = []  # keeps every packed tensor alive, so no address is reused

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr and ptr not in excluded:
            saved[ptr] = max(saved.get(ptr, 0), storage.nbytes())
            alive.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nn.functional.cross_entropy(module(x), target)
    alive.clear()
    if optimizer is not None:
        loss.backward()
        optimizer.step()

    state = sum(
        _bytes(v)
        for per_param in (optimizer.state.values() if optimizer is not None else ())
        for key, v in per_param.items()
        if isinstance(v, torch.Tensor) and key != "step"
    )
    return {
        "saved for backward": sum(saved.values()),
        "data batch": _bytes(x),
        "weights": sum(_bytes(p) for p in trained),
        "frozen weights": sum(_bytes(p) for p in params if not p.requires_grad),
        "weight gradients": sum(_bytes(p.grad) for p in params if p.grad is not None),
        "optimizer state": state,
        "buffers": sum(_bytes(b) for b in module.buffers()),
    }
