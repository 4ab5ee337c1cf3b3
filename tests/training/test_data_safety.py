"""Reading data never runs away: the safe-pickle walker's bounds, downloads within the published
size and a deadline (cancellable between reads), and compressed files (.gz, .tar.gz, .npz, PNG)
refused before they expand. Timings are never asserted: memory is measured with tracemalloc, and
the limits themselves bound the time (a test that regressed would hang or fail on memory)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import tempfile
import threading
import tracemalloc
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.model.network import Network
from designer.training.data import common, files, images, safe_pickle, standard
from designer.training.data import download as download_module
from designer.training.data.common import DatasetError
from designer.training.data.sets import load_datasets
from designer.training.events import DataConfig, TrainConfig
from designer.training.trainer import Trainer

MiB = 1 << 20


@contextlib.contextmanager
def peak_memory():
    """The peak of Python's allocations (numpy's included) inside the block, in bytes."""
    measured = {"peak": 0}
    tracemalloc.start()
    try:
        yield measured
    finally:
        measured["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# --- the safe-pickle walker ----------------------------------------------------------------------


def memo_bomb(levels: int, width: int) -> bytes:
    """L0 = [1]; L(i) = [L(i-1)] * width through the memo (BINGET), so each level is a few
    hundred bytes and the value written out is width ** levels lists."""
    out = bytearray(b"\x80\x02]q\x00K\x01a0")  # L0 = [1], memo 0, popped
    for i in range(1, levels + 1):
        out += b"](" + (b"h" + bytes([i - 1])) * width + b"eq" + bytes([i])
        if i < levels:
            out += b"0"  # POP: only the last level stays
    return bytes(out + b".")


def test_a_memo_bomb_is_refused_in_bounded_memory():
    bomb = memo_bomb(levels=6, width=30)  # 405 bytes; written out, 30 ** 6 = 7e8 references
    assert len(bomb) < 410
    with peak_memory() as measured, pytest.raises(safe_pickle.UnsafePickle, match="pickle bomb"):
        safe_pickle.load(bomb)
    assert measured["peak"] < 2 * MiB
    # the same with many more levels: each level multiplies, the walk stays linear
    with peak_memory() as measured, pytest.raises(safe_pickle.UnsafePickle, match="pickle bomb"):
        safe_pickle.load(memo_bomb(levels=90, width=8))
    assert measured["peak"] < 2 * MiB


def test_shared_values_stay_shared_and_within_the_budget_load():
    inner = [1, 2, 3]
    shared = [inner, inner]
    for protocol in (2, 4):
        value = safe_pickle.load(pickle.dumps({"a": shared, "b": shared}, protocol=protocol))
        assert value == {"a": [[1, 2, 3]] * 2, "b": [[1, 2, 3]] * 2}
        assert value["a"] is value["b"] and value["a"][0] is value["a"][1]  # never copied


def test_too_many_values_are_refused_in_bounded_memory():
    flood = b"\x80\x02" + b"]" * 250_000 + b"."  # 250,000 empty lists, one byte each
    with peak_memory() as measured, pytest.raises(safe_pickle.UnsafePickle, match="values"):
        safe_pickle.load(flood)
    assert measured["peak"] < 24 * MiB


def test_deep_nesting_is_the_walkers_own_error():
    lists = b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b"."  # 200,000 lists, each in the next
    with pytest.raises(safe_pickle.UnsafePickle, match="nested more than 100 levels"):
        safe_pickle.load(lists)
    tuples = b"(" * 200_000 + b"t" * 200_000 + b"."
    with pytest.raises(safe_pickle.UnsafePickle):
        safe_pickle.load(tuples)
    cycle = b"\x80\x02]q\x00h\x00a."  # a list that holds itself
    with pytest.raises(safe_pickle.UnsafePickle, match="contains itself"):
        safe_pickle.load(cycle)


def _array_pickle(shape: tuple, data: bytes) -> bytes:
    """A numpy array pickled the way CIFAR's batches are, with any shape and data."""
    out = bytearray(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\n"
                    b"q\x02K\x00\x85U\x01b\x87R(K\x01(")
    for d in shape:
        out += b"\x8a" + bytes([9]) + d.to_bytes(9, "little", signed=True)  # LONG1
    out += b"tcnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xff"
    out += b"J\xff\xff\xff\xffK\x00tb\x89T" + struct.pack("<I", len(data)) + data + b"tb."
    return bytes(out)


def test_shape_overflow_is_the_walkers_own_error():
    ok = safe_pickle.load(_array_pickle((2, 3), bytes(range(6))))
    assert ok.shape == (2, 3) and ok[1, 2] == 5
    for shape in ((2**40, 2**40), (0, 2**62), (2**31 - 1,) * 3, (-1, 6), (2**32, 2**32, 0)):
        with pytest.raises(safe_pickle.UnsafePickle):
            safe_pickle.load(_array_pickle(shape, b""))


def test_names_and_keys_that_would_expand_are_refused():
    # a STACK_GLOBAL whose "name" is a memo bomb: never turned into a string
    bomb_list = memo_bomb(levels=6, width=64)[:-1]  # the last level left on the stack
    with pytest.raises(safe_pickle.UnsafePickle, match="not a string"):
        safe_pickle.load(bomb_list + b"\x8c\x01x\x93.")
    # a dict keyed by a tuple: refused before it is hashed
    with pytest.raises(safe_pickle.UnsafePickle, match="dict key"):
        safe_pickle.load(b"\x80\x02(K\x01K\x02\x86K\x03d.")


def test_check_is_called_and_what_it_raises_goes_through_unchanged():
    data = pickle.dumps(list(range(20_000)), protocol=2)

    class Stop(Exception):
        pass

    calls = []

    def check():
        calls.append(1)
        raise Stop

    with pytest.raises(Stop):
        safe_pickle.load(data, check)
    assert calls == [1]
    with pytest.raises(DatasetError, match="stopped"):  # a ValueError is not made ours either
        safe_pickle.load(data, lambda: (_ for _ in ()).throw(DatasetError("stopped")))
    assert safe_pickle.load(data, lambda: None) == list(range(20_000))


def test_a_cifar_python_batch_with_a_bomb_for_labels_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(memo_bomb(levels=6, width=64))
    with pytest.raises(DatasetError, match="data_batch_1 .* was not read: .*pickle bomb"):
        standard.read("cifar10", tmp_path)


# --- downloads -----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # never waited for: a trickling handler ends with the test


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    stop = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        kind, _, name = self.path.strip("/").partition("/")
        data = self.files.get(name)
        if data is None:
            self.send_error(404)
            return
        try:
            if kind == "endless":  # no Content-Length, and more than any file
                self.send_response(200)
                self.end_headers()
                for _ in range(2000):  # 128 MiB at most, should the client never stop
                    if self.stop.is_set():
                        return
                    self.wfile.write(bytes(64 << 10))
            elif kind == "wrong-length":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data) + 1000))
                self.end_headers()
                self.wfile.write(data)
            elif kind == "trickle":  # a byte every 2 s
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for i in range(len(data)):
                    if i and self.stop.wait(2.0):
                        return
                    self.wfile.write(data[i:i + 1])
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server(monkeypatch):
    """A server on 127.0.0.1: /files/NAME serves NAME, /endless/, /wrong-length/, /trickle/
    misbehave. Yields its base URL; files go into _Handler.files."""
    monkeypatch.setattr(_Handler, "files", {})
    monkeypatch.setattr(_Handler, "stop", threading.Event())
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.astype(np.uint8).tobytes()


def _mnist_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(20) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(10) % 10}
    return {f"{stem}.gz": gzip.compress(_idx(a), mtime=0) for stem, a in arrays.items()}


def _publish(monkeypatch, served: dict[str, bytes], published: dict[str, bytes] | None = None):
    """Serve ``served`` and make ``published`` (by default the same) the mnist table."""
    _Handler.files.update(served)
    table = {name: (hashlib.md5(data).hexdigest(), len(data))
             for name, data in (published or served).items()}
    monkeypatch.setitem(download_module.FILES, "mnist", table)


def test_the_real_path_downloads_with_progress_checks_and_caches(server, tmp_path, monkeypatch):
    served = _mnist_files()
    _publish(monkeypatch, served)
    calls = []
    folder = download_module.download("mnist", tmp_path, lambda *a: calls.append(a),
                                      mirror=f"{server}/files/")
    assert sorted(p.name for p in folder.iterdir()) == sorted(served)  # nothing partial
    for name, data in served.items():
        seen = [c for c in calls if c[2] == f"downloading {name}"]
        assert seen[0][:2] == (0, len(data)) and seen[-1][:2] == (len(data), len(data))
        assert (folder / name).read_bytes() == data
    calls.clear()
    download_module.download("mnist", tmp_path, lambda *a: calls.append(a),
                             mirror=f"{server}/files/")
    assert calls == []  # the cache holds them all
    raw = standard.read("mnist", folder)
    assert tuple(raw.train_x.shape) == (20, 1, 28, 28) and raw.val_y.tolist() == list(range(10))


@pytest.mark.parametrize("kind, match", [
    ("endless", "sends more than the 4542 bytes of t10k-labels-idx1-ubyte.gz"),
    ("wrong-length", "announces 5542 bytes but t10k-labels-idx1-ubyte.gz has 4542"),
])
def test_more_than_the_published_file_is_refused(server, tmp_path, monkeypatch, kind, match):
    data = bytes(range(256)) * 17 + bytes(190)  # 4542 bytes, MNIST's t10k labels' size
    _publish(monkeypatch, {"t10k-labels-idx1-ubyte.gz": data})
    with pytest.raises(DatasetError, match=match) as error:
        download_module.download("mnist", tmp_path, mirror=f"{server}/{kind}/")
    assert f"{server}/{kind}/t10k-labels-idx1-ubyte.gz" in str(error.value)
    assert "not the published file" in error.value.advice + str(error.value)
    assert list((tmp_path / "mnist").iterdir()) == []  # the partial file is gone


def test_a_trickling_server_meets_the_deadline(server, tmp_path, monkeypatch):
    data = bytes(100)
    _publish(monkeypatch, {"t10k-labels-idx1-ubyte.gz": data})
    monkeypatch.setattr(download_module, "DEADLINE_FLOOR_S", 1.0)
    monkeypatch.setattr(download_module, "MIN_RATE", 1 << 40)
    with pytest.raises(DatasetError, match="took longer than 1 s .* too slow or stalled"):
        download_module.download("mnist", tmp_path, mirror=f"{server}/trickle/")
    assert list((tmp_path / "mnist").iterdir()) == []


def test_a_wrong_checksum_keeps_nothing(server, tmp_path, monkeypatch):
    data = _mnist_files()["t10k-labels-idx1-ubyte.gz"]
    forged = bytearray(data)
    forged[-12] ^= 0xFF
    _publish(monkeypatch, {"t10k-labels-idx1-ubyte.gz": bytes(forged)},
             {"t10k-labels-idx1-ubyte.gz": data})
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz from .* is corrupt: its MD5"):
        download_module.download("mnist", tmp_path, mirror=f"{server}/files/")
    assert list((tmp_path / "mnist").iterdir()) == []


def test_a_network_failure_is_not_answered_with_allow_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with pytest.raises(DatasetError, match="could not download http://127.0.0.1:9/") as error:
        download_module.download("mnist", tmp_path, mirror="http://127.0.0.1:9/")
    assert "internet connection" in error.value.advice
    assert "download" not in error.value.advice.lower().replace("download the files", "")


def _tiny_net(shape=(1, 28, 28), classes=10) -> Network:
    c, h, w = shape
    n = Network("tiny")
    x = n.add("Input", {"channels": c, "height": h, "width": w}, id="input")
    n.add("Linear", {"out_features": classes}, id="fc", inputs=[x])
    return n


def test_the_trainers_stop_ends_a_trickling_download(server, tmp_path, monkeypatch):
    _publish(monkeypatch, _mnist_files())
    monkeypatch.setenv(download_module.MIRROR_ENV, f"{server}/trickle/")
    started = threading.Event()

    class Callbacks:
        def on_data(self, done, total, message):
            started.set()

    config = TrainConfig(data=DataConfig(name="mnist", path=str(tmp_path / "mnist"),
                                         download=True),
                         epochs=1, batch_size=4, device="cpu")
    trainer = Trainer(_tiny_net(), config, Callbacks())
    runner = threading.Thread(target=trainer.run)
    runner.start()
    assert started.wait(30)
    trainer.stop()
    runner.join(60)
    assert not runner.is_alive() and trainer.result.status == "stopped"
    assert [p for p in (tmp_path / "mnist").iterdir()] == []  # the partial file is gone


def test_the_trainers_advice_for_a_network_failure_fits_it(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv(download_module.MIRROR_ENV, "http://127.0.0.1:9/")
    config = TrainConfig(data=DataConfig(name="mnist", path=str(tmp_path), download=True),
                         epochs=1, device="cpu")
    result = Trainer(_tiny_net(), config).run()
    assert result.status == "failed" and result.fault.kind == "data"
    assert "could not download http://127.0.0.1:9/" in result.fault.message
    assert "internet connection" in result.fault.advice
    assert "turn on Download" not in result.fault.advice


# --- decompression bombs -------------------------------------------------------------------------


@pytest.fixture
def small_limits(monkeypatch):
    """A compressed file may expand to 1 MiB (20 times its size where that is more)."""
    monkeypatch.setattr(common, "EXPANSION_FLOOR", 1 * MiB)
    monkeypatch.setattr(standard, "CIFAR_MAX_BYTES", 1 * MiB)


def test_a_gzip_idx_bomb_is_refused_before_it_expands(tmp_path, small_limits):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    n = (4 * MiB) // 784
    path.write_bytes(gzip.compress(_idx(np.zeros((n, 28, 28))), mtime=0))  # 4 MiB of zeros
    assert path.stat().st_size < 20_000
    with peak_memory() as measured, pytest.raises(
            DatasetError, match=f"{path.name} declares dimensions \\({n}, 28, 28\\).* refused"):
        standard.read_idx(path)
    assert measured["peak"] < MiB // 2
    # a header that declares 10 images in front of 4 MiB: read no further than the 10
    path.write_bytes(gzip.compress(_idx(np.zeros((10, 28, 28))) + bytes(4 * MiB), mtime=0))
    with peak_memory() as measured, pytest.raises(DatasetError, match="more than 7840 bytes"):
        standard.read_idx(path)
    assert measured["peak"] < MiB // 2
    (tmp_path / path.name).unlink()
    files = _mnist_files()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / path.name).write_bytes(gzip.compress(_idx(np.zeros((n, 28, 28))), mtime=0))
    with pytest.raises(DatasetError, match="declares dimensions") as error:
        load_datasets(DataConfig(name="mnist", path=str(tmp_path)), (1, 28, 28))
    assert "not a genuine copy" in error.value.advice


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_tar_bomb_is_refused_before_it_expands(tmp_path, small_limits):
    archive = tmp_path / "cifar-10-binary.tar.gz"
    _tar(archive, {"cifar-10-batches-bin/data_batch_1.bin": bytes(4 * MiB)})
    assert archive.stat().st_size < 20_000
    with peak_memory() as measured, pytest.raises(
            DatasetError, match="data_batch_1.bin of 4194304 bytes, more than the whole data set"):
        standard.read("cifar10", tmp_path)
    assert measured["peak"] < MiB // 2
    # a member nobody asked for is counted as it is read through
    _tar(archive, {"junk": bytes(4 * MiB), "cifar-10-batches-bin/data_batch_1.bin": b""})
    with peak_memory() as measured, pytest.raises(
            DatasetError, match="expands to more than 1048576 bytes when read"):
        standard.read("cifar10", tmp_path)
    assert measured["peak"] < MiB // 2
    archive.unlink()
    folder = tmp_path / "cifar-10-batches-bin"  # extracted: the files' sizes add up
    folder.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(bytes(3073 * 100))
    with pytest.raises(DatasetError, match="more than the whole data set"):
        standard.read("cifar10", tmp_path)


def test_an_npz_bomb_is_refused_before_it_expands(tmp_path, small_limits):
    path = tmp_path / "bomb.npz"
    n = (4 * MiB) // 3072
    np.savez_compressed(path, x=np.zeros((n, 32, 32, 3), np.uint8), y=np.zeros(n, np.int64))
    assert path.stat().st_size < 40_000
    with peak_memory() as measured, pytest.raises(
            DatasetError, match=r"bomb.npz: x.npy declares \d+ bytes, more than 1048576 bytes"):
        files.read_npz(path)
    assert measured["peak"] < MiB // 2
    # a header that declares more than the member holds is corrupt, never allocated
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(10))
        archive.writestr("y.npy", header.getvalue() + bytes(10))
    with peak_memory() as measured, pytest.raises(DatasetError, match="declares shape .* corrupt"):
        files.read_npz(path)
    assert measured["peak"] < MiB // 2
    with pytest.raises(DatasetError, match="declares shape"):
        load_datasets(DataConfig(name="npz", path=str(path)), (1, 8, 8))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(width: int, height: int, idat: bytes, colour: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png(100_000, 100_000, zlib.compress(bytes(1 * MiB), 9)))
    with peak_memory() as measured:
        with pytest.raises(DatasetError, match="huge.png .*declares .*pixels") as caught:
            images.read_image(path, "L")
        assert "smaller images" in caught.value.advice
        with pytest.raises(DatasetError, match="huge.png .*declares .*pixels"):
            images.probe_image(path)
    assert measured["peak"] < 4 * MiB
    path.write_bytes(_png(9000, 9000, zlib.compress(bytes(1 * MiB), 9)))  # 81 Mpx: ours, not
    with pytest.raises(DatasetError, match="9000×9000 pixels, more than the 67108864"):  # Pillow's
        images.read_image(path, "RGB")
    for name in ("a", "b"):
        (tmp_path / "set" / name).mkdir(parents=True)
        (tmp_path / "set" / name / "x.png").write_bytes(_small_png())
    (tmp_path / "set" / "a" / "x.png").write_bytes(path.read_bytes())
    with pytest.raises(DatasetError, match="x.png .*declares 9000×9000 pixels"):
        load_datasets(DataConfig(name="folder", path=str(tmp_path / "set")), (1, 8, 8))


def _small_png(size: int = 8, value: int = 0) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.full((size, size), value, np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_a_png_is_decompressed_no_further_than_its_header_declares(tmp_path):
    """8 MiB of zeros behind a 16×16 header: the picture is the 16×16 declared, and nothing on
    our side (Python's allocations, numpy's included) inflates the rest."""
    path = tmp_path / "small.png"
    path.write_bytes(_png(16, 16, zlib.compress(bytes(8 * MiB), 9)))
    with peak_memory() as measured:
        pixels = images.read_image(path, "L")
    assert pixels.shape == (1, 16, 16) and not pixels.any()
    assert measured["peak"] < MiB


# --- fuzz: our error or success, never another exception -----------------------------------------


def _seed_pickles() -> list[bytes]:
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": [1, 2, 3],
             b"data": np.arange(12, dtype=np.uint8).reshape(3, 4),
             b"filenames": [b"a.png", b"b.png", b"c.png"]}
    return [pickle.dumps(batch, protocol=p) for p in (2, 4)] + [
        pickle.dumps({"a": [1, 2.5, None, True], "b": ("x", b"y")}, protocol=0),
        _array_pickle((2, 3), bytes(6)), memo_bomb(3, 4)]


_SEEDS = _seed_pickles()


def _mutated(seeds: list[bytes]):
    """A seed with a few bytes changed, cut short or with bytes put in."""
    @st.composite
    def strategy(draw):
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, max(0, len(data) - 1)))
            action = draw(st.sampled_from(["flip", "cut", "insert", "byte"]))
            if action == "flip" and data:
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif action == "byte" and data:
                data[at] = draw(st.integers(0, 255))
            elif action == "cut":
                del data[at:at + draw(st.integers(1, 16))]
            else:
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
        return bytes(data)
    return strategy()


FUZZ = settings(max_examples=70, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(_mutated(_SEEDS), st.binary(max_size=200)))
def test_fuzz_the_safe_pickle_walker(data):
    try:
        safe_pickle.load(data)
    except safe_pickle.UnsafePickle:
        pass


def _seed_npz() -> list[bytes]:
    out = []
    for save in (np.savez, np.savez_compressed):
        buffer = io.BytesIO()
        save(buffer, x=np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8),
             y=np.array([0, 1, 0, 1]), class_names=np.array(["a", "b"]))
        out.append(buffer.getvalue())
    return out


@FUZZ
@given(_mutated(_seed_npz()))
def test_fuzz_the_npz_reader(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.npz"
        path.write_bytes(data)
        try:
            files.read_npz(path)
        except DatasetError:
            pass


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_mutated([_idx(np.arange(24).reshape(2, 3, 4)), _idx(np.arange(5))]), st.booleans())
def test_fuzz_the_idx_reader(data, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("fuzz.gz" if gz else "fuzz")
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        if gz and data:  # the gzip stream itself damaged too
            damaged = bytearray(path.read_bytes())
            damaged[len(damaged) // 2] ^= data[0]
            path.write_bytes(bytes(damaged))
        try:
            standard.read_idx(path)
        except DatasetError:
            pass
