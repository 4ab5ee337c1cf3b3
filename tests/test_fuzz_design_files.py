"""Mutated design files: each one gives the loader's one-line error, or a design that every part
of the app that reads a design can use (the analysis, the hints, the summary in text and JSON,
the training settings, saving and reopening). Never another exception.

The mutations are those that crashed the app before (issue 15): whole numbers past a float's
range, 1e999 (infinity once parsed), lists and objects where a name is expected, quoted numbers
in the training settings, lone surrogates, ids with a line break.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.cli.report_text import design_hints, hints_json, render_text, to_json
from designer.model import analyze
from designer.model.design_file import DesignFileError, dumps, loads
from designer.training.events import ConfigError, TrainConfig

PRESETS = Path(__file__).resolve().parents[1] / "presets"
SOURCES = ("cifar10_example", "lenet5", "alexnet_single_tower", "resnet20_cifar")

TRAINING = {"config": TrainConfig().to_dict(), "runs": []}
ANALYSIS = {"batch": 32, "dtype": "fp32", "optimizer": "adam", "budget": 4 * 2**30}


def _source(name: str) -> dict:
    d = json.loads((PRESETS / f"{name}.convnet.json").read_text())
    d.setdefault("training", copy.deepcopy(TRAINING))
    d.setdefault("analysis", dict(ANALYSIS))
    return d


BASES = {name: _source(name) for name in SOURCES}

# values that broke a reader before, then anything JSON can hold
edge_values = st.sampled_from([
    10**309, -(10**400), 10**18, 2**53 + 1, 2**53, -1, 0, 1, 65_536, 65_537, 8192, 16_384,
    1e308, -0.0, 0.5, "\ud800", "a\udfff", "fc\n", "x\0", "yesterday", "3", "", "same",
    [], {}, [1, 2], {"a": 1}, None, True, False,
])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
values = edge_values | json_values


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def mutate(data, d: dict) -> str:
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = [p for p in _paths(d) if p]
        path = data.draw(st.sampled_from(paths), label="path")
        parent = d
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = data.draw(values, label="value")
    text = json.dumps(d)  # ASCII: a lone surrogate is written as \ud800, as a hostile file would
    if data.draw(st.booleans(), label="1e999"):
        numbers = list(re.finditer(r"(?<=[:\[, ])-?\d+(\.\d+)?(?=[,\]} \n])", text))
        if numbers:
            m = data.draw(st.sampled_from(numbers), label="number")
            text = text[:m.start()] + "1e999" + text[m.end():]
    return text


def use(design) -> None:
    """What the app does with a design it opened."""
    saved = design.analysis
    report = analyze(design.network, batch=saved.get("batch", 1),
                     dtype=saved.get("dtype", "fp32"), optimizer=saved.get("optimizer", "sgd"),
                     budget=saved.get("budget"))
    hints, ignored = design_hints(design, report)
    render_text(design.network, report, hints, ignored)
    json.dumps(to_json(design.network, report), allow_nan=False)
    json.dumps(hints_json(hints))
    text = dumps(design)
    text.encode("utf-8")
    assert dumps(loads(text)) == text
    config = design.training.get("config")
    if config is not None:
        try:
            TrainConfig.from_dict(config, from_file=True)
        except ConfigError:
            pass


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_mutated_designs_give_our_error_or_a_usable_design(data):
    name = data.draw(st.sampled_from(SOURCES), label="design")
    text = mutate(data, copy.deepcopy(BASES[name]))
    try:
        design = loads(text)
    except DesignFileError as e:
        assert "\n" not in str(e)
        return
    use(design)


def edit_design(data, d: dict) -> str:
    """Edits a user could make (or a tool could write): a parameter changed, a wire or a layer
    removed, another input size, batch or budget. Most results load, so the readers behind the
    loader get exercised."""
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        action = data.draw(st.sampled_from(["param", "param", "unwire", "drop", "input",
                                            "analysis"]), label="action")
        nodes, edges = d["nodes"], d["edges"]
        if action == "param" and nodes:
            node = data.draw(st.sampled_from(nodes), label="node")
            if node.get("params"):
                key = data.draw(st.sampled_from(sorted(node["params"])), label="param")
                node["params"][key] = data.draw(st.integers(0, 20_000) | edge_values)
        elif action == "unwire" and edges:
            edges.pop(data.draw(st.integers(0, len(edges) - 1), label="wire"))
        elif action == "drop" and nodes:
            gone = nodes.pop(data.draw(st.integers(0, len(nodes) - 1), label="layer"))["id"]
            d["edges"] = [e for e in edges if gone not in (e["from"], e["to"])]
        elif action == "input":
            node = next((n for n in nodes if n["type"] == "Input"), None)
            if node is not None:
                for key in ("height", "width", "channels"):
                    node["params"][key] = data.draw(st.integers(1, 9000), label=key)
        elif action == "analysis":
            d["analysis"] = {"batch": data.draw(st.integers(1, 65_536), label="batch"),
                             "budget": data.draw(st.none() | st.integers(1, 2**45)),
                             "optimizer": data.draw(st.sampled_from(["sgd", "adam"]))}
    return json.dumps(d)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_edited_designs_give_our_error_or_a_usable_design(data):
    name = data.draw(st.sampled_from(SOURCES), label="design")
    text = edit_design(data, copy.deepcopy(BASES[name]))
    try:
        design = loads(text)
    except DesignFileError as e:
        assert "\n" not in str(e)
        return
    use(design)


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["nodes"][1].update(pos=[10**309, 0]), "nodes[1].pos[0]"),
    (lambda d: d["nodes"][1]["params"].update(out_channels=10**309), "nodes[1].params"),
    (lambda d: d["analysis"].update(batch=10**400), "analysis.batch"),
    (lambda d: d["analysis"].update(batch=10**18), "analysis.batch"),
    (lambda d: d["analysis"].update(dtype=["fp32"]), "analysis.dtype"),
    (lambda d: d["analysis"].update(optimizer={"adam": 1}), "analysis.optimizer"),
    (lambda d: d.update(name="bad \ud800 name"), "name"),
    (lambda d: d["nodes"][1].update(label="\udc80"), "nodes[1].label"),
    (lambda d: d["nodes"][1].update(id="fc\n"), "nodes[1].id"),
    (lambda d: d["nodes"][1].update(id="fc\0"), "nodes[1].id"),
])
def test_the_crashes_found_are_our_error(edit, where):
    d = copy.deepcopy(BASES["cifar10_example"])
    edit(d)
    with pytest.raises(DesignFileError, match=re.escape(where)):
        loads(json.dumps(d))


def test_1e999_is_refused_where_it_is():
    text = json.dumps(BASES["cifar10_example"]).replace('"batch": 32', '"batch": 1e999')
    with pytest.raises(DesignFileError, match=r"analysis\.batch: .*too large"):
        loads(text)


@pytest.mark.parametrize("config, message", [
    ({"epochs": "3"}, 'epochs: expected a whole number ≥ 1 and ≤ 100,000, got "3"'),
    ({"lr": -1}, "lr: expected a finite number > 0"),
    ({"optimizer": ["sgd"]}, "optimizer: expected one of"),
    ({"data": {"name": {"a": 1}}}, "data.name: expected one of"),
    ({"data": []}, "data: expected an object"),
    ({"batch_size": True}, "batch_size: expected a whole number"),
    ({"surprise": 1}, "surprise: unknown setting"),
])
def test_bad_training_settings_name_the_setting(config, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainConfig.from_dict(config, from_file=True)


def test_a_design_file_does_not_choose_where_training_writes_or_its_workers():
    saved = dict(TrainConfig().to_dict(), checkpoint_dir="/etc/cron.d", num_workers=200)
    assert TrainConfig.from_dict(saved, from_file=True).checkpoint_dir is None
    assert TrainConfig.from_dict(saved, from_file=True).num_workers == 0
    assert TrainConfig.from_dict(saved).checkpoint_dir == "/etc/cron.d"  # the app's own choice


def test_every_setting_is_checked():
    from dataclasses import fields

    from designer.training import events
    from designer.training.events import DataConfig

    assert set(events._TRAIN_RULES) == {f.name for f in fields(TrainConfig)}
    # and the former switch, "augment", which older files hold (an InitVar, not a field)
    assert set(events._DATA_RULES) == {f.name for f in fields(DataConfig)} | {"augment"}
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_train_names_a_bad_saved_setting_or_option_and_writes_nowhere(tmp_path, capsys):
    from designer.cli import main

    d = copy.deepcopy(BASES["cifar10_example"])
    d["training"]["config"]["epochs"] = "3"
    bad = tmp_path / "bad.convnet.json"
    bad.write_text(json.dumps(d))
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: training.config.epochs: expected a whole number" in err
    assert err.count("\n") == 1

    d["training"]["config"]["epochs"] = 3
    good = tmp_path / "good.convnet.json"
    good.write_text(json.dumps(d))
    assert main(["train", str(good), "--lr", "-1"]) == 2
    assert "error: --lr: expected a finite number > 0" in capsys.readouterr().err
