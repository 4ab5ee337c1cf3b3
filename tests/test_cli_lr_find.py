"""`python -m designer lr-find`: the curve as a text plot, the suggestion and the `train` command
that uses it (with the data options given), --json, bad options named with exit 2, a fault with
exit 1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from designer.cli import main
from designer.cli.lr_find import plot

ROOT = Path(__file__).resolve().parents[1]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
SMALL = ["--train-size", "256", "--val-size", "32", "--batch", "32", "--device", "cpu"]


def test_text_output_plots_the_curve_and_suggests(capsys):
    code = main(["lr-find", str(CIFAR), *SMALL, "--no-augment", "--optimizer", "adam",
                 "--start", "1e-5", "--end", "1", "--steps", "40"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("learning-rate finder: CIFAR-10 example on CPU")
    assert "batch 32" in lines[0] and "of 40 batches from 1e-05 to 1" in lines[0]
    assert "smoothed loss against the learning rate (log scale); | suggested" in lines[1]
    suggested = next(x for x in lines if x.startswith("suggested learning rate: "))
    lr = float(suggested.split()[3])
    assert 1e-5 <= lr <= 1
    command = next(x for x in lines if x.startswith("train with it: "))
    assert command.endswith(f"--lr {lr:.2g}")
    assert f"python -m designer train {CIFAR}" in command
    assert "--train-size 256 --val-size 32 --batch 32 --optimizer adam" in command
    assert "--no-augment" in command
    assert "lr-find [" in err  # the progress line


def test_json(capsys):
    code = main(["lr-find", str(CIFAR), *SMALL, "--start", "1e-4", "--end", "0.1", "--steps",
                 "20", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "finished" and len(data["lrs"]) == len(data["smoothed"]) == 20
    assert data["lrs"][0] == pytest.approx(1e-4) and data["lrs"][-1] == pytest.approx(0.1)
    assert data["config"]["batch_size"] == 32 and data["config"]["data"]["train_size"] == 256
    assert data["suggestion"] is None or 1e-4 <= data["suggestion"] <= 0.1


@pytest.mark.parametrize("options, words", [
    (["--start", "0"], "--start: expected a learning rate above 0, got 0"),
    (["--end", "nan"], "--end: expected a learning rate above 0, got nan"),
    (["--start", "1", "--end", "0.5"], "--end: expected a learning rate above --start (1)"),
    (["--steps", "3"], "--steps: expected a whole number from 5 to 100,000, got 3"),
    (["--batch", "0"], "--batch: expected a whole number ≥ 1"),
])
def test_bad_options_are_named(capsys, options, words):
    assert main(["lr-find", str(CIFAR), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1


def test_a_bad_file_and_a_fault(tmp_path, capsys):
    bad = tmp_path / "bad.convnet.json"
    bad.write_text("{")
    assert main(["lr-find", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # train's options that lr-find has no use for
        main(["lr-find", str(CIFAR), "--lr", "0.1"])
    capsys.readouterr()
    if not torch.cuda.is_available():
        assert main(["lr-find", str(CIFAR), "--device", "cuda", "--steps", "10"]) == 1
        err = capsys.readouterr().err
        assert "error: the device 'cuda' is not available" in err and "advice:" in err


def test_the_plot():
    lrs = [10 ** (-6 + i / 10) for i in range(61)]
    losses = [2.3 - 2 / (1 + math.exp(-(math.log10(lr) + 3) * 2)) for lr in lrs]
    losses[-1] = 50.0  # the explosion is cut off the top
    rows = plot(lrs, losses, 30, width=61, height=10)
    assert rows[0].endswith("| suggested 0.001")
    body = rows[1:11]
    assert body[0].startswith("     2.3 *") and body[-1].startswith("   0.306")
    column = [r[9 + 30] for r in body]  # the suggestion's: the curve crosses it once
    assert column.count("*") == 1 and column.count("|") == 9
    assert sum(r.count("*") for r in body) == 60
    assert rows[-1].split() == ["1e-06", "1e+00"]
    assert plot(lrs[:1], losses[:1], None) == ["(too few batches to plot)"]
