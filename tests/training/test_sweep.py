"""Design searches on Optuna (designer/training/sweep.py): a 12-trial sweep on the synthetic set
finishes on the CPU, some trials pruned by the analysis before they train and some by the pruner
on their validation curve; the analysis's verdict agrees with the budget; the best design is
written with its settings; a study of another design is refused; Stop ends the sweep."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from designer.model.design_file import load
from designer.model.knobs import apply_knobs
from designer.training.events import DataConfig, TrainConfig

pytest.importorskip("optuna")
from designer.training.sweep import (  # noqa: E402
    OptunaMissing,
    Sweep,
    SweepConfig,
    SweepError,
    import_optuna,
)

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
BUDGET = 20 << 20  # batch 128-256 at width ≥ 1, or width ≥ 3, need more
BASE = TrainConfig(data=DataConfig("synthetic", train_size=128, val_size=64), epochs=3,
                   device="cpu")


@pytest.fixture
def design(tmp_path):
    path = tmp_path / "net.convnet.json"
    shutil.copy(CIFAR, path)
    return path


def test_a_12_trial_sweep_prunes_by_the_analysis_and_by_the_pruner(design):
    heard = []

    class Listener:
        def on_trial_start(self, number, params):
            heard.append(("start", number))

        def on_trial_end(self, record):
            heard.append(("end", record.number))

    d = load(design)
    sweep = Sweep(d.network, BASE, SweepConfig(trials=12, budget=BUDGET, sampler_seed=1),
                  design_path=design, callbacks=Listener(), design=d)
    result = sweep.run()
    records = result.records
    assert len(records) == 12 and not result.stopped
    assert result.storage == f"sqlite:///{design.with_name('net.sweep.db')}"
    assert Path(design.with_name("net.sweep.db")).exists()
    assert heard[-1] == ("end", 11) and heard.count(("end", 5)) == 1

    by_analysis = [r for r in records if r.pruned_by == "analysis"]
    assert by_analysis, [r.line() for r in records]
    for r in by_analysis:  # before training: no epoch, the reason names the budget
        assert r.state == "pruned" and r.epochs == 0
        assert "over the budget of 20 MiB" in r.reason and r.memory > BUDGET
    trained = [r for r in records if r.state in ("complete", "failed") or
               r.pruned_by == "pruner"]
    assert all(r.memory <= BUDGET for r in trained)

    by_pruner = [r for r in records if r.pruned_by == "pruner"]
    assert by_pruner, [r.line() for r in records]
    assert all(1 <= r.epochs < BASE.epochs and "below the median" in r.reason
               for r in by_pruner)

    best = result.best
    assert best is not None and best.value == max(r.value for r in records
                                                   if r.state == "complete")
    assert result.best_path == design.with_name("net.best.convnet.json")
    written = load(result.best_path)
    expected = apply_knobs(d.network, {k: best.params[k] for k in ("width", "kernel")})
    assert written.network.nodes["conv"].params == expected.nodes["conv"].params
    saved = written.training["config"]
    assert saved["lr"] == best.params["lr"] and saved["batch_size"] == best.params["batch_size"]
    assert saved["data"]["name"] == "synthetic"


def test_the_analysis_screens_the_macs_cap_and_refusals(design):
    d = load(design)
    macs = 12 * 3 * 9 * 32 * 32 + 12 * 16 * 16 * 10  # conv + fc of the design as it is
    sweep = Sweep(d.network, BASE, SweepConfig(trials=1, max_macs=macs, storage="sqlite://"))
    same, _ = sweep.variant({"width": 1.0, "kernel": 3})
    assert sweep.screen(same, BASE)[0] is None
    wide, cfg = sweep.variant({"width": 2.0, "kernel": 3, "lr": 0.1})
    why, report = sweep.screen(wide, cfg)
    assert "MACs per image, over the cap" in why and report.totals.macs > macs
    assert cfg.lr == 0.1 and cfg.data == BASE.data


def test_held_training_knobs_are_left_out_of_the_space(design):
    sweep = Sweep(load(design).network, BASE, SweepConfig(fixed=("lr", "optimizer"),
                                                           storage="sqlite://"))
    names = [k.name for k in sweep.space().knobs]
    assert "lr" not in names and "optimizer" not in names and "batch_size" in names
    assert any(line.startswith(f"lr: {BASE.lr:g} (held)") for line in sweep.space().lines())
    assert any(line.startswith("left out: dropout") for line in sweep.space().lines())


def test_stop_ends_the_sweep_with_the_trial_in_progress(design):
    class StopAtFirstEpoch:
        def on_epoch(self, event):
            sweep.stop()

    sweep = Sweep(load(design).network, BASE, SweepConfig(trials=5), design_path=design,
                  callbacks=StopAtFirstEpoch())
    result = sweep.run()
    assert result.stopped and result.best is None and result.best_path is None
    states = [r.state for r in result.records]
    assert states == ["failed"] and result.records[0].reason == "stopped with the sweep"


def test_a_study_of_another_design_is_refused(design, tmp_path):
    d = load(design)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Sweep(d.network, BASE, SweepConfig(trials=1, storage=url, study="s")).open_study()
    other = apply_knobs(d.network, {"width": 2.0})
    with pytest.raises(SweepError, match="--study s: the study in .* searches another design"):
        Sweep(other, BASE, SweepConfig(trials=1, storage=url, study="s")).open_study()


def test_bad_settings_are_named(design):
    net = load(design).network
    with pytest.raises(SweepError, match="--pruner: 'mean' is not one of"):
        Sweep(net, BASE, SweepConfig(pruner="mean"))
    with pytest.raises(SweepError, match="--trials: expected a whole number"):
        Sweep(net, BASE, SweepConfig(trials=0))
    with pytest.raises(SweepError, match="--storage: the design has no file"):
        _ = Sweep(net, BASE, SweepConfig()).storage_url


def test_without_optuna_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(OptunaMissing, match=r"pip install .*\[sweep\]"):
        import_optuna()
