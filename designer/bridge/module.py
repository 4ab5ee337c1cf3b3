"""Network -> torch.nn.Module, for any DAG of the catalogue.

Layers are attributes named by their ids; plain runs are nn.Sequential blocks (see plan.py), so
the module tree equals the one the code export writes. forward() walks the layers in topological
order and lets go of each volume as soon as nothing else reads it, so the memory a training step
holds is what autograd keeps, not what the walk keeps.

Frozen layers (Node.frozen, a fine-tune): their parameters have requires_grad=False (an optimizer
given only the parameters that require a gradient leaves them as they are), and a frozen
BatchNorm2d stays in eval mode whatever train() says: it normalises with its running statistics
and does not update them (the usual practice when fine-tuning; analysis/peak.py counts it so).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..model.analysis import Report
from ..model.network import Network
from .plan import BuildError, Layer, Run, make_plan

__all__ = ["BuildError", "DesignModule", "build_module"]


class DesignModule(nn.Module):
    """The built network. `trace(x)` returns every layer's output by id."""

    def __init__(self, network: Network, report: Report | None = None):
        super().__init__()
        plan = make_plan(network, report)
        self.input_id = plan.input
        self.output_id = plan.output
        modules: dict[str, nn.Module] = {}
        order: list[Layer] = []
        for step in plan.steps:
            name = step.name if isinstance(step, Run) else step.id
            if hasattr(self, name):
                raise BuildError(f"the layer id {name!r} is a name PyTorch modules use "
                                 "themselves: rename the layer")
            if isinstance(step, Run):
                seq = nn.Sequential(OrderedDict(
                    (layer.id, getattr(nn, layer.cls)(**layer.kwargs)) for layer in step.layers))
                self.add_module(step.name, seq)
                modules.update(seq.named_children())
                order.extend(step.layers)
            else:
                if step.cls is not None:
                    modules[step.id] = getattr(nn, step.cls)(**step.kwargs)
                    self.add_module(step.id, modules[step.id])
                order.append(step)
        index = {layer.id: i for i, layer in enumerate(order)}
        last_use: dict[int, int] = {}
        for i, layer in enumerate(order):
            for s in layer.inputs:
                last_use[index[s]] = i
        out = index[plan.output]
        self._steps = []
        for i, layer in enumerate(order):
            kind = "input" if layer.id == plan.input else (
                "module" if layer.cls else network.nodes[layer.id].type.lower())
            free = tuple(j for j, last in last_use.items() if last == i and j != out)
            if layer.kwargs.get("inplace"):
                kind = "inplace"
            self._steps.append((i, kind, modules.get(layer.id),
                                tuple(index[s] for s in layer.inputs), layer.flatten, free))
        self._ids = [layer.id for layer in order]
        self._out = out
        self.frozen_ids = tuple(layer.id for layer in order
                                if layer.id in modules and network.nodes[layer.id].frozen)
        self._frozen_norms = []
        for nid in self.frozen_ids:
            for p in modules[nid].parameters():
                p.requires_grad_(False)
            if isinstance(modules[nid], nn.BatchNorm2d):
                self._frozen_norms.append(modules[nid])

    def train(self, mode: bool = True) -> DesignModule:
        """Training or evaluation mode; a frozen BatchNorm2d stays in evaluation mode."""
        super().train(mode)
        for norm in self._frozen_norms:
            norm.train(False)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, keep=False)[self._out]

    def trace(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer's output for input x, by layer id."""
        values = self._run(x, keep=True)
        return {nid: v for nid, v in zip(self._ids, values) if v is not None}

    def _run(self, x: torch.Tensor, keep: bool) -> list:
        values: list = [None] * len(self._steps)
        for i, kind, module, srcs, flatten, free in self._steps:
            if kind == "module":
                a = values[srcs[0]]
                if flatten:
                    a = torch.flatten(a, 1)
                values[i] = module(a)
            elif kind == "inplace":
                # trace keeps every volume, so it must not overwrite the one before
                values[i] = torch.relu(values[srcs[0]]) if keep else module(values[srcs[0]])
            elif kind == "input":
                values[i] = x
            elif kind == "add":
                acc = values[srcs[0]] + values[srcs[1]]
                for s in srcs[2:]:
                    acc = acc + values[s]
                values[i] = acc
            else:
                values[i] = torch.cat([values[s] for s in srcs], 1)
            if not keep:
                for j in free:
                    values[j] = None
        return values


def build_module(network: Network, report: Report | None = None) -> DesignModule:
    """Build the design as a module (fresh PyTorch-initialised weights); BuildError if it has
    errors."""
    return DesignModule(network, report)
