"""Seeded, stratified picks of labelled samples: the validation split of one's own data, and the
subsets ``train_size`` / ``val_size`` ask for. Each class gets its share: ``k`` of ``n`` samples
take ``k * n_c / n`` of class ``c``, rounded down, and the ``k`` left over go to the classes with
the largest remainders (ties broken by the seed), so every class is within one sample of its
proportion. Which samples of a class are taken is drawn from the seed: the same seed, the same
split, on every machine.
"""

from __future__ import annotations

import torch

from .errors import SPLIT_SIZE, DatasetError


def stratified(labels: torch.Tensor, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the rest, the ``k`` picked): two sorted index tensors that split ``labels``' samples, the
    picked ones taking each class in proportion."""
    labels = torch.as_tensor(labels, dtype=torch.int64).cpu()
    n = len(labels)
    if not 0 <= k <= n:
        raise DatasetError(f"cannot pick {k} of {n} samples", SPLIT_SIZE)
    g = torch.Generator().manual_seed(int(seed) % 2**63)
    if n == 0 or k == 0:
        return torch.arange(n), torch.zeros(0, dtype=torch.int64)
    counts = torch.bincount(labels)
    base = counts * k // n
    remainder = counts * k % n
    left = k - int(base.sum())
    tie = torch.randperm(len(counts), generator=g)  # the seed breaks ties between classes
    order = tie[torch.sort(remainder[tie], descending=True, stable=True).indices]
    take = base.clone()
    take[order[:left]] += 1
    picked = []
    by_class = torch.sort(labels, stable=True).indices  # samples grouped by class, in order
    start = 0
    for c, count in enumerate(counts.tolist()):
        members = by_class[start:start + count]
        start += count
        if take[c]:
            picked.append(members[torch.randperm(count, generator=g)[:int(take[c])]])
    chosen = torch.cat(picked).sort().values
    mask = torch.ones(n, dtype=torch.bool)
    mask[chosen] = False
    return mask.nonzero()[:, 0], chosen


def validation_size(n: int, val_size: int | None, what: str) -> int:
    """How many of ``n`` samples go to validation: ``val_size``, else 10 % (at least 1)."""
    if n < 2:
        raise DatasetError(f"{what} has {n} sample{'s' if n != 1 else ''}: at least 2 are needed "
                           f"to hold some back for validation",
                           "add more samples: each class needs some to train on and some to "
                           "check with")
    k = val_size if val_size is not None else max(1, round(n * 0.1))
    if not 1 <= k < n:
        raise DatasetError(f"a validation split of {k} from {n} samples in {what} leaves "
                           f"nothing to train on: ask for between 1 and {n - 1}", SPLIT_SIZE)
    return k


def per_class(labels: torch.Tensor, classes: int) -> str:
    """The class counts of a split, compactly: '18 per class (10 classes)', '160–163 per class
    (10 classes)'; classes with none are named by index ('none of 3, 7')."""
    counts = torch.bincount(torch.as_tensor(labels, dtype=torch.int64).cpu(),
                            minlength=max(1, classes)).tolist()
    low, high = min(counts), max(counts)
    spread = f"{low}" if low == high else f"{low}–{high}"
    text = f"{spread} per class ({len(counts)} classes)"
    empty = [str(c) for c, v in enumerate(counts) if v == 0]
    if empty and len(empty) < len(counts):
        text += f"; none of class {', '.join(empty[:5])}" + ("…" if len(empty) > 5 else "")
    return text
