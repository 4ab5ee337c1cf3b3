"""Converting FC layers to CONV layers: an FC that looks at a volume is a CONV, offered as an
alternative so the network can slide over larger images.
"""

from __future__ import annotations

from ..layers import fmt_shape
from .operations import ConvertFcToConv
from .records import SECTION_FC_TO_CONV, Hint
from .view import DesignView

# what an FC may look through at a volume (the same walk as transforms.fc_to_conv)
_PASS_THROUGH = {"ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Dropout"}


def fc_to_conv(view: DesignView) -> list[Hint]:
    """Converting FC layers to CONV layers: an FC that looks at a W×H×D volume is a CONV
    with W×H filters; converted, the network slides over larger images."""
    if not view.report.ok:
        return []
    fcs = [nid for nid in view.report.order if view.nodes[nid].type == "Linear"]
    first = None
    def first_input(nid: str) -> str | None:  # None where a layer is not wired yet
        inputs = view.nodes[nid].inputs
        return inputs[0] if inputs else None

    for nid in fcs:
        src = first_input(nid)
        while (src is not None and view.nodes[src].type in _PASS_THROUGH
               and len(view.layers[src].shape or ()) == 1):
            src = first_input(src)
        if src is not None and view.nodes[src].type == "Flatten":
            src = first_input(src)
        shape = view.layers[src].shape if src is not None else None
        if shape is not None and len(shape) == 3 and shape[1] * shape[2] > 1:
            first = (nid, shape)
            break
    if first is None:
        return []
    from ..transforms import fc_to_conv_plan

    try:  # the conversion's checks only, on this analysis: no network is built
        fc_to_conv_plan(view.net, view.report)
    except ValueError:
        return []
    nid, shape = first
    c, h, w = shape
    names = ", ".join(fcs[:3]) + ("…" if len(fcs) > 3 else "")
    later = "" if len(fcs) == 1 else " (and the FCs after it 1×1 CONVs)"
    return [view.hint(
        "fc2conv:" + ",".join(fcs), fcs, f"FC → CONV: {names} can be CONV layers",
        f"{nid} looks at a {fmt_shape(shape)} volume, so it is a CONV with {w}×{h} "
        f"filters{later}: the same function and parameters, and the network can then slide "
        "over a larger image in one pass and give a map of class scores.",
        SECTION_FC_TO_CONV, edit=(ConvertFcToConv(),), kind="alternative")]
