"""preview_samples: a few training samples as the network sees them (shaped, augmented by the
run's recipe), as 8-bit pictures, without training; the same grid for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from designer.training.data import images as folder_module
from designer.training.datasets import DataConfig, DatasetError, preview_samples


def _npz(tmp_path, n=40, size=(12, 12)):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, *size, 3), dtype=np.uint8)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=np.arange(n) % 4, class_names=np.array(["a", "b", "c", "d"]))
    return path, x


def test_ones_own_data_is_previewed_as_it_is(tmp_path):
    path, x = _npz(tmp_path)
    shown = preview_samples(DataConfig(name="npz", path=str(path)), (3, 12, 12), n=6, seed=2)
    assert shown.images.shape == (6, 12, 12, 3) and shown.images.dtype == np.uint8
    assert shown.labels.dtype == np.int64 and shown.class_names == ["a", "b", "c", "d"]
    assert shown.description.startswith("off, the standard for your own .npz data")
    for picture, label in zip(shown.images, shown.labels):  # each is a file's image, unchanged
        match = [i for i in range(len(x)) if np.abs(x[i].astype(int) - picture).max() <= 1]
        assert len(match) == 1 and match[0] % 4 == label
    again = preview_samples(DataConfig(name="npz", path=str(path)), (3, 12, 12), n=6, seed=2)
    assert np.array_equal(again.images, shown.images)
    other = preview_samples(DataConfig(name="npz", path=str(path)), (3, 12, 12), n=6, seed=3)
    assert not np.array_equal(other.images, shown.images)


def test_a_chosen_recipe_shows_in_the_pictures(tmp_path):
    path, x = _npz(tmp_path)
    plain = preview_samples(DataConfig(name="npz", path=str(path)), (3, 12, 12), n=8, seed=1)
    flipped = preview_samples(DataConfig(name="npz", path=str(path), hflip=True), (3, 12, 12),
                              n=8, seed=1)
    assert np.array_equal(plain.labels, flipped.labels)  # the same samples
    mirrored = [np.array_equal(a[:, ::-1], b) for a, b in zip(plain.images, flipped.images)]
    same = [np.array_equal(a, b) for a, b in zip(plain.images, flipped.images)]
    assert all(m or s for m, s in zip(mirrored, same)) and any(mirrored) and any(same)
    assert flipped.description.startswith("horizontal flip, as chosen")
    cropped = preview_samples(DataConfig(name="npz", path=str(path), crop_padding=3),
                              (3, 12, 12), n=8, seed=1)
    shifted = 0
    for a, b in zip(plain.images.astype(int), cropped.images.astype(int)):
        found = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                 if np.abs(np.roll(a, (dy, dx), (0, 1))[3:-3, 3:-3] - b[3:-3, 3:-3]).max() <= 1]
        assert found  # the same picture, moved by at most the padding
        shifted += found != [(0, 0)]
    assert shifted


def test_the_synthetic_set_is_previewed_with_its_crop():
    shown = preview_samples(DataConfig(train_size=50), (1, 16, 20), n=5)
    assert shown.images.shape == (5, 16, 20, 1) and len(shown.class_names) == 10
    assert shown.description.startswith("random crop (pad 2), the standard for the synthetic")


def test_a_folder_preview_decodes_only_what_it_shows(tmp_path, monkeypatch):
    for k, name in enumerate(("cat", "dog")):
        (tmp_path / name).mkdir()
        for i in range(30):
            Image.fromarray(np.full((6, 8), 8 * i + k, np.uint8)).save(
                tmp_path / name / f"{i}.png")
    (tmp_path / "dog" / "zz.png").write_bytes(b"broken")
    decoded = []
    real = folder_module.decode_all
    monkeypatch.setattr(folder_module, "decode_all",
                        lambda files, *a, **kw: decoded.extend(files) or real(files, *a, **kw))
    shown = preview_samples(DataConfig(name="folder", path=str(tmp_path)), (3, 12, 16), n=4)
    assert shown.images.shape == (4, 12, 16, 3) and len(decoded) <= 8
    grey = shown.images[..., 0]
    assert np.array_equal(grey, shown.images[..., 2])  # grey files repeated to RGB
    for picture, label in zip(shown.images, shown.labels):
        assert int(picture[0, 0, 0]) % 8 == label  # its own class's picture


def test_a_preview_says_what_is_wrong_as_a_run_would(tmp_path):
    with pytest.raises(DatasetError, match="does not exist") as caught:
        preview_samples(DataConfig(name="folder", path=str(tmp_path / "nope")), (3, 8, 8))
    assert caught.value.advice
    with pytest.raises(DatasetError, match="unknown data set"):
        preview_samples(DataConfig(name="imagenet"), (3, 8, 8))
