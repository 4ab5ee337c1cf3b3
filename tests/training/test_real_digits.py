"""Issue 18's must-show: real handwritten digits, not the synthetic set. LeNet-5 (the preset, a
32×32 grey input) trained with the DEFAULT settings learns 1,797 real digits (scikit-learn's copy
of the UCI set, vendored in tests/training/digits/ with its licence) upscaled to 32×32, read the
way a person's own data is read: as a .npz and as a folder of PNGs, one sub-folder per class.

A user with such data got 41 % with the former defaults (SGD 0.01, augmentation that mirrors
digits) where a plain PyTorch loop got 98 %. The defaults now (batch 32, Adam 0.003 one-cycle;
no augmentation for one's own data) reach 97 % or more in 10 epochs, counted over the 360
validation images of two stratified seeded splits (seeds 0 and 1: the split's and the run's),
no split below 96 %. One split's 180 images are too few to say 97 % alone: the seed-0 split holds
four digits (three 8s read as 1 or 7, a 3 read as 5) that every setting measured got wrong, and
one image is 0.56 %. The folder and the .npz give the network the very same pixels (here at
32×32, nothing resized; where the folder's images are resized, Pillow's bilinear and torch's
are within one grey level): the two differ only in the order of the samples, so in the batches.
Measured (benchmarks/bench_defaults.py --presets lenet5 --folder): seeds 0 and 1 give 96.7 and
98.9 % on both paths, 352 of 360 (97.8 %; seeds 0-4: 97.7 % on average, no seed below 96.7 %);
the former batch 64 gets 349 (.npz) and 348 (folder), under 97 %.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from designer.model import design_file
from designer.training.datasets import augmentation_recipe
from designer.training.events import DataConfig, TrainConfig
from designer.training.trainer import Trainer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LENET = ROOT / "presets" / "lenet5.convnet.json"
DIGITS = HERE / "digits" / "digits.csv.gz"


def digits_32() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (1797, 32, 32), labels int64): the 8×8 digits (0..16) upscaled
    bilinearly to 32×32 and scaled to 0..255."""
    with gzip.open(DIGITS, "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    small = torch.tensor(raw[:, :64].reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)
    big = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
    images = (big.clamp(0, 1) * 255).round().to(torch.uint8).numpy()[:, 0]
    return images, raw[:, 64].astype(np.int64)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    """The digits as a .npz (x, y) and as a folder of PNGs (<label>/<index>.png)."""
    from PIL import Image

    images, labels = digits_32()
    assert images.shape == (1797, 32, 32) and sorted(set(labels)) == list(range(10))
    root = tmp_path_factory.mktemp("digits")
    npz = root / "digits.npz"
    np.savez_compressed(npz, x=images, y=labels)
    folder = root / "digits"
    for i, (image, label) in enumerate(zip(images, labels)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i:04d}.png")
    return {"npz": npz, "folder": folder}


SEEDS = (0, 1)  # two stratified splits: 360 validation images in all


@pytest.fixture
def one_thread():
    """LeNet-5's small layers train faster on one thread than on two (8 s against 13 s a run,
    measured on the 2-core machine): the same figures, the test under a minute."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", ["npz", "folder"])
def test_lenet5_with_the_default_settings_learns_real_digits(written, kind, one_thread):
    net = design_file.load(LENET).network
    defaults = TrainConfig()
    right = seen = 0
    finals = []
    for seed in SEEDS:
        cfg = TrainConfig(data=DataConfig(name=kind, path=str(written[kind]), seed=seed),
                          device="cpu", seed=seed)
        # the data side's default for one's own data: no augmentation (a mirrored 2 is no 2)
        assert augmentation_recipe(cfg.data, (1, 32, 32)).text == "off"
        assert (cfg.optimizer, cfg.lr, cfg.schedule, cfg.epochs, cfg.batch_size,
                cfg.weight_decay) == (defaults.optimizer, defaults.lr, defaults.schedule, 10,
                                      defaults.batch_size, defaults.weight_decay)
        started = []
        result = Trainer(net, cfg, SimpleNamespace(on_start=started.append)).run()
        assert result.status == "finished", result.fault
        assert result.epochs_done == 10
        final = result.history[-1].val_accuracy
        finals.append(round(final, 3))
        n = started[0].val_samples  # the stratified 10 %: 18 of each digit
        right += round(final * n)
        seen += n
        # the run's log says what trained it and why
        assert any("the defaults, measured" in note for note in result.notes), result.notes
    assert seen == 360
    assert right / seen >= 0.97, finals
    assert min(finals) >= 0.96, finals  # no split fails where the others carry it
