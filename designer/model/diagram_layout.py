"""The geometry of the volumes figure (diagram.py draws it as SVG).

The design becomes volumes: a drawn layer (INPUT, CONV, POOL, FC, a merge, anything that
changes the volume) and the layers after it that keep its volume (RELU, NORM, DROPOUT, ...),
folded into its caption. The volumes sit on a grid: column = the longest path from an input,
lane 0 = the main path (the longest one to the output), branches in lanes below it. A column
with one volume that every later wire leaves from is a cut: blocks lie between cuts, rows wrap
at cuts, and a run of identical blocks is drawn once with ×N. Wires run along the lanes and
turn in the gaps between columns; a skip whose lane is taken arcs over the row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .analysis import Report
from .layers import CATALOGUE, fmt_shape
from .network import Network

# the scale: a side of n values is drawn K·√n units long, between a floor and a ceiling
SPATIAL_K, SPATIAL_MIN, SPATIAL_MAX = 7.0, 8.0, 190.0
DEPTH_K, DEPTH_MIN, DEPTH_MAX = 1.2, 4.0, 150.0
SLANT = 0.5  # the width W is drawn at this fraction of its length, 40° up to the right
SLANT_DX, SLANT_DY = SLANT * math.cos(math.radians(40)), SLANT * math.sin(math.radians(40))
ADD_R = 9.0

FONT_DIMS, FONT_CAPTION, FONT_FOLDED, FONT_EDGE, FONT_REPEAT = 11.0, 10.0, 9.0, 10.0, 11.0
MARGIN = 18.0
COL_PAD = 6.0  # room either side of a column's widest thing
MIN_GAP = 34.0  # between columns: the arrow and its kernel label
LANE_GAP = 18.0
ROW_GAP = 30.0  # between rows: the wire that carries on to the next row
CONNECT = 10.0  # where that wire comes down at the left
ARC_PAD, ARC_STEP = 12.0, 9.0
HEADER = 16.0  # above a row with a ×N frame
TURN = 8.0  # a wire turns this far into a gap

COLOURS = {"Input": "#e0e0e0", "Convolution": "#a6cee3", "Pooling": "#fdbf6f",
           "Fully connected": "#cab2d6", "Merge": "#b2df8a"}
OTHER_COLOUR = "#ffffb3"
# kept volumes, folded into the caption of the box before them (Flatten silently)
FOLDED = {"Activation", "Normalization", "Regularization"}
SILENT = {"Flatten"}


class DiagramError(ValueError):
    """The design cannot be drawn; the message says why."""


def text_width(text: str, size: float, bold: bool = False) -> float:
    """A generous estimate of the width of `text` in a generic sans-serif face (DejaVu Sans is
    among the widest), so that what is laid out around a label never overlaps it."""
    em = 0.0
    for ch in text:
        if ch.isdigit():
            em += 0.64
        elif ch in "×+=<>→−":
            em += 0.84
        elif ch in " .,:;'|!/()[]·iljI":
            em += 0.34
        elif ch in "MWmw%@":
            em += 0.95
        elif ch.isupper():
            em += 0.74
        else:
            em += 0.62
    return em * size * (1.08 if bold else 1.0)


def _spatial(n: int) -> float:
    return min(SPATIAL_MAX, max(SPATIAL_MIN, SPATIAL_K * math.sqrt(n)))


def _depth(n: int) -> float:
    return min(DEPTH_MAX, max(DEPTH_MIN, DEPTH_K * math.sqrt(n)))


@dataclass
class Volume:
    """One box: a drawn layer's output volume (and the layers folded into it)."""

    id: str
    kind: str  # the caption: CONV, POOL, FC, INPUT, ADD, CONCAT, ...
    shape: tuple
    edge_label: str  # on the arrow into it: "11×11 /4", or ""
    glyph: str  # "slab" | "add"
    colour: str
    members: list[str]  # node ids: the drawn layer, then the folded ones
    inputs: list[str] = field(default_factory=list)  # volume ids, no repeats
    folded: list[str] = field(default_factory=list)  # captions of the folded layers
    col: int = 0
    lane: int = 0
    x: float = 0.0  # the front face's left
    y: float = 0.0  # the lane's centre line
    label_y: float = 0.0  # the baseline of the W×H×D label

    @property
    def dims(self) -> str:
        return fmt_shape(self.shape)

    @property
    def folded_text(self) -> str:
        return "+ " + ", ".join(self.folded) if self.folded else ""

    @property
    def whd(self) -> tuple[int, int, int]:
        if len(self.shape) == 1:
            return 1, 1, self.shape[0]
        c, h, w = self.shape
        return w, h, c

    @property
    def fw(self) -> float:
        return 2 * ADD_R if self.glyph == "add" else _depth(self.whd[2])

    @property
    def fh(self) -> float:
        return 2 * ADD_R if self.glyph == "add" else _spatial(self.whd[1])

    @property
    def dx(self) -> float:
        return 0.0 if self.glyph == "add" else SLANT_DX * _spatial(self.whd[0])

    @property
    def dy(self) -> float:
        return 0.0 if self.glyph == "add" else SLANT_DY * _spatial(self.whd[0])

    @property
    def footprint(self) -> float:
        return self.fw + self.dx

    @property
    def text_lines(self) -> int:
        return 3 if self.folded else 2

    def width(self) -> float:
        texts = [text_width(self.dims, FONT_DIMS), text_width(self.kind, FONT_CAPTION, True),
                 text_width(self.folded_text, FONT_FOLDED)]
        return max([self.footprint] + texts) + 2 * COL_PAD

    def below(self) -> float:
        """From the centre line to the bottom of the captions."""
        return self.fh / 2 + 6 + FONT_DIMS + (FONT_CAPTION + 3) + (FONT_FOLDED + 3) * \
            (self.text_lines == 3) + 4


@dataclass
class Line:
    points: list[tuple[float, float]]
    arrow: bool = True  # an arrowhead at the last point (pointing right)


@dataclass
class Label:
    x: float
    y: float
    text: str


@dataclass
class Frame:
    x: float
    y: float
    w: float
    h: float
    label: str  # "×35"
    columns: tuple[int, int] = (0, 0)


@dataclass
class Figure:
    width: float
    height: float
    volumes: list[Volume]
    lines: list[Line]
    edge_labels: list[Label]
    frames: list[Frame]
    rows: list[tuple[int, int]]  # the first and last column of each row

    @property
    def aspect(self) -> float:
        return self.width / self.height


# ------------------------------------------------------------------------------ the volumes

def _caption(node) -> str:
    layer = CATALOGUE[node.type]
    if node.type in ("AvgPool2d", "AdaptiveAvgPool2d"):
        return "AVG POOL"
    if node.type in ("Add", "Concat"):
        return node.type.upper()
    return layer.alias or node.type.upper()


def _edge_label(node, in_shape) -> str:
    p = node.params
    if node.type in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        k = p["kernel_size"]
        text = f"{k}×{k} /{p['stride']}"
        if p.get("dilation", 1) != 1:
            text += f" d{p['dilation']}"
        return text
    if node.type == "AdaptiveAvgPool2d":
        o = p["output_size"]
        return "global" if o == 1 else f"→{o}×{o}"
    return ""


def volumes_of(network: Network, report: Report) -> list[Volume]:
    """The drawn volumes in topological order, kept layers folded in."""
    owner: dict[str, str] = {}
    volumes: dict[str, Volume] = {}
    for nid in report.order:
        node = network[nid]
        layer = CATALOGUE[node.type]
        shape = report.layers[nid].shape
        if shape is None:
            raise DiagramError(f"{nid}: its output volume is unknown")
        foldable = layer.category in FOLDED or node.type in SILENT
        if (foldable and len(node.inputs) == 1 and node.inputs[0] in owner
                and len(network.consumers(node.inputs[0])) == 1):
            host = volumes[owner[node.inputs[0]]]
            if math.prod(shape) == math.prod(host.shape):  # kept: the values, if not the shape
                owner[nid] = host.id
                host.members.append(nid)
                if node.type not in SILENT:
                    caption = _caption(node)
                    if caption not in host.folded:
                        host.folded.append(caption)
                continue
        inputs = list(dict.fromkeys(owner[i] for i in node.inputs))
        in_shape = report.layers[node.inputs[0]].shape if node.inputs else None
        volumes[nid] = Volume(
            id=nid, kind=_caption(node), shape=tuple(shape),
            edge_label=_edge_label(node, in_shape) if len(inputs) == 1 else "",
            glyph="add" if node.type == "Add" else "slab",
            colour=COLOURS.get(layer.category, OTHER_COLOUR), members=[nid], inputs=inputs)
        owner[nid] = nid
    return list(volumes.values())


def _columns(volumes: list[Volume]) -> None:
    col: dict[str, int] = {}
    for v in volumes:
        v.col = col[v.id] = max((col[i] + 1 for i in v.inputs), default=0)


def _cuts(volumes: list[Volume]) -> list[int]:
    """Columns with one volume from which every wire across the next gap leaves."""
    by_id = {v.id: v for v in volumes}
    last = max(v.col for v in volumes)
    count = [0] * (last + 1)
    for v in volumes:
        count[v.col] += 1
    sources: list[set[str]] = [set() for _ in range(last + 1)]  # who crosses gap c|c+1
    for v in volumes:
        for i in v.inputs:
            for c in range(by_id[i].col, v.col):
                sources[c].add(i)
    return [c for c in range(last + 1) if count[c] == 1 and len(sources[c]) <= 1]


def _signature(block: list[Volume], network: Network, by_id) -> tuple:
    """What makes two blocks the same: their layers, parameters, volumes and wiring (a wire
    from outside by the volume it brings)."""
    index = {v.id: k for k, v in enumerate(block)}
    return tuple((v.kind, v.shape, v.edge_label, tuple(v.folded),
                  tuple((network[m].type, tuple(sorted(network[m].params.items())))
                        for m in v.members),
                  tuple(index[i] if i in index else by_id[i].shape for i in v.inputs))
                 for v in block)


def _collapse_repeats(volumes: list[Volume], network: Network) -> dict[str, int]:
    """Runs of identical consecutive blocks drawn once: removes the copies from `volumes`,
    rewires what followed them; returns {first volume of a kept block: how many}."""
    _columns(volumes)
    by_id = {v.id: v for v in volumes}
    cuts = _cuts(volumes)
    blocks: list[list[Volume]] = []
    start = 0
    for cut in cuts + [max(v.col for v in volumes)]:
        block = [v for v in volumes if start <= v.col <= cut]
        if block:
            blocks.append(block)
        start = cut + 1
    repeats: dict[str, int] = {}
    dropped: set[str] = set()
    renamed: dict[str, str] = {}
    k = 0
    while k < len(blocks):
        block = blocks[k]
        n = 1
        if len(block) > 1:
            sig = _signature(block, network, by_id)
            while k + n < len(blocks) and _signature(blocks[k + n], network, by_id) == sig:
                n += 1
        if n > 1:
            repeats[block[0].id] = n
            for copy in blocks[k + 1:k + n]:
                dropped.update(v.id for v in copy)
            renamed[blocks[k + n - 1][-1].id] = block[-1].id
        k += n
    if dropped:
        volumes[:] = [v for v in volumes if v.id not in dropped]
        for v in volumes:
            v.inputs = list(dict.fromkeys(renamed.get(i, i) for i in v.inputs))
    return repeats


def _main_path(volumes: list[Volume], output: str | None) -> set[str]:
    by_id = {v.id: v for v in volumes}
    end = by_id.get(output) or max(volumes, key=lambda v: v.col)
    path = {end.id}
    while end.inputs:
        end = by_id[max(end.inputs, key=lambda i: by_id[i].col)]  # the first of the deepest
        path.add(end.id)
    return path


def _lanes(volumes: list[Volume], main: set[str]) -> dict[tuple[int, int], str]:
    """Lane 0 for the main path; a branch continues in its lane, or takes the first lane free
    from its wire's start to it. Returns the cells taken: (column, lane) -> volume id."""
    by_id = {v.id: v for v in volumes}
    consumers: dict[str, int] = {}
    for v in volumes:
        for i in v.inputs:
            consumers[i] = consumers.get(i, 0) + 1
    taken: dict[tuple[int, int], str] = {}
    reserved: set[tuple[int, int]] = set()
    for v in volumes:
        if v.id in main:
            v.lane = 0
        else:
            lane = None
            if len(v.inputs) == 1 and consumers.get(v.inputs[0]) == 1:
                u = by_id[v.inputs[0]]
                span = [(c, u.lane) for c in range(u.col + 1, v.col + 1)]
                if u.lane > 0 and not any(cell in taken or cell in reserved for cell in span):
                    lane = u.lane
            if lane is None:
                first = min((by_id[i].col for i in v.inputs), default=v.col - 1) + 1
                lane = 1
                while any((c, lane) in taken or (c, lane) in reserved
                          for c in range(first, v.col + 1)):
                    lane += 1
                reserved.update((c, lane) for c in range(first, v.col))
            v.lane = lane
        taken[(v.col, v.lane)] = v.id
    return taken


# ------------------------------------------------------------------------------ the geometry

@dataclass
class _Route:
    u: str | None  # None: from the row's start (the wire carried over from the row above)
    v: str
    kind: str  # straight | late | early | arc
    a: int  # the source's column (the row's first column - 1 for a carried wire)
    lane: int  # the source's lane
    level: int = 0


def _route(a: int, i: int, v: Volume, taken) -> str:
    def free(lane: int) -> bool:
        return all((c, lane) not in taken for c in range(a + 1, v.col))

    if i == v.lane and free(i):
        return "straight"
    if free(i):
        return "late"
    if free(v.lane):
        return "early"
    return "arc"


def _row_routes(row: tuple[int, int], volumes: list[Volume], by_id, taken) -> list[_Route]:
    first, last = row
    routes = []
    for v in volumes:
        if not first <= v.col <= last:
            continue
        for i in v.inputs:
            u = by_id[i]
            if u.col >= first:
                routes.append(_Route(u.id, v.id, _route(u.col, u.lane, v, taken), u.col, u.lane))
            else:  # carried over from the row above
                routes.append(_Route(None, v.id, _route(first - 1, u.lane, v, taken), first - 1,
                                     u.lane))
    arcs = sorted((r for r in routes if r.kind == "arc"), key=lambda r: (r.a, by_id[r.v].col))
    ends: list[int] = []  # per level, the column where its last arc ends
    for r in arcs:
        level = next((k for k, end in enumerate(ends) if end <= r.a), len(ends))
        if level == len(ends):
            ends.append(0)
        ends[level] = by_id[r.v].col
        r.level = level
    return routes


@dataclass
class _Row:
    """One row's columns: where each starts, and the gaps between them."""

    first: int
    last: int
    left: dict[int, float]
    widths: dict[int, float]
    junction: float  # where a wire carried over from the row above comes in

    def gap_start(self, c: int) -> float:  # the gap after column c
        return self.junction if c < self.first else self.left[c] + self.widths[c]

    def gap_end(self, c: int) -> float:  # the gap before column c
        return self.left[c]


def _geometry(volumes, by_id, taken, rows, widths, gap, repeats, blocks_of) -> Figure:
    figure = Figure(0.0, 0.0, volumes, [], [], [], list(rows))
    y_top = MARGIN
    exit_: tuple | None = None  # the row above's way out: x, y, its bottom, where it turns
    for k, (first, last) in enumerate(rows):
        x = MARGIN if k == 0 else MARGIN + CONNECT + gap
        left = {}
        for c in range(first, last + 1):
            left[c] = x
            x += widths[c] + gap
        row = _Row(first, last, left, widths, left[first] - gap)
        bottom = _draw_row(figure, row, y_top, exit_, by_id, taken, repeats, blocks_of)
        right = x - gap
        if k < len(rows) - 1:
            out = next(v for v in volumes if v.col == last)
            exit_ = (out.x + out.footprint, out.y, bottom, right + CONNECT / 2)
            right += CONNECT
        figure.width = max(figure.width, right + MARGIN)
        y_top = bottom + ROW_GAP
    figure.height = y_top - ROW_GAP + MARGIN
    return figure


def _draw_row(figure: Figure, row: _Row, y_top: float, exit_, by_id, taken, repeats,
              blocks_of) -> float:
    """Place the row's volumes and draw its wires, labels and frames; returns its bottom."""
    in_row = [v for v in figure.volumes if row.first <= v.col <= row.last]
    routes = _row_routes((row.first, row.last), figure.volumes, by_id, taken)
    lanes = sorted({v.lane for v in in_row})
    up = {ln: max(v.fh / 2 + v.dy for v in in_row if v.lane == ln) for ln in lanes}
    down = {ln: max(v.below() for v in in_row if v.lane == ln) for ln in lanes}
    label_base = {ln: max(v.fh / 2 for v in in_row if v.lane == ln) + 6 + FONT_DIMS
                  for ln in lanes}
    levels = max((r.level + 1 for r in routes if r.kind == "arc"), default=0)
    framed = [v for v in in_row if v.id in repeats]
    top = y_top + (HEADER if framed else 0)
    lane_y: dict[int, float] = {}
    y = top + (ARC_PAD + levels * ARC_STEP if levels else 0)
    for n, ln in enumerate(lanes):
        y += up[ln] + (LANE_GAP if n else 0)
        lane_y[ln] = y
        y += down[ln]
    bottom = y
    for v in in_row:
        v.x = row.left[v.col] + (row.widths[v.col] - v.footprint) / 2
        v.y = lane_y[v.lane]
        v.label_y = v.y + label_base[v.lane]
    arc_base = top + levels * ARC_STEP  # level 0 lowest, nearest the boxes

    if exit_ is not None:  # the wire carried over from the row above
        ex, ey, eb, turn = exit_
        carried = next((r for r in routes if r.u is None), None)
        jy = lane_y.get(carried.lane if carried else lanes[0], lane_y[lanes[0]])
        mid = eb + ROW_GAP / 2
        figure.lines.append(Line([(ex, ey), (turn, ey), (turn, mid), (MARGIN, mid),
                                  (MARGIN, jy), (row.junction, jy)], arrow=False))
    for r in routes:
        v = by_id[r.v]
        sx = row.junction if r.u is None else by_id[r.u].x + by_id[r.u].footprint
        sy = lane_y.get(r.lane, lane_y[lanes[0]])
        tx, ty = v.x - 6, v.y
        late = (row.gap_start(v.col - 1) + TURN if v.edge_label
                else row.gap_end(v.col) - TURN)
        early = row.gap_start(r.a) + TURN
        if r.kind == "straight":
            pts = [(sx, sy), (tx, ty)]
        elif r.kind == "late":
            pts = [(sx, sy), (late, sy), (late, ty), (tx, ty)]
        elif r.kind == "early":
            pts = [(sx, sy), (early, sy), (early, ty), (tx, ty)]
        else:
            ay = arc_base - r.level * ARC_STEP
            back = row.gap_end(v.col) - TURN
            pts = [(sx, sy), (early, sy), (early, ay), (back, ay), (back, ty), (tx, ty)]
        figure.lines.append(Line(_tidy(pts)))
        if v.edge_label:
            lo = max(row.gap_start(v.col - 1) + TURN + 3, pts[-2][0])
            figure.edge_labels.append(Label((lo + v.x - 8) / 2, ty - 4, v.edge_label))
    for v in framed:  # a run of identical blocks: this one, framed, ×N
        c1, c2 = blocks_of[v.id]
        fx = row.left[c1] - 3
        low = max(lane_y[b.lane] + down[b.lane] for b in in_row if c1 <= b.col <= c2)
        figure.frames.append(Frame(fx, top, row.left[c2] + row.widths[c2] + 3 - fx,
                                   low - top + 2, f"×{repeats[v.id]}", (c1, c2)))
    return bottom


def _tidy(points):
    out = [points[0]]
    for p in points[1:]:
        if p != out[-1]:
            out.append(p)
    return out


def _breaks(cuts: list[int], ends: dict[int, float], total: float, rows: int) -> list[int]:
    """rows - 1 cut columns to end rows at, nearest to equal shares of the width."""
    chosen: list[int] = []
    for k in range(1, rows):
        target = total * k / rows
        options = [c for c in cuts if not chosen or c > chosen[-1]]
        options = options[:len(options) - (rows - 1 - k)] if rows - 1 - k else options
        if not options:
            break
        chosen.append(min(options, key=lambda c: abs(ends[c] - target)))
    return chosen


def lay_out(network: Network, report: Report, *, max_aspect: float, repeats: bool) -> Figure:
    volumes = volumes_of(network, report)
    counts = _collapse_repeats(volumes, network) if repeats else {}
    _columns(volumes)
    by_id = {v.id: v for v in volumes}
    taken = _lanes(volumes, _main_path(volumes, report.output))
    last = max(v.col for v in volumes)
    widths = {c: 0.0 for c in range(last + 1)}
    for v in volumes:
        widths[v.col] = max(widths[v.col], v.width())
    labelled = [text_width(v.edge_label, FONT_EDGE) for v in volumes if v.edge_label]
    gap = max([MIN_GAP] + [w + 2 * TURN + 8 for w in labelled])
    cuts = [c for c in _cuts(volumes) if c < last]
    blocks_of: dict[str, tuple[int, int]] = {}
    for vid in counts:
        c1 = by_id[vid].col
        c2 = min((c for c in cuts if c >= c1), default=last)
        blocks_of[vid] = (c1, c2)
    ends, x = {}, 0.0
    for c in range(last + 1):
        x += widths[c] + gap
        ends[c] = x
    best = None
    for n in range(1, len(cuts) + 2):
        breaks = _breaks(cuts, ends, x, n)
        starts = [0] + [b + 1 for b in breaks]
        rows = list(zip(starts, [b for b in breaks] + [last]))
        figure = _geometry(volumes, by_id, taken, rows, widths, gap, counts, blocks_of)
        if best is None or figure.aspect < best.aspect:
            best = figure
        if figure.aspect <= max_aspect:
            return figure
    return best
