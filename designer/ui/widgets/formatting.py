"""How the side panels write what a Report says. Formatting only: every number comes from the
analysis."""

from __future__ import annotations

from collections.abc import Iterable

from ...model.analysis import LayerReport, ReceptiveField, Report
from ...model.layers import Issue, LayerType, Shape, fmt_shape

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def activation_bytes(report: Report, rep: LayerReport) -> int:
    """Bytes of the layer's output volume for the whole batch, in the report's dtype."""
    return report.volume_bytes(rep.id)


def layer_title(layer: LayerType) -> str:
    """The notes' name beside PyTorch's: 'CONV — Conv2d' (or just 'ELU' where the notes have
    no name for it)."""
    return f"{layer.alias} — {layer.name}" if layer.alias else layer.name


def volumes(shapes: Iterable[Shape | None]) -> str:
    """'32×32×3', or several joined by ' + ' (the inputs of a merge)."""
    return " + ".join(fmt_shape(s) for s in shapes) or "—"


def receptive_field(rf: ReceptiveField | None) -> str:
    """'7×7, jump 2': the field in input pixels (W×H) and the stride product."""
    if rf is None:
        return "—"
    (h, w), (jh, jw) = rf.size, rf.jump
    jump = f"{jw}" if jw == jh else f"{jw}×{jh}"
    return f"{w}×{h}, jump {jump}"


def worst(issues: Iterable[Issue]) -> str | None:
    """The most severe severity among issues (error > warning > info), None when there are none."""
    ranked = sorted((SEVERITY_RANK.get(i.severity, 3), i.severity) for i in issues)
    return ranked[0][1] if ranked else None
