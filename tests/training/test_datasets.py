"""Data sets as the Trainer sees them: shapes, labels, determinism, learnability, the download
path against archives in the real formats served on 127.0.0.1, and every bad input's message."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from designer.training.data import download as download_module
from designer.training.data import images as folders
from designer.training.data import safe_pickle
from designer.training.data import sets as datasets  # load_datasets and its limits
from designer.training.datasets import DataConfig, DatasetError, load_datasets


def config(**kw) -> DataConfig:
    return DataConfig(**kw)


def denormalise(ds, x: torch.Tensor) -> torch.Tensor:
    """Back to 0..255 from what the Dataset hands out (no augmentation)."""
    mean = torch.tensor(ds.mean)[:, None, None]
    std = torch.tensor(ds.std)[:, None, None]
    return (x * std + mean) * 255


# --- synthetic -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 32, 32), (1, 28, 28), (3, 20, 36), (2, 8, 8)])
def test_synthetic_items_have_the_designs_shape(shape):
    train, val, info = load_datasets(config(train_size=40, val_size=20), shape)
    x, y = train[7]
    assert tuple(x.shape) == shape and x.dtype == torch.float32
    assert y.dtype == torch.int64 and int(y) == 7 % 10
    assert len(train) == info.train_size == 40 and len(val) == info.val_size == 20
    assert info.classes == 10 and len(info.class_names) == 10
    assert info.source_shape == shape and info.input_shape == shape
    assert len(info.mean) == len(info.std) == shape[0]
    xb, yb = val.get_batch(torch.arange(5))
    assert tuple(xb.shape) == (5, *shape) and yb.tolist() == [0, 1, 2, 3, 4]


def test_synthetic_defaults_are_5000_and_1000_and_balanced():
    train, val, info = load_datasets(config(augment=False), (1, 8, 8))
    assert (info.train_size, info.val_size) == (5000, 1000)
    assert torch.bincount(train.labels).tolist() == [500] * 10
    assert torch.bincount(val.labels).tolist() == [100] * 10


def test_synthetic_is_deterministic_per_index():
    a, _, _ = load_datasets(config(seed=3, train_size=50, augment=False), (3, 16, 16))
    b, _, _ = load_datasets(config(seed=3, train_size=200, augment=False), (3, 16, 16))
    c, _, _ = load_datasets(config(seed=4, train_size=50, augment=False), (3, 16, 16))
    assert torch.equal(a.images, b.images[:50])  # sample i depends on (seed, i) only
    assert not torch.equal(a.images, c.images)
    _, val, _ = load_datasets(config(seed=3, train_size=50, val_size=50), (3, 16, 16))
    assert not torch.equal(a.images, val.images)  # validation is not the training set


def test_synthetic_is_normalised_and_grey_for_one_channel():
    train, _, info = load_datasets(config(train_size=500, augment=False), (1, 32, 32))
    x, _ = train.get_batch(torch.arange(500))
    assert abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1) < 0.01
    rgb, _, _ = load_datasets(config(train_size=500, augment=False), (3, 32, 32))
    x, _ = rgb.get_batch(torch.arange(500))
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=0.01)


def test_synthetic_too_large_to_hold_is_generated_when_read(monkeypatch):
    held, _, _ = load_datasets(config(train_size=30, val_size=10, augment=False), (3, 16, 16))
    monkeypatch.setattr(datasets, "SYNTHETIC_EAGER_BYTES", 1000)
    train, _, info = load_datasets(config(train_size=30, val_size=10, augment=False),
                                   (3, 16, 16))
    assert train.images is None and "generated as they are read" in info.note
    assert torch.allclose(train[4][0], held[4][0], atol=1e-2)  # statistics from a sample
    assert torch.equal(train.get_batch([4, 9])[1], held.get_batch([4, 9])[1])


@pytest.fixture
def one_thread():
    """One intra-op thread: a tiny net gains nothing from more, and a busy machine (other test
    runs) makes torch's threads wait on each other for many times the work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_notes_small_net_learns_the_synthetic_set(one_thread):
    """[INPUT 32×32×3 - CONV 12 3×3 same - RELU - POOL 2×2 - FC 10]: ≥ 90% within 5 epochs."""
    torch.manual_seed(0)
    train, val, _ = load_datasets(config(train_size=4000, val_size=1000, augment=False),
                                  (3, 32, 32))
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(12 * 16 * 16, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xv, yv = val.get_batch(torch.arange(len(val)))
    accuracy = 0.0
    for _epoch in range(5):
        order = torch.randperm(len(train))
        for i in range(0, len(order), 64):
            x, y = train.get_batch(order[i:i + 64])
            loss = torch.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            accuracy = float((net(xv).argmax(1) == yv).float().mean())
        if accuracy >= 0.9:
            break
    assert accuracy >= 0.9


# --- augmentation --------------------------------------------------------------------------------


def test_augmentation_is_seeded_per_epoch_and_the_same_item_by_item_or_by_batch():
    train, _, info = load_datasets(config(train_size=64, seed=1), (3, 32, 32))
    assert info.augmentation == "random crop (pad 4)"  # shapes are not flipped
    idx = torch.arange(64)
    a, _ = train.get_batch(idx)
    one = torch.stack([train[i][0] for i in range(64)])
    assert torch.allclose(a, one)
    again, _, _ = load_datasets(config(train_size=64, seed=1), (3, 32, 32))
    assert torch.equal(again.get_batch(idx)[0], a)
    train.set_epoch(1)
    assert not torch.equal(train.get_batch(idx)[0], a)
    plain, _, _ = load_datasets(config(train_size=64, seed=1, augment=False), (3, 32, 32))
    x0 = plain[5][0]
    x1 = train[5][0]
    # a crop with padding is the same picture shifted by at most 4 px, zeros (the mean) coming in
    shifts = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
              if torch.allclose(_shift(x0, dy, dx), x1)]
    assert shifts


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    h, w = x.shape[-2:]
    return padded[:, 4 + dy:4 + dy + h, 4 + dx:4 + dx + w]


def test_validation_is_never_augmented():
    _, val, _ = load_datasets(config(train_size=10, val_size=10), (3, 32, 32))
    assert val.augment is None


# --- serving archives in the real formats --------------------------------------------------------


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A folder served on 127.0.0.1, set as the download mirror."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv(download_module.MIRROR_ENV, f"http://127.0.0.1:{httpd.server_address[1]}/")
    monkeypatch.setattr(download_module, "CHUNK", 256)  # several progress calls per file
    yield root
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _published(path: Path) -> tuple[str, int]:
    """What download.FILES holds for a file: its MD5 and its size."""
    return _md5(path), path.stat().st_size


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.astype(np.uint8).tobytes()


def make_mnist(folder: Path, n_train=30, n_test=12, gz=True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test, dtype=np.uint8) * 3) % 10,
    }
    for stem, array in arrays.items():
        data = _idx(array)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


def make_cifar10_binary(folder: Path, per_batch=6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (per_batch * 6, 3, 32, 32), dtype=np.uint8)
    labels = np.arange(per_batch * 6, dtype=np.uint8) % 10
    path = folder / "cifar-10-binary.tar.gz"
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate(names):
            rows = slice(k * per_batch, (k + 1) * per_batch)
            data = np.concatenate([labels[rows, None], images[rows].reshape(per_batch, -1)], 1)
            _add(tar, f"cifar-10-batches-bin/{name}", data.tobytes())
        _add(tar, "cifar-10-batches-bin/batches.meta.txt",
             b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
    return images, labels


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    tar.addfile(member, io.BytesIO(data))


def test_mnist_downloads_with_progress_and_checksums_then_loads(server, tmp_path, monkeypatch):
    arrays = make_mnist(server)
    monkeypatch.setitem(download_module.FILES, "mnist",
                        {p.name: _published(p) for p in sorted(server.glob("*.gz"))})
    calls = []
    cache = tmp_path / "cache"
    train, val, info = load_datasets(
        config(name="mnist", download=True, augment=False), (1, 28, 28),
        progress=lambda done, total, message: calls.append((done, total, message)),
        cache_dir=cache)
    for stem in arrays:
        size = (server / f"{stem}.gz").stat().st_size
        seen = [c for c in calls if c[2] == f"downloading {stem}.gz"]
        assert len(seen) >= 2 and all(c[1] == size for c in seen)
        assert [c[0] for c in seen] == sorted(c[0] for c in seen) and seen[-1][0] == size
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(
        f"{s}.gz" for s in arrays)  # the files, nothing partial
    assert (info.name, info.train_size, info.val_size, info.classes) == ("mnist", 30, 12, 10)
    assert info.source_shape == (1, 28, 28) and info.note.startswith("augmentation: off")
    x, y = val[4]
    assert int(y) == arrays["t10k-labels-idx1-ubyte"][4]
    assert torch.allclose(denormalise(info, x)[0], torch.from_numpy(
        arrays["t10k-images-idx3-ubyte"][4]).float(), atol=1e-3)
    calls.clear()  # a second load reads the cache and downloads nothing
    load_datasets(config(name="mnist", download=True), (1, 28, 28),
                  progress=lambda *a: calls.append(a), cache_dir=cache)
    assert calls and not [c for c in calls if c[2].startswith("downloading")]


def test_mnist_is_adapted_to_a_colour_input_and_not_augmented(tmp_path):
    arrays = make_mnist(tmp_path, gz=False)
    train, val, info = load_datasets(config(name="mnist", path=str(tmp_path)), (3, 32, 32))
    assert info.note.startswith("resized from 28×28×1 to 32×32×3 by bilinear resizing and "
                                "repeating the grey channel; augmentation: off, the standard")
    assert info.augmentation == "off" and train.augment is None
    x, _ = val[0]
    assert tuple(x.shape) == (3, 32, 32)
    assert torch.allclose(x[0], x[1]) and torch.allclose(x[1], x[2])
    assert len(train) == len(arrays["train-labels-idx1-ubyte"])


def test_cifar10_binary_downloads_and_loads(server, tmp_path, monkeypatch):
    images, labels = make_cifar10_binary(server)
    archive = server / "cifar-10-binary.tar.gz"
    monkeypatch.setitem(download_module.FILES, "cifar10", {archive.name: _published(archive)})
    calls = []
    mine = tmp_path / "my data"  # a folder the user chose: the download goes there
    train, val, info = load_datasets(
        config(name="cifar10", path=str(mine), download=True, augment=False), (3, 32, 32),
        progress=lambda *a: calls.append(a))
    assert calls[-1][:2] == (archive.stat().st_size, archive.stat().st_size)
    assert [p.name for p in mine.iterdir()] == ["cifar-10-binary.tar.gz"]
    assert (info.train_size, info.val_size, info.classes) == (30, 6, 10)
    assert info.class_names[:2] == ["airplane", "automobile"]
    x, y = train[13]
    assert int(y) == labels[13]
    assert torch.allclose(denormalise(info, x), torch.from_numpy(images[13]).float(), atol=1e-3)
    x, y = val[2]
    assert int(y) == labels[32]
    assert torch.allclose(denormalise(info, x), torch.from_numpy(images[32]).float(), atol=1e-3)
    grey_train, _, grey = load_datasets(config(name="cifar10", path=str(mine)), (1, 32, 32))
    assert grey.note.startswith("resized from 32×32×3 to 32×32×1 by taking the luminance; "
                                "augmentation: random crop (pad 4) + horizontal flip, the "
                                "standard for CIFAR-10")
    assert grey.augmentation == "random crop (pad 4) + horizontal flip"
    luma = (images[13].astype(np.float32) * np.array([0.299, 0.587, 0.114])[:, None, None])
    grey_train.augment = None
    assert torch.allclose(denormalise(grey, grey_train[13][0])[0],
                          torch.from_numpy(luma.sum(0)).float(), atol=0.51)


def test_a_corrupted_download_is_rejected_and_nothing_is_kept(server, tmp_path, monkeypatch):
    make_cifar10_binary(server)
    archive = server / "cifar-10-binary.tar.gz"
    good = _md5(archive)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    monkeypatch.setitem(download_module.FILES, "cifar10", {archive.name: (good, len(data))})
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="checksum") as error:
        load_datasets(config(name="cifar10", download=True), (3, 32, 32), cache_dir=cache)
    assert "cifar-10-binary.tar.gz" in str(error.value)
    assert list((cache / "cifar10").iterdir()) == []


def test_a_progress_callback_that_raises_cancels_the_download(server, tmp_path, monkeypatch):
    make_mnist(server)
    monkeypatch.setitem(download_module.FILES, "mnist",
                        {p.name: _published(p) for p in sorted(server.glob("*.gz"))})

    class Cancelled(Exception):
        pass

    def progress(done, total, message):
        if done > 300:
            raise Cancelled

    with pytest.raises(Cancelled):
        datasets.download("mnist", tmp_path / "cache", progress)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_an_unreachable_mirror_is_a_dataset_error(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with pytest.raises(DatasetError, match="could not download http://127.0.0.1:9/"):
        datasets.download("mnist", tmp_path, mirror="http://127.0.0.1:9/")
    assert list((tmp_path / "mnist").iterdir()) == []


# --- standard files from a folder ----------------------------------------------------------------


def test_a_folder_without_the_files_says_which_are_expected(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_datasets(config(name="fashion-mnist", path=str(tmp_path)), (1, 28, 28))
    message = str(error.value)
    assert str(tmp_path) in message and "train-images-idx3-ubyte.gz" in message
    assert "t10k-labels-idx1-ubyte.gz" in message and "download" in message
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_datasets(config(name="mnist", path=str(tmp_path)), (1, 28, 28))
    with pytest.raises(DatasetError, match="cifar-10-binary.tar.gz"):
        load_datasets(config(name="cifar10", path=str(tmp_path)), (3, 32, 32))
    (tmp_path / "cifar-100-binary").mkdir()
    (tmp_path / "cifar-100-binary" / "train.bin").write_bytes(b"")
    with pytest.raises(DatasetError, match="lacks test.bin"):
        load_datasets(config(name="cifar100", path=str(tmp_path)), (3, 32, 32))


def test_corrupt_standard_files_are_reported(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz.*corrupt"):
        load_datasets(config(name="mnist", path=str(tmp_path)), (1, 28, 28))
    path.write_bytes(gzip.compress(_idx(np.zeros((30, 28, 28), np.uint8))[:-5]))
    with pytest.raises(DatasetError, match="should hold 23520 bytes"):
        load_datasets(config(name="mnist", path=str(tmp_path)), (1, 28, 28))
    make_cifar10_binary(tmp_path)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DatasetError, match="not a readable tar.gz"):
        load_datasets(config(name="cifar10", path=str(tmp_path)), (3, 32, 32))


def test_cifar100_binary_uses_the_fine_labels_and_an_extracted_folder(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name, n in (("train.bin", 8), ("test.bin", 4)):
        rows = np.concatenate([np.full((n, 1), 7, np.uint8),  # coarse label
                               (np.arange(n, dtype=np.uint8) * 11)[:, None],  # fine label
                               rng.integers(0, 256, (n, 3072), dtype=np.uint8)], 1)
        (folder / name).write_bytes(rows.tobytes())
    (folder / "fine_label_names.txt").write_text("\n".join(f"n{i}" for i in range(100)))
    train, val, info = load_datasets(config(name="cifar-100", path=str(tmp_path)), (3, 32, 32))
    assert info.classes == 100 and info.class_names[99] == "n99"
    assert train.labels.tolist() == [0, 11, 22, 33, 44, 55, 66, 77] and len(val) == 4


def test_train_and_val_sizes_take_seeded_subsets(tmp_path):
    make_mnist(tmp_path)
    train, val, info = load_datasets(
        config(name="mnist", path=str(tmp_path), train_size=10, val_size=5), (1, 28, 28))
    again, _, _ = load_datasets(
        config(name="mnist", path=str(tmp_path), train_size=10, val_size=5), (1, 28, 28))
    assert (len(train), len(val)) == (10, 5) and torch.equal(train.images, again.images)
    assert "training: a stratified seeded 10 of the 30 samples, 1 per class (10 classes)" in \
        info.note


# --- the python version of CIFAR, read without unpickling --------------------------------------


def _py2_str(data: bytes) -> bytes:
    return (b"U" + bytes([len(data)]) + data if len(data) < 256
            else b"T" + struct.pack("<I", len(data)) + data)


def py2_pickle(batch: dict) -> bytes:
    """What Python 2's cPickle.dump(batch, f, 2) writes for a CIFAR batch (as distributed)."""
    out = bytearray(b"\x80\x02}(")
    for key, value in batch.items():
        out += _py2_str(key)
        if isinstance(value, np.ndarray):
            out += b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85"
            out += _py2_str(b"b") + b"\x87R(K\x01"
            out += b"(" + b"".join(b"J" + struct.pack("<i", d) for d in value.shape) + b"t"
            out += b"cnumpy\ndtype\n" + _py2_str(b"u1") + b"K\x00K\x01\x87R"
            out += b"(K\x03" + _py2_str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
            out += b"\x89" + _py2_str(value.tobytes()) + b"tb"
        elif isinstance(value, list):
            out += b"](" + b"".join(b"K" + bytes([v]) if isinstance(v, int) else _py2_str(v)
                                     for v in value) + b"e"
        elif isinstance(value, int):
            out += b"J" + struct.pack("<i", value)
        else:
            out += _py2_str(value)
    return bytes(out + b"u.")


def test_the_safe_reader_reads_a_cifar_python_batch_without_unpickling(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (12, 3072), dtype=np.uint8)
    for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        rows = data[2 * k:2 * k + 2]
        (folder / name).write_bytes(py2_pickle({
            b"batch_label": name.encode(), b"labels": [k, (k + 5) % 10], b"data": rows,
            b"filenames": [b"a.png", b"b.png"]}))
    (folder / "batches.meta").write_bytes(py2_pickle({
        b"label_names": [f"c{i}".encode() for i in range(10)], b"num_vis": 3072}))
    read = safe_pickle.load(io.BytesIO((folder / "data_batch_2").read_bytes()))
    assert read[b"labels"] == [1, 6] and read[b"batch_label"] == b"data_batch_2"
    assert np.array_equal(read[b"data"], data[2:4])
    train, val, info = load_datasets(config(name="cifar10", path=str(tmp_path), augment=False),
                                     (3, 32, 32))
    assert info.class_names[3] == "c3" and (len(train), len(val)) == (10, 2)
    assert train.labels.tolist()[:4] == [0, 5, 1, 6]
    assert torch.allclose(denormalise(info, train[3][0]),
                          torch.from_numpy(data[3].reshape(3, 32, 32)).float(), atol=1e-3)
    # what Python 3 writes (bytes through _codecs.encode, numpy._core) is read as well
    modern = pickle.dumps({b"data": data[:2], b"labels": [1, 2]}, protocol=2)
    assert np.array_equal(safe_pickle.load(io.BytesIO(modern))[b"data"], data[:2])


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_the_safe_reader_refuses_a_malicious_pickle_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Exploit(marker), b"labels": [1]}, protocol=2)
    with pytest.raises(safe_pickle.UnsafePickle, match="system"):
        safe_pickle.load(io.BytesIO(payload))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(payload)
    with pytest.raises(DatasetError, match="data_batch_1.*was not read.*could run code"):
        load_datasets(config(name="cifar10", path=str(tmp_path)), (3, 32, 32))
    for protocol in (0, 1, 4, 5):  # GLOBAL / STACK_GLOBAL, INST / OBJ / NEWOBJ at any protocol
        with pytest.raises(safe_pickle.UnsafePickle):
            safe_pickle.load(io.BytesIO(pickle.dumps(_Exploit(marker), protocol=protocol)))
    with pytest.raises(safe_pickle.UnsafePickle):
        safe_pickle.load(io.BytesIO(b"(S'ls'\nios\nsystem\n."))  # INST
    time.sleep(0.05)
    assert not marker.exists()


# --- .npz ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHW"])
def test_npz_round_trip(tmp_path, layout):
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (50, 3 if layout != "NHW" else 1, 12, 10), dtype=np.uint8)
    labels = np.arange(50) % 4
    x = {"NHWC": images.transpose(0, 2, 3, 1), "NCHW": images, "NHW": images[:, 0]}[layout]
    path = tmp_path / "set.npz"
    np.savez(path, x=x, y=labels)
    shape = (images.shape[1], 12, 10)
    train, val, info = load_datasets(config(name="npz", path=str(path), augment=False), shape)
    assert (len(train), len(val), info.classes) == (45, 5, 4)
    assert "validation: a stratified seeded 5 of the 50 samples, 1–2 per class (4 classes)" \
        in info.note
    seen = torch.cat([train.labels, val.labels]).sort().values
    assert torch.equal(seen, torch.from_numpy(labels).sort().values)
    x0, y0 = val[0]
    matches = [i for i in range(50) if torch.allclose(
        denormalise(info, x0), torch.from_numpy(images[i]).float(), atol=1e-3)]
    assert len(matches) == 1 and labels[matches[0]] == int(y0)


def test_npz_with_its_own_test_split_float_images_and_class_names(tmp_path):
    path = tmp_path / "set.npz"
    rng = np.random.default_rng(5)
    np.savez(path, x_train=rng.random((20, 8, 8, 3), dtype=np.float32), y_train=np.arange(20) % 3,
             x_test=rng.random((6, 8, 8, 3), dtype=np.float32), y_test=np.arange(6) % 3,
             class_names=np.array(["a", "b", "c"]))
    train, val, info = load_datasets(config(name="npz", path=str(path)), (3, 16, 16))
    assert (len(train), len(val)) == (20, 6) and info.class_names == ["a", "b", "c"]
    assert tuple(train[0][0].shape) == (3, 16, 16)
    assert info.note.startswith("resized from 8×8×3 to 16×16×3 by bilinear resizing")


def test_bad_npz_files_say_what_is_wrong(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 8, 8)), labels=np.zeros(4))
    with pytest.raises(DatasetError, match="holds images, labels: expected arrays x .* and y"):
        load_datasets(config(name="npz", path=str(path)), (1, 8, 8))
    np.savez(path, x=np.zeros((4, 8)), y=np.zeros(4, int))
    with pytest.raises(DatasetError, match=r"x has shape \(4, 8\)"):
        load_datasets(config(name="npz", path=str(path)), (1, 8, 8))
    np.savez(path, x=np.zeros((4, 8, 8, 8)), y=np.zeros(4, int))
    with pytest.raises(DatasetError, match="which axis holds the channels"):
        load_datasets(config(name="npz", path=str(path)), (1, 8, 8))
    np.savez(path, x=np.zeros((4, 8, 8)), y=np.zeros(3, int))
    with pytest.raises(DatasetError, match=r"y has shape \(3,\): expected one integer label"):
        load_datasets(config(name="npz", path=str(path)), (1, 8, 8))
    np.savez(path, x=np.array([None] * 4, dtype=object), y=np.zeros(4, int))
    with pytest.raises(DatasetError, match="can only be unpickled"):
        load_datasets(config(name="npz", path=str(path)), (1, 8, 8))


def _damaged_npz_files(tmp_path: Path) -> dict[str, bytes]:
    import zipfile

    good = io.BytesIO()
    np.savez_compressed(good, x=np.zeros((4, 8, 8), np.uint8), y=np.arange(4))
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("x.npy", os.urandom(300))  # a member that is no .npy
        archive.writestr("y.npy", os.urandom(300))
    return {"random bytes": os.urandom(3000), "text": b"not a zip",
            "cut short": good.getvalue()[:-40], "members not .npy": other.getvalue(),
            "empty": b""}


def test_a_damaged_npz_says_so_and_how_to_write_one(tmp_path):
    for what, data in _damaged_npz_files(tmp_path).items():
        path = tmp_path / "damaged.npz"
        path.write_bytes(data)
        with pytest.raises(DatasetError) as caught:
            load_datasets(config(name="npz", path=str(path)), (1, 8, 8))
        text = str(caught.value)
        assert "is not a valid .npz of arrays x and y" in text, (what, text)
        assert "numpy.savez" in caught.value.advice, what
        assert "pickle" not in (text + caught.value.advice).lower(), what


def test_channels_that_cannot_be_adapted_say_which_work(tmp_path):
    path = tmp_path / "rgb.npz"
    np.savez(path, x=np.zeros((10, 8, 8, 3), np.uint8), y=np.arange(10) % 2)
    with pytest.raises(DatasetError, match="3 channels .* wants 2.* 3 \\(RGB\\) or 1 \\(grey") as e:
        load_datasets(config(name="npz", path=str(path)), (2, 8, 8))
    assert "Input layer's channels" in e.value.advice
    make_mnist(tmp_path)
    with pytest.raises(DatasetError, match="1 channel .* wants 4.* 1 \\(grey\\) or 3"):
        load_datasets(config(name="mnist", path=str(tmp_path)), (4, 28, 28))


# --- image folders -------------------------------------------------------------------------------


def save_image(path: Path, pixels: np.ndarray, **kw) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path, **kw)


def make_image_folder(root: Path, classes=("cat", "dog", "fish"), per_class=10, size=(12, 9),
                      suffix=".png"):
    rng = np.random.default_rng(6)
    kept = {}
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            save_image(root / name / f"{i:02d}{suffix}", pixels)
            kept[(name, i)] = pixels
    return kept


def test_an_image_folder_loads_with_a_stratified_seeded_split(tmp_path):
    kept = make_image_folder(tmp_path / "pets")
    config_ = config(name="folder", path=str(tmp_path / "pets"))
    train, val, info = load_datasets(config_, (3, 12, 9))
    assert info.class_names == ["cat", "dog", "fish"] and (len(train), len(val)) == (27, 3)
    assert torch.bincount(val.labels).tolist() == [1, 1, 1]
    assert info.source_shape == (3, 12, 9) and info.note.startswith(
        "validation: a stratified seeded 3 of the 30 samples, 1 per class (3 classes); "
        "training: 27, 9 per class (3 classes); augmentation: off")
    # the pixels are the files' (a lossless format: exactly)
    assert torch.allclose(denormalise(info, train[0][0]), torch.from_numpy(
        kept[("cat", 0)].transpose(2, 0, 1).astype(np.float32)), atol=1e-3) or torch.allclose(
        denormalise(info, val[0][0]), torch.from_numpy(
            kept[("cat", 0)].transpose(2, 0, 1).astype(np.float32)), atol=1e-3)
    grey, _, grey_info = load_datasets(config_, (1, 24, 18))
    assert tuple(grey[0][0].shape) == (1, 24, 18)
    assert "resized from images such as 9×12×3 to 18×24×1" in grey_info.note


def test_an_image_folder_with_train_and_val_folders(tmp_path):
    make_image_folder(tmp_path / "train", per_class=4)
    make_image_folder(tmp_path / "val", classes=("cat", "fish"), per_class=2)
    train, val, info = load_datasets(config(name="folder", path=str(tmp_path)), (3, 12, 9))
    assert (len(train), len(val)) == (12, 4)
    assert val.labels.tolist() == [0, 0, 2, 2]


def test_bad_image_folders_say_what_is_wrong_and_what_to_do(tmp_path):
    def refused(path, match, advice, shape=(3, 8, 8)):
        with pytest.raises(DatasetError, match=match) as caught:
            load_datasets(config(name="folder", path=str(path)), shape)
        assert advice in caught.value.advice
    refused(tmp_path / "nope", "does not exist", "one sub-folder per class")
    (tmp_path / "flat").mkdir()
    save_image(tmp_path / "flat" / "a.png", np.zeros((4, 4), np.uint8))
    refused(tmp_path / "flat", "no classes.*one sub-folder per class.*a.png",
            "one sub-folder per class")
    refused(tmp_path / "flat" / "a.png", "is a file, not a folder", "one sub-folder per class")
    make_image_folder(tmp_path / "pets", per_class=3)
    (tmp_path / "pets" / "bird").mkdir()
    refused(tmp_path / "pets", "the class folder bird holds no images", "put that class's")
    (tmp_path / "pets" / "bird").rmdir()
    (tmp_path / "pets" / "__MACOSX").mkdir()  # what an unzipped archive brings: not a class
    refused(tmp_path / "pets", "1 \\(grey\\) or 3 \\(RGB\\)", "Input layer's channels",
            (2, 8, 8))
    one = tmp_path / "one"
    make_image_folder(one, classes=("cat",), per_class=2)
    refused(one, "only one class", "a sub-folder of images for each other class")


def test_a_folder_without_pillow_asks_for_it(tmp_path, monkeypatch):
    make_image_folder(tmp_path / "pets", per_class=2)
    monkeypatch.setattr(folders, "_pillow", lambda: None)
    with pytest.raises(DatasetError, match="needs Pillow") as caught:
        load_datasets(config(name="folder", path=str(tmp_path / "pets")), (3, 8, 8))
    assert "pip install pillow" in caught.value.advice


def test_unknown_names_and_missing_paths():
    with pytest.raises(DatasetError, match="unknown data set 'imagenet'.*synthetic"):
        load_datasets(config(name="imagenet"), (3, 32, 32))
    with pytest.raises(DatasetError, match="needs a path"):
        load_datasets(config(name="npz"), (3, 32, 32))
    with pytest.raises(DatasetError, match="not a \\(C, H, W\\)"):
        load_datasets(config(), (10,))


def test_a_data_loader_batches_the_items():
    train, _, _ = load_datasets(config(train_size=20), (3, 16, 16))
    x, y = next(iter(torch.utils.data.DataLoader(train, batch_size=8)))
    assert tuple(x.shape) == (8, 3, 16, 16) and y.dtype == torch.int64


def test_sets_too_large_to_adapt_up_front_are_adapted_as_they_are_read(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    make_mnist(tmp_path / "mnist")
    make_image_folder(tmp_path / "pets", per_class=4)
    for name, path, shape in (("mnist", tmp_path / "mnist", (3, 32, 32)),
                              ("folder", tmp_path / "pets", (3, 12, 9))):
        kw = dict(name=name, path=str(path), augment=False, train_size=8)
        held, held_val, _ = load_datasets(config(**kw), shape)
        monkeypatch.setattr(datasets, "EAGER_LIMIT_BYTES", 100)
        lazy, lazy_val, _ = load_datasets(config(**kw), shape)
        monkeypatch.undo()
        assert held.images is not None and lazy.images is None
        assert torch.allclose(lazy.get_batch([1, 3])[0], held.get_batch([1, 3])[0], atol=1e-5)
        assert torch.allclose(lazy_val[0][0], held_val[0][0], atol=1e-5)
