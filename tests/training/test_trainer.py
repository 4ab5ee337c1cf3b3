"""The Trainer as the window and the command line use it: it learns, it stops and pauses when
told, every fault ends the run with a kind and advice (never an exception) and the next run
works, checkpoints load with weights_only, a seed gives the same weights, `train --json`."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from designer.bridge.module import build_module
from designer.cli import main
from designer.model import design_file
from designer.model.network import Network
from designer.training.events import OPTIMIZERS, DataConfig, RunResult, TrainConfig
from designer.training.runtime import load_checkpoint
from designer.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"

try:
    import designer.training.datasets  # noqa: F401

    HAVE_DATASETS = True
except ImportError:
    HAVE_DATASETS = False
needs_datasets = pytest.mark.skipif(not HAVE_DATASETS, reason="designer.training.datasets missing")


# ---------------------------------------------------------------------------------------------
# Helpers


def tiny_net(shape=(3, 16, 16), classes=4) -> Network:
    """INPUT - CONV 8 - RELU - POOL - FC."""
    c, h, w = shape
    n = Network("tiny")
    x = n.add("Input", {"channels": c, "height": h, "width": w}, id="input")
    x = n.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, id="conv",
              inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[x])
    n.add("Linear", {"out_features": classes}, id="fc", inputs=[x])
    return n


def blobs(n: int, shape=(3, 16, 16), classes=4, seed=0) -> TensorDataset:
    """A learnable set: a fixed random picture per class plus noise."""
    protos = torch.randn(classes, *shape, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = protos[y] + 0.8 * torch.randn(n, *shape, generator=g)
    return TensorDataset(x, y)


def data(n_train=256, n_val=64, **kw):
    return blobs(n_train, seed=1, **kw), blobs(n_val, seed=2, **kw), None


class Recorder:
    def __init__(self):
        self.calls: list[str] = []
        self.batches = []
        self.epochs = []
        self.start = None
        self.end = None

    def on_start(self, e):
        self.calls.append("start")
        self.start = e

    def on_batch(self, e):
        self.calls.append("batch")
        self.batches.append((time.perf_counter(), e))

    def on_epoch(self, e):
        self.calls.append("epoch")
        self.epochs.append(e)

    def on_end(self, r):
        self.calls.append("end")
        self.end = r


def config(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=32, optimizer="adam", lr=3e-3, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def trains_fine(network: Network) -> RunResult:
    """The app keeps working: a fresh Trainer on the same design learns."""
    result = Trainer(network, config(epochs=2), datasets=data()).run()
    assert result.status == "finished", result.fault
    assert result.best_val_accuracy > 0.9
    return result


def failed(result: RunResult, kind: str) -> None:
    assert result.status == "failed"
    assert result.fault is not None and result.fault.kind == kind, result.fault
    assert result.fault.message and result.fault.advice


# ---------------------------------------------------------------------------------------------
# It learns


@needs_datasets
def test_the_notes_cifar10_example_learns_the_synthetic_set():
    net = design_file.load(CIFAR).network
    rec = Recorder()
    cfg = TrainConfig(data=DataConfig(name="synthetic", train_size=2000, val_size=500),
                      epochs=5, batch_size=64, optimizer="adam", lr=3e-3, device="cpu")
    result = Trainer(net, cfg, rec).run()
    assert result.status == "finished", result.fault
    assert result.best_val_accuracy >= 0.90
    assert result.epochs_done == 5 and len(result.history) == 5
    assert rec.start.classes == 10 and rec.start.train_samples == 2000
    assert rec.start.estimated_bytes > 0 and rec.start.steps_per_epoch == 2000 // 64
    assert rec.calls[0] == "start" and rec.calls[-1] == "end" and rec.calls.count("epoch") == 5
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_events_carry_progress():
    rec = Recorder()
    result = Trainer(tiny_net(), config(epochs=2, batch_size=32), rec,
                     datasets=data(256, 64)).run()
    assert result.status == "finished"
    events = [e for _, e in rec.batches]
    assert len(events) == 2 * 8 and events[-1].global_step == 16
    assert [e.step for e in events[:8]] == list(range(1, 9))
    assert all(e.steps == 8 and math.isfinite(e.loss) and 0 <= e.accuracy <= 1 for e in events)
    assert events[-1].eta_s == 0 and events[-1].images_per_s > 0
    assert events[-1].peak_bytes is None and result.peak_bytes is None  # CPU: not measured
    assert result.device.startswith("CPU") and result.config["batch_size"] == 32
    json.dumps(result.to_dict())  # plain data


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(optimizer):
    lr = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.05}.get(optimizer, 3e-3)
    result = Trainer(tiny_net(), config(optimizer=optimizer, lr=lr, epochs=1),
                     datasets=data(128, 64)).run()
    assert result.status == "finished", result.fault
    assert math.isfinite(result.history[0].train_loss)


def test_schedules_change_the_learning_rate():
    lrs = {}
    for schedule in ("none", "step", "cosine", "onecycle"):
        rec = Recorder()
        cfg = config(schedule=schedule, epochs=3, step_size=1, gamma=0.5, lr=0.01)
        Trainer(tiny_net(), cfg, rec, datasets=data(64, 32)).run()
        lrs[schedule] = [e.lr for e in rec.epochs]
        if schedule == "onecycle":  # per batch: warms up, then anneals
            batch_lrs = [e.lr for _, e in rec.batches]
            assert max(batch_lrs) == pytest.approx(0.01, rel=0.05) and batch_lrs[0] < 0.002
            assert batch_lrs[-1] < 1e-4
    assert lrs["none"] == [0.01] * 3
    assert lrs["step"] == pytest.approx([0.01, 0.005, 0.0025])
    assert lrs["cosine"][0] == 0.01 and lrs["cosine"][1] < 0.01 and lrs["cosine"][2] < 0.003


def test_precision_on_the_cpu():
    result = Trainer(tiny_net(), config(precision="fp16", epochs=1), datasets=data()).run()
    assert result.status == "finished" and any("fp16" in n for n in result.notes)
    result = Trainer(tiny_net(), config(precision="bf16", epochs=1), datasets=data()).run()
    assert result.status == "finished" and math.isfinite(result.history[0].train_loss)
    result = Trainer(tiny_net(), config(channels_last=True, epochs=1), datasets=data()).run()
    assert result.status == "finished" and any("channels_last" in n for n in result.notes)


def test_any_map_style_dataset_and_a_batch_of_one_at_the_end():
    class Plain(Dataset):  # not a TensorDataset: goes through a DataLoader
        def __init__(self, ds):
            self.ds = ds

        def __len__(self):
            return len(self.ds)

        def __getitem__(self, i):
            x, y = self.ds[i]
            return x, int(y)

    train, val, _ = data(100, 33)  # 100 = 3 × 32 + 4: the last 4 are dropped in training
    net = tiny_net()
    n = net.add("BatchNorm2d", {}, id="bn", inputs=["conv"])
    net.set_inputs("relu", [n])
    rec = Recorder()
    result = Trainer(net, config(batch_size=32), rec, datasets=(Plain(train), Plain(val))).run()
    assert result.status == "finished", result.fault
    assert rec.start.steps_per_epoch == 3 and rec.start.val_samples == 33


def test_prefetch_keeps_order_passes_errors_and_lets_go():
    from designer.training.batches import Prefetch

    assert list(Prefetch(range(50), depth=2)) == list(range(50))

    def broken():
        yield 1
        raise OSError("disk gone")

    it = iter(Prefetch(broken()))
    assert next(it) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(it)
    before = threading.active_count()
    it = iter(Prefetch(range(10**6)))
    next(it)
    it.close()  # a consumer that stops early
    deadline = time.time() + 2
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.02)
    assert threading.active_count() == before


def test_prefetched_batches_train_the_same(monkeypatch):
    class WithGetBatch(Dataset):  # the data sets' fast path: whole batches at once
        def __init__(self, ds):
            self.x, self.labels = ds.tensors

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return self.x[i], self.labels[i]

        def get_batch(self, idx):
            return self.x[idx], self.labels[idx]

    def weights():
        train, val, _ = data()
        trainer = Trainer(tiny_net(), config(), datasets=(WithGetBatch(train),
                                                          WithGetBatch(val)))
        assert trainer.run().status == "finished"
        return trainer.model.state_dict()

    plain = weights()
    monkeypatch.setattr("designer.training.batches.PREFETCH_DEVICES", ("cuda", "cpu"))
    prefetched = weights()
    assert all(torch.equal(plain[k], prefetched[k]) for k in plain)


# ---------------------------------------------------------------------------------------------
# Stop, pause, resume


class Slow(Dataset):
    """A data set that takes its time (an epoch lasts many seconds)."""

    def __init__(self, n=4000, delay=0.002):
        self.inner = blobs(n)
        self.delay = delay

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        time.sleep(self.delay)
        return self.inner[i]


def run_in_thread(trainer: Trainer):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", trainer.run()))
    thread.start()
    return thread, box


def test_stop_is_honoured_mid_epoch_within_a_second(tmp_path):
    rec = Recorder()
    trainer = Trainer(tiny_net(), config(epochs=3, checkpoint_dir=str(tmp_path)), rec,
                      datasets=(Slow(), blobs(64), None))
    first = threading.Event()
    rec.on_batch = lambda e: first.set()
    thread, box = run_in_thread(trainer)
    assert first.wait(30)
    asked = time.perf_counter()
    trainer.stop()
    thread.join(10)
    took = time.perf_counter() - asked
    assert not thread.is_alive() and took < 1.0
    result = box["result"]
    assert result.status == "stopped" and result.fault is None and result.epochs_done == 0
    assert (tmp_path / "last.safetensors").exists()  # the state at the Stop


def test_pause_holds_between_batches_and_resume_goes_on():
    rec = Recorder()
    trainer = Trainer(tiny_net(), config(epochs=2), rec, datasets=data(512, 64))
    paused_at = {}

    def on_batch(e):
        rec.batches.append((time.perf_counter(), e))
        if e.global_step == 3:
            trainer.pause()
            paused_at["t"] = time.perf_counter()

    rec.on_batch = on_batch
    thread, box = run_in_thread(trainer)
    deadline = time.time() + 30
    while "t" not in paused_at and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.4)
    assert trainer.paused and thread.is_alive()
    assert len(rec.batches) == 3  # nothing happened while paused
    trainer.resume()
    thread.join(30)
    result = box["result"]
    assert result.status == "finished" and result.epochs_done == 2
    assert len(rec.batches) == 2 * 16
    gap = rec.batches[3][0] - rec.batches[2][0]
    assert gap >= 0.35  # the fourth batch waited for resume()
    assert rec.batches[-1][1].elapsed_s < result.seconds - 0.3  # pause not counted as training


def test_stop_while_paused():
    trainer = Trainer(tiny_net(), config(epochs=50), datasets=data(512, 64))
    trainer.pause()  # before run: holds before the second batch
    thread, box = run_in_thread(trainer)
    time.sleep(0.5)
    assert thread.is_alive()
    asked = time.perf_counter()
    trainer.stop()
    thread.join(10)
    assert time.perf_counter() - asked < 1.0
    assert box["result"].status == "stopped"


# ---------------------------------------------------------------------------------------------
# Faults: each ends the run with a kind and advice; the next run works


def test_a_huge_learning_rate_diverges():
    net = tiny_net()
    result = Trainer(net, config(optimizer="sgd", lr=1e12, epochs=3),
                     datasets=data()).run()
    failed(result, "diverged")  # the loss runs away (test_divergence.py) before it is NaN
    assert "learning rate" in result.fault.advice and "lower" in result.fault.advice
    trains_fine(net)


def test_nan_loss_from_infinite_data():
    train, val, _ = data()
    train.tensors[0][5, 0, 0, 0] = math.inf
    net = tiny_net()
    result = Trainer(net, config(), datasets=(train, val, None)).run()
    failed(result, "nan_loss")
    assert "infinite" in result.fault.advice
    trains_fine(net)


def test_an_error_in_data_loading():
    class Broken(Dataset):
        def __len__(self):
            return 200

        def __getitem__(self, i):
            if i >= 100:
                raise OSError(f"cannot read image {i}: file is truncated")
            return torch.zeros(3, 16, 16), 0

    net = tiny_net()
    result = Trainer(net, config(), datasets=(Broken(), blobs(32), None)).run()
    failed(result, "data")
    assert "file is truncated" in result.fault.message and "OSError" in result.fault.detail
    trains_fine(net)


def test_an_error_in_the_model(monkeypatch):
    net = design_file.load(CIFAR).network

    def broken(self, x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (boom)")

    monkeypatch.setattr(nn.Linear, "forward", broken)
    result = Trainer(net, config(), datasets=data(64, 32, shape=(3, 32, 32), classes=10)).run()
    failed(result, "model")
    assert "boom" in result.fault.message and "training" in result.fault.message
    monkeypatch.undo()
    result = Trainer(net, config(epochs=1), datasets=data(64, 32, shape=(3, 32, 32),
                                                          classes=10)).run()
    assert result.status == "finished", result.fault


def test_a_data_set_whose_images_do_not_fit_the_design():
    net = design_file.load(CIFAR).network
    mnist_like = data(64, 32, shape=(1, 28, 28), classes=10)
    result = Trainer(net, config(), datasets=mnist_like).run()
    failed(result, "shape")
    assert "28×28×1" in result.fault.message and "32×32×3" in result.fault.message
    assert "INPUT" in result.fault.advice


def test_a_data_set_with_more_classes_than_outputs():
    net = tiny_net(classes=4)
    result = Trainer(net, config(), datasets=data(64, 32, classes=7)).run()
    failed(result, "shape")
    assert "6" in result.fault.message and "4" in result.fault.message
    assert "7 outputs" in result.fault.advice

    class Info:
        classes = 12

    train, val, _ = data(64, 32)
    result = Trainer(net, config(), datasets=(train, val, Info())).run()
    failed(result, "shape")
    assert "12 classes" in result.fault.message and "4" in result.fault.message
    trains_fine(net)


def test_out_of_memory_names_a_batch_size_that_fits(monkeypatch):
    net = tiny_net()

    def oom(self, x, y):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Trainer, "_train_step", oom)
    result = Trainer(net, config(batch_size=1_000_000), datasets=data()).run()
    failed(result, "out_of_memory")
    assert re.search(r"batch size (to )?\d+", result.fault.advice), result.fault.advice
    assert "1000000" in result.fault.message
    monkeypatch.undo()
    trains_fine(net)


def test_an_unavailable_device_and_a_bad_setting():
    if not torch.cuda.is_available():
        result = Trainer(tiny_net(), config(device="cuda"), datasets=data()).run()
        failed(result, "device")
        assert "cpu" in result.fault.advice
    result = Trainer(tiny_net(), config(batch_size=0), datasets=data()).run()
    failed(result, "config")


def test_a_failing_callback_is_reported_not_raised():
    class Bad:
        def on_batch(self, e):
            raise ValueError("the window went away")

    result = Trainer(tiny_net(), config(), Bad(), datasets=data()).run()
    failed(result, "internal")
    assert "the window went away" in result.fault.message


# ---------------------------------------------------------------------------------------------
# Checkpoints and seeds


def test_checkpoints_load_with_nothing_unpickled(tmp_path):
    net = tiny_net()
    trainer = Trainer(net, config(epochs=3, checkpoint_dir=str(tmp_path / "ck")),
                      datasets=data())
    result = trainer.run()
    assert result.status == "finished"
    best = max(result.history, key=lambda e: e.val_accuracy)
    state, meta = load_checkpoint(tmp_path / "ck" / "last.safetensors")
    assert meta["epoch"] == 3 and meta["design"] == "tiny" and meta["input_shape"] == [3, 16, 16]
    json.dumps(meta)
    model = build_module(net)
    model.load_state_dict(state)
    x = torch.randn(4, 3, 16, 16)
    trainer.model.eval()
    model.eval()
    assert torch.allclose(model(x), trainer.model(x))
    _, best_meta = load_checkpoint(tmp_path / "ck" / "best.safetensors")
    assert best_meta["val_accuracy"] == best.val_accuracy
    from safetensors import safe_open  # what a program without ConvNet Designer needs

    with safe_open(str(tmp_path / "ck" / "best.safetensors"), "pt") as f:
        raw = {k[6:] for k in f.keys() if k.startswith("model/")}
        assert json.loads(f.metadata()["meta"])["val_accuracy"] == best.val_accuracy
    assert raw == set(model.state_dict())


def test_the_same_seed_gives_the_same_weights():
    def weights(seed):
        trainer = Trainer(tiny_net(), config(seed=seed), datasets=data())
        assert trainer.run().status == "finished"
        return trainer.model.state_dict()

    a, b, c = weights(7), weights(7), weights(8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# The command line


@needs_datasets
def test_cli_train_json(capsys, tmp_path):
    code = main(["train", str(CIFAR), "--dataset", "synthetic", "--epochs", "1", "--train-size",
                 "256", "--val-size", "64", "--batch", "32", "--optimizer", "adam", "--lr",
                 "0.003", "--checkpoints", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "finished" and data["epochs_done"] == 1
    assert data["config"]["batch_size"] == 32 and data["config"]["data"]["train_size"] == 256
    assert 0 <= data["history"][0]["val_accuracy"] <= 1
    assert "epoch 1/1" in err and (tmp_path / "best.safetensors").exists()


@needs_datasets
def test_cli_train_prints_a_metrics_line(capsys):
    code = main(["train", str(CIFAR), "--epochs", "1", "--train-size", "128", "--val-size",
                 "64"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert re.fullmatch(r"finished 1 epoch in [\d.]+ s on CPU.*: val accuracy [\d.]+%, val loss "
                        r"[\d.e-]+, train loss [\d.e-]+\n", out), out


def test_cli_train_bad_file_and_failed_run(tmp_path, capsys):
    bad = tmp_path / "bad.convnet.json"
    bad.write_text("{")
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid JSON" in err
    if not torch.cuda.is_available():
        assert main(["train", str(CIFAR), "--device", "cuda", "--epochs", "1"]) == 1
        err = capsys.readouterr().err
        assert "error:" in err and "advice:" in err
