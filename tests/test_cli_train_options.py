"""`train`'s augmentation options (issue 18): --crop-padding and --hflip / --no-hflip set the data
side's DataConfig fields, unset they leave the data set's standard recipe, --no-augment still
turns both off, and a contradiction or a bad value is named (exit 2). lr-find shares them."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.cli import main, parser
from designer.cli.train import config_from

ROOT = Path(__file__).resolve().parents[1]
CIFAR = str(ROOT / "presets" / "cifar10_example.convnet.json")


def config(*options: str, command: str = "train"):
    return config_from(parser().parse_args([command, CIFAR, *options]), {})


@pytest.mark.parametrize("command", ["train", "lr-find"])
def test_the_options_set_the_fields(command):
    d = config(command=command).data
    assert (d.crop_padding, d.hflip) == (None, None)  # the data set's standard recipe
    d = config("--crop-padding", "2", "--no-hflip", command=command).data
    assert (d.crop_padding, d.hflip) == (2, False)
    d = config("--hflip", command=command).data
    assert (d.crop_padding, d.hflip) == (None, True)
    d = config("--no-augment", command=command).data
    assert (d.crop_padding, d.hflip) == (0, False) and d.augment is False
    d = config("--no-augment", "--crop-padding", "0", "--no-hflip", command=command).data
    assert (d.crop_padding, d.hflip) == (0, False)


def test_a_saved_former_switch_and_the_options_on_top():
    saved = {"data": {"name": "synthetic", "augment": False}}
    args = parser().parse_args(["train", CIFAR, "--crop-padding", "3"])
    d = config_from(args, saved).data
    assert (d.crop_padding, d.hflip) == (3, False)  # the file's "off" flip, the option's crop


@pytest.mark.parametrize("options, words", [
    (["--no-augment", "--crop-padding", "4"], "--no-augment: turns off the crop and the flip"),
    (["--no-augment", "--hflip"], "give one or the other"),
    (["--crop-padding", "-1"], "--crop-padding: expected a whole number ≥ 0"),
])
def test_bad_augmentation_options_are_named(capsys, options, words):
    assert main(["train", CIFAR, *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1
