"""Training speed (issue 21), on the CPU: the fast settings resolved per device with a made-up
GPU, where a data set lives, the utilisation arithmetic and the GPU peak table, the on-device
batcher against the host path, and torch.compile's fallback to eager with the reason."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from designer.cli import parser
from designer.cli.train import config_from
from designer.model.analysis import analyze
from designer.model.network import Network
from designer.training.batches import device_bytes, make_batches, skip_batches
from designer.training.data.common import Augment, ImageDataset
from designer.training.events import ConfigError, TrainConfig
from designer.training.speed import (
    DATA_SHARE,
    Capability,
    peak_flops,
    place_data,
    resolve_speed,
    train_flops_per_image,
    utilisation,
)
from designer.training.trainer import Trainer

from .test_trainer import data, tiny_net

GPU = Capability(bf16=True, cudnn=True)
OLD_GPU = Capability(bf16=False, cudnn=True)  # a Volta / Turing: no native bf16


# ---------------------------------------------------------------------------------------------
# The fast settings


def test_auto_settings_are_fast_on_a_gpu_and_plain_on_the_cpu():
    cfg = TrainConfig()
    assert (cfg.precision, cfg.memory_format, cfg.cudnn_benchmark, cfg.compile) == \
        ("auto", "auto", None, False)
    gpu = resolve_speed(cfg, "cuda", GPU, conv=True)
    assert (gpu.precision, gpu.channels_last, gpu.cudnn_benchmark, gpu.compile) == \
        ("bf16", True, True, False)
    # the CPU stays fp32 and contiguous even where it could run bf16
    cpu = resolve_speed(cfg, "cpu", GPU, conv=True)
    assert (cpu.precision, cpu.channels_last, cpu.cudnn_benchmark) == ("fp32", False, False)
    mps = resolve_speed(cfg, "mps", Capability(), conv=True)
    assert (mps.precision, mps.channels_last, mps.cudnn_benchmark) == ("fp32", False, False)


def test_auto_follows_the_gpu_and_the_network():
    cfg = TrainConfig()
    assert resolve_speed(cfg, "cuda", OLD_GPU, conv=True).precision == "fp32"
    assert resolve_speed(cfg, "cuda", GPU, conv=False).channels_last is False  # an MLP
    assert resolve_speed(cfg, "cuda", Capability(bf16=True), conv=True).cudnn_benchmark is False


def test_each_fast_setting_can_be_set():
    cfg = TrainConfig(precision="fp16", memory_format="contiguous", cudnn_benchmark=False,
                      compile=True)
    s = resolve_speed(cfg, "cuda", GPU, conv=True)
    assert (s.precision, s.channels_last, s.cudnn_benchmark, s.compile) == \
        ("fp16", False, False, True)
    assert resolve_speed(TrainConfig(precision="fp32"), "cuda", GPU, True).precision == "fp32"
    # channels_last asked for: on CUDA whatever the network; the former switch still works
    assert resolve_speed(TrainConfig(memory_format="channels_last"), "cuda", GPU,
                         conv=False).channels_last
    assert resolve_speed(TrainConfig(channels_last=True, memory_format="contiguous"), "cuda",
                         GPU, conv=True).channels_last
    off = resolve_speed(TrainConfig(memory_format="channels_last", cudnn_benchmark=True),
                        "cpu", Capability(), conv=True)
    assert not off.channels_last and not off.cudnn_benchmark
    assert "ignored on CPU" in off.line()


def test_the_settings_line_says_what_runs_and_why():
    line = resolve_speed(TrainConfig(), "cuda", GPU, conv=True).line()
    assert line == ("speed: bf16 (auto: bf16 autocast on this GPU) · channels_last (auto: CONV "
                    "network on CUDA) · cudnn.benchmark on (auto) · torch.compile off")
    line = resolve_speed(TrainConfig(precision="bf16", compile=True), "cuda", GPU, True).line()
    assert line.startswith("speed: bf16 · ") and line.endswith("torch.compile on")


def test_the_new_settings_are_checked():
    ok = TrainConfig.from_dict({"precision": "auto", "memory_format": "channels_last",
                                "cudnn_benchmark": None, "compile": True,
                                "data_on_device": False})
    assert ok.compile and ok.memory_format == "channels_last" and ok.data_on_device is False
    for key, bad in (("compile", "yes"), ("memory_format", "nhwc"), ("cudnn_benchmark", 1),
                     ("data_on_device", "auto"), ("precision", "fp8")):
        with pytest.raises(ConfigError, match=key):
            TrainConfig.from_dict({key: bad})


# ---------------------------------------------------------------------------------------------
# Where the data set lives


def test_a_data_set_is_kept_on_the_gpu_up_to_a_share_of_its_free_memory():
    free = 80 << 30
    share = int(free * DATA_SHARE)
    assert DATA_SHARE == 0.25
    assert place_data(share, free, "cuda").on_device
    assert not place_data(share + 1, free, "cuda").on_device
    kept = place_data(150 << 20, free, "cuda")
    assert kept.on_device and "150.0 MiB" in kept.why and "25%" in kept.why
    assert "pinned memory" in place_data(30 << 30, free, "cuda").why
    # unknown free memory: from the host; the CPU holds its data where it is
    assert not place_data(1, None, "cuda").on_device
    assert place_data(1, free, "cpu") == place_data(1, free, "cpu", want=True)
    assert not place_data(1, free, "cpu", want=True).on_device
    # the setting decides either way
    assert place_data(60 << 30, free, "cuda", want=True).on_device
    assert not place_data(1, free, "cuda", want=False).on_device


def augmented_set(n=40, seed=3, pad=2, flip=True):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 4
    return ImageDataset(images, labels, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3),
                        Augment(n, pad=pad, seed=seed, flip=flip))


def walk(batches, ds, epochs=2):
    out = []
    for epoch in range(1, epochs + 1):
        ds.set_epoch(epoch)
        out.append([(x.clone(), y.clone()) for x, y in batches])
    return out


@pytest.mark.parametrize("channels_last, pad, flip", [(False, 2, True), (True, 2, True),
                                                     (False, 0, True), (False, 3, False)])
def test_the_on_device_batcher_gives_the_host_paths_batches(channels_last, pad, flip):
    """The data set held on the device (here the CPU stands in for it): indexing,
    normalisation, crop and flip done there give exactly the batches of the host path for the
    same seed, epoch after epoch, and the caller's data set stays where it was."""
    ds = augmented_set(pad=pad, flip=flip)
    dev = torch.device("cpu")
    host, kept = make_batches(ds, 8, True, torch.Generator().manual_seed(5), dev, False, 0)
    held, _ = make_batches(ds, 8, True, torch.Generator().manual_seed(5), dev, channels_last,
                           0, resident=True)
    assert type(held).__name__ == "_DeviceBatches" and type(host).__name__ != "_DeviceBatches"
    assert len(held) == len(host) == 5
    a, b = walk(host, ds), walk(held, ds)
    assert not torch.equal(a[0][0][0], a[1][0][0])  # a new order and augmentation each epoch
    for epoch_a, epoch_b in zip(a, b):
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert held.ds is not ds and held.ds.augment is ds.augment
    # validation: in order, the lone small batch kept
    plain, _ = make_batches(ds, 16, False, None, dev, False, 0)
    kept_val, _ = make_batches(ds, 16, False, None, dev, False, 0, resident=True)
    assert [len(y) for _, y in kept_val] == [16, 16, 8]
    assert all(torch.equal(a_[0], b_[0]) for a_, b_ in zip(plain, kept_val))
    # resuming: a pass that skips its first batches draws the same order
    again, _ = make_batches(ds, 8, True, torch.Generator().manual_seed(5), dev, channels_last,
                            0, resident=True)
    skip_batches(again, 3)
    ds.set_epoch(1)
    rest = list(again)
    assert len(rest) == 2
    assert all(torch.equal(x, xa) for (x, _), (xa, _) in zip(rest, a[0][3:]))


def test_the_bytes_a_data_set_takes_on_the_device():
    ds = augmented_set(n=40)
    assert device_bytes(ds) == 40 * 3 * 8 * 8 + 40 * 8  # uint8 images as they are + labels
    x = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)
    tensors = torch.utils.data.TensorDataset(x, torch.zeros(10, dtype=torch.long))
    assert device_bytes(tensors) == 10 * 16 * 4 + 10 * 8  # made float32 first
    assert device_bytes(torch.utils.data.Subset(tensors, range(5))) == (10 * 16 * 4 + 80) // 2
    assert device_bytes([(x[0], 0)]) is None  # items made on demand


# ---------------------------------------------------------------------------------------------
# Utilisation


def test_utilisation_arithmetic():
    macs = 4_089_184_256  # ResNet-50 at 224×224
    assert train_flops_per_image(macs) == 6 * macs
    achieved, util = utilisation(macs, 3000.0, peak_flops("NVIDIA H100 80GB HBM3", "bf16"))
    assert achieved == pytest.approx(6 * macs * 3000)
    assert util == pytest.approx(6 * macs * 3000 / 989.4e12)
    assert utilisation(macs, 3000.0, None) == (pytest.approx(6 * macs * 3000), None)
    assert utilisation(macs, 0.0, 1e15) == (0.0, 0.0)


@pytest.mark.parametrize("name, precision, tflops", [
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4),  # the SXM part's name
    ("NVIDIA H100 PCIe", "bf16", 756.5),
    ("NVIDIA H100 NVL", "fp16", 835.5),
    ("NVIDIA H200", "bf16", 989.4),
    ("NVIDIA H200 NVL", "bf16", 835.5),
    ("NVIDIA GH200 480GB", "bf16", 989.4),
    ("NVIDIA A100-SXM4-80GB", "fp32", 156.0),
    ("NVIDIA A100 80GB PCIe", "bf16", 312.0),
    ("NVIDIA A10", "bf16", 125.0),
    ("NVIDIA L4", "bf16", 121.0),
    ("NVIDIA L40S", "bf16", 362.1),
    ("NVIDIA GeForce RTX 4090", "bf16", 165.2),
    ("Tesla V100-SXM2-16GB", "fp16", 125.0),
])
def test_known_gpus_peaks(name, precision, tflops):
    assert peak_flops(name, precision) == pytest.approx(tflops * 1e12)


def test_no_peak_for_an_unknown_gpu_or_precision():
    assert peak_flops("NVIDIA GeForce GTX 1080", "fp32") is None
    assert peak_flops("CPU (2 threads)", "fp32") is None
    assert peak_flops("Tesla V100-SXM2-16GB", "bf16") is None  # no bf16 tensor cores


# ---------------------------------------------------------------------------------------------
# The Trainer: settings line, FLOP/s, torch.compile


class Seen:
    def __init__(self):
        self.batches, self.phases, self.start = [], [], None

    def on_start(self, e):
        self.start = e

    def on_batch(self, e):
        self.batches.append(e)

    def on_phase(self, e):
        self.phases.append(e)


def cfg(**kw):
    kw = {"epochs": 1, "batch_size": 32, "device": "cpu", "schedule": "none", **kw}
    return TrainConfig(**kw)


def test_a_run_says_its_speed_settings_and_its_model_flops():
    seen = Seen()
    result = Trainer(tiny_net(), cfg(), seen, datasets=data()).run()
    assert result.status == "finished"
    line = "speed: fp32 (auto: fp32 on CPU) · contiguous (auto: CPU) · cudnn.benchmark off " \
           "(auto: no cuDNN on CPU) · torch.compile off"
    assert line in seen.start.notes and line in result.notes
    assert result.speed["precision"] == "fp32" and result.speed["compile"] is False
    macs = analyze(tiny_net()).totals.macs
    rated = [e for e in seen.batches if e.images_per_s > 0]
    assert rated
    for e in rated:
        assert e.model_flops_per_s == pytest.approx(6 * macs * e.images_per_s)
        assert e.utilisation is None  # a CPU: no peak
    assert result.model_flops_per_s == rated[-1].model_flops_per_s
    assert result.compile_s is None


def losses(result):
    return [(e.train_loss, e.val_loss) for e in result.history]


def test_a_compile_that_fails_at_once_falls_back_to_eager_and_says_why(monkeypatch):
    def refuse(model, *a, **kw):
        raise RuntimeError("Dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", refuse)
    seen = Seen()
    result = Trainer(tiny_net(), cfg(compile=True), seen, datasets=data()).run()
    assert result.status == "finished"
    assert ("torch.compile failed: RuntimeError: Dynamo is not supported on this Python: "
            "training in eager mode") in result.notes
    assert result.speed["compile"] is False and result.compile_s is None and not seen.phases
    assert any(n.endswith("torch.compile off") for n in result.notes)
    eager = Trainer(tiny_net(), cfg(), datasets=data()).run()
    assert losses(result) == losses(eager)


def dropout_net() -> Network:
    n = Network("dropout")
    x = n.add("Input", {"channels": 3, "height": 16, "width": 16}, id="input")
    x = n.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}, id="conv",
              inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[x])
    x = n.add("Dropout", {"p": 0.5}, id="drop", inputs=[x])
    n.add("Linear", {"out_features": 4}, id="fc", inputs=[x])
    return n


class BreaksWhenCalled(nn.Module):
    """What a compile that fails in its first call looks like: the wrapper raises there."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        self.model(x)  # it got as far as running the model (its dropout drew from the RNG)
        raise RuntimeError("BackendCompilerFailed: inductor: C++ compile error\n  details")


def test_a_compile_that_fails_at_the_first_step_falls_back_with_the_same_results(monkeypatch):
    monkeypatch.setattr(torch, "compile", BreaksWhenCalled)
    seen = Seen()
    net = dropout_net()  # draws from the RNG
    result = Trainer(net, cfg(epochs=2, compile=True), seen, datasets=data()).run()
    assert result.status == "finished" and result.fault is None
    for what in ("training", "validation"):
        assert (f"torch.compile failed at the first {what} step (RuntimeError: "
                f"BackendCompilerFailed: inductor: C++ compile error): the {what} steps run "
                f"in eager mode") in result.notes
    assert [(p.what, p.done) for p in seen.phases] == [
        ("training", False), ("training", True), ("validation", False), ("validation", True)]
    assert seen.phases[1].note.startswith("torch.compile failed")
    assert result.speed["compile"] is False and len(result.speed["compile_failed"]) == 2
    assert result.compile_s is not None and result.compile_s >= 0
    # the failed call left nothing behind: no gradient, no RNG drawn, the same run as eager
    eager = Trainer(net, cfg(epochs=2), datasets=data()).run()
    assert losses(result) == losses(eager)


def test_a_model_that_fails_in_eager_mode_too_is_the_models_fault(monkeypatch):
    monkeypatch.setattr(torch, "compile", BreaksWhenCalled)
    train, val, _ = data()
    wrong = torch.utils.data.TensorDataset(train.tensors[0][:, :, :8, :8], train.tensors[1])
    result = Trainer(tiny_net(), cfg(compile=True), datasets=(wrong, val)).run()
    assert result.status == "failed" and result.fault.kind in ("model", "shape", "data")


def test_a_compiled_model_trains_and_its_compile_time_is_a_phase(monkeypatch, tmp_path):
    """Dynamo for real (its eager backend: Inductor's C++ build takes minutes on a small CPU);
    the checkpoint holds the model's own names, not the compiled wrapper's."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    seen = Seen()
    result = Trainer(tiny_net(), cfg(compile=True, checkpoint_dir=str(tmp_path)), seen,
                     datasets=data(n_train=96, n_val=40)).run()
    assert result.status == "finished", result.fault
    assert result.speed["compile"] is True and result.speed["compile_failed"] == []
    assert [(p.what, p.done, p.note) for p in seen.phases] == [
        ("training", False, ""), ("training", True, "compiled"),
        ("validation", False, ""), ("validation", True, "compiled")]
    assert result.compile_s == pytest.approx(sum(p.seconds for p in seen.phases))
    assert seen.phases[1].text().startswith("compiling the training step… ")
    assert any(n.endswith("torch.compile on") for n in result.notes)
    from designer.training.runtime import load_checkpoint

    state, _ = load_checkpoint(tmp_path / "last.safetensors")
    assert not any("_orig_mod" in k for k in state)


# ---------------------------------------------------------------------------------------------
# The command line


def test_cli_speed_options():
    build_parser = parser

    args = build_parser().parse_args(["train", "x.convnet.json", "--compile", "--memory-format",
                                      "contiguous", "--no-cudnn-benchmark",
                                      "--data-on-device", "--precision", "auto"])
    c = config_from(args, {})
    assert (c.compile, c.memory_format, c.cudnn_benchmark, c.data_on_device, c.precision) == \
        (True, "contiguous", False, True, "auto")
    c = config_from(build_parser().parse_args(["train", "x.convnet.json"]),
                    {"compile": True, "cudnn_benchmark": True})
    assert c.compile and c.cudnn_benchmark  # the design's saved settings hold
    c = config_from(build_parser().parse_args(["train", "x.convnet.json", "--no-compile"]),
                    {"compile": True})
    assert c.compile is False


def test_the_analysis_counts_auto_as_the_precision_that_runs():
    from designer.training.events import analysis_dtype

    assert analysis_dtype("auto", "cuda") == "bf16"
    assert analysis_dtype("auto", "cpu") == analysis_dtype("bf16", "mps") == "fp32"
    assert analysis_dtype("fp16", "cuda") == "fp16"
    analyze(tiny_net(), dtype=analysis_dtype(TrainConfig().precision, "cuda"))  # a known dtype


def test_the_command_line_shows_the_compile_phase_and_the_utilisation():
    import io

    from designer.cli.train import ProgressBar, metrics_line, speed_text
    from designer.training.events import BatchEvent, EpochEvent, PhaseEvent, RunResult

    out = io.StringIO()
    bar = ProgressBar(out, 2, "tiny")
    bar.on_phase(PhaseEvent("compiling", "training", 0.0, False))
    bar.on_phase(PhaseEvent("compiling", "training", 12.34, True, "compiled"))
    assert out.getvalue().endswith("compiling the training step… 12.3 s: compiled\n")
    e = BatchEvent(1, 3, 10, 3, 1.0, 0.5, 0.01, 3000.0, 1.0, 2.0, None,
                   model_flops_per_s=6 * 4.1e9 * 3000, utilisation=0.0746)
    assert speed_text(e) == " 73.8 TFLOP/s (7% of peak)"
    bar.on_batch(e)
    assert "3,000 img/s 73.8 TFLOP/s (7% of peak) ETA" in out.getvalue()
    assert speed_text(BatchEvent(1, 1, 1, 1, 1.0, 0.5, 0.01, 0.0, 0.0, 0.0, None)) == ""
    assert speed_text(BatchEvent(1, 1, 1, 1, 1.0, 0.5, 0.01, 10.0, 0.0, 0.0, None,
                                 model_flops_per_s=2.5e9)) == " 2.5 GFLOP/s"
    history = [EpochEvent(1, 1.0, 0.5, 1.1, 0.4, 0.01, 3.0)]
    gpu = RunResult("finished", 1, history, device="NVIDIA H200", seconds=9.0,
                    model_flops_per_s=7.38e13, utilisation=0.0746, compile_s=41.0)
    assert metrics_line(gpu).endswith("model 73.8 TFLOP/s (7% of peak), compiling 41.0 s")
