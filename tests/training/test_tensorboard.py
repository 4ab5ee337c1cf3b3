"""TensorBoard logs (designer/training/tensorboard.py): the event files hold the run's scalars,
the first CONV's filters and the graph, read back with TensorBoard's own reader; logging leaves
the run as it was; Tee forwards every callback; a missing package is a message, not a crash."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from designer.model.network import Network
from designer.training.events import TrainConfig
from designer.training.tensorboard import (
    Tee,
    TensorBoardCallbacks,
    TensorBoardMissing,
    filter_images,
    folder_problem,
    logged,
    run_log_dir,
    summary_writer,
    tensorboard_missing,
)
from designer.training.trainer import Trainer


def _reader(folder):
    """TensorBoard's own reader of the event files (the test skips without the package)."""
    module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = module.EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def net_with_norm_and_dropout() -> Network:
    """INPUT 3×8×8 - CONV 4 - BN - RELU - DROPOUT - FC 3: modes and randomness a log could
    disturb."""
    n = Network("tiny")
    x = n.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input")
    x = n.add("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, id="conv1",
              inputs=[x])
    x = n.add("BatchNorm2d", {}, id="bn", inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("Dropout", {"p": 0.3}, id="drop", inputs=[x])
    n.add("Linear", {"out_features": 3}, id="fc", inputs=[x])
    return n


def data(n: int = 48, seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = torch.arange(n) % 3
    x[torch.arange(n), y] += 1.5  # learnable: the class lights its own channel
    return TensorDataset(x[:32], y[:32]), TensorDataset(x[32:], y[32:]), None


CONFIG = TrainConfig(epochs=2, batch_size=8, lr=0.05, device="cpu", seed=3)


class Recorder:
    def __init__(self):
        self.calls: list[str] = []

    def on_start(self, e):
        self.calls.append("start")

    def on_epoch(self, e):
        self.calls.append(f"epoch {e.epoch}")

    def on_end(self, r):
        self.calls.append("end")


def test_the_log_holds_the_scalars_the_filters_and_the_graph(tmp_path):
    pytest.importorskip("tensorboard")
    recorder = Recorder()
    tb = TensorBoardCallbacks(tmp_path / "log")
    trainer = Trainer(net_with_norm_and_dropout(), CONFIG, Tee(recorder, tb), datasets=data())
    tb.attach(trainer)
    result = trainer.run()
    assert result.status == "finished", result.fault
    assert recorder.calls == ["start", "epoch 1", "epoch 2", "end"]

    acc = _reader(tmp_path / "log")
    tags = acc.Tags()
    for tag in ("train/loss_batch", "train/lr", "train/loss", "train/accuracy", "val/loss",
                "val/accuracy", "lr"):
        assert tag in tags["scalars"], tag
    val = [(s.step, s.value) for s in acc.Scalars("val/accuracy")]
    assert val == [(e.epoch, pytest.approx(e.val_accuracy)) for e in result.history]
    batches = acc.Scalars("train/loss_batch")
    assert [s.step for s in batches] == list(range(1, 2 * 4 + 1))  # 32 / 8 = 4 per epoch
    images = acc.Images("filters/conv1")
    assert [i.step for i in images] == [0, 1, 2]  # the start and every epoch
    assert images[0].width >= 32
    assert tags["graph"] is True
    assert tb.notes == []


def test_logging_leaves_the_run_as_it_was(tmp_path):
    """The graph is traced in eval mode and the modes put back: BatchNorm's running statistics
    and the dropout draws are those of a run without a log, bit for bit on the CPU."""
    plain = Trainer(net_with_norm_and_dropout(), CONFIG, datasets=data())
    plain.run()
    tb = TensorBoardCallbacks(tmp_path / "log")
    logged = Trainer(net_with_norm_and_dropout(), CONFIG, tb, datasets=data())
    tb.attach(logged)
    logged.run()
    assert [e.train_loss for e in logged.result.history] == \
        [e.train_loss for e in plain.result.history]
    for (name, a), (_, b) in zip(plain.model.state_dict().items(),
                                 logged.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_filter_images_are_scaled_each_on_its_own():
    w = torch.stack([torch.full((3, 3, 3), -5.0), torch.arange(27.0).view(3, 3, 3)])
    img = filter_images(w)
    assert img.shape == (2, 3, 33, 33)  # RGB, 3 px enlarged 11 times
    assert img[1].min() == 0 and img[1].max() == 1
    grey = filter_images(torch.randn(5, 16, 5, 5))
    assert grey.shape[1] == 1


def test_tee_forwards_to_every_object_that_has_the_callback():
    a, b = Recorder(), Recorder()

    class Asker:
        def probe_request(self):
            return "request"

        def on_probe(self, report):
            self.report = report

    asker = Asker()
    tee = Tee(a, None, b, asker)
    tee.on_epoch(type("E", (), {"epoch": 1})())
    assert a.calls == b.calls == ["epoch 1"]
    assert not hasattr(tee, "on_batch")  # nobody has it: the Trainer skips it
    assert tee.probe_request() == "request"
    tee.on_probe("report")
    assert asker.report == "report"
    assert not hasattr(Tee(a), "probe_request")


def test_without_the_tensorboard_package_the_message_says_what_to_install(monkeypatch,
                                                                          tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(TensorBoardMissing, match=r"pip install .*\[tensorboard\]"):
        summary_writer(tmp_path)


def test_a_logged_trainer_factory_writes_the_log_and_still_calls_back(tmp_path):
    pytest.importorskip("tensorboard")
    recorder = Recorder()
    make = logged(lambda net, cfg, cb, ds, **kw: Trainer(net, cfg, cb, datasets=ds, **kw),
                  tmp_path / "run")
    trainer = make(net_with_norm_and_dropout(), CONFIG, recorder, data())
    assert trainer.run().status == "finished"
    assert recorder.calls[-1] == "end"
    assert len(_reader(tmp_path / "run").Scalars("val/accuracy")) == 2


def test_missing_is_said_without_importing_it(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    said = tensorboard_missing()
    assert "pip install tensorboard" in said and "convnet-designer[" not in said


def test_train_tensorboard_writes_the_log_and_a_missing_package_is_one_line(tmp_path, capsys,
                                                                            monkeypatch):
    from designer.cli import main

    design = Path(__file__).resolve().parents[2] / "presets" / "cifar10_example.convnet.json"
    args = ["train", str(design), "--dataset", "synthetic", "--train-size", "64",
            "--val-size", "32", "--epochs", "1", "--device", "cpu"]
    if importlib.util.find_spec("tensorboard") is not None:
        assert main([*args, "--tensorboard", str(tmp_path / "tb")]) == 0
        acc = _reader(tmp_path / "tb")
        assert len(acc.Scalars("val/accuracy")) == 1 and acc.Images("filters/conv")
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert main([*args, "--tensorboard", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "--tensorboard: TensorBoard logs need" in err and "Traceback" not in err


def test_a_runs_folder_is_named_by_its_design_and_run_and_unwritable_ones_are_said(tmp_path):
    assert run_log_dir(tmp_path, "CIFAR-10 example", "20261203-104233-3f9c0e") == \
        tmp_path / "CIFAR-10 example" / "20261203-104233-3f9c0e"
    # a name is one folder, never a path out of the log folder
    assert run_log_dir(tmp_path, "../a/b:c", "r").parent == tmp_path / "_a_b_c"
    assert run_log_dir(tmp_path, "..", "r").parent == tmp_path / "design"
    assert folder_problem(tmp_path / "new" / "logs") == ""
    assert (tmp_path / "new" / "logs").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    problem = folder_problem(blocker / "logs")
    assert problem.startswith(f"TensorBoard logs cannot be written into {blocker / 'logs'}: ")
