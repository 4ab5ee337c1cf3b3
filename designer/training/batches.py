"""How the Trainer walks a data set: batches on the training device, as fast as the data's
form allows. TORCH, no Qt.

- an in-memory TensorDataset (or a Subset of one): one index_select per batch, on the GPU when
  the tensors fit there (copied once), else on the host and copied asynchronously;
- a data set with `get_batch(indices) -> (x, y)` (designer.training.datasets' ImageDataset): a
  DataLoader whose items are whole batches (one indexing, normalisation and augmentation each);
- any other map-style Dataset: a DataLoader, pinned memory and non_blocking copies on CUDA.
Batches a GPU gets from the host are made one thread ahead (Prefetch) unless loader workers do.

Several processes (torch.distributed) share each batch: ``share=(rank, world)`` gives process
``rank`` every ``world``-th sample of the batch one process would take, so N processes take the
same steps as one. An exported training project copies this file (``convlib/batches.py``): it
imports the standard library, torch and ``.basics`` only.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    TensorDataset,
)

from .basics import seed_worker

RESIDENT_MAX = 4 * 1024**3  # an in-memory data set up to this size is copied to the GPU once
PREFETCH_POLL_S = 0.1
PREFETCH_DEVICES = ("cuda",)  # device types whose host-made batches are prefetched


def tensor_pair(ds: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(x, y) of an in-memory TensorDataset (or a Subset of one), else None."""
    if isinstance(ds, TensorDataset) and len(ds.tensors) == 2 \
            and type(ds).__getitem__ is TensorDataset.__getitem__:
        return ds.tensors[0], ds.tensors[1]
    if isinstance(ds, Subset):
        inner = tensor_pair(ds.dataset)
        if inner is not None:
            idx = torch.as_tensor(list(ds.indices), dtype=torch.long)
            return inner[0][idx], inner[1][idx]
    return None


class _TensorBatches:
    """Batches of in-memory tensors: one index_select per batch, on the device when the data
    lives there (copied once), else on the host and copied asynchronously from pinned memory."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: bool,
                 drop_last: bool, generator: torch.Generator | None, device: torch.device,
                 channels_last: bool):
        self.x, self.y = x, y
        self.batch, self.shuffle, self.drop_last = batch, shuffle, drop_last
        self.generator, self.device, self.channels_last = generator, device, channels_last
        self.on_device = x.device == device or (device.type == "cpu" and x.device.type == "cpu")
        self.pin = device.type == "cuda" and not self.on_device

    def __len__(self) -> int:
        n, b = len(self.y), self.batch
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        x, y, b, dev = self.x, self.y, self.batch, self.device
        cl = torch.channels_last if self.channels_last else None
        order = None
        if self.shuffle:
            order = torch.randperm(len(y), generator=self.generator)
            if x.device.type != "cpu":
                order = order.to(x.device)
        for i in range(len(self)):
            if order is None:
                xb, yb = x[i * b:(i + 1) * b], y[i * b:(i + 1) * b]
            else:
                idx = order[i * b:(i + 1) * b]
                xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            if not self.on_device:
                if self.pin:
                    xb, yb = xb.pin_memory(), yb.pin_memory()
                xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            if cl is not None:
                xb = xb.contiguous(memory_format=cl)
            yield xb, yb


class _LoaderBatches:
    """A DataLoader's batches, moved to the device (non_blocking from pinned memory on CUDA)."""

    def __init__(self, loader: DataLoader, device: torch.device, channels_last: bool):
        self.loader, self.device, self.channels_last = loader, device, channels_last

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        dev = self.device
        nb = dev.type == "cuda"
        for x, y in self.loader:
            if not torch.is_tensor(y):
                y = torch.as_tensor(y)
            x, y = x.to(dev, non_blocking=nb), y.to(dev, non_blocking=nb)
            if not x.is_floating_point():
                x = x.float()
            if y.dtype != torch.long:
                y = y.long()
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y


class _WholeBatches(Dataset):
    """A data set with a fast `get_batch(indices) -> (x, y)` path, seen by a DataLoader as one
    item per batch (the sampler hands it a batch of indices)."""

    def __init__(self, ds: Any):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, indices):
        return self.ds.get_batch(torch.as_tensor(indices, dtype=torch.long))


class Prefetch:
    """Walks `batches` in a background thread, up to `depth` batches ahead of the consumer. For
    a GPU fed from the host: preparing the next batch (indexing, normalisation, augmentation,
    pinning, the copy) overlaps the step, as PyTorch releases the GIL in its kernels. An
    exception in the thread comes out of the consumer's next(); a consumer that stops early lets
    the thread go (it ends within PREFETCH_POLL_S)."""

    def __init__(self, batches: Any, depth: int = 3):
        self.batches, self.depth = batches, depth

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        q: queue.Queue = queue.Queue(maxsize=self.depth)
        closed = threading.Event()

        def put(item) -> bool:
            while not closed.is_set():
                try:
                    q.put(item, timeout=PREFETCH_POLL_S)
                    return True
                except queue.Full:
                    pass
            return False

        def produce() -> None:
            try:
                for item in self.batches:
                    if not put((True, item)):
                        return
            except BaseException as e:  # noqa: BLE001 - handed to the consumer
                put((False, e))
                return
            put((False, None))

        thread = threading.Thread(target=produce, name="batch-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                ok, item = q.get()
                if ok:
                    yield item
                elif item is None:
                    return
                else:
                    raise item
        finally:
            closed.set()


def make_batches(ds: Any, batch: int, train: bool, generator: torch.Generator | None,
                 device: torch.device, channels_last: bool, num_workers: int,
                 share: tuple[int, int] = (0, 1)):
    """An iterable of (x, y) batches on `device` with len() = batches per epoch, and the bytes
    it copied onto the device for good (a GPU-resident data set). Batches made on the host for
    a GPU (no loader workers) are prepared in a background thread (Prefetch). ``share`` =
    (rank, world): this process's share of every batch of ``batch`` samples (see Share)."""
    batches, resident = _make_batches(ds, batch, train, generator, device, channels_last,
                                      num_workers, share)
    if device.type in PREFETCH_DEVICES and num_workers == 0 and not resident:
        batches = Prefetch(batches)
    return batches, resident


class Share(Sampler):
    """Process ``rank``'s share of each batch of indices: every ``world``-th one, starting at
    ``rank`` (a process whose share of the last, smaller batch is empty skips it)."""

    def __init__(self, batches: BatchSampler, rank: int, world: int):
        super().__init__()
        self.batches, self.rank, self.world = batches, rank, world

    def __iter__(self):
        for indices in self.batches:
            mine = indices[self.rank::self.world]
            if mine:
                yield mine

    def __len__(self) -> int:
        b = self.batches
        n = len(b)
        last = len(b.sampler) % b.batch_size
        return n - 1 if not b.drop_last and last and last <= self.rank else n


def batch_order(ds: Any, batch: int, train: bool, generator: torch.Generator | None,
                share: tuple[int, int] = (0, 1)) -> Sampler:
    """The batches of indices of an epoch: shuffled with `generator` for training (a new order
    every epoch, the lone small batch at the end dropped), in order for validation."""
    drop_last = train and len(ds) >= batch  # no lone small batch (BatchNorm needs two)
    order = RandomSampler(ds, generator=generator) if train else SequentialSampler(ds)
    batches = BatchSampler(order, batch, drop_last)
    return batches if tuple(share) == (0, 1) else Share(batches, *share)


def _make_batches(ds: Any, batch: int, train: bool, generator: torch.Generator | None,
                  device: torch.device, channels_last: bool, num_workers: int,
                  share: tuple[int, int]):
    pair = tensor_pair(ds) if tuple(share) == (0, 1) else None
    if pair is not None:
        x, y = pair
        if not x.is_floating_point():
            x = x.float()
        if y.dtype != torch.long:
            y = y.long()
        resident = 0
        if device.type != "cpu" and _fits_resident(x, y, device):
            x, y = x.to(device), y.to(device)
            resident = x.nbytes + y.nbytes
        drop_last = train and len(ds) >= batch
        return _TensorBatches(x, y, batch, train, drop_last, generator, device,
                              channels_last), resident
    # set_epoch (a new augmentation per epoch) reaches workers made per epoch only
    persistent = num_workers > 0 and not hasattr(ds, "set_epoch")
    common = dict(num_workers=num_workers, pin_memory=device.type == "cuda",
                  persistent_workers=persistent,
                  worker_init_fn=seed_worker if num_workers else None)
    order = batch_order(ds, batch, train, generator, share)
    if callable(getattr(ds, "get_batch", None)):
        loader = DataLoader(_WholeBatches(ds), batch_size=None, sampler=order, **common)
    else:
        # the generator as before: the loader draws its workers' base seed from it
        loader = DataLoader(ds, batch_sampler=order, generator=generator, **common)
    return _LoaderBatches(loader, device, channels_last), 0


def _fits_resident(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> bool:
    size = x.nbytes + y.nbytes
    if size > RESIDENT_MAX:
        return False
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return size <= free // 4
    return True
