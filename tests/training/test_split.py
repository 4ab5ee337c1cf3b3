"""The validation split of one's own data, and the subsets train_size / val_size take: each class
in proportion (within one sample), the same for the same seed, different for another."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from designer.training.data import split
from designer.training.datasets import DataConfig, DatasetError, load_datasets

# the classes of the 1,797 real digits (sklearn's copy of the UCI set): 174-183 each
DIGITS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
UNEVEN = [500, 3, 41, 120, 1, 77, 9]


def _labels(counts: list[int], seed: int = 0) -> torch.Tensor:
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    return y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]


@pytest.mark.parametrize("counts", [DIGITS, UNEVEN, [5, 5], [1, 1, 1, 97]])
@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_each_class_is_within_one_of_its_share(counts, fraction):
    y = _labels(counts)
    n = len(y)
    k = max(1, round(n * fraction))
    rest, held = split.stratified(y, k, seed=3)
    assert len(held) == k and len(rest) == n - k
    assert torch.equal(torch.cat([rest, held]).sort().values, torch.arange(n))  # a partition
    got = torch.bincount(y[held], minlength=len(counts)).tolist()
    for c, count in enumerate(counts):
        assert abs(got[c] - k * count / n) < 1, (c, got[c], k * count / n)


def test_the_split_is_the_seeds():
    y = _labels(DIGITS)
    a = split.stratified(y, 180, seed=5)
    b = split.stratified(y.clone(), 180, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    others = [split.stratified(y, 180, seed=s)[1] for s in range(6, 10)]
    assert all(not torch.equal(a[1], o) for o in others)


def test_ties_between_classes_are_broken_by_the_seed():
    y = _labels([10] * 10)  # 5 of 100: five classes get one, the seed says which
    chosen = {tuple(torch.bincount(y[split.stratified(y, 5, s)[1]], minlength=10).tolist())
              for s in range(20)}
    assert len(chosen) > 1 and all(sum(c) == 5 and max(c) == 1 for c in chosen)


def test_the_counts_are_said_compactly():
    assert split.per_class(torch.tensor([0, 1, 2] * 18), 3) == "18 per class (3 classes)"
    assert split.per_class(torch.tensor([0, 0, 1, 2, 2, 2]), 3) == "1–3 per class (3 classes)"
    assert split.per_class(torch.tensor([0, 2]), 4) == \
        "0–1 per class (4 classes); none of class 1, 3"


def test_ones_own_data_is_split_by_class_and_the_note_says_how(tmp_path):
    y = _labels(DIGITS).numpy()
    path = tmp_path / "digits.npz"
    np.savez(path, x=np.zeros((len(y), 8, 8), np.uint8), y=y)
    train, val, info = load_datasets(DataConfig(name="npz", path=str(path)), (1, 8, 8))
    assert (len(train), len(val)) == (1617, 180)
    assert torch.bincount(val.labels).tolist() == [18] * 10  # 17.4-18.3 each: 18
    assert ("validation: a stratified seeded 180 of the 1,797 samples, 18 per class "
            "(10 classes); training: 1,617, 156–165 per class (10 classes)") in info.note
    again, val2, _ = load_datasets(DataConfig(name="npz", path=str(path)), (1, 8, 8))
    assert torch.equal(val.labels, val2.labels)
    other = load_datasets(DataConfig(name="npz", path=str(path), seed=1), (1, 8, 8))[1]
    assert torch.equal(torch.bincount(other.labels), torch.bincount(val.labels))


def test_a_bad_validation_size_says_what_works(tmp_path):
    path = tmp_path / "small.npz"
    np.savez(path, x=np.zeros((10, 4, 4), np.uint8), y=np.arange(10) % 2)
    with pytest.raises(DatasetError, match="a validation split of 10 from 10 samples .* "
                                           "between 1 and 9") as caught:
        load_datasets(DataConfig(name="npz", path=str(path), val_size=10), (1, 4, 4))
    assert "val_size" in caught.value.advice
    np.savez(path, x=np.zeros((1, 4, 4), np.uint8), y=np.zeros(1, int))
    with pytest.raises(DatasetError, match="has 1 sample: at least 2"):
        load_datasets(DataConfig(name="npz", path=str(path)), (1, 4, 4))
