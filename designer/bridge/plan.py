"""How a design becomes PyTorch code, shared by the module builder and the code export.

Both must give the same module tree (so an exported model loads the built model's state_dict):
layer -> (torch.nn class name, constructor arguments), and the grouping of plain runs of layers
into nn.Sequential blocks. Pure Python: torch is imported by the callers, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.analysis import Report, analyze, inplace_activations
from ..model.layers import numel
from ..model.network import Network


class BuildError(ValueError):
    """The design cannot be built (it has errors); the message names the layer and the reason."""


@dataclass(frozen=True, slots=True)
class Layer:
    id: str
    cls: str | None  # torch.nn class name; None for INPUT and merges
    kwargs: dict[str, Any]
    inputs: tuple[str, ...]
    flatten: bool  # Linear on a W×H×D volume: flatten it first


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive single-input layers, each feeding only the next: one nn.Sequential."""

    name: str
    layers: tuple[Layer, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Layer | Run, ...]  # in execution order; Layer steps are INPUT, merges, singles
    input: str
    output: str
    report: Report


def torch_spec(type_name: str, params: dict[str, Any], in_shape, inplace: bool):
    """(class name, kwargs) of the torch.nn module for one layer, or (None, {})."""
    p = params
    if type_name in ("Input", "Add", "Concat"):
        return None, {}
    if type_name == "Conv2d":
        return "Conv2d", dict(in_channels=in_shape[0], out_channels=p["out_channels"],
                              kernel_size=p["kernel_size"], stride=p["stride"],
                              padding=p["padding"], dilation=p["dilation"], groups=p["groups"],
                              bias=p["bias"])
    if type_name == "Linear":
        return "Linear", dict(in_features=numel(in_shape), out_features=p["out_features"],
                              bias=p["bias"])
    if type_name == "BatchNorm2d":
        return "BatchNorm2d", dict(num_features=in_shape[0], **p)
    if type_name == "ReLU":
        return "ReLU", ({"inplace": True} if inplace else {})
    return type_name, dict(p)


def make_plan(network: Network, report: Report | None = None) -> Plan:
    report = report or analyze(network)
    error = report.first_error()
    if error is not None:
        raise BuildError(error)
    if report.output is None:
        raise BuildError("the network has no output: wire layers after the INPUT")
    inplace = inplace_activations(network)
    nodes = network.nodes
    consumers: dict[str, int] = {}
    for n in nodes.values():
        for s in n.inputs:
            consumers[s] = consumers.get(s, 0) + 1
    groups: list[list[Layer]] = []
    input_id = ""
    for nid in report.order:
        rep = report.layers[nid]
        if rep.shape is None:
            continue  # not connected: nothing to build
        node = nodes[nid]
        in_shape = rep.in_shapes[0] if rep.in_shapes else None
        cls, kwargs = torch_spec(node.type, dict(node.params), in_shape, nid in inplace)
        layer = Layer(nid, cls, kwargs, node.inputs,
                      node.type == "Linear" and in_shape is not None and len(in_shape) == 3)
        if node.type == "Input":
            input_id = nid
        last = groups[-1][-1] if groups else None
        if (cls is not None and last is not None and last.cls is not None
                and node.inputs == (last.id,) and consumers.get(last.id) == 1):
            groups[-1].append(layer)
        else:
            groups.append([layer])
    runs = [g for g in groups if len(g) > 1]
    steps: list[Layer | Run] = []
    for g in groups:
        if len(g) == 1:
            steps.append(g[0])
        elif len(runs) == 1 and sum(len(x) for x in groups if x[0].cls) == len(g):
            steps.append(Run("layers", tuple(g)))
        else:
            steps.append(Run(f"{g[0].id}_to_{g[-1].id}", tuple(g)))
    seen: set[str] = set()
    for step in steps:
        name = step.name if isinstance(step, Run) else step.id if step.cls else None
        if name is None:
            continue
        if name in seen:
            raise BuildError(f"two parts of the model would be named {name!r}: rename the layer "
                             f"{name!r}")
        seen.add(name)
    return Plan(tuple(steps), input_id, report.output, report)
