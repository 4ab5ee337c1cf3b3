"""Image folders read with Pillow: the formats, unreadable files skipped and listed (and the folder
refused past MAX_BAD_SHARE), parallel decoding that gives the same images as one thread, no
NumPy "not writable" warning, and a bounded fuzz of the reader with damaged image bytes."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from designer.training.data import images
from designer.training.datasets import DataConfig, DatasetError, load_datasets


def _pixels(seed: int, size=(10, 14)) -> np.ndarray:
    """Smooth colours (JPEG keeps them close), different for every seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (2, 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size[::-1], Image.BILINEAR))


def _folder(root: Path, per_class: dict[str, int], suffix=".png", **save) -> dict[Path, np.ndarray]:
    kept = {}
    for k, (name, count) in enumerate(per_class.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = _pixels(100 * k + i)
            path = root / name / f"{i:03d}{suffix}"
            Image.fromarray(pixels).save(path, **save)
            kept[path] = pixels
    return kept


def _all_images(train, val, info) -> torch.Tensor:
    """Every image of both splits back in 0..255 (C, H, W), no augmentation."""
    mean = torch.tensor(info.mean)[:, None, None]
    std = torch.tensor(info.std)[:, None, None]
    xs = [ds.get_batch(torch.arange(len(ds)))[0] for ds in (train, val)]
    return (torch.cat(xs) * std + mean) * 255


@pytest.mark.parametrize("suffix, save, tolerance", [  # the mean error of a pixel, 0..255
    (".jpg", {"quality": 95}, 4.0),  # measured 3.6 (chroma subsampling at 10×14)
    (".bmp", {}, 0.01),
    (".webp", {"lossless": True}, 0.01),
    (".tiff", {}, 0.01),
    (".gif", {}, 0.01),  # these few colours fit its palette of 256
    (".ppm", {}, 0.01),
])
def test_folders_of_each_format_are_read(tmp_path, suffix, save, tolerance):
    kept = _folder(tmp_path, {"a": 5, "b": 5}, suffix, **save)
    train, val, info = load_datasets(DataConfig(name="folder", path=str(tmp_path)), (3, 10, 14))
    assert (len(train) + len(val), info.classes, info.source_shape) == (10, 2, (3, 10, 14))
    got = _all_images(train, val, info)
    errors = []
    for pixels in kept.values():  # each file's picture is one of the items
        want = torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float32))
        errors.append(float((got - want).abs().mean(dim=(1, 2, 3)).min()))
    assert max(errors) <= tolerance, errors


def test_mixed_formats_grey_palette_alpha_and_16_bit(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rgb = _pixels(1)
    Image.fromarray(rgb).save(tmp_path / "a" / "rgb.jpg")
    Image.fromarray(rgb).convert("P").save(tmp_path / "a" / "palette.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)])).save(
        tmp_path / "b" / "alpha.png")
    deep = (np.arange(140, dtype=np.uint16).reshape(10, 14) * 400)  # 0..55,600 of 65,535
    Image.fromarray(deep).save(tmp_path / "b" / "deep.png")
    assert Image.open(tmp_path / "b" / "deep.png").mode.startswith("I")
    train, val, info = load_datasets(DataConfig(name="folder", path=str(tmp_path), val_size=1),
                                     (1, 10, 14))
    got = _all_images(train, val, info)
    assert len(got) == 4
    scaled = torch.from_numpy(np.round(deep / 65535 * 255).astype(np.float32))
    assert min(float((g[0] - scaled).abs().max()) for g in got) <= 1.01  # scaled, not clipped


def test_unreadable_files_are_skipped_and_listed(tmp_path):
    _folder(tmp_path, {"cat": 20, "dog": 20})
    (tmp_path / "dog" / "005.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "cat" / "notes.jpg").write_text("not a picture")
    (tmp_path / "cat" / "013.png").write_bytes((tmp_path / "cat" / "012.png").read_bytes()[:60])
    train, val, info = load_datasets(DataConfig(name="folder", path=str(tmp_path)), (3, 10, 14))
    assert len(train) + len(val) == 38  # 41 files, 3 of them unreadable
    note = info.note
    assert "skipped 3 unreadable files of 41: " in note
    assert "cat/013.png (" in note and "cat/notes.jpg (not an image file" in note
    assert "dog/005.png (" in note
    assert str(tmp_path) not in note  # named within the folder, briefly


def test_too_many_unreadable_files_refuse_the_folder_with_the_list(tmp_path):
    _folder(tmp_path, {"cat": 10, "dog": 10})
    for i in range(8):
        (tmp_path / "dog" / f"bad{i}.png").write_bytes(b"oops")
    with pytest.raises(DatasetError, match=r"8 of its 28 image files cannot be read, more than "
                                           r"10%: dog/bad0.png \(not an image .*; and 3 more"
                       ) as caught:
        load_datasets(DataConfig(name="folder", path=str(tmp_path)), (3, 10, 14))
    assert "fix or delete the files listed" in caught.value.advice


def test_a_class_whose_every_file_is_unreadable_is_named(tmp_path):
    _folder(tmp_path, {"cat": 20, "dog": 20})
    (tmp_path / "eel").mkdir()
    (tmp_path / "eel" / "only.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(DatasetError, match="no image of the class eel can be read: eel/only.png"):
        load_datasets(DataConfig(name="folder", path=str(tmp_path)), (3, 10, 14))


@pytest.mark.filterwarnings("error")  # NumPy's "array is not writable", or any other
def test_reading_a_folder_warns_of_nothing(tmp_path):
    _folder(tmp_path / "rgb", {"a": 4, "b": 4})
    for name in ("a", "b"):
        (tmp_path / "grey" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(_pixels(i)[..., 0]).save(tmp_path / "grey" / name / f"{i}.png")
    for folder in ("rgb", "grey"):
        for shape in ((1, 10, 14), (3, 10, 14), (3, 20, 28)):
            train, val, _ = load_datasets(DataConfig(name="folder", path=str(tmp_path / folder)),
                                          shape)
            assert tuple(train.get_batch([0, 1])[0].shape) == (2, *shape)


def test_parallel_decoding_gives_what_one_thread_gives(tmp_path):
    _folder(tmp_path, {"a": 45, "b": 40}, ".jpg")  # several chunks of images.CHUNK
    train, _ = images.scan_folder(tmp_path)
    files = [f for name in sorted(train) for f in train[name]]
    one, failed_one = images.decode_all(files, (3, 7, 9), workers=1)
    four, failed_four = images.decode_all(files, (3, 7, 9), workers=4)
    assert failed_one == failed_four == [] and torch.equal(one, four)
    heard = []
    images.decode_all(files, (3, 7, 9), workers=3, progress=lambda *a: heard.append(a))
    assert heard[-1][0] == heard[-1][1] == sum(f.stat().st_size for f in files)
    assert heard[-1][2] == "reading images: 85 of 85"
    assert images.default_workers() in (1, 2, 3, 4)


def test_stop_during_the_read_ends_it(tmp_path):
    _folder(tmp_path, {"a": 40, "b": 40})

    def stop(done, total, message):
        raise KeyboardInterrupt  # what a Stop raises reaches the caller as it is

    with pytest.raises(KeyboardInterrupt):
        load_datasets(DataConfig(name="folder", path=str(tmp_path)), (3, 10, 14), progress=stop)


def test_a_set_read_as_batches_ask_checks_headers_first_and_names_a_file_broken_later(
        tmp_path, monkeypatch):
    _folder(tmp_path, {"a": 10, "b": 10})
    (tmp_path / "b" / "junk.png").write_bytes(b"junk")
    monkeypatch.setattr("designer.training.data.sets.EAGER_LIMIT_BYTES", 100)
    train, val, info = load_datasets(DataConfig(name="folder", path=str(tmp_path)), (3, 10, 14))
    assert train.images is None and len(train) + len(val) == 20
    assert "skipped 1 unreadable file of 21: b/junk.png" in info.note
    target = train._source.files[3]
    good = Image.open(target)
    good.load()
    head = target.read_bytes()[:40]  # the header stays, the picture goes
    target.write_bytes(head + b"\0" * 30)
    with pytest.raises(DatasetError, match=f"{target.name} cannot be read as an image"):
        train.get_batch([3])
    assert tuple(train.get_batch([4])[0].shape) == (1, 3, 10, 14)


def test_only_safe_formats_are_opened(tmp_path):
    """A file named .png that is some other format Pillow knows (EPS would run Ghostscript) is
    not opened as that format: it is an unreadable file."""
    path = tmp_path / "x.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    with pytest.raises(DatasetError, match="x.png cannot be read as an image: not an image file"):
        images.read_image(path, "RGB")


# --- fuzz: our error or success, never another exception ---------------------------------------


def _seeds() -> list[bytes]:
    out = []
    for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 80}), ("BMP", {}), ("GIF", {}),
                    ("WEBP", {}), ("TIFF", {})):
        buffer = io.BytesIO()
        Image.fromarray(_pixels(3, (6, 5))).save(buffer, fmt, **kw)
        out.append(buffer.getvalue())
    return out


_SEEDS = _seeds()


@st.composite
def _mutated(draw):
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "byte", "big"]))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "big" and len(data) > at + 4:  # a size field made huge
            data[at:at + 4] = b"\x7f\xff\xff\xff"
        elif action == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # Pillow's own,
@settings(max_examples=80, deadline=None, derandomize=True, database=None,  # on damaged files
          suppress_health_check=[HealthCheck.too_slow])
@given(_mutated(), st.sampled_from([".png", ".jpg", ".bmp", ".gif", ".webp", ".tif"]))
def test_fuzz_the_folder_reader(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in ("a", "b"):
            (root / name).mkdir()
            for i in range(5):
                (root / name / f"{i}.bmp").write_bytes(_SEEDS[2])
        (root / "b" / f"fuzz{suffix}").write_bytes(data)
        try:
            train, val, info = load_datasets(DataConfig(name="folder", path=str(root)), (3, 6, 5))
        except DatasetError:
            return
        assert len(train) + len(val) in (10, 11)
        try:
            images.read_image(root / "b" / f"fuzz{suffix}", "L", (1, 4, 4))
        except DatasetError:
            pass
