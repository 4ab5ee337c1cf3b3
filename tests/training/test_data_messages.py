"""Every data fault names the problem and carries its own fix (DatasetError.advice, which the
Trainer shows), never the one catch-all line."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from designer.training.datasets import DataConfig, DatasetError, load_datasets

DATA = Path(__file__).resolve().parents[2] / "designer" / "training" / "data"


def test_every_dataset_error_raised_in_the_data_package_carries_advice():
    """A new fault added without its advice is caught here (the message alone is not enough)."""
    lacking = []
    for path in sorted(DATA.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DatasetError":
                advice = node.args[1:] + [k.value for k in node.keywords if k.arg == "advice"]
                if not advice or (isinstance(advice[0], ast.Constant) and not advice[0].value):
                    lacking.append(f"{path.name}:{node.lineno}")
    assert not lacking, lacking


@pytest.mark.parametrize("y, match, fix", [
    (np.array([0, 1, -1, 1]), "negative label -1", "number the classes 0..K-1"),
    (np.array([0.5, 1, 0, 1]), "labels must be integers", "number the classes 0..K-1"),
    (np.array([0, 1, 200_000, 1]), "a label 200000: labels must be 0..K-1", "0..K-1"),
])
def test_labels_out_of_range_say_how_to_number_them(tmp_path, y, match, fix):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 4, 4), np.uint8), y=y)
    with pytest.raises(DatasetError, match=match) as caught:
        load_datasets(DataConfig(name="npz", path=str(path)), (1, 4, 4))
    assert fix in caught.value.advice


def test_missing_things_say_where_to_point(tmp_path):
    cases = [(DataConfig(name="npz"), "needs a path", "--data-path"),
             (DataConfig(name="npz", path=str(tmp_path / "gone.npz")), "does not exist",
              "moved or renamed"),
             (DataConfig(name="npz", path=str(tmp_path)), "is a folder, not a file",
              "image folder data set"),
             (DataConfig(name="mnist", path=str(tmp_path)), "does not hold the mnist files",
              "turn on Download"),
             (DataConfig(name="cifar10", path=str(tmp_path)), "does not hold cifar10",
              "turn on Download"),
             (DataConfig(train_size=0), "train_size is 0", "validation size")]
    for config, match, fix in cases:
        with pytest.raises(DatasetError, match=match) as caught:
            load_datasets(config, (1, 8, 8))
        assert fix in caught.value.advice, (match, caught.value.advice)


def test_a_corrupt_standard_file_says_to_download_it_again(tmp_path):
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    for name in names:
        (tmp_path / name).write_bytes(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x05" + b"\x01" * 5)
    (tmp_path / names[0]).write_bytes(b"junk")
    with pytest.raises(DatasetError, match="is not an IDX file") as caught:
        load_datasets(DataConfig(name="mnist", path=str(tmp_path)), (1, 8, 8))
    assert "delete it and turn on Download" in caught.value.advice


@pytest.mark.parametrize("design, dataset", [("lenet5", "mnist"), ("cifar10_example", "cifar10")])
def test_the_command_line_names_its_download_flag(tmp_path, capsys, design, dataset):
    """On the command line the switch is --download: the advice says so (it said only 'turn on
    download', the window's words)."""
    from designer.cli import main

    preset = Path(__file__).resolve().parents[2] / "presets" / f"{design}.convnet.json"
    assert main(["train", str(preset), "--dataset", dataset, "--data-path", str(tmp_path),
                 "--epochs", "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "does not hold" in err and "advice:" in err
    advice = err[err.index("advice:"):]
    assert "--download" in advice, err
    assert list(tmp_path.iterdir()) == []  # nothing fetched without the flag
