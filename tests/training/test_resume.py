"""Trained work is never lost (issue 17): a run resumed from its checkpoint is the uninterrupted
run, bit for bit on the CPU (after an epoch's end, after a Stop mid-epoch, after a Stop during
validation); Stop writes the true state at that moment and leaves a data set that is still
loading, or a batch that is still being read; checkpoints are safetensors + JSON, read with
nothing unpickled, and a damaged one is a clear error."""

from __future__ import annotations

import json
import math
import pickle
import threading

import pytest
import torch
from torch.utils.data import Dataset

import designer.training.datasets as datasets_module
from designer.cli import main
from designer.model import design_file
from designer.model.network import Network
from designer.training import runs
from designer.training.basics import load_checkpoint, save_checkpoint
from designer.training.events import DataConfig, StoppingEvent, TrainConfig
from designer.training.trainer import Trainer

from .test_trainer import blobs, tiny_net

SET = DataConfig(name="synthetic", train_size=256, val_size=64)


def net() -> Network:
    """Small, with what makes resuming hard: BatchNorm's running statistics and dropout's
    random masks."""
    n = Network("resumable")
    x = n.add("Input", {"channels": 3, "height": 16, "width": 16}, id="input")
    x = n.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, id="conv",
              inputs=[x])
    x = n.add("BatchNorm2d", {}, id="bn", inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("Dropout", {"p": 0.3}, id="drop", inputs=[x])
    x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc", inputs=[x])
    return n


def config(epochs: int, folder=None, **kw) -> TrainConfig:
    base = dict(epochs=epochs, batch_size=32, optimizer="adam", lr=3e-3, schedule="step",
                step_size=1, gamma=0.7, device="cpu", data=SET,
                checkpoint_dir=str(folder) if folder else None)
    base.update(kw)
    return TrainConfig(**base)


def history(result) -> list[tuple]:
    return [(e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.lr)
            for e in result.history]


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class StopAt:
    """Callbacks that call Stop at a global step (in the run's own thread)."""

    def __init__(self, global_step: int):
        self.global_step, self.trainer, self.answer = global_step, None, "not asked"

    def on_batch(self, e):
        if e.global_step == self.global_step:
            self.answer = self.trainer.stop()


@pytest.fixture(scope="module")
def whole():
    """The uninterrupted 4-epoch run."""
    trainer = Trainer(net(), config(4))
    result = trainer.run()
    assert result.status == "finished", result.fault
    return result, trainer.model


def test_a_run_resumed_after_two_epochs_is_the_four_epoch_run(whole, tmp_path):
    first = Trainer(net(), config(2, tmp_path)).run()
    assert first.status == "finished"
    info = runs.read_info(tmp_path / "last.safetensors")
    assert (info["epoch"], info["step"], info["epochs_done"]) == (2, 8, 2)
    assert info["steps_per_epoch"] == 8 and info["global_step"] == 16
    trainer = Trainer(net(), config(4, tmp_path), resume=tmp_path / "last.safetensors")
    result = trainer.run()
    assert result.status == "finished", result.fault
    assert history(result) == history(whole[0])  # floats compared exactly
    assert result.epochs_done == 4 and any("resumed from" in n for n in result.notes)
    assert same_weights(trainer.model, whole[1])


def test_a_stop_mid_epoch_writes_the_true_state_and_resumes_exactly(whole, tmp_path):
    stopper = StopAt(11)  # epoch 2, batch 3 of 8
    trainer = Trainer(net(), config(4, tmp_path), stopper)
    stopper.trainer = trainer
    stopped = trainer.run()
    assert stopped.status == "stopped" and stopped.epochs_done == 1
    assert isinstance(stopper.answer, StoppingEvent)
    assert (stopper.answer.epoch, stopper.answer.phase) == (2, "training")
    weights, meta = load_checkpoint(tmp_path / "last.safetensors")
    assert (meta["epoch"], meta["step"], meta["epochs_done"], meta["global_step"]) == \
        (2, 3, 1, 11)
    assert all(torch.equal(weights[k], v) for k, v in trainer.model.state_dict().items())
    best = runs.read_info(tmp_path / "best.safetensors")  # the end of epoch 1, resumable too
    assert (best["epoch"], best["step"], best["epochs_done"]) == (1, 8, 1)

    trainer = Trainer(net(), config(4, tmp_path), resume=tmp_path / "last.safetensors")
    result = trainer.run()
    assert result.status == "finished", result.fault
    assert history(result) == history(whole[0])
    assert same_weights(trainer.model, whole[1])


class StopInValidation(Dataset):
    """The synthetic validation split, with a Stop asked while epoch `at` validates."""

    def __init__(self, inner, at: int):
        self.inner, self.at, self.epoch, self.trainer = inner, at, 0, None

    def __len__(self):
        return len(self.inner)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def get_batch(self, indices):
        if self.epoch == self.at and self.trainer is not None:
            self.trainer.stop()
        return self.inner.get_batch(indices)


def test_a_stop_during_validation_resumes_exactly(tmp_path):
    from designer.training.datasets import load_datasets

    def run(trainer_config, stop_at=None, resume=None):
        train, val, info = load_datasets(SET, (3, 16, 16))
        val = StopInValidation(val, stop_at or 0)
        trainer = Trainer(net(), trainer_config, datasets=(train, val, info), resume=resume)
        val.trainer = trainer if stop_at else None
        return trainer, trainer.run()

    reference, whole = run(config(3))
    _, stopped = run(config(3, tmp_path), stop_at=2)
    assert stopped.status == "stopped" and stopped.epochs_done == 1
    info = runs.read_info(tmp_path / "last.safetensors")
    assert (info["epoch"], info["step"], info["epochs_done"]) == (2, 8, 1)  # trained, not validated
    trainer, result = run(config(3, tmp_path), resume=tmp_path / "last.safetensors")
    assert result.status == "finished", result.fault
    assert history(result) == history(whole)
    assert same_weights(trainer.model, reference.model)


# ---------------------------------------------------------------------------------------------
# Stop while data loads


def test_stop_while_the_data_set_loads_abandons_the_load(monkeypatch):
    real = datasets_module.load_datasets
    chunks, started, ended = [], threading.Event(), threading.Event()
    seen = {}
    run_thread = {}

    def slow_load(config, shape, progress=None):
        try:
            for i in range(1000):  # a long read: 1000 chunks
                started.set()
                threading.Event().wait(0.01)
                progress(i, 1000, "reading the files")
                chunks.append(i)
            return real(config, shape, progress=progress)
        except BaseException as e:
            seen["error"] = e
            raise
        finally:
            ended.set()

    monkeypatch.setattr(datasets_module, "load_datasets", slow_load)
    heard = []

    class Callbacks:
        def on_data(self, done, total, message):
            heard.append((threading.get_ident(), message))

    trainer = Trainer(net(), config(1), Callbacks())
    box = {}

    def go():
        run_thread["id"] = threading.get_ident()
        box["result"] = trainer.run()

    thread = threading.Thread(target=go)
    thread.start()
    assert started.wait(30)
    while not heard and thread.is_alive():
        threading.Event().wait(0.01)
    answer = trainer.stop()  # the data set's read ends at its next report
    assert answer.phase == "loading" and answer.seconds >= 0
    thread.join(30)
    assert not thread.is_alive() and box["result"].status == "stopped"
    assert box["result"].fault is None and box["result"].epochs_done == 0
    assert ended.wait(30)  # the load saw the Stop at its next chunk and ended there
    assert len(chunks) < 1000 and "error" in seen
    assert heard and all(ident == run_thread["id"] for ident, _ in heard)  # run()'s thread


def test_stop_leaves_a_load_that_never_reports(monkeypatch):
    gate, entered = threading.Event(), threading.Event()

    def stuck(config, shape, progress=None):
        entered.set()
        gate.wait(60)  # a read that cannot be interrupted
        raise RuntimeError("never used")

    monkeypatch.setattr(datasets_module, "load_datasets", stuck)
    trainer = Trainer(net(), config(1))
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", trainer.run()))
    thread.start()
    assert entered.wait(30)
    trainer.stop()
    thread.join(30)
    alive = thread.is_alive()
    gate.set()  # let the abandoned read end
    assert not alive and box["result"].status == "stopped" and box["result"].fault is None


class BlocksAt(Dataset):
    """blobs, whose item `at` waits until released (a read that takes its time)."""

    def __init__(self, n: int, at: int):
        self.inner, self.at = blobs(n), at
        self.reached, self.release, self.reads = threading.Event(), threading.Event(), 0

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        self.reads += 1
        if self.reads == self.at:
            self.reached.set()
            self.release.wait(60)
        return self.inner[i]


def test_stop_while_a_batch_is_read_abandons_the_read(tmp_path):
    data = BlocksAt(256, at=32 * 6 + 5)  # inside the 7th batch: the read ahead (3 batches)
    # reaches it once the step of the 3rd batch has begun, so at least 2 steps are timed
    trainer = Trainer(tiny_net(), config(2, tmp_path, data=DataConfig(), schedule="none"),
                      datasets=(data, blobs(64), None))
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", trainer.run()))
    thread.start()
    try:
        assert data.reached.wait(60)
        answer = trainer.stop()
        thread.join(30)
        alive = thread.is_alive()
    finally:
        data.release.set()
    assert not alive and box["result"].status == "stopped"
    assert answer is not None and answer.phase == "training" and answer.seconds >= 0
    info = runs.read_info(tmp_path / "last.safetensors")
    # the batches before the one being read are trained (the prefetch reads ahead, so the
    # 6th at the latest), and the Stop's state is the one written
    assert info["epoch"] == 1 and info["epochs_done"] == 0 and 2 <= info["step"] <= 6
    assert info["global_step"] == info["step"]
    assert data.reads < 256  # not read to the end


def test_the_stopping_message():
    short = StoppingEvent(epoch=1, step=3, steps=8, phase="training", seconds=0.2,
                          step_seconds=0.3)
    long = StoppingEvent(epoch=1, step=3, steps=8, phase="training", seconds=3.2,
                         step_seconds=6.0)
    assert not short.long and short.text() == "stopping"
    assert long.long and long.text() == "stopping after this step (≈ 4 s)"
    trickle = StoppingEvent(epoch=0, step=0, steps=0, phase="loading", seconds=1.5,
                            step_seconds=2.0)  # a download that gets a byte every 2 s
    assert trickle.text() == "stopping after this read (≈ 2 s)"


# ---------------------------------------------------------------------------------------------
# The format


def test_checkpoints_are_read_with_nothing_unpickled(tmp_path, monkeypatch):
    assert Trainer(net(), config(1, tmp_path)).run().status == "finished"
    path = tmp_path / "last.safetensors"

    def refuse(*args, **kwargs):
        raise AssertionError("unpickling")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    state = runs.read_checkpoint(path)
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng", "order", "sums",
                          "meta"}
    assert isinstance(state["rng"]["python"], tuple) and state["rng"]["torch"].dtype == \
        torch.uint8
    meta = state["meta"]
    assert meta["design_file"] and meta["config"]["epochs"] == 1
    assert meta["normalization"]["mean"] and len(meta["history"]) == 1
    weights, _ = load_checkpoint(path)
    assert set(weights) == set(state["model"])
    again = Trainer(net(), config(2, tmp_path), resume=path).run()
    assert again.status == "finished" and again.epochs_done == 2


def test_any_state_comes_back_as_it_was(tmp_path):
    state = {"t": torch.arange(6, dtype=torch.int16).reshape(2, 3), "bf": torch.ones(3,
             dtype=torch.bfloat16), "empty": torch.zeros(0), "flag": torch.tensor(True),
             "ints": {0: "a", 7: (1, 2.5, None)}, "odd": {"$tensor": "no"}, "nan": math.nan,
             "inf": [-math.inf], "text": "ü\n", "nested": [{"x": torch.tensor([1.5])}]}
    runs.write_checkpoint(tmp_path / "x.safetensors", state)
    back = runs.read_checkpoint(tmp_path / "x.safetensors")
    assert back["ints"] == {0: "a", 7: (1, 2.5, None)} and back["odd"] == {"$tensor": "no"}
    assert math.isnan(back["nan"]) and back["inf"] == [-math.inf] and back["text"] == "ü\n"
    for key in ("t", "bf", "empty", "flag"):
        assert back[key].dtype == state[key].dtype and torch.equal(back[key], state[key])
    assert torch.equal(back["nested"][0]["x"], torch.tensor([1.5]))
    with pytest.raises(runs.CheckpointError, match="neither a tensor nor plain data"):
        runs.write_checkpoint(tmp_path / "y.safetensors", {"f": object()})
    assert not (tmp_path / "y.safetensors").exists()


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path):
    assert Trainer(net(), config(1, tmp_path)).run().status == "finished"
    good = (tmp_path / "last.safetensors").read_bytes()
    bad = tmp_path / "bad.safetensors"
    cases = {
        "cut short": good[: len(good) - 100],
        "one bit flipped": good[:-7] + bytes([good[-7] ^ 1]) + good[-6:],
        "no header": good[:30],
        "not one": b"hello, this is no checkpoint at all",
    }
    for what, data in cases.items():
        bad.write_bytes(data)
        with pytest.raises(runs.CheckpointError) as error:
            runs.read_checkpoint(bad)
        text = str(error.value)
        assert str(bad) in text and ("damaged" in text or "not a checkpoint" in text), what
        result = Trainer(net(), config(2, tmp_path / "new"), resume=bad).run()
        assert result.status == "failed" and result.fault.kind == "resume", what
        assert str(bad) in result.fault.message and result.fault.advice
    old = tmp_path / "old.pt"
    save_checkpoint(old, torch.nn.Linear(2, 2), {"epoch": 1})
    with pytest.raises(runs.CheckpointError, match="not a checkpoint of this format"):
        runs.read_checkpoint(old)
    assert set(load_checkpoint(old)[0]) == {"weight", "bias"}  # still read, weights_only


def test_resume_refuses_another_design_and_other_settings(tmp_path):
    assert Trainer(net(), config(1, tmp_path)).run().status == "finished"
    path = tmp_path / "last.safetensors"
    other = net()
    other.set_params("conv", out_channels=16)
    result = Trainer(other, config(2), resume=path).run()
    assert result.status == "failed" and result.fault.kind == "resume"
    assert "layer 'conv': out_channels is 16 here, 8 in the checkpoint" in result.fault.message
    result = Trainer(net(), config(2, lr=0.1), resume=path).run()
    assert result.status == "failed" and "lr is 0.1 here, 0.003 in the checkpoint" in \
        result.fault.message
    result = Trainer(net(), config(1), resume=path).run()
    assert result.status == "failed" and "nothing is left to train" in result.fault.message
    result = Trainer(net(), config(3, schedule="cosine"), resume=path).run()
    assert result.status == "failed" and "schedule" in result.fault.message
    renamed = net()
    renamed.name = "another name"  # names, labels and positions are no part of the structure
    assert Trainer(renamed, config(2), resume=path).run().status == "finished"


def test_cli_resume(tmp_path, capsys):
    design = tmp_path / "net.convnet.json"
    design_file.save(design_file.Design(net(), training={"config": config(2).to_dict()}),
                     design)
    ck = tmp_path / "ck"
    assert main(["train", str(design), "--checkpoints", str(ck), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["train", str(design), "--resume", str(ck / "last.safetensors"), "--epochs",
                 "3", "--json"]) == 0
    out, err = capsys.readouterr()
    resumed = json.loads(out)
    assert resumed["epochs_done"] == 3 and resumed["history"][:2] == [
        {**e, "seconds": r["seconds"]} for e, r in zip(first["history"], resumed["history"])]
    assert "resumed from" in err
    assert runs.read_info(ck / "last.safetensors")["epochs_done"] == 3  # its own folder

    assert main(["train", str(design), "--resume", str(ck / "last.safetensors"), "--epochs",
                 "4", "--lr", "1"]) == 2
    assert "--lr: a resumed run keeps the settings it was trained with" in \
        capsys.readouterr().err
    other = tmp_path / "other.convnet.json"
    changed = net()
    changed.set_params("fc", out_features=12)
    design_file.save(design_file.Design(changed), other)
    assert main(["train", str(other), "--resume", str(ck / "last.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "not the design the checkpoint" in err and "out_features is 12 here, 10" in err
    assert main(["train", str(design), "--resume", str(tmp_path / "missing.safetensors")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
