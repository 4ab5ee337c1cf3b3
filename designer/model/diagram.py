"""The volumes figure: a design drawn the way the notes and the papers draw ConvNets (AlexNet's,
VGG's figure), as SVG text.

    svg = volumes_svg(network)                   # or volumes_figure(network).svg()

Each box is a layer's output volume as a 3-D slab: depth D along the flow, height H upwards and
width W slanting back, each side ∝ √n with a floor (so 1×1×4096 still shows), labelled W×H×D
with the layer's kind under it. A CONV's or POOL's kernel and stride are written on the arrow
into it ("11×11 /4"). What keeps the volume (RELU, NORM, DROPOUT, ...) is folded into the
caption of the box before it. Branches (GoogLeNet, ResNet) run in lanes below the main path,
skips arc over it; a run of identical blocks (ResNet's) is drawn once, framed, with ×N. Long
designs wrap into rows so the figure is at most `max_aspect` times as wide as it is high. The
drawing has no window decorations and names only the generic font family (sans-serif).

Pure Python: the numbers come from analysis.analyze's Report; the layout is in
diagram_layout.py.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from .analysis import Report, analyze
from .diagram_layout import (
    FONT_CAPTION,
    FONT_DIMS,
    FONT_EDGE,
    FONT_FOLDED,
    FONT_REPEAT,
    DiagramError,
    Figure,
    Volume,
    lay_out,
)
from .network import Network

FONT_FAMILY = "sans-serif"
STROKE = "#404040"
TEXT = "#1a1a1a"
DIM_TEXT = "#555555"
EDGE = "#505050"

__all__ = ["DiagramError", "Figure", "volumes_figure", "volumes_svg"]


def volumes_figure(network: Network, report: Report | None = None, *,
                   max_aspect: float = 3.0, repeats: bool = True) -> Figure:
    """The figure's geometry. Raises DiagramError (a message naming what is wrong) for a design
    that cannot be drawn: empty, or with an error."""
    if not network.nodes:
        raise DiagramError("the design has no layers to draw")
    if max_aspect <= 0:
        raise DiagramError(f"max_aspect must be positive, not {max_aspect}")
    if report is None:
        report = analyze(network)
    error = report.first_error()
    if error is not None:
        raise DiagramError(f"the design has an error, so its volumes are unknown: {error}")
    return lay_out(network, report, max_aspect=max_aspect, repeats=repeats)


def volumes_svg(network: Network, report: Report | None = None, *, max_aspect: float = 3.0,
                repeats: bool = True, title: str | None = None) -> str:
    """The volumes figure as a standalone SVG document (text)."""
    figure = volumes_figure(network, report, max_aspect=max_aspect, repeats=repeats)
    return to_svg(figure, title if title is not None else network.name)


# ------------------------------------------------------------------------------------- SVG

def _n(v: float) -> str:
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _points(points) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def _shade(colour: str, factor: float) -> str:
    """The colour lighter (factor > 1: towards white) or darker (factor < 1)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    if factor >= 1:
        rgb = [round(c + (255 - c) * (factor - 1)) for c in rgb]
    else:
        rgb = [round(c * factor) for c in rgb]
    return "#" + "".join(f"{min(255, max(0, c)):02x}" for c in rgb)


def _text(x: float, y: float, text: str, size: float, *, anchor: str = "middle",
          bold: bool = False, fill: str = TEXT) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}"'
            f'{weight} fill="{fill}">{escape(text)}</text>')


def _volume(v: Volume) -> list[str]:
    members = ", ".join(v.members)
    out = [f'<g class="volume"><title>{escape(members)}: {escape(v.dims)}</title>']
    if v.glyph == "add":
        r = v.fw / 2
        cx, cy = v.x + r, v.y
        out.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" fill="#ffffff" '
                   f'stroke="{STROKE}" stroke-width="1.2"/>')
        out.append(f'<path d="M{_n(cx - r * 0.55)},{_n(cy)} H{_n(cx + r * 0.55)} '
                   f'M{_n(cx)},{_n(cy - r * 0.55)} V{_n(cy + r * 0.55)}" '
                   f'stroke="{STROKE}" stroke-width="1.4" fill="none"/>')
    else:
        x, top, fw, fh, dx, dy = v.x, v.y - v.fh / 2, v.fw, v.fh, v.dx, v.dy
        style = f'stroke="{STROKE}" stroke-width="0.8" stroke-linejoin="round"'
        out.append(f'<polygon points="{_points([(x, top), (x + fw, top), (x + fw + dx, top - dy), (x + dx, top - dy)])}" '  # noqa: E501
                   f'fill="{_shade(v.colour, 1.35)}" {style}/>')
        out.append(f'<polygon points="{_points([(x + fw, top), (x + fw + dx, top - dy), (x + fw + dx, top - dy + fh), (x + fw, top + fh)])}" '  # noqa: E501
                   f'fill="{_shade(v.colour, 0.82)}" {style}/>')
        out.append(f'<rect x="{_n(x)}" y="{_n(top)}" width="{_n(fw)}" height="{_n(fh)}" '
                   f'fill="{v.colour}" {style}/>')
    cx, y = v.x + v.footprint / 2, v.label_y
    out.append(_text(cx, y, v.dims, FONT_DIMS))
    out.append(_text(cx, y + FONT_CAPTION + 3, v.kind, FONT_CAPTION, bold=True))
    if v.folded:
        out.append(_text(cx, y + FONT_CAPTION + FONT_FOLDED + 6, v.folded_text, FONT_FOLDED,
                         fill=DIM_TEXT))
    out.append("</g>")
    return out


def to_svg(figure: Figure, title: str = "") -> str:
    w, h = figure.width, figure.height
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_n(w)}" '
           f'height="{_n(h)}" viewBox="0 0 {_n(w)} {_n(h)}" font-family="{FONT_FAMILY}">',
           f"<title>{escape(title or 'ConvNet')}: output volumes</title>",
           "<desc>Drawn by ConvNet Designer. Each box is a layer's output volume W×H×D "
           "(sides ∝ √n); arrows carry the kernel and stride.</desc>",
           f'<rect x="0" y="0" width="{_n(w)}" height="{_n(h)}" fill="#ffffff"/>']
    for frame in figure.frames:
        out.append(f'<rect x="{_n(frame.x)}" y="{_n(frame.y)}" width="{_n(frame.w)}" '
                   f'height="{_n(frame.h)}" rx="6" fill="none" stroke="#8c8c8c" '
                   f'stroke-width="1" stroke-dasharray="4,3"/>')
        out.append(_text(frame.x + frame.w, frame.y - 4, frame.label, FONT_REPEAT,
                         anchor="end", bold=True))
    out.append(f'<g fill="none" stroke="{EDGE}" stroke-width="1.1" stroke-linejoin="round">')
    for line in figure.lines:
        out.append(f'<polyline points="{_points(line.points)}"/>')
    out.append("</g>")
    out.append(f'<g fill="{EDGE}" stroke="none">')
    for line in figure.lines:
        if line.arrow:
            x, y = line.points[-1]
            out.append(f'<polygon points="{_points([(x + 6, y), (x - 1, y - 3.5), (x - 1, y + 3.5)])}"/>')  # noqa: E501
    out.append("</g>")
    for label in figure.edge_labels:
        out.append(_text(label.x, label.y, label.text, FONT_EDGE, fill=DIM_TEXT))
    for v in figure.volumes:
        out.extend(_volume(v))
    out.append("</svg>")
    return "\n".join(out) + "\n"
