"""Compromising based on memory constraints: where a training step does not fit the memory
budget, a stride-2 first CONV (where most activations are) or the largest batch that fits.
"""

from __future__ import annotations

from dataclasses import replace

from ..units import format_bytes
from .operations import Operation, RemoveLayer, SetParams
from .records import SECTION_COMPUTE, SECTION_MEMORY, Hint
from .view import DesignView


def memory(view: DesignView) -> list[Hint]:
    """Compromising based on memory constraints: where a training step does not fit the
    budget, a larger stride in the first CONV (where most activations are), or a smaller
    batch (Computational Considerations)."""
    est = view.report.textbook
    if est.budget is None or est.fits:
        return []
    out = []
    budget = format_bytes(est.budget)
    b = view.report.batch
    first = view.convs[0] if view.convs else None
    acts = view.report.totals.activations
    if first is not None and view.layers[first].shape is not None and acts:
        p = view.nodes[first].params
        full = sum(r.activations for r in view.layers.values()
                   if r.field is not None and r.field[2:4] == (1, 1) and r.type != "Input"
                   and not r.in_place and r.shape is not None)
        share = full / acts
        c, h, w = view.input_shape
        if p["stride"] == 1 and share >= 0.25 and min(h, w) >= 64:
            k = max(p["kernel_size"], 7)
            edit: tuple[Operation, ...] = (
                SetParams(first, {"kernel_size": k, "stride": 2, "padding": (k - 1) // 2}),)
            pool = view.first_halving_pool(first)
            instead = ""
            if pool is not None:
                edit += (RemoveLayer(pool),)
                instead = f" (it takes the place of {pool}, so every later size is kept)"
            hint = view.hint(
                f"memory:{first}", (first,) + ((pool,) if pool else ()),
                f"Batch {b} needs {format_bytes(est.total)} of {budget}: compromise at "
                f"{first}",
                f"{share:.0%} of the activations are at the full {w}×{h} resolution; a "
                f"{k}×{k} stride-2 first CONV, as in ZFNet, quarters them{instead}.",
                SECTION_MEMORY, edit=edit, kind="compromise")
            effect = hint.effect()
            if effect is not None and effect.after.memory > est.budget:
                hint = replace(hint, reason=hint.reason[:-1] + (
                    f"; that brings batch {b} to {format_bytes(effect.after.memory)}, still "
                    f"more than {budget}: it does not fit without a smaller batch too."))
            out.append(hint)
    mb = est.max_batch
    if mb:
        out.append(view.hint(
            "batch", (), f"Batch {b} does not fit {budget}: the largest that does is {mb:,}",
            "Most of the memory is activations, which grow with the batch, so the notes' "
            "common heuristic to make a network fit is a smaller batch.",
            SECTION_COMPUTE, settings={"batch": mb}))
    elif mb == 0:
        out.append(view.hint(
            "batch", (), f"Not even one image fits {budget}",
            f"The parameters with their gradients and optimizer state alone need "
            f"{format_bytes(est.fixed)}: make the network smaller or the budget larger.",
            SECTION_COMPUTE))
    return out
