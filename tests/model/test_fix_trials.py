"""A fix's effect is tried on the layers it changes only (the fixed layer and each layer after
it whose inputs changed): it must give exactly what analysing the whole changed copy gives,
totals and the fixed layer's report, for every design and every edit."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.model import analysis, fix_trials
from designer.model.design_file import load
from designer.model.layers import Fix
from designer.model.network import NetworkError
from tests.strategies import SMALL, layer_params, networks

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def full(net, nid, params):
    """The reference: the whole changed copy analysed (None where the change does not apply)."""
    trial = net.copy()
    try:
        trial.set_params(nid, **params)
    except NetworkError:
        return None
    after = analysis._analyze(trial, 8, "fp32", "adam", None, "cuda")
    return after.totals, after.layers[nid]


def tried(net, nid, params):
    report = analysis.analyze(net, batch=8, optimizer="adam", fix_effects=False)
    return fix_trials._trial(fix_trials._Base(net, report), nid, Fix("edit", params))


@st.composite
def edits(draw, loose):
    net = draw(networks(valid_only=False, loose=loose))
    nid = draw(st.sampled_from(list(net.nodes)))
    node = net.nodes[nid]
    if node.type == "Input":
        params = {"channels": draw(SMALL), "height": draw(st.integers(1, 20)),
                  "width": draw(st.integers(1, 20))}
    else:
        params = layer_params(draw, node.type)
    keys = sorted(params)
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, unique=True)) if keys else []
    return net, nid, {k: params[k] for k in chosen}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits(loose=True))
def test_a_trial_gives_what_the_whole_changed_copy_gives(edit):
    net, nid, params = edit
    assert tried(net, nid, params) == full(net, nid, params)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits(loose=True))
def test_a_fix_to_a_warning_is_dropped_exactly_when_the_changed_copy_has_more_errors(edit):
    """On a design without errors a trial stops at the first error it makes; the fix is
    dropped then, as it is wherever the whole changed copy has more errors than the design."""
    net, nid, params = edit
    report = analysis.analyze(net, batch=8, optimizer="adam", fix_effects=False)
    rows = fix_trials._try_fix(fix_trials._Base(net, report), nid, Fix("edit", params), True)
    reference = full(net, nid, params)
    assert (rows is None) == (reference is None or reference[0].errors > report.totals.errors)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "googlenet", "alexnet_single_tower",
                                  "zfnet", "lenet5"])
def test_every_fix_the_presets_offer_is_tried_exactly(name):
    net = load(PRESETS / f"{name}.convnet.json").network
    report = analysis.analyze(net, batch=8, optimizer="adam", fix_effects=False)
    offered = [(nid, f) for nid in report.order for i in report.layers[nid].issues
               for f in i.fixes]
    # and edits that break things: a stride that makes an Add's inputs disagree, a wider conv
    convs = [nid for nid in report.order if net.nodes[nid].type == "Conv2d"]
    edits = [(nid, Fix("edit", p)) for nid in convs[::7]
             for p in ({"stride": 3}, {"out_channels": 7}, {"padding": 0})]
    assert edits
    for nid, fix in offered + edits:
        assert tried(net, nid, fix.params) == full(net, nid, fix.params), (name, nid, fix)


def test_a_trial_counts_the_networks_own_warnings_as_the_analysis_does():
    """Warnings of the network, not of a layer: several outputs (an edit that breaks one head
    leaves one), every weight frozen (an edit that breaks the one trainable layer)."""
    from designer.model import Network

    net = Network()
    inp = net.add("Input", {"channels": 3, "height": 8, "width": 8})
    frozen = net.add("Conv2d", {"out_channels": 4, "kernel_size": 3}, inputs=[inp])
    net.set_frozen(frozen, True)
    head = net.add("Conv2d", {"out_channels": 2, "kernel_size": 3}, inputs=[frozen])
    other = net.add("MaxPool2d", {"kernel_size": 2}, inputs=[frozen])
    base = analysis.analyze(net, fix_effects=False).totals.warnings
    # the pool broken: one output left (one warning less); the trainable head broken: one
    # output left and every weight left is frozen (one less, one more); a wider head: as it was
    for nid, params, warnings in ((other, {"kernel_size": 9}, base - 1),
                                  (head, {"kernel_size": 9}, base),
                                  (head, {"out_channels": 3}, base)):
        got = tried(net, nid, params)
        assert got == full(net, nid, params)
        assert got[0].warnings == warnings, (nid, params)
