"""The effect of each fix the analysis offers (Fix.effect: params, MACs, memory before -> after),
measured by trying it: on the layers the fix changes only, the fixed layer then each later layer
whose inputs' reports changed, totals by difference; exactly what analysing the whole changed
copy gives (tests/model/test_fix_trials.py). A fix to a warning or note that would add an error
(a stride that breaks an Add further on) is dropped. Pure Python."""

from __future__ import annotations

import operator
from dataclasses import replace
from functools import cached_property

from .analysis import LayerReport, Report, Totals, _fresh, _textbook
from .layers import Fix, ParamError, fmt_shape
from .network import Network, NetworkError
from .units import format_bytes, format_count

# Trials per analysis: a design with more fixes than this gets effects for the first ones (in
# network order) and offers the others unchecked. Fewer on large designs (a trial re-analyses
# the layers after the fixed one).
_MAX_TRIALS = 32
_TRIAL_LAYERS = 10_000
# (batch, dtype, optimizer, device) -> (the layer reports annotated, their annotated copies)
_EFFECTS: dict[tuple, tuple] = {}


def with_fix_effects(network: Network, report: Report) -> Report:
    """The report with each fix's effect filled in (Fix.effect), from analysing a copy of the
    design with the fix applied; fixes to warnings and notes that would add errors (a stride
    that breaks an Add further on) are dropped."""
    layers = report.layers
    fixable = [nid for nid in report.order
               if layers[nid].issues and any(i.fixes for i in layers[nid].issues)]
    if not fixable:
        return report
    key = (report.batch, report.dtype, report.optimizer, report.device)
    reps = [layers[nid] for nid in report.order]
    hit = _EFFECTS.get(key)
    if hit is not None and len(hit[0]) == len(reps) and all(map(operator.is_, hit[0], reps)):
        annotated = hit[1]
    else:
        annotated = {}
        trials = min(_MAX_TRIALS, max(2, _TRIAL_LAYERS // max(len(reps), 1)))
        base = _Base(network, report)
        for nid in fixable:
            if trials <= 0:
                break  # the rest keep their fixes as the layers' rules offer them
            rep = layers[nid]
            issues = []
            for issue in rep.issues:
                fixes = []
                for fix in issue.fixes:
                    if trials <= 0:
                        fixes.append(fix)
                        continue
                    trials -= 1
                    rows = _try_fix(base, nid, fix, issue.severity != "error")
                    if rows is not None:
                        fixes.append(replace(fix, effect=rows))
                issues.append(replace(issue, fixes=tuple(fixes)))
            annotated[nid] = rep._replace(issues=tuple(issues))
        if len(_EFFECTS) > 8:
            _EFFECTS.clear()
        _EFFECTS[key] = (reps, annotated)
    return replace(report, layers={**layers, **annotated})


# a layer without a size and without a word of its own (an input has no size)
_DEAD = LayerReport("", "", (), (), None, 0, 0, 0, 0, None, (), False, ())


class _Base:
    """What every trial of one analysis shares: the design, its report, the first INPUT, the
    layers nothing reads and the network-level warnings (those two found when a trial first
    needs them: most trials on a design without errors stop at the first error they make)."""

    def __init__(self, network: Network, report: Report):
        self.network = network
        self.report = report
        nodes = network.nodes
        self.first_input = next((nid for nid in report.order if nodes[nid].type == "Input"),
                                None)

    @cached_property
    def sinks(self) -> set[str]:
        nodes, read = self.network.nodes, self.network.readers()
        return {nid for nid in self.report.order if nodes[nid].type != "Input" and nid not in read}

    @cached_property
    def live_sinks(self) -> int:
        return sum(1 for nid in self.sinks if self.report.layers[nid].shape is not None)


def _trial(base: _Base, nid: str, fix: Fix,
           no_errors: bool = False) -> tuple[Totals, LayerReport] | None:
    """The totals of the design with `fix` applied to `nid`, and that layer's report in it
    (None where the fix does not apply, or with `no_errors` where it makes an error: asked
    where the design has none, so the first one settles it). Exactly what analysing the
    changed copy gives, made from the layers the fix changes: the fixed layer, then each layer
    after it whose inputs' reports changed (a layer left without a size by an error upstream
    counts nothing)."""
    network, report = base.network, base.report
    node = network.nodes[nid]
    try:
        params = node.layer.validate({**node.params, **fix.params})
    except (ParamError, NetworkError):
        return None
    old = report.layers
    cache = network._reports  # the base analysis's: each layer's unconnected merge inputs
    changed: dict[str, LayerReport] = {}  # the layers whose report the fix changes: the new one
    dead: set[str] = set()  # the layers left without a size in the trial
    order = report.order
    nodes = network.nodes
    for d in order[order.index(nid):]:  # (a few trials: no index of the order built)
        if d == nid:
            n = replace(node, params=params)
        else:
            n = nodes[d]
            ins = n.inputs
            if dead and not dead.isdisjoint(ins):
                # an input without a size: so is this layer (and it says nothing), unless its
                # wiring alone is wrong (as it is in the design itself)
                if not cache[d][4] and len(ins) >= n.layer.min_inputs:
                    dead.add(d)
                    if old[d].shape is not None or old[d].issues:
                        changed[d] = _DEAD
                    continue
            elif not any(s in changed for s in ins):
                continue
        prev = () if n.type == "Input" else tuple([changed.get(s) or old[s] for s in n.inputs])
        rep = _fresh(d, n, prev, cache[d][4], base.first_input)
        if rep != old[d]:
            changed[d] = rep
            if rep.shape is None:
                dead.add(d)
            if no_errors and any(i.severity == "error" for i in rep.issues):
                return None  # (what follows it would only say nothing: no error goes)
    b = report.totals
    p, fr, bu, ma, ac, iv, er, wa = (b.params, b.params_frozen, b.buffers, b.macs,
                                     b.activations, b.input_values, b.errors, b.warnings)
    live_sinks = base.live_sinks
    for d, new in changed.items():
        for rep, sign in ((old[d], -1), (new, 1)):
            if rep.shape is not None:
                p += sign * rep.params
                if rep.frozen:
                    fr += sign * rep.params
                bu += sign * rep.buffers
                ma += sign * rep.macs
                if rep.type == "Input":
                    iv += sign * rep.activations
                elif not rep.in_place:
                    ac += sign * rep.activations
                if d in base.sinks:
                    live_sinks += sign
            for i in rep.issues:
                if i.severity == "error":
                    er += sign
                elif i.severity == "warning":
                    wa += sign
    # the network's own warnings: several outputs, every weight frozen
    wa += ((live_sinks > 1) - (base.live_sinks > 1)
           + bool(fr and fr == p) - bool(b.params_frozen and b.params_frozen == b.params))
    return (Totals(p, bu, ma, ac, iv, b.layers, er, wa, fr), changed.get(nid) or old[nid])


def _try_fix(base: _Base, nid: str, fix: Fix,
             no_new_errors: bool) -> tuple[tuple[str, str, str], ...] | None:
    """(what, before, after) rows of applying `fix` to `nid`; None where the fix does not apply
    or (no_new_errors: a fix to a warning or a note) adds errors."""
    report = base.report
    found = _trial(base, nid, fix, no_new_errors and not report.totals.errors)
    if found is None:
        return None
    a, rep = found
    b = report.totals
    if no_new_errors and a.errors > b.errors:
        return None
    after = _textbook(a, report.batch, None, report.dtype, report.optimizer)
    rows = [_row("params", _count(b.params), _count(a.params)),
            _row("MACs", format_count(b.macs), format_count(a.macs)),
            _row("memory", format_bytes(report.textbook.total), format_bytes(after.total))]
    if rep.shape is not None and rep.shape != report.layers[nid].shape:
        rows.insert(0, ("output", fmt_shape(report.layers[nid].shape), fmt_shape(rep.shape)))
    if (b.warnings, b.errors) != (a.warnings, a.errors):
        rows.append(("warnings", str(b.warnings), str(a.warnings)))
        if b.errors != a.errors:
            rows.append(("errors", str(b.errors), str(a.errors)))
    return tuple(rows)


def _row(what: str, before: str, after: str) -> tuple[str, str, str]:
    return (what, before, after + " (kept)" if after == before else after)


def _count(n: int) -> str:
    return f"{n:,}" if n < 10_000_000 else format_count(n)
