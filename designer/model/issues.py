"""What the analysis says of a layer: an Issue (an error, a warning or a note) and the Fixes it
offers. Pure Python.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Fix:
    """A concrete edit that resolves an issue: new parameter values for the node concerned.

    `effect` is what the edit does to the whole design, (what, before, after) rows as the hints
    write them (params, MACs, memory for a training step); the analysis fills it in (a layer's
    rule cannot see the layers after it)."""

    label: str
    params: Mapping[str, Any]
    effect: tuple[tuple[str, str, str], ...] = ()

    @property
    def effect_text(self) -> str:
        """'params 336 → 336, MACs 37.6 K → 44.9 K, memory 1.5 MiB → 1.8 MiB' ('' if unknown)."""
        return ", ".join(f"{what} {before} → {after}" for what, before, after in self.effect)


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str  # "error" | "warning" | "info"
    message: str
    fixes: tuple[Fix, ...] = ()


def severity_counts(reports: Iterable) -> tuple[int, int]:
    """(errors, warnings) among the issues of these layers' reports (a design's or a block's;
    anything with `issues`)."""
    errors = warnings = 0
    for issues in map(_ISSUES, reports):  # (no generator: a design's 500 layers at each edit)
        for i in issues:
            if i.severity == "error":
                errors += 1
            elif i.severity == "warning":
                warnings += 1
    return errors, warnings


_ISSUES = operator.attrgetter("issues")
