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

The rules live one family to a module: sizing (the input size), filters (small filters and the
receptive field), headaches (zero-padding, stride 1), pooling (2×2 POOLs, getting rid of
pooling), fc_conv (FC → CONV), budget (memory); the records (Hint, Effect, the sections) in
records, the edits in operations, what the rules read of a design in view.

Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..analysis import Report
from ..network import Network
from . import budget, fc_conv, filters, headaches, pooling, sizing
from .operations import (
    ConvertFcToConv,
    InsertAfter,
    NewLayer,
    Operation,
    RemoveLayer,
    ReplaceByChain,
    SetParams,
)
from .records import (
    SECTION_COMPUTE,
    SECTION_FC_TO_CONV,
    SECTION_HEADACHES,
    SECTION_MEMORY,
    SECTION_NO_POOL,
    SECTION_SIZING,
    SECTION_SMALL_FILTERS,
    Effect,
    Figures,
    Hint,
)
from .view import DesignView

__all__ = [
    "SECTION_COMPUTE", "SECTION_FC_TO_CONV", "SECTION_HEADACHES", "SECTION_MEMORY",
    "SECTION_NO_POOL", "SECTION_SIZING", "SECTION_SMALL_FILTERS",
    "ConvertFcToConv", "Effect", "Figures", "Hint", "InsertAfter", "NewLayer", "Operation",
    "RemoveLayer", "ReplaceByChain", "SetParams", "advise", "ignored_keys",
]


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
    hints = _hints(DesignView(network, report))
    _CACHE[key] = (weakref.ref(network), hints)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return list(hints)


def _hints(view: DesignView) -> list[Hint]:
    out: list[Hint] = []
    if view.input_shape is None or len(view.input_shape) != 3:
        return out
    for rule in (budget.memory, sizing.input_size, filters.receptive_field):
        out.extend(rule(view))
    per_layer: list[tuple[int, Hint]] = []
    position = {nid: i for i, nid in enumerate(view.report.order)}
    for rule in (filters.small_filters, headaches.padding, headaches.strides,
                 pooling.pool_windows, pooling.no_pooling, fc_conv.fc_to_conv):
        for h in rule(view):
            per_layer.append((min((position.get(n, 0) for n in h.layers), default=0), h))
    per_layer.sort(key=lambda x: x[0])
    return out + [h for _, h in per_layer]


def ignored_keys(hints_section: Mapping[str, Any] | None) -> set[str]:
    """The keys a design file's "hints" section says to hide."""
    value = (hints_section or {}).get("ignored", [])
    return {k for k in value if isinstance(k, str)} if isinstance(value, list) else set()
