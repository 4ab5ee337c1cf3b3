"""Layer Sizing Patterns, the input: an input size divisible by 2 as many times as the network
halves it, or its strided layers floor their sizes and never see the border (with the nearest
size that works out as the edit).
"""

from __future__ import annotations

from ..analysis import Report, analyze
from ..windows import dropped_pixels, window_output
from .operations import SetParams
from .records import SECTION_SIZING, Hint
from .view import WINDOWED, DesignView

_WORDS = {2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}


def input_size(view: DesignView) -> list[Hint]:
    """Layer Sizing Patterns: the input divisible by 2 as many times as the network halves
    it, or the strided layers floor their sizes and drop border pixels."""
    c, h, w = view.input_shape
    jump_h = jump_w = 1
    for rep in view.layers.values():
        f = rep.field  # (size h, size w, jump h, jump w, start h, start w)
        if f is not None and rep.type in WINDOWED:
            jump_h, jump_w = max(jump_h, f[2]), max(jump_w, f[3])
    mh, mw = _power_of_two(jump_h), _power_of_two(jump_w)
    if h % mh == 0 and w % mw == 0:
        return []
    dropping = drops(view, view.report)
    if not dropping:
        return []  # the sizes work out by design (AlexNet's 227)
    halvings = max(mh, mw).bit_length() - 1
    times = _WORDS.get(halvings, f"{halvings} times")
    best = None
    for ch, cw in ((_near(h, mh, -1), _near(w, mw, -1)), (_near(h, mh, 1), _near(w, mw, 1))):
        if min(ch, cw) < 1:
            continue
        trial = view.net.copy()
        try:
            trial.set_params(view.input_id, height=ch, width=cw)
        except ValueError:  # past the INPUT's limits (8,192): no size to offer that way
            continue
        r = analyze(trial, fix_effects=False)
        if r.totals.errors:
            continue
        n = len(drops(view, r))
        score = (n, abs(ch - h) + abs(cw - w), ch)
        if n < len(dropping) and (best is None or score < best[0]):
            best = (score, ch, cw)
    where = ", ".join(dropping[:4]) + ("…" if len(dropping) > 4 else "")
    reason = (f"The network halves the image {times}, so the notes' input sizes are "
              f"divisible by {max(mh, mw)}; at {w}×{h} {where} floor their sizes and never "
              "see the last row or column of their input")
    edit = None
    if best is not None:
        _, ch, cw = best
        reason += f" ({cw}×{ch} works out)"
        edit = (SetParams(view.input_id, {"height": ch, "width": cw}),)
    return [view.hint(f"input-size:{view.input_id}", (view.input_id, *dropping),
                      f"Input {w}×{h} is not divisible by {max(mh, mw)}", reason + ".",
                      SECTION_SIZING, edit=edit)]


def drops(view: DesignView, report: Report) -> list[str]:
    """Strided layers whose last window ends before the input's last real pixel row or column
    (the analysis' warning): where PyTorch's rounding drops only zero padding, nothing is lost."""
    out = []
    for nid in report.order:
        node = view.nodes[nid]  # a trial differs in its INPUT only
        rep = report.layers[nid]
        if node.type not in WINDOWED or rep.shape is None:
            continue
        p = node.params
        if p["stride"] == 1 or len(rep.in_shapes[0]) != 3:
            continue
        step = node.layer.step(p, rep.in_shapes)
        ceil = bool(p.get("ceil_mode"))
        _, h, w = rep.in_shapes[0]
        for size, k, s, pad in zip((h, w), step.kernel, step.stride, step.pad):
            pad = int(pad)
            if dropped_pixels(size, k, s, pad, window_output(size, k, s, pad, ceil)):
                out.append(nid)
                break
    return out


def _power_of_two(n: int) -> int:
    """The largest power of two that divides n."""
    return n & -n if n > 0 else 1


def _near(size: int, multiple: int, direction: int) -> int:
    if size % multiple == 0:
        return size
    lower = size - size % multiple
    return lower if direction < 0 else lower + multiple
