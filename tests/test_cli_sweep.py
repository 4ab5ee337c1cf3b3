"""`python -m designer sweep`: two processes on one SQLite study both contribute trials (the
study's total shared), options of `train` hold their knobs, --json, TensorBoard logs per trial,
and bad input is one line with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from designer.cli.sweep import parse_count

ROOT = Path(__file__).resolve().parents[1]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
TINY = ["--dataset", "synthetic", "--train-size", "64", "--val-size", "32", "--epochs", "1",
        "--device", "cpu"]


@pytest.fixture
def design(tmp_path):
    path = tmp_path / "net.convnet.json"
    shutil.copy(CIFAR, path)
    return path


def test_two_processes_share_one_sqlite_study(design, tmp_path):
    optuna = pytest.importorskip("optuna")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    command = [sys.executable, "-m", "designer", "sweep", str(design), "--trials", "10",
               "--storage", url, "--study", "shared", "--pruner", "none", "--batch", "16",
               *TINY]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=url)
    trials = study.get_trials()
    assert 10 <= len(trials) <= 11  # the total is shared (two may start the last at once)
    workers = {t.user_attrs["sweep"]["worker"] for t in trials}
    assert workers == {f"{os.uname().nodename}:{p.pid}" for p in procs}  # both contributed
    assert all(t.state.name == "COMPLETE" or "fault" in t.user_attrs["sweep"] for t in trials)


def test_held_options_json_and_tensorboard_logs(design, tmp_path, capsys):
    pytest.importorskip("optuna")
    pytest.importorskip("tensorboard")
    logs = tmp_path / "tb"
    code = main(["sweep", str(design), "--trials", "3", "--lr", "0.02", "--optimizer", "adam",
                 "--json", "--tensorboard", str(logs), "--sampler-seed", "0", *TINY])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert data["study"] == "net" and len(data["trials"]) == 3
    for t in data["trials"]:
        assert "lr" not in t["params"] and "optimizer" not in t["params"]
        assert t["config"]["lr"] == 0.02 and t["config"]["optimizer"] == "adam"
    assert "lr: 0.02 (held)" in out.err and "trial 2:" in out.err
    assert data["best_design"] == str(design.with_name("net.best.convnet.json"))
    folders = sorted(p.name for p in logs.iterdir())
    assert folders == ["trial_0000", "trial_0001", "trial_0002"]
    assert all(any(f.name.startswith("events.out.tfevents") for f in (logs / n).iterdir())
               for n in folders)
    # the same command again: the study holds its 3 trials already, nothing more runs
    assert main(["sweep", str(design), "--trials", "3", "--lr", "0.02", "--optimizer", "adam",
                 *TINY]) == 0
    assert "3 trials in the study" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--budget", "12XB"], "--budget: '12XB' is not a size"),
    (["--max-macs", "lots"], "--max-macs: 'lots' is not a count"),
    (["--trials", "0"], "--trials: expected a whole number ≥ 1, got 0"),
    (["--lr", "-1"], "--lr: expected a finite number > 0"),
    (["--storage", "nosuchdb://x"], "--storage: cannot open nosuchdb://x"),
])
def test_bad_input_is_one_line_and_exit_2(design, capsys, args, message):
    pytest.importorskip("optuna")
    assert main(["sweep", str(design), *args, *TINY]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_missing_design_is_one_line(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.convnet.json")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_without_optuna_it_says_what_to_install(design, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(["sweep", str(design), *TINY]) == 2
    err = capsys.readouterr().err
    assert "pip install optuna" in err and "convnet-designer[" not in err and "Traceback" not in err


def test_counts_read_with_their_units():
    assert parse_count("50M") == 50_000_000
    assert parse_count("1.2G") == 1_200_000_000
    assert parse_count("300k") == 300_000
    assert parse_count("2e9") == 2_000_000_000
    with pytest.raises(ValueError, match="not a count"):
        parse_count("12 apples")
