"""The advisor's shared records: the sections of the notes a hint cites, the Hint itself, and its
predicted effect (Effect: the before → after Figures from analysing the edited copy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..analysis import Report, analyze
from ..network import Network, NetworkError
from ..units import format_bytes, format_count
from .operations import Operation

SECTION_SIZING = "Layer Sizing Patterns"
SECTION_SMALL_FILTERS = "Prefer a stack of small filter CONV"
SECTION_HEADACHES = "Reducing sizing headaches"
SECTION_MEMORY = "Compromising based on memory constraints"
SECTION_NO_POOL = "Getting rid of pooling"
SECTION_FC_TO_CONV = "Converting FC layers to CONV layers"
SECTION_COMPUTE = "Computational Considerations"


@dataclass(frozen=True)
class Figures:
    """What the readouts say of a design, for a before → after comparison."""

    params: int  # trainable parameters of the whole network
    macs: int
    memory: int  # bytes for one training step, the notes' count, at the design's batch
    rf: tuple[int, int] | None  # receptive field (height, width) at the hint's anchor layer
    local_params: int  # of the layers the hint concerns (after: of what took their place)
    warnings: int
    errors: int
    batch: int
    budget: int | None = None  # the memory budget of the analysis, if one was chosen

    @property
    def fits(self) -> bool | None:
        return None if self.budget is None else self.memory <= self.budget


@dataclass(frozen=True)
class Effect:
    before: Figures
    after: Figures
    anchor: str | None  # the layer whose receptive field is compared (None: the output)

    def rows(self, note: str = "", local_name: str = "") -> list[tuple[str, str, str]]:
        """(what, before, after) rows as the panel and the command line write them."""
        b, a = self.before, self.after
        out: list[tuple[str, str, str]] = []
        if note:
            head, _, tail = note.partition(" → ")
            out.append(("weights", head, tail))
        if b.local_params != a.local_params:
            out.append((f"params of {local_name}" if local_name else "params of these layers",
                        f"{b.local_params:,}", f"{a.local_params:,}"))
        out.append(("params", _count(b.params), _count(a.params)))
        out.append(("MACs", format_count(b.macs), format_count(a.macs)))
        memory = "memory" if b.batch == a.batch else "memory per step"
        out.append((memory, format_bytes(b.memory), format_bytes(a.memory)))
        if b.batch != a.batch:
            out.append(("batch", str(b.batch), str(a.batch)))
        if a.budget is not None and not (b.fits and a.fits):
            word = {True: "yes", False: "no"}
            out.append((f"fits {format_bytes(a.budget)}", word[b.fits],
                        word[a.fits] + ("" if a.fits else
                                        f" (still {format_bytes(a.memory - a.budget)} over)")))
        where = f"receptive field of {self.anchor}" if self.anchor else "receptive field"
        out.append((where, _rf(b.rf), _rf(a.rf) + (" (kept)" if a.rf == b.rf else "")))
        if (b.warnings, b.errors) != (a.warnings, a.errors):
            out.append(("warnings", str(b.warnings), str(a.warnings)))
            if b.errors != a.errors:
                out.append(("errors", str(b.errors), str(a.errors)))
        return out


def _count(n: int) -> str:
    return f"{n:,}" if n < 10_000_000 else format_count(n)


def _rf(rf: tuple[int, int] | None) -> str:
    return "?" if rf is None else f"{rf[1]}×{rf[0]}"


@dataclass(frozen=True)
class Hint:
    key: str  # stable id: "ignore" remembers it in the design file
    layers: tuple[str, ...]  # the layers it concerns (their cards get a marker)
    title: str
    reason: str  # one sentence
    section: str  # the section of the notes it comes from
    edit: tuple[Operation, ...] | None = None  # network operations, one undoable step
    settings: Mapping[str, Any] | None = None  # analysis settings it changes (the batch)
    kind: str = "rule"  # "rule" | "compromise" | "alternative"
    anchor: str | None = None  # layer whose receptive field the prediction compares
    note: str = ""  # a formula for the prediction, "49·C² → 27·C²"
    _report: Report | None = field(default=None, compare=False, repr=False)
    _base: Network | None = field(default=None, compare=False, repr=False)
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def applicable(self) -> bool:
        return bool(self.edit) or bool(self.settings)

    @property
    def safe(self) -> bool:
        """Whether applying it keeps the design free of new errors (a prediction that says
        otherwise still shows; the window does not offer such an edit)."""
        effect = self.effect()
        return effect is not None and effect.after.errors <= effect.before.errors

    def apply(self, net: Network, layout: bool = True) -> None:
        """Run the edit on `net` (raises NetworkError where it no longer fits the design).
        layout=False leaves the canvas positions alone (they change nothing analysed)."""
        for op in self.edit or ():
            op.apply(net, layout)

    def edited(self) -> Network | None:
        """A copy of the design with the edit applied (None where it does not apply); the
        canvas positions are left as they were."""
        if self._base is None or not self.edit:
            return self._base.copy() if self._base is not None else None
        net = self._base.copy()
        try:
            self.apply(net, layout=False)
        except NetworkError:
            return None
        return net

    def effect(self) -> Effect | None:
        """Before → after, from analysing the edited copy; None where the hint has no edit."""
        memo = self._memo
        if "effect" not in memo:
            memo["effect"] = self._predict()
        return memo["effect"]

    def effect_rows(self) -> list[tuple[str, str, str]]:
        effect = self.effect()
        if effect is None:
            return []
        local = ", ".join(self.layers[:3]) + ("…" if len(self.layers) > 3 else "")
        return effect.rows(self.note, local)

    def _predict(self) -> Effect | None:
        report = self._report
        if not self.applicable or report is None or self._base is None:
            return None
        net = self.edited()
        if net is None:
            return None
        settings = {"batch": report.batch, "dtype": report.dtype, "optimizer": report.optimizer,
                    "budget": report.textbook.budget, **(self.settings or {})}
        after = analyze(net, **settings, fix_effects=False)
        old = set(report.layers)
        local_after = [nid for nid in after.order if nid not in old or nid in self.layers]
        return Effect(_figures(report, self.layers, self.anchor),
                      _figures(after, local_after, self.anchor), self.anchor)


def _figures(report: Report, local, anchor: str | None) -> Figures:
    layers = report.layers
    at = layers.get(anchor if anchor is not None else report.output or "")
    rf = at.rf.size if at is not None and at.rf is not None else None
    t = report.totals
    return Figures(t.params, t.macs, report.textbook.total, rf,
                   sum(layers[n].params for n in local if n in layers), t.warnings, t.errors,
                   report.batch, report.textbook.budget)
