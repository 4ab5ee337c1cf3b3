"""Probes: the exact activations of a hand-made network (an edge-detecting CONV), bounded maps,
the first CONV's filters as pictures, the confusion matrix of a run's validation set, probes
between batches and while paused, and a run that trains exactly the same with probes as without
(modes, RNG and gradients untouched)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from designer.bridge.module import build_module
from designer.model.network import Network
from designer.training.data.common import DatasetError
from designer.training.events import ProbeRequest, TrainConfig
from designer.training.probes import (
    Evaluation,
    Prober,
    activations,
    display_image,
    filter_images,
    first_conv,
    prepare_image,
    untouched,
)
from designer.training.trainer import Trainer

SOBEL_X = [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]


def module_of(model, layer_id: str):
    """The torch module that computes a layer (layers are attributes named by their ids)."""
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == layer_id:
            return module
    raise KeyError(layer_id)


def edge_net() -> Network:
    """INPUT 6×5×1 - CONV 2 filters 3×3 - RELU - POOL 2×2 - FC 2."""
    n = Network("edges")
    x = n.add("Input", {"channels": 1, "height": 5, "width": 6}, id="input")
    x = n.add("Conv2d", {"out_channels": 2, "kernel_size": 3}, id="conv", inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[x])
    n.add("Linear", {"out_features": 2}, id="fc", inputs=[x])
    return n


def edge_model():
    """The edge network with known weights: filter 0 is a Sobel vertical-edge detector with
    bias 0.5, filter 1 its negative with bias 0; the FC sums each filter's pooled values."""
    net = edge_net()
    model = build_module(net)
    with torch.no_grad():
        conv = module_of(model, "conv")
        sobel = torch.tensor(SOBEL_X)
        conv.weight.copy_(torch.stack([sobel, -sobel])[:, None])
        conv.bias.copy_(torch.tensor([0.5, 0.0]))
        fc = module_of(model, "fc")
        fc.weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
        fc.bias.zero_()
    return net, model


def step_image() -> torch.Tensor:
    """5 rows × 6 columns: dark on the left half, bright on the right: one vertical edge."""
    x = torch.zeros(1, 5, 6)
    x[:, :, 3:] = 1.0
    return x


# ---------------------------------------------------------------------------------------------
# Exact values


def test_an_edge_detecting_conv_gives_the_exact_activations():
    net, model = edge_model()
    maps = activations(model, step_image(), net)
    assert list(maps) == ["input", "conv", "relu", "pool", "fc"]
    np.testing.assert_array_equal(maps["input"].maps, step_image().numpy())
    # Sobel-x over a 0|1 step: each row gives -x[j] + x[j+2], weighted 1 + 2 + 1 = 4
    edge = np.array([0.0, 4.0, 4.0, 0.0], dtype=np.float32)
    conv = maps["conv"]
    assert conv.shape == (2, 3, 4) and conv.whd == "4×3×2" and conv.step == 1
    np.testing.assert_array_equal(conv.maps[0], np.tile(edge + 0.5, (3, 1)))
    np.testing.assert_array_equal(conv.maps[1], np.tile(-edge, (3, 1)))
    relu = maps["relu"].maps
    np.testing.assert_array_equal(relu[0], conv.maps[0])
    np.testing.assert_array_equal(relu[1], np.zeros((3, 4), np.float32))
    # max over 2×2 windows of the 3×4 map (the third row is dropped): 4.5 and 4.5
    np.testing.assert_array_equal(maps["pool"].maps, np.array([[[4.5, 4.5]], [[0.0, 0.0]]],
                                                              np.float32))
    fc = maps["fc"]
    assert fc.shape == (2,) and fc.whd == "1×1×2" and fc.slices == 2
    np.testing.assert_array_equal(fc.maps.reshape(-1), [9.0, 0.0])
    assert {m.type for m in maps.values()} == {"Input", "Conv2d", "ReLU", "MaxPool2d", "Linear"}


def test_a_probe_reports_the_sample_its_prediction_and_the_filters():
    net, model = edge_model()
    data = TensorDataset(torch.stack([step_image(), step_image().flip(-1)]),
                         torch.tensor([0, 1]))
    prober = Prober(model, net, data)
    report = prober.probe(ProbeRequest(sample=0))
    s = report.sample
    assert s.name == "validation sample 0" and s.label == 0 and s.predicted == 0
    assert s.confidence == pytest.approx(math.exp(9) / (math.exp(9) + 1), rel=1e-6)
    assert report.filters.layer == "conv" and report.filters.weights.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(report.filters.weights[0, 0], SOBEL_X)
    assert report.val_size == 2 and report.class_names == ["0", "1"]
    # the mirrored image: the edge goes the other way, so the second filter sees it
    other = prober.probe(ProbeRequest(sample=1))
    np.testing.assert_array_equal(other.maps["relu"].maps[0][0], [0.5, 0.0, 0.0, 0.5])
    np.testing.assert_array_equal(other.maps["relu"].maps[1][0], [0.0, 4.0, 4.0, 0.0])
    assert other.sample.predicted == 1
    # an image of one's own instead of a validation sample
    mine = prober.probe(ProbeRequest(image=step_image().numpy(), image_name="edge.png"))
    assert mine.sample.name == "edge.png" and mine.sample.index is None
    np.testing.assert_array_equal(mine.maps["conv"].maps, report.maps["conv"].maps)
    only = prober.probe(ProbeRequest(sample=0, layers=("conv",)))
    assert list(only.maps) == ["conv"]


# ---------------------------------------------------------------------------------------------
# Bounded payloads


def test_large_maps_are_shrunk_by_block_means_and_slices_capped():
    n = Network("big")
    x = n.add("Input", {"channels": 3, "height": 64, "width": 48}, id="input")
    n.add("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, id="conv", inputs=[x])
    torch.manual_seed(0)
    model = build_module(n)
    image = torch.randn(3, 64, 48)
    full = activations(model, image, n)["conv"]
    assert full.maps.shape == (16, 64, 48) and full.step == 1
    small = activations(model, image, n, max_values=4096)["conv"]
    assert small.shape == (16, 64, 48) and small.depth == 16 and small.slices == 16
    assert small.maps.size <= 4096 and small.step > 1
    expected = F.avg_pool2d(torch.from_numpy(full.maps)[None], small.step, small.step,
                            ceil_mode=True)[0]
    np.testing.assert_allclose(small.maps, expected.numpy(), rtol=1e-5, atol=1e-6)
    capped = activations(model, image, n, max_slices=5)["conv"]
    assert capped.slices == 5 and capped.depth == 16
    np.testing.assert_array_equal(capped.maps, full.maps[:5])


# ---------------------------------------------------------------------------------------------
# Filters


def test_first_conv_filters_are_rgb_pictures_for_a_colour_input():
    n = Network("rgb")
    x = n.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input")
    x = n.add("BatchNorm2d", {}, id="bn", inputs=[x])
    x = n.add("Conv2d", {"out_channels": 4, "kernel_size": 5}, id="first", inputs=[x])
    x = n.add("Conv2d", {"out_channels": 2, "kernel_size": 3}, id="second", inputs=[x])
    n.add("Linear", {"out_features": 3}, id="fc", inputs=[x])
    assert first_conv(n) == "first"
    model = build_module(n)
    f = Prober(model, n).filters()
    assert f.layer == "first" and f.rgb and f.count == 4
    pics = f.images()
    assert pics.shape == (4, 5, 5, 3)
    assert pics.min() >= 0 and pics.max() <= 1
    # each picture scaled by its own largest |weight|: that weight is at 0 or 1
    w = f.weights
    for i in range(4):
        top = np.abs(w[i]).max()
        assert np.isclose(np.abs(pics[i] - 0.5).max(), 0.5)
        np.testing.assert_allclose(pics[i], 0.5 + w[i].transpose(1, 2, 0) / (2 * top), atol=1e-6)
    shared = f.images(per_filter=False)
    np.testing.assert_allclose(shared, 0.5 + w.transpose(0, 2, 3, 1) / (2 * np.abs(w).max()),
                               atol=1e-6)


def test_filters_on_a_grey_input_are_one_grey_picture_each():
    net, model = edge_model()
    f = Prober(model, net).filters()
    assert not f.rgb
    pics = f.images()
    assert pics.shape == (2, 3, 3)
    np.testing.assert_allclose(pics[0], 0.5 + np.array(SOBEL_X) / 4)
    np.testing.assert_allclose(pics[1], 0.5 - np.array(SOBEL_X) / 4)
    assert filter_images(np.zeros((2, 4, 3, 3))).shape == (8, 3, 3)
    np.testing.assert_array_equal(filter_images(np.zeros((1, 1, 2, 2))), np.full((1, 2, 2), 0.5))


def test_display_image_undoes_the_normalisation():
    raw = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    normalised = (raw - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    pic = display_image(normalised, mean, std)
    assert pic.shape == (4, 5, 3)
    np.testing.assert_allclose(pic, raw.transpose(1, 2, 0), atol=1e-6)
    grey = display_image(np.array([[[2.0, 4.0], [6.0, 10.0]]]))
    np.testing.assert_allclose(grey, [[0.0, 0.25], [0.5, 1.0]])


def test_a_picture_is_shaped_and_normalised_like_the_data_set():
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 0] = 255  # pure red, opaque
    rgba[..., 3] = 255
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.5, 1.0)
    x = prepare_image(rgba, (3, 5, 10), mean, std)
    assert x.shape == (3, 5, 10) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], 2.0)  # (1 - 0.5) / 0.25
    np.testing.assert_allclose(x[1], -1.0)
    np.testing.assert_allclose(x[2], -0.5)
    grey = prepare_image(rgba[..., :3], (1, 10, 20))  # luminance, no statistics: 0..1
    np.testing.assert_allclose(grey, round(0.299 * 255) / 255, atol=1 / 255)
    with pytest.raises(DatasetError, match="input"):
        prepare_image(rgba, (2, 10, 20))
    # through the prober: the picture of an edge gives the exact maps of the edge
    net, model = edge_model()
    pixels = (step_image()[0].numpy() * 255).astype(np.uint8)
    report = Prober(model, net).probe(ProbeRequest(image=pixels, image_name="edge.png"))
    np.testing.assert_array_equal(report.maps["conv"].maps[0], np.tile([0.5, 4.5, 4.5, 0.5],
                                                                      (3, 1)))


# ---------------------------------------------------------------------------------------------
# Evaluation


def test_the_confusion_matrix_counts_every_sample_once():
    labels = [0, 0, 1, 1, 2, 2, 2]
    preds = [0, 1, 1, 1, 0, 2, 0]
    conf = [0.9, 0.6, 0.8, 0.7, 0.95, 0.5, 0.4]
    e = Evaluation(labels, preds, conf, ["a", "b", "c"])
    assert e.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 1]]
    assert e.confusion.sum() == e.size == 7
    assert e.accuracy == pytest.approx(4 / 7)
    np.testing.assert_allclose(e.per_class_accuracy, [0.5, 1.0, 1 / 3])
    assert e.cell(2, 0).tolist() == [4, 6]  # most confident first
    assert e.most_confidently_wrong(2).tolist() == [4, 1]
    # a prediction past the named classes gets a column of its own
    wider = Evaluation([0, 1], [3, 1], [0.5, 0.5], ["a", "b"])
    assert wider.class_names == ["a", "b", "2", "3"] and wider.confusion.shape == (4, 4)
    assert np.isnan(wider.per_class_accuracy[2])


# ---------------------------------------------------------------------------------------------
# During training


def blob_net(shape=(3, 12, 12), classes=4) -> Network:
    """CONV - BN - RELU - POOL - DROPOUT - FC: dropout draws random numbers, BN keeps running
    statistics; a probe must disturb neither."""
    c, h, w = shape
    n = Network("blobs")
    x = n.add("Input", {"channels": c, "height": h, "width": w}, id="input")
    x = n.add("Conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, id="conv",
              inputs=[x])
    x = n.add("BatchNorm2d", {}, id="bn", inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    x = n.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[x])
    x = n.add("Dropout", {"p": 0.3}, id="drop", inputs=[x])
    n.add("Linear", {"out_features": classes}, id="fc", inputs=[x])
    return n


def blobs(n: int, shape=(3, 12, 12), classes=4, seed=0) -> TensorDataset:
    protos = torch.randn(classes, *shape, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return TensorDataset(protos[y] + 1.5 * torch.randn(n, *shape, generator=g), y)


class Watcher:
    """Callbacks that want a probe every epoch (sample 3) and keep the reports."""

    def __init__(self, request: ProbeRequest | None = None):
        self.request = request or ProbeRequest(sample=3, wrong=5)
        self.reports = []
        self.epochs = []
        self.trainer = None

    def probe_request(self):
        return self.request

    def on_probe(self, report):
        self.reports.append(report)

    def on_epoch(self, e):
        self.epochs.append(e)


def run(callbacks, epochs=3, n_val=60):
    cfg = TrainConfig(epochs=epochs, batch_size=16, optimizer="momentum", lr=0.05,
                      device="cpu", seed=3)
    trainer = Trainer(blob_net(), cfg, callbacks,
                      datasets=(blobs(160, seed=1), blobs(n_val, seed=2), None))
    if callbacks is not None:
        callbacks.trainer = trainer
    result = trainer.run()
    assert result.status == "finished", result.fault
    return trainer, result


def test_a_run_with_probes_trains_exactly_as_one_without():
    class AlsoBetweenBatches(Watcher):
        def on_batch(self, e):
            if e.step == 2:  # in train mode: BatchNorm would update, Dropout draw numbers
                self.trainer.request_probe()

    plain, plain_result = run(None)
    watcher = AlsoBetweenBatches()
    probed, probed_result = run(watcher)
    assert [(r.epoch, r.step) for r in watcher.reports] == [
        (1, 2), (1, None), (2, 2), (2, None), (3, 2), (3, None)]
    for a, b in zip(plain_result.history, probed_result.history):
        assert (a.train_loss, a.val_loss, a.val_accuracy) == (b.train_loss, b.val_loss,
                                                              b.val_accuracy)
    sa, sb = plain.model.state_dict(), probed.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:  # weights, BatchNorm running statistics: bit for bit
        assert torch.equal(sa[key], sb[key]), key
    assert probed.model.training == plain.model.training


def test_epoch_probes_carry_the_confusion_matrix_of_the_validation_set():
    watcher = Watcher()
    run(watcher, n_val=60)
    for report, epoch in zip(watcher.reports, watcher.epochs):
        assert not report.error
        e = report.evaluation
        assert e.confusion.shape == (4, 4)
        assert e.confusion.sum() == e.size == 60 == report.val_size
        assert e.accuracy == pytest.approx(epoch.val_accuracy)  # the Trainer's own figure
        assert report.weights == f"after epoch {epoch.epoch}"
        assert report.sample.index == 3 and report.sample.label == 3
        assert set(report.maps) == {"input", "conv", "bn", "relu", "pool", "drop", "fc"}
        assert report.maps["conv"].maps.shape == (6, 12, 12)
        assert report.filters.rgb and report.filters.weights.shape == (6, 3, 3, 3)
        wrong = report.wrong
        assert len(wrong) == min(5, e.size - int(np.trace(e.confusion)))
        assert all(s.label != s.predicted for s in wrong)
        assert [s.confidence for s in wrong] == sorted((s.confidence for s in wrong),
                                                       reverse=True)
    last = watcher.reports[-1].evaluation
    labels = blobs(60, seed=2).tensors[1].numpy()
    np.testing.assert_array_equal(last.labels, labels)  # in the validation set's order


def test_the_maps_of_an_epoch_are_those_of_its_weights():
    watcher = Watcher(ProbeRequest(sample=5, evaluation=False))
    trainer, _ = run(watcher, epochs=2)
    assert watcher.reports[-1].evaluation is None
    # after the run, the model is as the last epoch left it: probing it again gives the same
    again = trainer.prober.probe(ProbeRequest(sample=5))
    for nid, fm in watcher.reports[-1].maps.items():
        np.testing.assert_array_equal(fm.maps, again.maps[nid].maps, err_msg=nid)


def test_a_probe_between_batches_on_request():
    class AskAtStep3(Watcher):
        def on_batch(self, e):
            if e.epoch == 1 and e.step == 3:
                self.trainer.request_probe()

    watcher = AskAtStep3(ProbeRequest(sample=0, evaluation=True))
    run(watcher, epochs=2)
    assert [(r.epoch, r.step) for r in watcher.reports] == [(1, 3), (1, None), (2, None)]
    between = watcher.reports[0]
    assert between.evaluation is None and between.weights == "epoch 1, batch 3"


def test_a_probe_while_paused():
    got = threading.Event()

    class PauseAndLook(Watcher):
        def on_batch(self, e):
            if e.epoch == 1 and e.step == 2:
                self.trainer.pause()

                def look():
                    self.trainer.request_probe()
                    got.wait(10)
                    self.trainer.resume()

                threading.Thread(target=look).start()

        def on_probe(self, report):
            super().on_probe(report)
            got.set()

    watcher = PauseAndLook(ProbeRequest(sample=0))
    run(watcher, epochs=1)
    assert (watcher.reports[0].epoch, watcher.reports[0].step) == (1, 2)


def test_a_failing_probe_is_reported_and_the_run_goes_on():
    watcher = Watcher(ProbeRequest(image=np.zeros((1, 5, 5), np.float32), image_name="bad.png"))
    _, result = run(watcher, epochs=2)
    assert result.epochs_done == 2
    assert len(watcher.reports) == 2
    assert all(r.error and r.sample is None for r in watcher.reports)


def test_no_probe_request_means_no_probe():
    class NoThanks(Watcher):
        def probe_request(self):
            return None

    watcher = NoThanks()
    trainer, _ = run(watcher, epochs=1)
    assert watcher.reports == [] and trainer.prober is None


def test_untouched_restores_modes_rng_and_gradients():
    net = blob_net()
    model = build_module(net)
    model.train()
    module_of(model, "conv").eval()  # mixed modes come back as they were
    modes = [m.training for m in model.modules()]
    x = torch.randn(4, 3, 12, 12)
    F.cross_entropy(model(x), torch.tensor([0, 1, 2, 3])).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    prober = Prober(model, net, blobs(8))
    prober.probe(ProbeRequest(sample=1))
    with untouched(model):
        model(x)
        torch.rand(3)  # whatever runs inside draws from a generator that is put back
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert all(torch.equal(v, stats[k]) for k, v in model.state_dict().items())
