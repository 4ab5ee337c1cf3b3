"""Reducing sizing headaches: CONVs that keep the size (zero-padding at stride 1) and leave the
down-sampling to POOL (stride 1; the first CONV's larger stride is the notes' memory compromise).
"""

from __future__ import annotations

from typing import Any

from .operations import InsertAfter, NewLayer, SetParams
from .records import SECTION_HEADACHES, SECTION_MEMORY, Hint
from .view import DesignView


def padding(view: DesignView) -> list[Hint]:
    """Reducing sizing headaches: a stride-1 CONV that does not zero-pad shrinks the volume
    and washes away the border information."""
    out = []
    for nid in view.convs:
        node = view.nodes[nid]
        if node.params["stride"] != 1:
            continue
        p = node.params
        rep = view.layers[nid]
        vol = view.volume_in(rep)
        if vol is None:
            continue
        _, h, w = vol
        oh, ow = rep.shape[1], rep.shape[2]
        if (oh, ow) == (h, w) or oh >= h and ow >= w or min(oh, ow) <= 1:
            continue  # keeps the size, or covers its whole input (an FC in disguise)
        total = p["dilation"] * (p["kernel_size"] - 1)
        new_pad: Any = total // 2 if total % 2 == 0 else "same"
        out.append(view.hint(
            f"pad:{nid}", (nid,), f"{nid}: zero-pad to keep {w}×{h}",
            f"Without enough zero-padding this CONV shrinks {w}×{h} to {ow}×{oh}; padding "
            f"{new_pad} keeps the size, so the border information is not washed away and the "
            "sizes stay easy to track.",
            SECTION_HEADACHES, edit=(SetParams(nid, {"padding": new_pad}),), anchor=nid))
    return out


def strides(view: DesignView) -> list[Hint]:
    """Reducing sizing headaches: where POOL layers do the down-sampling, CONVs keep
    stride 1. The first CONV is the notes' memory compromise (AlexNet, ZFNet); CONVs on a
    residual branch are left alone (both branches must down-sample alike)."""
    if not view.downsampling_pools():
        return []
    first_conv = view.convs[0] if view.convs else None
    out = []
    for nid in view.convs:
        node = view.nodes[nid]
        if node.params["stride"] == 1:
            continue
        rep = view.layers[nid]
        if view.volume_in(rep) is None or view.feeds_add(nid):
            continue
        p = node.params
        s, k = p["stride"], p["kernel_size"]
        total = p["dilation"] * (k - 1)
        pad: Any = total // 2 if total % 2 == 0 else "same"
        where = view.after_followers(nid)
        pool = NewLayer(view.fresh_id(f"{nid}_pool"), "MaxPool2d",
                        {"kernel_size": s, "stride": s})
        edit = (SetParams(nid, {"stride": 1, "padding": pad}), InsertAfter(where, pool))
        if nid == first_conv:
            out.append(view.hint(
                f"stride:{nid}", (nid,),
                f"{nid}: {k}×{k} stride {s} in the first CONV (the memory compromise)",
                "The notes keep CONVs at stride 1 and leave down-sampling to POOL, but allow "
                "a larger stride in the first CONV, where the volumes are largest, to save "
                f"memory; the prediction shows what stride 1 and a {s}×{s} POOL would cost.",
                SECTION_MEMORY, edit=edit, kind="compromise"))
        else:
            out.append(view.hint(
                f"stride:{nid}", (nid,), f"{nid}: stride {s} CONV among POOL layers",
                "The network leaves its other down-sampling to POOL; stride 1 here and a "
                f"{s}×{s} POOL after keep this CONV a depth-wise transform and the sizes easy "
                "to work out (smaller strides work better in practice).",
                SECTION_HEADACHES, edit=edit))
    return out
