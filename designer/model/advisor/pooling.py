"""The POOL layers: the usual 2×2 window with stride 2 (Layer Sizing Patterns, where the sizes
work out), and getting rid of pooling (each POOL as a strided CONV, offered as an alternative).
"""

from __future__ import annotations

from .operations import NewLayer, ReplaceByChain, SetParams
from .records import SECTION_NO_POOL, SECTION_SIZING, Hint
from .view import DesignView


def pool_windows(view: DesignView) -> list[Hint]:
    """Layer Sizing Patterns: the most common POOL is 2×2 with stride 2. Only where that
    works out (an even width and height): on odd sizes an overlapping 3×3 window with stride
    2 is what makes the sizes work (AlexNet's 55 → 27 → 13)."""
    odd = []
    for nid in view.downsampling_pools():
        p = view.nodes[nid].params
        _, h, w = view.layers[nid].in_shapes[0]
        if (p["kernel_size"], p["stride"]) != (2, 2) and h % 2 == 0 and w % 2 == 0:
            odd.append(nid)
    if not odd:
        return []
    kinds = {(view.nodes[n].params["kernel_size"], view.nodes[n].params["stride"])
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
                                  if view.nodes[n].params["ceil_mode"] else {})})
                 for n in odd)
    return [view.hint(
        "pool2x2:" + ",".join(odd), odd, title,
        "The notes' usual POOL is max-pooling with 2×2 windows and stride 2, which halves "
        "the width and height and discards 75% of the activations; larger, overlapping "
        "windows discard more.",
        SECTION_SIZING, edit=edit)]


def no_pooling(view: DesignView) -> list[Hint]:
    """Getting rid of pooling: each POOL can be a CONV with the same window and stride (the
    All Convolutional Net). Offered, not pushed."""
    pools = view.downsampling_pools()
    if not pools or any(view.nodes[nid].params["ceil_mode"]
                        or view.nodes[nid].params.get("dilation", 1) != 1 for nid in pools):
        return []  # a CONV has no ceil_mode or dilated window to match such a POOL
    edit = []
    for nid in pools:
        p = view.nodes[nid].params
        depth = view.layers[nid].shape[0]
        conv = NewLayer(view.fresh_id(f"{nid}_conv"), "Conv2d", {
            "out_channels": depth, "kernel_size": p["kernel_size"], "stride": p["stride"],
            "padding": p["padding"]})
        relu = NewLayer(view.fresh_id(f"{nid}_relu"), "ReLU", {})
        edit.append(ReplaceByChain(nid, (conv, relu)))
    n = len(pools)
    return [view.hint(
        "allconv:" + ",".join(pools), pools,
        f"Getting rid of pooling: {'the POOL' if n == 1 else f'{n} POOLs'} as strided CONV"
        f"{'' if n == 1 else 's'}",
        "The All Convolutional Net replaces each POOL by a CONV with the same window and "
        "stride, so the network learns its own down-sampling, for more parameters (an "
        "alternative, not a fix).",
        SECTION_NO_POOL, edit=tuple(edit), kind="alternative")]
