"""Looking inside a network: what every layer makes of one sample (its feature maps), the first
CONV layer's filters, and how the validation set is classified (confusion matrix, per-class
accuracy, the most confidently wrong samples). TORCH, no Qt.

    prober = Prober(model, network, data=val_split, info=info)
    report = prober.probe(ProbeRequest(sample=12))      # a ProbeReport of plain numpy arrays

Probing never disturbs a training run that owns the model: it runs one copy of one sample in
eval mode under torch.no_grad(), then puts back every module's train/eval mode and the CPU (and
the model's CUDA device's) random number generator state; gradients are never touched. The
Trainer probes at the end of an epoch (after validation, in its own thread, so there is no race
with the optimizer) or, when asked, between two batches.

Payloads are bounded so that a window can take them once per epoch: a layer's maps keep at most
`max_slices` depth slices and `max_values` values (each slice shrunk by the mean of step×step
blocks where needed); thumbnails are at most THUMB_SIDE pixels high and wide.

Activations are keyed by the design's layer ids: DesignModule.trace() gives every layer's output
by id, the same mapping the module builder uses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..model.analysis import Report, analyze
from ..model.network import Network
from .events import ProbeRequest

__all__ = [
    "DEFAULT_MAX_SLICES",
    "DEFAULT_MAX_VALUES",
    "THUMB_SIDE",
    "Evaluation",
    "FeatureMap",
    "Filters",
    "ProbeReport",
    "ProbeRequest",
    "Prober",
    "Sample",
    "activations",
    "display_image",
    "filter_images",
    "first_conv",
    "prepare_image",
    "thumbnail",
    "untouched",
]

DEFAULT_MAX_VALUES = 1 << 18  # values per layer sent to a window (1 MiB of float32)
DEFAULT_MAX_SLICES = 4096
THUMB_SIDE = 64


# ---------------------------------------------------------------------------------------------
# Records: plain numpy, nothing that holds the model


@dataclass
class FeatureMap:
    """One layer's output for one sample."""

    id: str
    type: str  # the layer type, e.g. "Conv2d"
    shape: tuple[int, ...]  # the whole output for one sample: (C, H, W), or (N,) for FC
    maps: np.ndarray  # (k, h, w) float32: depth slices 0..k-1; an (N,) output is (N, 1, 1)
    step: int = 1  # each value is the mean of a step×step block (1: the values themselves)

    @property
    def depth(self) -> int:
        return int(self.shape[0])

    @property
    def slices(self) -> int:
        """How many depth slices `maps` holds (the depth, unless there were over max_slices)."""
        return int(self.maps.shape[0])

    @property
    def spatial(self) -> tuple[int, int]:
        """(H, W) of the layer's output (1, 1 for a vector)."""
        return (int(self.shape[1]), int(self.shape[2])) if len(self.shape) == 3 else (1, 1)

    def units(self, r: int, c: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The output units (first, last row), (first, last column) that the value shown at
        (r, c) stands for: itself, or the step×step block it is the mean of."""
        h, w = self.spatial
        s = self.step
        return ((r * s, min((r + 1) * s, h) - 1), (c * s, min((c + 1) * s, w) - 1))

    @property
    def whd(self) -> str:
        """The volume the notes' way: W×H×D."""
        h, w = self.spatial
        return f"{w}×{h}×{self.depth}"


@dataclass
class Filters:
    """The weights of a CONV layer, (out, in, kh, kw): one picture per filter."""

    layer: str
    weights: np.ndarray  # (out, in/groups, kh, kw) float32

    @property
    def rgb(self) -> bool:
        """Three input channels: each filter is one colour picture (the notes' first-layer
        filters); otherwise every (filter, input channel) slice is a grey picture."""
        return self.weights.shape[1] == 3

    @property
    def count(self) -> int:
        return int(self.weights.shape[0])

    def images(self, per_filter: bool = True) -> np.ndarray:
        return filter_images(self.weights, per_filter)


@dataclass
class Evaluation:
    """How a model classifies a labelled set, sample by sample in the set's order."""

    labels: np.ndarray  # (N,) int64, the true classes
    predictions: np.ndarray  # (N,) int64
    confidence: np.ndarray  # (N,) float32: the softmax probability of the prediction
    class_names: list[str]

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.predictions = np.asarray(self.predictions, dtype=np.int64).reshape(-1)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        top = int(max(self.labels.max(initial=-1), self.predictions.max(initial=-1))) + 1
        k = max(len(self.class_names), top)
        self.class_names = list(self.class_names) + [str(i) for i in
                                                    range(len(self.class_names), k)]
        pairs = self.labels * k + self.predictions
        self.confusion = np.bincount(pairs, minlength=k * k).reshape(k, k)

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    @property
    def classes(self) -> int:
        return len(self.class_names)

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion)) / self.size if self.size else math.nan

    @property
    def per_class_accuracy(self) -> np.ndarray:
        """(K,) correct / samples of each true class; NaN for a class with no samples."""
        totals = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.confusion) / np.maximum(totals, 1), np.nan)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the samples of class `true` predicted as `predicted`, the most confident
        first."""
        idx = np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        return idx[np.argsort(-self.confidence[idx], kind="stable")]

    def most_confidently_wrong(self, n: int) -> np.ndarray:
        """Indices of up to n misclassified samples, the most confident mistake first."""
        idx = np.flatnonzero(self.labels != self.predictions)
        return idx[np.argsort(-self.confidence[idx], kind="stable")][:max(0, n)]


@dataclass
class Sample:
    """One input as the network sees it, and what the network made of it."""

    image: np.ndarray  # (C, H, W) float32, normalised as the data set normalises
    name: str  # "validation sample 12", "cat.png"
    index: int | None = None  # in the validation split
    label: int | None = None
    scores: np.ndarray | None = None  # softmax over the network's outputs
    predicted: int | None = None  # from an evaluation (thumbnails carry no scores)
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.scores is not None and self.predicted is None and len(self.scores):
            self.predicted = int(np.argmax(self.scores))
            self.confidence = float(self.scores[self.predicted])


@dataclass
class ProbeReport:
    """What a window shows of the inside of a network at one moment."""

    sample: Sample | None
    maps: dict[str, FeatureMap] = field(default_factory=dict)  # the design's order
    filters: Filters | None = None
    evaluation: Evaluation | None = None
    wrong: list[Sample] = field(default_factory=list)  # thumbnails, most confident first
    epoch: int | None = None  # the epoch that just ended, or is under way (with `step`)
    step: int | None = None  # a probe between batches: the batch of `epoch` just done
    weights: str = ""  # whose weights these are: "epoch 3", "initial weights (seed 0)", ...
    class_names: list[str] = field(default_factory=list)
    mean: tuple[float, ...] | None = None  # the data's normalisation, to show the input
    std: tuple[float, ...] | None = None
    val_size: int = 0
    seconds: float = 0.0  # what the probe cost
    error: str = ""  # a probe that failed says why here (the run goes on)
    data: Any = None  # the validation split (read-only), to show other samples


# ---------------------------------------------------------------------------------------------
# The pieces


@contextmanager
def untouched(model: nn.Module):
    """Run inference on a model that someone is training, leaving no trace: eval mode and
    torch.no_grad() inside; afterwards every module's mode and the RNG states are as before."""
    modes = [(m, m.training) for m in model.modules()]
    device = _device(model)
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in modes:
            m.training = mode
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, device)


def activations(model: nn.Module, x: torch.Tensor, network: Network | None = None,
                layers: Iterable[str] | None = None, max_values: int = DEFAULT_MAX_VALUES,
                max_slices: int = DEFAULT_MAX_SLICES) -> dict[str, FeatureMap]:
    """Every layer's output (or those in `layers`) for one sample x (C, H, W), by layer id.

    `model` is a DesignModule (anything with trace(x) -> {id: tensor}); x is copied to the
    model's device. Bounded by max_values / max_slices per layer (see FeatureMap.step)."""
    outputs = _trace(model, x)
    return _feature_maps(outputs, network, layers, max_values, max_slices)


def first_conv(network: Network, report: Report | None = None) -> str | None:
    """The id of the first CONV layer in the design's order (None when there is none)."""
    order = report.order if report is not None else network.topological_order()
    for nid in order:
        node = network.nodes.get(nid)
        if node is not None and node.type == "Conv2d":
            return nid
    return None


def filter_images(weights: np.ndarray, per_filter: bool = True) -> np.ndarray:
    """Filters as pictures in 0..1, zero at mid-grey: (out, kh, kw, 3) where the filters see 3
    channels (RGB), else (out·in, kh, kw), filter by filter. Each picture is scaled by its own
    largest |weight| (per_filter) or all by the largest of the layer."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 4:
        raise ValueError(f"filters must be (out, in, kh, kw), got shape {w.shape}")
    if w.shape[1] == 3:
        pics = w.transpose(0, 2, 3, 1)  # (out, kh, kw, 3)
    else:
        pics = w.reshape(-1, w.shape[2], w.shape[3])
    axes = tuple(range(1, pics.ndim))
    top = np.abs(pics).max(axis=axes, keepdims=True) if per_filter else np.abs(pics).max()
    top = np.where(top > 0, top, 1.0)
    return (0.5 + pics / (2 * top)).astype(np.float32)


def prepare_image(pixels: np.ndarray, shape: Sequence[int],
                  mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None) -> np.ndarray:
    """A picture's 8-bit pixels, (H, W) grey or (H, W, C) RGB(A), as the network's input
    (C, H, W) float32: resized and channel-adapted the way the data sets are (bilinear; grey
    repeated to RGB, RGB to grey by luminance, alpha dropped), scaled to 0..1 and normalised with
    the data set's mean and std where they are known. DatasetError when the channels cannot
    be adapted (the message says which input depths work)."""
    from .data.common import Adapter, DatasetError

    px = np.asarray(pixels)
    if px.ndim == 2:
        px = px[:, :, None]
    if px.ndim != 3 or min(px.shape) < 1:
        raise DatasetError(f"an image must be (H, W) or (H, W, C) pixels, got shape {px.shape}")
    h0, w0, c0 = px.shape
    adapter = Adapter((c0, h0, w0), shape, "the image")
    t = torch.from_numpy(np.ascontiguousarray(px.transpose(2, 0, 1)))[None]
    x = adapter(t)[0].float()
    if px.dtype == np.uint8:
        x = x / 255.0
    c = x.shape[0]
    if mean is not None and std is not None and len(mean) == c == len(std):
        x = (x - torch.tensor(mean, dtype=torch.float32)[:, None, None]) / torch.tensor(
            std, dtype=torch.float32)[:, None, None]
    return x.numpy().astype(np.float32, copy=False)


def display_image(image: np.ndarray, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None) -> np.ndarray:
    """A normalised (C, H, W) input as a picture in 0..1: (H, W, 3) for 3 channels, else
    (H, W) of the first channel. The normalisation is undone where it is known; otherwise the
    picture is stretched to its own range."""
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    c = x.shape[0]
    if mean is not None and std is not None and len(mean) == c == len(std):
        x = x * np.asarray(std, np.float32)[:, None, None] + np.asarray(mean, np.float32)[:, None,
                                                                                           None]
    else:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    x = np.clip(x, 0.0, 1.0)
    return x[:3].transpose(1, 2, 0) if c == 3 else x[0]


# ---------------------------------------------------------------------------------------------
# The prober


class Prober:
    """Probes one built model of `network`, with its validation split `data` (items (x, y), x
    normalised as the model was trained on) and the data set's `info` (class names, mean, std).

    The Trainer keeps one per run; the window makes one between runs (the last run's weights,
    or a freshly built model)."""

    def __init__(self, model: nn.Module, network: Network, data: Any = None, info: Any = None,
                 report: Report | None = None, classes: int | None = None, weights: str = ""):
        self.model = model
        self.network = network
        self.data = data
        self.report = report if report is not None else analyze(network)
        self.weights = weights
        names = _class_names(info)
        out_shape = self.report.layers[self.report.output].shape if self.report.output else None
        n = classes or len(names) or (int(out_shape[0]) if out_shape else 0)
        self.class_names = names[:n] if len(names) >= n else names + [
            str(i) for i in range(len(names), n)]
        self.mean = _floats(getattr(info, "mean", None))
        self.std = _floats(getattr(info, "std", None))
        self.conv = first_conv(network, self.report)
        inputs = [nid for nid in self.report.order if self.report.layers[nid].type == "Input"]
        shape = self.report.layers[inputs[0]].shape if inputs else None
        self.input_shape: tuple[int, ...] | None = tuple(shape) if shape else None
        self._modules = _modules_by_id(model)

    @property
    def device(self) -> torch.device:
        return _device(self.model)

    @property
    def val_size(self) -> int:
        try:
            return len(self.data) if self.data is not None else 0
        except TypeError:
            return 0

    # -- one sample ---------------------------------------------------------------------------

    def sample(self, request: ProbeRequest) -> Sample:
        """The request's image, or validation sample request.sample (scores not yet known).
        An image of 8-bit pixels (a picture file's) is shaped and normalised like the data set
        (prepare_image); a float (C, H, W) image is taken as it is."""
        if request.image is not None:
            image = np.asarray(request.image)
            if image.dtype == np.uint8:
                if self.input_shape is None:
                    raise ValueError("the design has no INPUT layer to shape the image to")
                image = prepare_image(image, self.input_shape, self.mean, self.std)
            return Sample(image.astype(np.float32, copy=False),
                          request.image_name or "an image file")
        if self.data is None or self.val_size == 0:
            raise ValueError("there is no validation set to take a sample from: choose an "
                             "image file")
        i = min(max(int(request.sample), 0), self.val_size - 1)
        x, y = self.data[i]
        return Sample(_numpy(x), f"validation sample {i}", index=i, label=int(y))

    def probe(self, request: ProbeRequest, epoch: int | None = None, step: int | None = None,
              evaluation: Evaluation | None = None) -> ProbeReport:
        """Feature maps of one sample, the first CONV's filters and, where given, the
        evaluation with thumbnails of its most confident mistakes."""
        t0 = time.perf_counter()
        sample = self.sample(request)
        x = torch.from_numpy(np.ascontiguousarray(sample.image))
        outputs = _trace(self.model, x)
        out = outputs.get(getattr(self.model, "output_id", ""))
        if out is not None:
            scores = torch.softmax(out.float().reshape(-1), 0)
            sample.scores = scores.cpu().numpy()
            sample.__post_init__()
        layers = request.layers
        maps = _feature_maps(outputs, self.network, layers, request.max_values,
                             request.max_slices)
        order = [nid for nid in self.report.order if nid in maps]
        maps = {nid: maps[nid] for nid in order}
        report = ProbeReport(
            sample=sample, maps=maps, filters=self.filters(), evaluation=evaluation,
            wrong=self.thumbnails(evaluation, request.wrong) if evaluation is not None else [],
            epoch=epoch, step=step, weights=self.weights, class_names=list(self.class_names),
            mean=self.mean, std=self.std, val_size=self.val_size, data=self.data)
        report.seconds = time.perf_counter() - t0
        return report

    def effective_field(self, image: np.ndarray, layer: str, rows: tuple[int, int],
                        cols: tuple[int, int]) -> np.ndarray:
        """The effective receptive field of `layer`'s units rows × cols (first, last; every
        depth slice) for the input `image` ((C, H, W) normalised, as a report's sample.image):
        |∂ (their sum) / ∂ input|, summed over the input's channels and scaled to 0..1, (H, W)
        float32. Where the analysis's field says which pixels a unit can see, this says how
        much each one counts for these weights. The model is left as it was (modes, RNG, the
        parameters' gradients: only the input's is computed)."""
        x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        if x.dim() == 2:
            x = x[None]
        with untouched(self.model), torch.enable_grad():
            x = x[None].to(self.device).requires_grad_(True)
            out = self.model.trace(x).get(layer)
            if out is None or out.dim() != 4:
                raise ValueError(f"{layer} has no feature maps to take a unit of")
            units = out[0, :, rows[0]:rows[1] + 1, cols[0]:cols[1] + 1].sum()
            (grad,) = torch.autograd.grad(units, [x])
        field = grad[0].abs().sum(0).float().cpu().numpy()
        top = float(field.max())
        return (field / top if top > 0 else field).astype(np.float32)

    def filters(self) -> Filters | None:
        module = self._modules.get(self.conv) if self.conv else None
        weight = getattr(module, "weight", None)
        if weight is None:
            return None
        return Filters(self.conv, weight.detach().float().cpu().numpy().copy())

    def thumbnails(self, evaluation: Evaluation, n: int) -> list[Sample]:
        """The n most confidently wrong validation samples, shrunk to THUMB_SIDE at most."""
        out = []
        if self.data is None:
            return out
        for i in evaluation.most_confidently_wrong(n):
            x, y = self.data[int(i)]
            out.append(Sample(thumbnail(x), f"validation sample {int(i)}", index=int(i),
                              label=int(y), predicted=int(evaluation.predictions[i]),
                              confidence=float(evaluation.confidence[i])))
        return out

    # -- the validation set -------------------------------------------------------------------

    def evaluate(self, batch_size: int = 128, stop: Any = None) -> Evaluation | None:
        """Classify the whole validation split (a pass of its own: the Trainer instead collects
        what its validation computes anyway, see Collector). None when `stop()` says so."""
        if self.data is None or self.val_size == 0:
            raise ValueError("there is no validation set to evaluate")
        from .batches import make_batches

        batches, _ = make_batches(self.data, batch_size, False, None, self.device, False, 0)
        collector = Collector()
        with untouched(self.model):
            for x, y in batches:
                out = self.model(x)
                collector.add(y, out)
                if stop is not None and stop():
                    return None
        return collector.evaluation(self.class_names)


class Collector:
    """Gathers what a validation pass computes anyway (labels, argmax, softmax confidence), on
    the device, read once at the end: what the Trainer's confusion matrix costs."""

    def __init__(self) -> None:
        self._parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def add(self, y: torch.Tensor, logits: torch.Tensor) -> None:
        conf, pred = torch.softmax(logits.detach().float().flatten(1), 1).max(1)
        self._parts.append((y.detach(), pred, conf))

    def __len__(self) -> int:
        return len(self._parts)

    def evaluation(self, class_names: Sequence[str]) -> Evaluation | None:
        if not self._parts:
            return None
        y, pred, conf = (torch.cat(t).cpu().numpy() for t in zip(*self._parts))
        return Evaluation(y, pred, conf, list(class_names))


# ---------------------------------------------------------------------------------------------
# Helpers


def _trace(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    with untouched(model):
        x = x.detach().to(_device(model), dtype=torch.float32).clone()
        return model.trace(x)


def _feature_maps(outputs: dict[str, torch.Tensor], network: Network | None,
                  layers: Iterable[str] | None, max_values: int,
                  max_slices: int) -> dict[str, FeatureMap]:
    wanted = None if layers is None else set(layers)
    maps = {}
    for nid, t in outputs.items():
        if wanted is not None and nid not in wanted:
            continue
        node = network.nodes.get(nid) if network is not None else None
        shape = tuple(int(v) for v in t.shape[1:])
        values, step = _bounded(t[0], max_values, max_slices)
        maps[nid] = FeatureMap(nid, node.type if node is not None else "", shape, values, step)
    return maps


def _bounded(t: torch.Tensor, max_values: int, max_slices: int) -> tuple[np.ndarray, int]:
    """(k, h, w) float32 numpy of one sample's output: at most max_slices slices and
    max_values values, each slice shrunk by the mean of step×step blocks where needed."""
    with torch.no_grad():
        if t.dim() == 1:
            t = t[:, None, None]
        elif t.dim() == 2:
            t = t[None]
        elif t.dim() != 3:
            t = t.reshape(t.shape[0], 1, -1)
        c, h, w = t.shape
        k = max(1, min(c, max_slices, max_values))
        t = t[:k]
        step = 1
        if k * h * w > max_values:
            step = max(2, math.ceil(math.sqrt(k * h * w / max_values)))
            while k * math.ceil(h / step) * math.ceil(w / step) > max_values \
                    and step < max(h, w):
                step += 1
            t = F.avg_pool2d(t.float()[None], step, step, ceil_mode=True)[0]
        return t.float().cpu().numpy().copy(), step


def thumbnail(x: Any) -> np.ndarray:
    """A sample (C, H, W) as a numpy array at most THUMB_SIDE high and wide (area mean)."""
    t = torch.as_tensor(x).detach().float()
    if t.dim() == 3:
        h, w = t.shape[-2:]
        if max(h, w) > THUMB_SIDE:
            s = THUMB_SIDE / max(h, w)
            size = (max(1, round(h * s)), max(1, round(w * s)))
            t = F.interpolate(t[None], size=size, mode="area")[0]
    return t.cpu().numpy().copy()


def _numpy(x: Any) -> np.ndarray:
    return torch.as_tensor(x).detach().float().cpu().numpy().copy()


def _device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _modules_by_id(model: nn.Module) -> dict[str, nn.Module]:
    """Layer id -> its torch module: the last part of each name in the module tree (layers are
    attributes named by their ids, runs of them nn.Sequential blocks; see bridge/module.py)."""
    out = {}
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            out[name.rsplit(".", 1)[-1]] = module
    return out


def _class_names(info: Any) -> list[str]:
    for c in (getattr(info, "class_names", None), getattr(info, "classes", None)):
        if isinstance(c, (list, tuple)) and all(isinstance(s, str) for s in c):
            return list(c)
    return []


def _floats(v: Any) -> tuple[float, ...] | None:
    if v is None:
        return None
    try:
        return tuple(float(a) for a in v)
    except TypeError:
        return None
