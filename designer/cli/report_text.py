"""A Report as text: the per-layer table and the memory section (terminal, Markdown, CSV, JSON).

Formats what analyze() computed; computes nothing of its own. A frozen layer's parameters (a
fine-tune) are written apart: "N frozen" in its row, trainable and frozen in the totals.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..model.analysis import DTYPE_BYTES, MemoryEstimate, Report
from ..model.layers import fmt_shape
from ..model.network import Network

if TYPE_CHECKING:  # the advisor is imported when hints are asked for (the window's start-up)
    from ..model.advisor import Hint
from ..model.units import format_bytes, format_count

COLUMNS = ("#", "layer", "type", "output W×H×D", "params", "MACs", "receptive field", "notes")


def layer_rows(network: Network, report: Report) -> list[tuple[str, ...]]:
    """The table's rows: (#, layer, type, output, params, MACs, receptive field, notes)."""
    return [(str(i),) + layer_row(nid, network.nodes[nid], report.layers[nid])
            for i, nid in enumerate(report.order, 1)]


def layer_row(nid: str, node, rep) -> tuple[str, ...]:
    """One layer's row without its number (the table keeps it while the layer is unchanged)."""
    kind = f"{node.type} ({node.layer.alias})" if node.layer.alias else node.type
    rf = ""
    if rep.rf is not None:
        (h, w), (jh, jw) = rep.rf.size, rep.rf.jump
        rf = f"{w}×{h}" + (f" /{jw}" if jw == jh else f" /{jw}×{jh}")
    notes = "; ".join(f"{i.severity.upper()}: {i.message}" for i in rep.issues)
    params = f"{rep.params:,}" + (" frozen" if rep.frozen and rep.params else "")
    return (nid, kind, fmt_shape(rep.shape), params,
            format_count(rep.macs) if rep.macs else "", rf, notes)


def memory_rows(est: MemoryEstimate, value_bytes: int | None) -> list[tuple[str, str, str]]:
    """(part, values, bytes) for the parts to show; values only where every value has the same
    size (`value_bytes`; None for the PyTorch estimate, whose parts mix 16- and 32-bit types)."""
    rows = []
    for name, b in est.parts:
        if b or name in ("weights", "activations", "saved for backward"):
            values = "" if value_bytes is None else format_count(b // value_bytes) + " values"
            rows.append((name, values, format_bytes(b)))
    return rows


def _budget_line(est: MemoryEstimate) -> str:
    if est.budget is None:
        return ""
    verdict = "fits" if est.fits else "does NOT fit"
    largest = ("the largest batch that fits is unknown (the design has no INPUT or an error)"
               if est.max_batch is None else "not even a batch of 1 fits" if est.max_batch == 0
               else f"largest batch that fits: {est.max_batch:,}")
    return f"  budget {format_bytes(est.budget)}: batch {est.batch} {verdict}; {largest}"


def render_text(network: Network, report: Report, hints: list[Hint] | None = None,
                ignored: int = 0) -> str:
    """The table and the memory section; then the design hints, where `hints` is given."""
    out = io.StringIO()
    title = network.name + (f" — {network.description}" if network.description else "")
    out.write(title + "\n\n")
    rows = [COLUMNS[:-1]] + [r[:-1] for r in layer_rows(network, report)]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    right = {0, 4, 5}
    notes = {r[1]: r[-1] for r in layer_rows(network, report)}
    for k, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        out.write("  ".join(cells).rstrip() + "\n")
        if k == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
        elif notes.get(r[1]):
            out.write(" " * (widths[0] + 2) + "↳ " + notes[r[1]] + "\n")
            for issue in report.layers[r[1]].issues:
                for fix in issue.fixes:  # what each fix does to the whole design
                    effect = f" ({fix.effect_text})" if fix.effect_text else ""
                    out.write(" " * (widths[0] + 4) + f"fix: {fix.label}{effect}\n")
    for _, issue in report.issues:
        out.write(f"{issue.severity.upper()}: {issue.message}\n")
    t = report.totals
    out.write("\n")
    out.write(f"parameters        {t.params_trainable:,} trainable"
              + (f", {t.params_frozen:,} frozen ({t.params:,} in all; frozen ones get no "
                 "gradient and no optimizer state)" if t.params_frozen else "")
              + (f", {t.buffers:,} in buffers (BatchNorm running statistics)" if t.buffers else "")
              + "\n")
    out.write(f"compute           {format_count(t.macs)} MACs ({format_count(t.flops)} FLOPs) "
              "per image\n")
    vb = DTYPE_BYTES[report.dtype]
    out.write(f"forward per image {format_count(t.forward_values)} values (input "
              f"{format_count(t.input_values)} + activations {format_count(t.activations)}) = "
              f"{format_bytes(t.forward_values * vb)} in {report.dtype}\n\n")
    head = f"batch {report.batch}, {report.dtype}, {report.optimizer}"
    for title, est, size_of in (
            ("Memory for one training step, the notes' count", report.textbook, vb),
            (f"PyTorch's peak in one step on {report.device.upper()} (estimate)", report.pytorch,
             None)):
        out.write(f"{title} ({head}):\n")
        for name, vals, size in memory_rows(est, size_of):
            out.write(f"  {name:<22} {vals:>16}  {size:>10}\n")
        out.write(f"  {'total':<22} {'':>16}  {format_bytes(est.total):>10}\n")
        line = _budget_line(est)
        if line:
            out.write(line + "\n")
        out.write("\n")
    if hints is not None:
        out.write(render_hints(hints, ignored))
    return out.getvalue().rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# Design hints (designer/model/advisor.py)


def design_hints(design, report: Report) -> tuple[list[Hint], int]:
    """The advisor's hints for a design, without those its file says to ignore; and how many
    were left out."""
    from ..model.advisor import advise, ignored_keys

    hidden = ignored_keys(design.hints)
    every = advise(design.network, report)
    shown = [h for h in every if h.key not in hidden]
    return shown, len(every) - len(shown)


_KINDS = {"rule": "rule of thumb", "compromise": "compromise", "alternative": "alternative"}


def render_hints(hints: list[Hint], ignored: int = 0) -> str:
    """Each hint: title, layers, reason, the notes' section, the predicted effect."""
    note = f"; {ignored} ignored in the design file" if ignored else ""
    if not hints:
        return f"Design hints: none, the design follows the notes' rules of thumb{note}.\n"
    lines = [f"Design hints ({len(hints)}, from the notes' rules of thumb{note}; --no-hints "
             "hides them):"]
    indent = " " * 5

    def wrapped(text: str) -> list[str]:
        return textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "  ",
                             break_on_hyphens=False)

    for i, h in enumerate(hints, 1):
        lines.append(f"{i:>3}. {h.title}  [{_KINDS.get(h.kind, h.kind)}]")
        if h.layers:
            lines += wrapped(f"layers: {', '.join(h.layers)}")
        lines += wrapped(h.reason)
        lines.append(f"{indent}from the notes: \"{h.section}\"")
        rows = h.effect_rows()
        if rows:
            apply = "" if h.safe else " (applying it would make the design invalid)"
            lines += wrapped("predicted" + apply + ": " + " · ".join(
                f"{what} {before} → {after}" for what, before, after in rows))
    return "\n".join(lines) + "\n"


def hints_json(hints: list[Hint]) -> list[dict[str, Any]]:
    out = []
    for h in hints:
        effect = h.effect()
        out.append({
            "key": h.key, "kind": h.kind, "layers": list(h.layers), "title": h.title,
            "reason": h.reason, "section": h.section,
            "edit": [op.describe() for op in h.edit or ()], "settings": dict(h.settings or {}),
            "effect": None if effect is None else {
                "before": asdict(effect.before), "after": asdict(effect.after)},
        })
    return out


def render_markdown(network: Network, report: Report) -> str:
    lines = [f"# {network.name}", ""]
    if network.description:
        lines += [network.description, ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---:" if c in ("#", "params", "MACs") else "---"
                                for c in COLUMNS) + "|")
    for r in layer_rows(network, report):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    t = report.totals
    frozen = (f" ({t.params_trainable:,} trainable, {t.params_frozen:,} frozen)"
              if t.params_frozen else "")
    lines += ["", f"**Parameters:** {t.params:,}{frozen} · **MACs:** {format_count(t.macs)} · "
                  f"**Activations per image:** {format_count(t.activations)}", ""]
    for title, est in (("Training memory (the notes' count)", report.textbook),
                       (f"PyTorch's peak in one step on {report.device.upper()} (estimate)",
                        report.pytorch)):
        lines += [f"## {title}: batch {report.batch}, {report.dtype}, {report.optimizer}", "",
                  "| part | bytes |", "|---|---:|"]
        lines += [f"| {name} | {format_bytes(b)} |" for name, b in est.parts if b]
        lines += [f"| **total** | **{format_bytes(est.total)}** |", ""]
    return "\n".join(lines)


def render_csv(network: Network, report: Report) -> str:
    out = io.StringIO()
    import csv  # (here: the window's table imports this module as it starts)

    w = csv.writer(out)
    w.writerow(["layer", "type", "width", "height", "depth", "params", "buffers", "macs",
                "activations", "rf_width", "rf_height", "jump", "issues", "frozen"])
    for nid in report.order:
        rep = report.layers[nid]
        s = rep.shape
        whd = ("", "", "") if s is None else (1, 1, s[0]) if len(s) == 1 else (s[2], s[1], s[0])
        rf = rep.rf
        w.writerow([nid, rep.type, *whd, rep.params, rep.buffers, rep.macs, rep.activations,
                    rf.size[1] if rf else "", rf.size[0] if rf else "", rf.jump[1] if rf else "",
                    " | ".join(f"{i.severity}: {i.message}" for i in rep.issues),
                    int(rep.frozen)])
    return out.getvalue()


def to_json(network: Network, report: Report) -> dict[str, Any]:
    def est(e: MemoryEstimate) -> dict[str, Any]:
        return {"parts": dict(e.parts), "total": e.total, "per_sample": e.per_sample,
                "fixed": e.fixed, "budget": e.budget, "fits": e.fits, "max_batch": e.max_batch}

    layers = []
    for nid in report.order:
        rep = report.layers[nid]
        layers.append({
            "id": nid, "type": rep.type, "inputs": list(rep.inputs),
            "shape": list(rep.shape) if rep.shape is not None else None,
            "whd": fmt_shape(rep.shape), "params": rep.params, "frozen": rep.frozen,
            "buffers": rep.buffers,
            "macs": rep.macs, "activations": rep.activations,
            "receptive_field": None if rep.rf is None else {
                "size": list(rep.rf.size), "jump": list(rep.rf.jump), "start": list(rep.rf.start)},
            "issues": [{"severity": i.severity, "message": i.message,
                        "fixes": [{"label": f.label, "params": dict(f.params),
                                   "effect": [{"what": w, "before": b, "after": a}
                                              for w, b, a in f.effect]} for f in i.fixes]}
                       for i in rep.issues],
        })
    t = report.totals
    return {
        "name": network.name, "batch": report.batch, "dtype": report.dtype,
        "optimizer": report.optimizer, "output": report.output, "layers": layers,
        "issues": [{"layer": nid, "severity": i.severity, "message": i.message}
                   for nid, i in report.issues],
        "totals": {"params": t.params, "params_trainable": t.params_trainable,
                   "params_frozen": t.params_frozen, "buffers": t.buffers, "macs": t.macs,
                   "flops": t.flops,
                   "activations": t.activations, "input_values": t.input_values,
                   "forward_values": t.forward_values, "errors": t.errors,
                   "warnings": t.warnings},
        "memory": {"textbook": est(report.textbook), "pytorch": est(report.pytorch)},
    }
