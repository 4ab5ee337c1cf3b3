"""What a layer card says, as text: its title, hyperparameters, output volume, parameter count
and tooltip (formatting only: the numbers are the Report's)."""

from __future__ import annotations

from ...model.analysis import LayerReport
from ...model.layers import CATALOGUE, fmt_shape
from ...model.network import Node
from ...model.units import format_count


def title_text(node: Node) -> str:
    """'CONV · Conv2d': the notes' name first, where the layer has one."""
    alias = CATALOGUE[node.type].alias
    return f"{alias} · {node.type}" if alias else node.type


_DESCRIPTIONS = {"ReLU": "max(0, x)", "Sigmoid": "σ(x)", "Tanh": "tanh(x)",
                 "BatchNorm2d": "per depth slice", "Flatten": "volume → vector"}


def hyper_text(node: Node) -> str:
    """The hyperparameters a person reads off a card: '3×3 /1 pad 1 · 64', '2×2 /2', '→ 10'."""
    p = node.params
    t = node.type
    if t == "Conv2d":
        k = p["kernel_size"]
        text = f"{k}×{k} /{p['stride']} pad {p['padding']}"
        if p["dilation"] != 1:
            text += f" dil {p['dilation']}"
        if p["groups"] != 1:
            text += f" groups {p['groups']}"
        return f"{text} · {p['out_channels']}"
    if t in ("MaxPool2d", "AvgPool2d"):
        k = p["kernel_size"]
        text = f"{k}×{k} /{p['stride']}"
        if p["padding"]:
            text += f" pad {p['padding']}"
        if p.get("ceil_mode"):
            text += " ceil"
        return text
    if t == "AdaptiveAvgPool2d":
        o = p["output_size"]
        return "global average" if o == 1 else f"→ {o}×{o}"
    if t == "Linear":
        return f"→ {p['out_features']}"
    if t == "Input":
        return "image"
    if t == "LeakyReLU":
        return f"slope {p['negative_slope']:g}"
    if t == "ELU":
        return f"α {p['alpha']:g}"
    if t == "GELU":
        return "x·Φ(x), tanh approx." if p["approximate"] == "tanh" else "x·Φ(x)"
    if t in ("Dropout", "Dropout2d"):
        return f"p = {p['p']:g}"
    if t == "LocalResponseNorm":
        return f"size {p['size']}"
    if t in ("Add", "Concat"):
        n = len(node.inputs)
        how = "sum" if t == "Add" else "along depth"
        return f"{how} of {n} input{'s' if n != 1 else ''}"
    return _DESCRIPTIONS.get(t, "")


def shape_text(report: LayerReport | None) -> str:
    return fmt_shape(report.shape if report is not None else None)


def params_text(report: LayerReport | None) -> str:
    if report is None or not report.params:
        return ""
    word = "frozen" if report.frozen else "param" if report.params == 1 else "params"
    return f"{format_count(report.params)} {word}"


def _params_forms(report: LayerReport | None) -> tuple[str, ...]:
    """The parameter count from the longest way of writing it to the shortest ("frozen" in
    place of "params" for a frozen layer's)."""
    if report is None or not report.params:
        return ()
    n = report.params
    short = format_count(n) if n >= 100_000 else f"{n / 1000:.3g} K" if n >= 1000 else str(n)
    if report.frozen:
        return (f"{format_count(n)} frozen", f"{short} frozen", "frozen")
    word = "param" if n == 1 else "params"
    return (f"{format_count(n)} {word}", f"{short} {word}", short)


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tooltip_text(node: Node, report: LayerReport | None) -> str:
    layer = CATALOGUE[node.type]
    lines = [f"<b>{_escape(node.label or node.id)}</b> — {_escape(title_text(node))}",
             _escape(layer.doc)]
    if node.frozen:
        lines.append("Frozen: a fine-tune keeps its weights as they are")
    if report is not None:
        for issue in report.issues:
            mark = {"error": "✖", "warning": "⚠"}.get(issue.severity, "•")
            lines.append(f"{mark} {_escape(issue.message)}")
            for fix in issue.fixes[:3]:
                lines.append(f"&nbsp;&nbsp;→ fix: {_escape(fix.label)}")
    return "<br>".join(lines)
