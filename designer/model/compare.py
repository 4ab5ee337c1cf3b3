"""compare(report_a, report_b) -> Comparison: two designs side by side, per layer where they align.

Two designs "align" at the layers where both have made the same volume (W×H×D) seeing the same
receptive field: there, whatever came before did the same job. The notes' example: three stacked
3×3 CONVs (C→C) and one 7×7 CONV both turn W×H×C into W×H×C seeing 7×7, so they align after the
third 3×3, and the row shows their cost side by side (27·C² against 49·C² weights).

The alignment is a weighted longest common subsequence of the two topological orders (dynamic
programming, O(n·m)): a pair of layers scores when they make the same volume with the same field
(more when they are also the same kind of layer, or have the same id, as in a design and its
edited version), or, failing that, when they have the same id and kind (an edited layer whose
sizes changed). Every aligned pair closes a row; the layers of either design since the last row
belong to it, so a row compares a run of layers with the run that did the same job in the other
design. Layers after the last aligned pair make a final row that aligns with nothing.

Totals compare parameters, buffers, MACs, activations, both memory estimates and the output's
receptive field. Both reports should be analysed with the same batch, dtype and optimizer.

Pure Python: no Qt, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analysis import DTYPE_BYTES, Report
from .layers import fmt_shape
from .units import format_bytes, format_count

__all__ = ["Comparison", "Metric", "Row", "Side", "compare", "render_text", "row_cells",
           "ROW_HEADERS", "total_cells", "TOTAL_HEADERS"]


@dataclass(frozen=True, slots=True)
class Side:
    """One design's run of layers in a row, and what they add up to."""

    ids: tuple[str, ...]
    types: tuple[str, ...]
    params: int
    macs: int
    activations: int  # values per sample of the volumes the run makes (elementwise in place)
    memory: int  # bytes of those volumes for the report's batch and dtype (forward)
    shape: tuple[int, ...] | None  # the run's last volume
    field: tuple[int, int] | None  # receptive field (height, width) of the run's last layer

    @property
    def label(self) -> str:
        if not self.ids:
            return "—"
        if len(self.ids) == 1:
            return f"{self.ids[0]} ({self.types[0]})"
        return f"{self.ids[0]} … {self.ids[-1]} ({len(self.ids)} layers)"


@dataclass(frozen=True, slots=True)
class Row:
    a: Side
    b: Side
    aligned: bool  # the two runs end at the same volume and field (False: the trailing rest)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    a: float | tuple[int, int] | None  # a field is (height, width)
    b: float | tuple[int, int] | None
    kind: str  # "count" | "bytes" | "field" | "int"


@dataclass(frozen=True, slots=True)
class Comparison:
    name_a: str
    name_b: str
    rows: tuple[Row, ...]
    totals: tuple[Metric, ...]
    batch: int
    dtype: str
    optimizer: str

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(layer in A, layer in B) where the designs align."""
        return [(r.a.ids[-1], r.b.ids[-1]) for r in self.rows if r.aligned]

    def total(self, name: str) -> Metric:
        for m in self.totals:
            if m.name == name:
                return m
        raise KeyError(name)


def _key(rep) -> tuple | None:
    if rep.shape is None or rep.field is None:
        return None
    return rep.shape, rep.field[0], rep.field[1]


def _score(la, lb, ka, kb) -> int:
    """How good a pair the two layers make (0: none)."""
    same_type = la.type == lb.type
    if ka is not None and ka == kb:
        return 2 + same_type + (la.id == lb.id and same_type)
    if la.id == lb.id and same_type:
        return 1
    return 0


def _align(report_a: Report, report_b: Report) -> list[tuple[int, int]]:
    """Index pairs (i in A's order, j in B's order) of the best weighted common subsequence."""
    a = [report_a.layers[nid] for nid in report_a.order]
    b = [report_b.layers[nid] for nid in report_b.order]
    ka = [_key(r) for r in a]
    kb = [_key(r) for r in b]
    n, m = len(a), len(b)
    # layers of B by key and by id: only those can pair with a layer of A
    by_key: dict = {}
    by_id: dict = {}
    for j, r in enumerate(b):
        if kb[j] is not None:
            by_key.setdefault(kb[j], []).append(j)
        by_id.setdefault(r.id, []).append(j)
    prev = [0] * (m + 1)
    rows: list[list[int]] = [prev]
    for i in range(n):
        cur = [0] * (m + 1)
        cand = {}
        for j in by_key.get(ka[i], ()) if ka[i] is not None else ():
            cand[j] = _score(a[i], b[j], ka[i], kb[j])
        for j in by_id.get(a[i].id, ()):
            if j not in cand:
                cand[j] = _score(a[i], b[j], ka[i], kb[j])
        for j in range(m):
            best = prev[j + 1] if prev[j + 1] > cur[j] else cur[j]
            s = cand.get(j, 0)
            if s and prev[j] + s > best:
                best = prev[j] + s
            cur[j + 1] = best
        rows.append(cur)
        prev = cur
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        here = rows[i][j]
        if here == rows[i - 1][j]:
            i -= 1
        elif here == rows[i][j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i -= 1
            j -= 1
    pairs.reverse()
    return pairs


def _side(report: Report, ids: list[str]) -> Side:
    layers = [report.layers[nid] for nid in ids]
    value = DTYPE_BYTES[report.dtype]
    acts = sum(r.activations for r in layers
               if r.shape is not None and not r.in_place and r.type != "Input")
    last = layers[-1] if layers else None
    return Side(
        ids=tuple(ids), types=tuple(r.type for r in layers),
        params=sum(r.params for r in layers if r.shape is not None),
        macs=sum(r.macs for r in layers if r.shape is not None),
        activations=acts, memory=acts * report.batch * value,
        shape=None if last is None else last.shape,
        field=None if last is None or last.field is None else (last.field[0], last.field[1]))


def compare(report_a: Report, report_b: Report, name_a: str = "A",
            name_b: str = "B") -> Comparison:
    """Align the layers of two analysed designs and add up what each aligned run costs."""
    pairs = _align(report_a, report_b)
    order_a, order_b = report_a.order, report_b.order
    rows: list[Row] = []
    i0 = j0 = 0
    for i, j in pairs:
        rows.append(Row(_side(report_a, list(order_a[i0:i + 1])),
                        _side(report_b, list(order_b[j0:j + 1])),
                        _key(report_a.layers[order_a[i]]) is not None
                        and _key(report_a.layers[order_a[i]]) == _key(report_b.layers[order_b[j]])))
        i0, j0 = i + 1, j + 1
    if i0 < len(order_a) or j0 < len(order_b):
        rows.append(Row(_side(report_a, list(order_a[i0:])), _side(report_b, list(order_b[j0:])),
                        False))
    return Comparison(name_a, name_b, tuple(rows), _totals(report_a, report_b),
                      report_a.batch, report_a.dtype, report_a.optimizer)


def _out_field(report: Report) -> tuple[int, int] | None:
    if report.output is None:
        return None
    f = report.layers[report.output].field
    return None if f is None else (f[0], f[1])


def _totals(a: Report, b: Report) -> tuple[Metric, ...]:
    ta, tb = a.totals, b.totals
    return (
        Metric("parameters", ta.params, tb.params, "count"),
        Metric("buffers", ta.buffers, tb.buffers, "count"),
        Metric("MACs per image", ta.macs, tb.macs, "count"),
        Metric("activations per image", ta.activations, tb.activations, "count"),
        Metric("training memory (the notes' count)", a.textbook.total, b.textbook.total,
               "bytes"),
        Metric("training memory (PyTorch estimate)", a.pytorch.total, b.pytorch.total, "bytes"),
        Metric("output receptive field", _out_field(a), _out_field(b), "field"),
        Metric("layers", ta.layers, tb.layers, "int"),
    )


# ------------------------------------------------------------------------------------ as text

ROW_HEADERS = ("", "A", "B", "output W×H×D", "receptive field", "params A", "params B", "Δ params",
               "MACs A", "MACs B", "memory A", "memory B")
TOTAL_HEADERS = ("", "A", "B", "B − A")


def _field(f: tuple[int, int] | None) -> str:
    return "?" if f is None else f"{f[1]}×{f[0]}"


def _shape(s) -> str:
    return "—" if s is None else fmt_shape(s)


def _both(x: str, y: str) -> str:
    return x if x == y else f"{x} | {y}"


def _delta(a: float | None, b: float | None, kind: str) -> str:
    if a is None or b is None:
        return ""
    d = b - a
    if d == 0:
        return "="
    if kind == "bytes":
        text = ("+" if d > 0 else "−") + format_bytes(abs(d))
    elif kind == "int":
        text = f"{d:+,}".replace("-", "−")
    else:
        text = ("+" if d > 0 else "−") + format_count(abs(d))
    if a:
        text += f" ({d / a:+.0%})".replace("-", "−")
    return text


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "?"
    if kind == "bytes":
        return format_bytes(value)
    if kind == "field":
        return _field(value)
    if kind == "int":
        return f"{int(value):,}"
    return format_count(value) if value >= 100_000 else f"{int(value):,}"


def row_cells(row: Row) -> tuple[str, ...]:
    """One row as the ROW_HEADERS' cells; the first is "=" where the runs align (the same
    volume seeing the same field), "≠" where they do not."""
    a, b = row.a, row.b
    return ("=" if row.aligned else "≠", a.label, b.label, _both(_shape(a.shape), _shape(b.shape)),
            _both(_field(a.field), _field(b.field)),
            f"{a.params:,}", f"{b.params:,}", _delta(a.params, b.params, "count"),
            format_count(a.macs), format_count(b.macs),
            format_bytes(a.memory), format_bytes(b.memory))


def total_cells(metric: Metric) -> tuple[str, str, str, str]:
    delta = "" if metric.kind == "field" else _delta(metric.a, metric.b, metric.kind)
    if metric.kind == "field" and metric.a is not None and metric.a == metric.b:
        delta = "="
    return (metric.name, _fmt(metric.a, metric.kind), _fmt(metric.b, metric.kind), delta)


def render_text(cmp: Comparison) -> str:
    """The comparison as a terminal table: the totals, then the aligned rows."""
    lines = [f"A: {cmp.name_a}", f"B: {cmp.name_b}",
             f"(batch {cmp.batch}, {cmp.dtype}, {cmp.optimizer})", ""]
    lines += _table(TOTAL_HEADERS, [total_cells(m) for m in cmp.totals], right={1, 2, 3})
    lines += ["", "Layer by layer: = where the designs align (the same volume seeing the same "
                  "field), ≠ where they differ:", ""]
    lines += _table(ROW_HEADERS, [row_cells(r) for r in cmp.rows],
                    right=set(range(5, len(ROW_HEADERS))))
    return "\n".join(lines) + "\n"


def _table(headers, rows, right: set[int]) -> list[str]:
    widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers))]
    out = []
    for k, r in enumerate([headers, *rows]):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
