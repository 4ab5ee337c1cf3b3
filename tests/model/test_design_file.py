"""The .convnet.json format: round trip, atomic save, every bad field named, fuzzing."""

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.model import Network, analyze
from designer.model.design_file import Design, DesignFileError, dumps, load, loads, save


def sample() -> Design:
    net = Network("Sample", "two branches")
    i = net.add("Input", {"channels": 3, "height": 16, "width": 16}, pos=(0, 0))
    a = net.add("Conv2d", {"out_channels": 8, "padding": "same"}, inputs=[i], pos=(-80, 90))
    b = net.add("Conv2d", {"out_channels": 4, "kernel_size": 1}, inputs=[i], label="1×1")
    cat = net.add("Concat", inputs=[b, a])
    net.add("Linear", {"out_features": 10}, inputs=[cat])
    return Design(net, source="test", reference={"params": 1}, analysis={"batch": 8})


def test_round_trip_keeps_everything(tmp_path):
    d = sample()
    path = tmp_path / "s.convnet.json"
    save(d, path)
    back = load(path)
    assert dumps(back) == dumps(d)
    assert back.network["concat"].inputs == ("conv1", "conv")  # port order kept
    assert back.network["conv1"].label == "1×1"
    assert analyze(back.network).totals == analyze(d.network).totals
    assert back.analysis == {"batch": 8}


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "s.convnet.json"
    save(sample(), path)
    before = path.read_text()

    def broken(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    d = sample()
    d.network.name = "changed"
    with pytest.raises(OSError):
        save(d, path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["s.convnet.json"]


def good() -> dict:
    return json.loads(dumps(sample()))


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d.pop("format"), "format: expected \"convnet-designer\""),
    (lambda d: d.update(version=99), "version: 99 was written by a newer"),
    (lambda d: d.update(version="1"), "version: expected a whole number"),
    (lambda d: d.update(nodes={}), "nodes: expected a list of layers, got an object"),
    (lambda d: d["nodes"][1].update(type="Conv3d"), "nodes[1].type: unknown layer type 'Conv3d'"),
    (lambda d: d["nodes"][1]["params"].update(kernel_size="3"),
     "nodes[1].params.kernel_size: expected an integer, got '3'"),
    (lambda d: d["nodes"][1]["params"].update(stride=0), "nodes[1].params.stride: must be ≥ 1"),
    (lambda d: d["nodes"][1]["params"].update(padding="full"), "nodes[1].params.padding: expected"),
    (lambda d: d["nodes"][2].update(id="input"), "nodes[2].id: there is already a layer named"),
    (lambda d: d["nodes"][2].update(id="2x"), "nodes[2].id: '2x' is not a valid layer name"),
    (lambda d: d["nodes"][0].update(pos=[1]), "nodes[0].pos: expected [x, y]"),
    (lambda d: d["nodes"][0].update(colour="red"), "nodes[0].colour: unknown field"),
    (lambda d: d["edges"][0].update(to="nowhere"), "edges[0].to: no layer has the id 'nowhere'"),
    (lambda d: d["edges"].append({"from": "fc", "to": "concat"}), "edges: the wiring has a cycle"),
    (lambda d: d["edges"].append({"from": "conv", "to": "fc"}), "edges: fc: a Linear layer takes"),
    (lambda d: d.update(analysis={"dtype": "fp8"}), "analysis.dtype: expected one of"),
    (lambda d: d.update(extra=1), "extra: unknown field"),
])
def test_every_bad_field_is_named(mutate, expected):
    d = good()
    mutate(d)
    with pytest.raises(DesignFileError) as e:
        loads(json.dumps(d), "x.convnet.json")
    assert str(e.value).startswith("x.convnet.json: ")
    assert expected in str(e.value)


def test_not_json_not_text_missing_file(tmp_path):
    with pytest.raises(DesignFileError, match="line 1 column 2: not valid JSON"):
        loads("{,}")
    with pytest.raises(DesignFileError, match="NaN is not allowed"):
        loads('{"format": NaN}')
    p = tmp_path / "bin.convnet.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DesignFileError, match="not UTF-8"):
        load(p)
    with pytest.raises(DesignFileError, match="cannot read it"):
        load(tmp_path / "missing.convnet.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_designs_load_or_give_our_error(data):
    d = good()
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(d) if p]
        path = data.draw(st.sampled_from(paths))
        parent = d
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = data.draw(json_values)
    try:
        loads(json.dumps(d))
    except DesignFileError:
        pass


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_fuzz_random_json_gives_our_error(value):
    with pytest.raises(DesignFileError):
        loads(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_give_our_error(tmp_path_factory, raw):
    p = tmp_path_factory.mktemp("f") / "x.convnet.json"
    p.write_bytes(raw)
    with pytest.raises(DesignFileError):
        load(p)


@pytest.mark.parametrize("batch", [0, -1, 0.0, 1.5, "8", True, False, None, 65_537])
def test_analysis_batch_outside_1_to_65536_is_refused_on_every_path(batch, tmp_path):
    """analysis.batch: 0 (or any batch no analysis can run) is named by the loader, whether the
    file is opened (load), read from text (loads: the window's copies) or restored from a
    recovery (from_dict)."""
    from designer.model.design_file import from_dict, to_dict

    data = to_dict(sample())
    data["analysis"] = {"batch": batch}
    text = json.dumps(data)
    path = tmp_path / "bad.convnet.json"
    path.write_text(text, encoding="utf-8")
    refused = r"analysis\.batch: expected a whole number from 1 to 65,536"
    for read in (lambda: load(path), lambda: loads(text)):
        with pytest.raises(DesignFileError, match=refused):
            read()
    with pytest.raises(Exception, match=refused):  # the recovery skips a file that raises
        from_dict(copy.deepcopy(data))


@pytest.mark.parametrize("batch", [1, 65_536])
def test_analysis_batch_at_the_limits_is_kept(batch):
    data = json.loads(dumps(sample()))
    data["analysis"] = {"batch": batch}
    assert loads(json.dumps(data)).analysis == {"batch": batch}
