"""The sliding-window size rule of CONV and POOL layers: PyTorch's output size, which pixels the
windows miss, the issue that says so and the fixes it offers; and adaptive pooling's windows.
Pure Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .issues import Fix, Issue

Shape = tuple[int, ...]


def volume(name: str, ins: Sequence[Shape]) -> tuple[Shape | None, list[Issue]]:
    """The input volume, or an error where a flat vector comes instead."""
    shape = ins[0]
    if len(shape) != 3:
        return None, [
            Issue(
                "error",
                f"{name} needs a W×H×D volume but gets a flat vector of {shape[0]} values "
                "(an FC or Flatten layer comes before it)",
            )
        ]
    return shape, []


AXES = ("height", "width")


def window_output(size: int, eff: int, s: int, p: int, ceil_mode: bool) -> int:
    """PyTorch's output size along one axis (aten's pooling_output_shape, convolutions with
    ceil_mode False): ⌊(W − F + 2P)/S⌋ + 1, or with ceil_mode ⌈(W − F + 2P)/S⌉ + 1 less the last
    window where it would start in the right padding (at or past W + P). ≤ 0: no output."""
    out = (size + 2 * p - eff + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def dropped_pixels(size: int, eff: int, s: int, p: int, out: int) -> int:
    """Real (not padding) pixel rows or columns after the end of the last window: the input's
    pixels sit at padded positions P … P + W − 1, the last window ends at (out − 1)·S + F − 1
    (which may lie in the padding before them: then every one of them)."""
    return max(0, min(size, size + p - (out - 1) * s - eff))


def _window_axis(
    size: int, k: int, s: int, p: int, d: int, ceil_mode: bool, axis: str, what: str
) -> tuple[int | None, Issue | None, int, int]:
    """Output size along one axis by PyTorch's rule; an issue when there is none.

    Returns (out, issue, remainder, dropped) with remainder = (W − F + 2P) mod S and dropped
    the real pixel rows/columns no window reaches (the remainder less the padding it covers)."""
    eff = d * (k - 1) + 1
    span = size + 2 * p - eff
    out = window_output(size, eff, s, p, ceil_mode)
    if out < 1:
        rule = (f"(W − F + 2P)/S + 1 = ({size} − {eff} + {2 * p})/{s} + 1 ≤ 0" if not ceil_mode
                else f"even rounded up (ceil_mode), ⌈({size} − {eff} + {2 * p})/{s}⌉ + 1 ≤ 0")
        return (
            None,
            Issue(
                "error",
                f"the {what} ({eff}) is larger than the padded input {axis} ({size} + 2·{p} = "
                f"{size + 2 * p}): {rule}",
            ),
            0,
            0,
        )
    return out, None, span % s, dropped_pixels(size, eff, s, p, out)


def window(
    name: str,
    ins: Sequence[Shape],
    k: int,
    s: int,
    p: int,
    d: int,
    ceil_mode: bool,
    what: str,
    out_c: int | None = None,
    max_pad: int | None = None,
    pool: bool = False,
) -> tuple[Shape | None, list[Issue]]:
    """The output volume of a CONV or POOL by PyTorch's rule, with the issue where its sizes
    do not work out: a warning where real pixels are never seen, a note where only padding is
    dropped (or ceil_mode rounds up)."""
    vol, issues = volume(name, ins)
    if vol is None:
        return None, issues
    c, h, w = vol
    outs = []
    axes = []
    for axis, size in zip(AXES, (h, w)):
        out, issue, rem, dropped = _window_axis(size, k, s, p, d, ceil_mode, axis, what)
        if issue:
            return None, [issue]
        outs.append(out)
        axes.append((axis, size, out, rem, dropped))
    eff = d * (k - 1) + 1

    def where(picked) -> str:
        return "width and height" if len(picked) == 2 and h == w else picked[0][0]

    def rule(size: int) -> str:
        exact = (size - eff + 2 * p) / s + 1
        return f"(W − F + 2P)/S + 1 = ({size} − {eff} + {2 * p})/{s} + 1 = {exact:g}"

    lost = [a for a in axes if a[4]]
    uneven = [a for a in axes if a[3]]
    max_pad = k // 2 if max_pad is None else max_pad
    if lost:
        axis, size, out, rem, dropped = lost[0]
        if ceil_mode:
            head = (f"{rule(size)} along the {where(lost)}, rounded up (ceil_mode) to {out}, "
                    f"yet the stride ({s}) is wider than the {what} ({eff}) and")
        else:
            head = (f"sizes don't work out along the {where(lost)}: {rule(size)} is not an "
                    f"integer; PyTorch floors it to {out} and")
        issues.append(Issue(
            "warning",
            f"{head} the last {dropped} pixel row(s)/column(s) of the input are never seen "
            + (f"(the stride, {s}, is wider than the {what}: every window skips {s - eff} "
               "row(s)/column(s) before the next, the last ones included)" if s > eff
               else "(no window reaches them)"),
            window_fixes((h, w), k, s, p, d, max_pad, pool and not ceil_mode, strides=True),
        ))
    elif uneven and ceil_mode:
        axis, size, out, rem, dropped = uneven[0]
        issues.append(Issue(
            "info",
            f"{rule(size)} along the {where(uneven)}: ceil_mode rounds up, so the last window "
            "hangs over the border",
        ))
    elif uneven:
        axis, size, out, rem, dropped = uneven[0]
        issues.append(Issue(
            "info",
            f"sizes don't work out along the {where(uneven)}: {rule(size)} is not an integer, "
            f"so the notes' rule is not met; PyTorch floors it to {out}, but what that drops is "
            f"zero padding only ({rem} of the {p} padded row(s)/column(s) past the input), so "
            "the last window still reaches the input's last pixel row/column",
            window_fixes((h, w), k, s, p, d, max_pad, False, strides=False),
        ))
    return ((out_c if out_c is not None else c), outs[0], outs[1]), issues


def window_fixes(
    sizes: tuple[int, int], k: int, s: int, p: int, d: int, max_pad: int, ceil: bool,
    strides: bool,
) -> tuple[Fix, ...]:
    """Edits after which every axis works out, those that keep the cost first: the nearest
    padding; for a POOL, ceil_mode (one more window that reaches the border); where `strides`,
    the nearest stride, never wider than the window (a stride past the window skips pixels
    between windows). The analysis adds each one's effect and drops those that add errors."""
    eff = d * (k - 1) + 1

    def works(p2: int, s2: int) -> bool:
        return all((n - eff + 2 * p2) >= 0 and (n - eff + 2 * p2) % s2 == 0 for n in sizes)

    fixes: list[Fix] = []
    for p2 in sorted(range(0, max_pad + 1), key=lambda x: (abs(x - p), x)):
        if p2 != p and works(p2, s):
            fixes.append(Fix(f"padding {p} → {p2}", {"padding": p2}))
            break
    if ceil and all(
        (o := window_output(n, eff, s, p, True)) >= 1 and not dropped_pixels(n, eff, s, p, o)
        for n in sizes
    ):
        fixes.append(Fix("ceil_mode false → true", {"ceil_mode": True}))
    if strides:
        for s2 in sorted(range(1, min(s + 2, eff) + 1), key=lambda x: (abs(x - s), -x)):
            if s2 != s and works(p, s2):
                fixes.append(Fix(f"stride {s} → {s2}", {"stride": s2}))
                break
    return tuple(fixes)


def adaptive_windows(n: int, o: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows along one axis: window i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    return [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]


def input_window(field: Sequence[float], rows: tuple[int, int], cols: tuple[int, int],
                 size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The input pixels a layer's units rows[0]..rows[1], cols[0]..cols[1] (inclusive) see,
    from the analysis's receptive field (size h, size w, jump h, jump w, start h, start w:
    LayerReport.field): (top, bottom, left, right) as pixel edges, bottom and right exclusive,
    clipped to the input of `size` (H, W). A unit's field is centred at start + index·jump
    (pixel centres at 0.5, 1.5, …) and spans its size; a range of units spans the union."""
    rh, rw, jh, jw, sh, sw = field

    def span(first: int, last: int, r: float, j: float, s: float, n: int) -> tuple[int, int]:
        lo = s + first * j - r / 2
        hi = s + last * j + r / 2
        return max(0, min(n, math.floor(lo + 1e-9))), max(0, min(n, math.ceil(hi - 1e-9)))

    top, bottom = span(rows[0], rows[1], rh, jh, sh, size[0])
    left, right = span(cols[0], cols[1], rw, jw, sw, size[1])
    return top, bottom, left, right
