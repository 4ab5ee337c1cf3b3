"""Augmentation is a visible choice: each data set's standard recipe (CIFAR: crop + flip; MNIST,
Fashion-MNIST and the user's own data: none; synthetic: the crop, as before), what the settings
choose instead, the former ``augment`` switch still read, and the text the run's log shows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from designer.training.data import recipe
from designer.training.datasets import DataConfig, load_datasets
from designer.training.events import ConfigError, TrainConfig


@pytest.mark.parametrize("name, shape, text", [
    ("cifar10", (3, 32, 32), "random crop (pad 4) + horizontal flip"),
    ("cifar100", (3, 64, 64), "random crop (pad 8) + horizontal flip"),
    ("CIFAR-10", (1, 16, 16), "random crop (pad 2) + horizontal flip"),
    ("synthetic", (3, 32, 32), "random crop (pad 4)"),
    ("synthetic", (3, 6, 6), "off"),  # too small to crop, as before
    ("mnist", (1, 28, 28), "off"),
    ("fashion-mnist", (1, 28, 28), "off"),
    ("folder", (3, 32, 32), "off"),
    ("npz", (1, 32, 32), "off"),
])
def test_the_standard_recipe_of_each_data_set(name, shape, text):
    chosen = recipe.resolve(DataConfig(name=name), shape)
    assert chosen.text == text and chosen.standard
    assert chosen.description.startswith(f"{text}, the standard for")


def test_settings_choose_instead_of_the_standard_recipe():
    mine = recipe.resolve(DataConfig(name="npz", crop_padding=2), (1, 32, 32))
    assert (mine.crop_padding, mine.hflip, mine.standard) == (2, False, False)
    assert mine.description == ("random crop (pad 2), as chosen (the standard for your own .npz "
                                "data is off)")
    flip_only = recipe.resolve(DataConfig(name="cifar10", crop_padding=0), (3, 32, 32))
    assert flip_only.text == "horizontal flip" and "standard for CIFAR-10 is random crop" in \
        flip_only.description
    no_flip = recipe.resolve(DataConfig(name="cifar10", hflip=False), (3, 32, 32))
    assert no_flip.text == "random crop (pad 4)"  # the crop stays the standard one


def test_the_former_augment_switch_is_still_read():
    # a file saved before the choice: false -> nothing; true -> the standard recipe
    off = TrainConfig.from_dict({"data": {"name": "cifar10", "augment": False}}).data
    assert (off.crop_padding, off.hflip, off.augment) == (0, False, False)
    assert recipe.resolve(off, (3, 32, 32)).text == "off"
    on = TrainConfig.from_dict({"data": {"name": "cifar10", "augment": True}}).data
    assert (on.crop_padding, on.hflip, on.augment) == (None, None, True)
    assert "augment" not in on.__dict__ and "augment" not in TrainConfig().to_dict()["data"]
    # the command line's --no-augment on top of a file that chose a crop: off
    both = TrainConfig.from_dict({"data": {"crop_padding": 3, "augment": False}}).data
    assert recipe.resolve(both, (3, 32, 32)).text == "off"
    kept = TrainConfig.from_dict({"data": {"crop_padding": 3, "augment": True}}).data
    assert kept.crop_padding == 3
    # the attribute and the argument, as the window, the CLI and older tests use them
    d = DataConfig(name="cifar10")
    d.augment = False
    assert (d.crop_padding, d.hflip) == (0, False)
    d.augment = True
    assert (d.crop_padding, d.hflip) == (None, None)
    assert DataConfig(augment=False).hflip is False
    # saved and read again: the same settings
    again = TrainConfig.from_dict(TrainConfig(data=DataConfig(crop_padding=2, hflip=True))
                                  .to_dict()).data
    assert (again.crop_padding, again.hflip) == (2, True)


@pytest.mark.parametrize("key, value, match", [
    ("crop_padding", -1, "data.crop_padding: expected a whole number ≥ 0"),
    ("crop_padding", 2.5, "data.crop_padding: expected a whole number"),
    ("crop_padding", True, "data.crop_padding: expected a whole number"),
    ("hflip", "yes", "data.hflip: expected true, false or null"),
    ("augment", None, "data.augment: expected true or false"),
])
def test_bad_augmentation_settings_name_the_setting(key, value, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict({"data": {key: value}})


def _npz(tmp_path, n=40):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x=rng.integers(0, 256, (n, 12, 12), dtype=np.uint8), y=np.arange(n) % 4)
    return path


def test_ones_own_data_is_not_augmented_by_default_and_the_log_says_so(tmp_path):
    path = _npz(tmp_path)
    train, _, info = load_datasets(DataConfig(name="npz", path=str(path)), (1, 12, 12))
    assert train.augment is None and info.augmentation == "off"
    assert "augmentation: off, the standard for your own .npz data" in info.note
    a = train.get_batch(torch.arange(8))[0]
    train.set_epoch(3)
    assert torch.equal(train.get_batch(torch.arange(8))[0], a)  # the same every epoch
    chosen, _, info = load_datasets(DataConfig(name="npz", path=str(path), crop_padding=2,
                                               hflip=True), (1, 12, 12))
    assert info.augmentation == "random crop (pad 2) + horizontal flip"
    assert chosen.augment is not None and (chosen.augment.pad, chosen.augment.flip) == (2, True)


def test_the_synthetic_set_is_augmented_as_before():
    train, _, info = load_datasets(DataConfig(train_size=20, val_size=10), (3, 32, 32))
    assert info.augmentation == "random crop (pad 4)"
    assert (train.augment.pad, train.augment.flip) == (4, False)
    assert "augmentation: random crop (pad 4), the standard for the synthetic shapes" in info.note
