"""Prefer a stack of small filter CONV: a large CONV as stacked 3×3 CONVs with RELUs between, and
the receptive field those stacks grow (an output that does not see the whole input).
"""

from __future__ import annotations

from typing import Any

from .operations import InsertAfter, NewLayer, ReplaceByChain
from .records import SECTION_SMALL_FILTERS, Hint
from .view import DesignView


def small_filters(view: DesignView) -> list[Hint]:
    """Prefer a stack of small filter CONV: a k×k CONV (k = 5, 7, …) is m = (k−1)/2 stacked
    3×3 CONVs with RELUs between: the same receptive field, fewer parameters where the
    depth does not grow much."""
    out = []
    for nid in view.convs:
        node = view.nodes[nid]
        p = node.params
        rep = view.layers[nid]
        vol = view.volume_in(rep)
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
            conv_id = nid if i == m - 1 else view.fresh_id(f"{nid}_{chr(ord('a') + i)}")
            chain.append(NewLayer(conv_id, "Conv2d", {
                "out_channels": cout, "kernel_size": 3, "stride": 1, "padding": pads[i],
                "bias": p["bias"]}))
            if i < m - 1:
                chain.append(NewLayer(view.fresh_id(f"{conv_id}_relu"), "ReLU", {}))
        note = f"{k * k}·C² → {9 * m}·C²" if cin == cout else ""
        words = {2: "two", 3: "three", 4: "four", 5: "five"}.get(m, str(m))
        out.append(view.hint(
            f"stack3x3:{nid}", (nid,), f"{nid}: {k}×{k} CONV → {words} 3×3 CONVs",
            f"{words.capitalize()} stacked 3×3 CONVs with RELUs between see the same {k}×{k} "
            f"region with fewer parameters ({stack:,} vs {single:,} weights) and more "
            "non-linearities, for more activation memory.",
            SECTION_SMALL_FILTERS, edit=(ReplaceByChain(nid, tuple(chain)),), anchor=nid,
            note=note))
    return out


def _stack_paddings(pad: Any, m: int) -> list[Any] | None:
    """Paddings of m stacked 3×3 CONVs giving the same output size as one (2m+1)×(2m+1)."""
    if pad == "same":
        return ["same"] * m
    if pad == "valid":
        pad = 0
    if pad > m:
        return None
    return [1] * pad + [0] * (m - pad)


def receptive_field(view: DesignView) -> list[Hint]:
    """A network whose output sees only part of the input cannot respond to the whole
    image (receptive fields grow with depth, as the stacked 3×3 CONVs show)."""
    out_id = view.report.output
    rep = view.layers.get(out_id) if out_id else None
    if rep is None or rep.rf is None or view.report.totals.errors:
        return []
    c, h, w = view.input_shape
    rh, rw = rep.rf.size
    if rh >= h and rw >= w:
        return []
    edit = None
    shape = rep.shape
    if len(shape) == 3 and shape[1] * shape[2] > 1:
        gap = NewLayer(view.fresh_id("global_pool"), "AdaptiveAvgPool2d", {"output_size": 1})
        edit = (InsertAfter(out_id, gap),)
    return [view.hint(
        f"rf:{out_id}", (out_id,),
        f"Receptive field {rw}×{rh} does not cover the {w}×{h} input",
        f"Each output of {out_id} sees only {rw}×{rh} of the input, so none can respond to "
        "the whole image; add down-sampling or layers, or end with a global average POOL.",
        SECTION_SMALL_FILTERS, edit=edit)]
