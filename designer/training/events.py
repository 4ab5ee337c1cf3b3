"""What a training run is told and what it reports: plain records shared by the Trainer (no Qt),
the command line and the window's TrainWorker. No torch here, so the window can build a config
and read results without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("fp32", "bf16", "fp16")  # bf16 / fp16: mixed precision (autocast) on CUDA


@dataclass
class DataConfig:
    """Which data set, and how it is shaped to the design's input."""

    name: str = "synthetic"  # synthetic | mnist | fashion-mnist | cifar10 | cifar100 | folder | npz
    path: str | None = None  # a folder of the standard files, an image folder, or a .npz file
    download: bool = False  # fetch the standard files into the cache when they are missing
    train_size: int | None = None  # synthetic: samples; others: use at most this many
    val_size: int | None = None
    augment: bool = True  # random crop with padding, horizontal flip (training split only)
    seed: int = 0


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # momentum / nesterov / rmsprop
    weight_decay: float = 0.0
    schedule: str = "none"
    step_size: int = 10  # step schedule: epochs between decays
    gamma: float = 0.1
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False  # CUDA only
    seed: int = 0
    num_workers: int = 0
    checkpoint_dir: str | None = None  # best.pt and last.pt (state_dicts) go here

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        data["data"] = DataConfig(**data.get("data", {}))
        return cls(**data)


@dataclass
class StartEvent:
    device: str  # e.g. "NVIDIA H100 80GB HBM3" or "CPU (8 threads)"
    train_samples: int
    val_samples: int
    steps_per_epoch: int
    classes: int
    estimated_bytes: int | None  # the analysis's estimate of what the step holds
    notes: list[str] = field(default_factory=list)  # e.g. "fp16 needs CUDA: training in fp32"


@dataclass
class BatchEvent:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps: int  # per epoch
    global_step: int
    loss: float
    accuracy: float  # of this batch, 0..1
    lr: float
    images_per_s: float  # recent average
    elapsed_s: float
    eta_s: float  # whole run
    peak_bytes: int | None  # device memory peak so far (CUDA), None where not measurable


@dataclass
class EpochEvent:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float


@dataclass
class Fault:
    kind: str  # out_of_memory | nan_loss | data | model | shape | interrupted
    #            (also: device | config | checkpoint | internal)
    message: str  # what happened, in a sentence
    advice: str  # what to do about it
    detail: str = ""  # the Python traceback, where an exception caused it


@dataclass
class RunResult:
    status: str  # finished | stopped | failed
    epochs_done: int
    history: list[EpochEvent]
    fault: Fault | None = None
    best_val_accuracy: float | None = None
    seconds: float = 0.0
    device: str = ""
    peak_bytes: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # as in StartEvent

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProbeRequest:
    """What a window wants to see inside the network being trained (designer/training/probes.py
    answers with a ProbeReport): the feature maps of one sample at the end of every epoch, or
    between two batches when asked (Trainer.request_probe)."""

    sample: int = 0  # an index into the validation split ...
    # ... or this image: a picture's 8-bit pixels (H, W) or (H, W, C), shaped and normalised
    # like the data set by the prober, or a (C, H, W) float32 array taken as it is
    image: Any = None
    image_name: str = ""
    layers: tuple[str, ...] | None = None  # None: every layer
    max_values: int = 1 << 18  # per layer (larger maps are shrunk by block means)
    max_slices: int = 4096  # per layer
    evaluation: bool = True  # at epoch ends: confusion matrix and misclassified samples
    wrong: int = 24  # thumbnails of the most confidently wrong validation samples


class Callbacks(Protocol):
    """What a Trainer calls, from the thread it runs in. All optional."""

    def on_start(self, event: StartEvent) -> None: ...
    def on_batch(self, event: BatchEvent) -> None: ...
    def on_epoch(self, event: EpochEvent) -> None: ...
    def on_end(self, result: RunResult) -> None: ...
    # Probes (designer/training/probes.py): when probe_request() returns a ProbeRequest, the
    # Trainer probes at every epoch end (and between batches after request_probe()) and hands
    # the ProbeReport to on_probe; None (or no such method): no probing, no cost.
    def probe_request(self) -> ProbeRequest | None: ...
    def on_probe(self, report: Any) -> None: ...
