"""How the Trainer walks a data set: batches on the training device, as fast as the data's
form allows. TORCH, no Qt.

- an in-memory TensorDataset (or a Subset of one): one index_select per batch, on the GPU when
  the tensors fit there (copied once), else on the host and copied asynchronously;
- a data set with `get_batch(indices) -> (x, y)` (designer.training.datasets' ImageDataset): a
  DataLoader whose items are whole batches (one indexing, normalisation and augmentation each);
  where its images are held in memory and it is to live on the device (``resident``), a copy of
  it is moved there once and every batch is indexed, normalised, cropped and flipped on the
  device (no DataLoader, no host round trip): the same batches as on the host;
- any other map-style Dataset: a DataLoader, pinned memory and non_blocking copies on CUDA.
Batches a GPU gets from the host are made one thread ahead (Prefetch) unless loader workers do,
their copies on a CUDA stream of their own.

Resuming: ``skip_batches(batches, n)`` makes the next pass leave out its first ``n`` batches,
drawing the same order (the order generator advances exactly as in a whole pass), without
reading them. Loader iterators draw their workers' base seed from a generator of their own,
never from torch's global one (which the model's dropout draws from). ``stop`` (a
threading.Event): batches read from a data set are made in a background thread (Prefetch) and a
pass ends as soon as ``stop`` is set, even while a batch is still being read (that read is
abandoned: the thread ends when it returns). Abandonable does the same for loading a data set.

Several processes (torch.distributed) share each batch: ``share=(rank, world)`` gives process
``rank`` every ``world``-th sample of the batch one process would take, so N processes take the
same steps as one. An exported training project copies this file (``convlib/batches.py``): it
imports the standard library, torch and ``.basics`` only.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from contextlib import nullcontext
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
        self.skip = 0  # batches the next pass leaves out (skip_batches)

    def __len__(self) -> int:
        n, b = len(self.y), self.batch
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        x, y, b, dev = self.x, self.y, self.batch, self.device
        cl = torch.channels_last if self.channels_last else None
        skip, self.skip = self.skip, 0
        order = None
        if self.shuffle:
            order = torch.randperm(len(y), generator=self.generator)
            if x.device.type != "cpu":
                order = order.to(x.device)
        for i in range(skip, len(self)):
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


class _Ordered:
    """Batches drawn in `order` (a Skip): `skip` is how many of the epoch's first batches a
    resumed run passes over."""

    order: Skip

    @property
    def skip(self) -> int:
        return self.order.skip

    @skip.setter
    def skip(self, n: int) -> None:
        self.order.skip = n


class _LoaderBatches(_Ordered):
    """A DataLoader's batches, moved to the device (non_blocking from pinned memory on CUDA)."""

    def __init__(self, loader: DataLoader, device: torch.device, channels_last: bool,
                 order: Skip):
        self.loader, self.device, self.channels_last = loader, device, channels_last
        self.order = order

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


class _DeviceBatches(_Ordered):
    """Batches of a data set held on the device (an ImageDataset moved there, its images and
    labels tensors): each epoch's batches of indices are drawn from `order` as the host path
    draws them and copied to the device once, with the epoch's crop offsets and flips; every
    batch is then indexed, normalised, cropped and flipped on the device with no copy from the
    host (so no wait for the device either): the values ImageDataset.get_batch gives."""

    def __init__(self, ds: Any, device: torch.device, channels_last: bool, order: Skip):
        self.ds, self.device, self.channels_last, self.order = ds, device, channels_last, order

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self):
        ds, dev = self.ds, self.ds.images.device
        cl = torch.channels_last if self.channels_last else None
        batches = [list(b) for b in self.order]  # the epoch's order, drawn as on the host
        if not batches:
            return
        every = torch.tensor([i for b in batches for i in b], dtype=torch.long).to(dev)
        aug = ds.augment
        if aug is not None:
            dy, dx, flips = (t.to(dev) for t in aug.tables())
        start = 0
        for b in batches:
            idx = every[start:start + len(b)]
            start += len(b)
            x = ds._normalise(ds.images.index_select(0, idx))
            y = ds.labels.index_select(0, idx)
            if aug is not None:
                x = _augment(x, aug.pad, dy[idx], dx[idx], flips[idx] if aug.flip else None)
            if y.dtype != torch.long:
                y = y.long()
            if cl is not None:
                x = x.contiguous(memory_format=cl)
            yield x, y


def _augment(x: torch.Tensor, pad: int, dy: torch.Tensor, dx: torch.Tensor,
             flips: torch.Tensor | None) -> torch.Tensor:
    """Augment.batch's crop (pad, then the window at dy, dx) and flip, with every table
    already on x's device (no test on the host of whether any flips)."""
    if pad:
        b, c, h, w = x.shape
        dev = x.device
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad)).reshape(b, c, -1)
        oy = dy[:, None, None] + torch.arange(h, device=dev)[:, None]
        ox = dx[:, None, None] + torch.arange(w, device=dev)
        where = (oy * (w + 2 * pad) + ox).reshape(b, 1, h * w).expand(b, c, h * w)
        x = padded.gather(2, where).reshape(b, c, h, w)
    if flips is not None:
        x = torch.where(flips[:, None, None, None], x.flip(-1), x)
    return x


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
    the thread go (it ends within PREFETCH_POLL_S). With `stop` (a threading.Event), the pass
    ends as soon as it is set while the consumer waits for a batch. With a CUDA `device`, the
    thread's copies to the GPU run on a stream of their own (they overlap the steps on the
    default stream): the consumer's stream waits for each batch's copies before it uses it."""

    def __init__(self, batches: Any, depth: int = 3, stop: threading.Event | None = None,
                 device: torch.device | None = None):
        self.batches, self.depth, self.stop = batches, depth, stop
        self.device = device if device is not None and device.type == "cuda" else None

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def skip(self) -> int:
        return self.batches.skip

    @skip.setter
    def skip(self, n: int) -> None:
        self.batches.skip = n

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

        dev = self.device
        side = torch.cuda.Stream(dev) if dev is not None else None

        def produce() -> None:
            try:
                with torch.cuda.stream(side) if side is not None else nullcontext():
                    for item in self.batches:
                        ready = None
                        if side is not None:  # when this batch's copies are done
                            ready = torch.cuda.Event()
                            ready.record(side)
                        if not put((True, (item, ready))):
                            return
            except BaseException as e:  # noqa: BLE001 - handed to the consumer
                put((False, e))
                return
            put((False, None))

        thread = threading.Thread(target=produce, name="batch-prefetch", daemon=True)
        thread.start()
        stop = self.stop
        try:
            while True:
                if stop is None:
                    ok, item = q.get()
                else:
                    try:
                        ok, item = q.get(timeout=PREFETCH_POLL_S)
                    except queue.Empty:
                        if stop.is_set():
                            return  # the batch being read is abandoned
                        continue
                if ok:
                    batch, ready = item
                    if ready is not None:
                        _wait_for(batch, ready, dev)
                    yield batch
                elif item is None:
                    return
                else:
                    raise item
        finally:
            closed.set()


def _wait_for(batch: Any, ready: Any, device: torch.device) -> None:
    """The consumer's stream waits for a batch copied on another stream, and the batch's GPU
    tensors are marked used by it (their memory is not reused before its work is done)."""
    stream = torch.cuda.current_stream(device)
    stream.wait_event(ready)
    for t in batch if isinstance(batch, (tuple, list)) else (batch,):
        if torch.is_tensor(t) and t.is_cuda:
            t.record_stream(stream)


class Abandoned(Exception):
    """What Abandonable.run() raises when `stop` was set before the work finished."""


class Abandonable:
    """work(progress) (reading or downloading a data set) in a thread of its own, so that a
    Stop does not wait for it. run() returns its result, or raises Abandoned once `stop` is
    set: a work that reports progress is given until its next report (up to GRACE_S after its
    latest one) to end by itself, since progress(...) raises Abandoned then (a download removes
    its partial file on the way out); one that does not is left (its thread ends when it
    returns). `report(done, total, message)` hears the work's progress in run()'s thread."""

    GRACE_S = 3.0

    def __init__(self, work, stop: threading.Event, report=None,
                 poll_s: float = PREFETCH_POLL_S):
        self.work, self.stop, self.report, self.poll_s = work, stop, report, poll_s
        self.last: float | None = None  # when the work last reported (time.monotonic)
        self.interval = 0.0  # the longest time between two of its reports

    def grace_s(self) -> float:
        """How long a Stop now waits for the work to end by itself, at most."""
        return 0.0 if self.last is None else max(self.last + self.GRACE_S - time.monotonic(),
                                                 0.0)

    def left_s(self) -> float:
        """About how long the work takes to notice a Stop now (its next report)."""
        if self.last is None:
            return 0.0
        return min(max(self.last + self.interval - time.monotonic(), 0.0), self.grace_s())

    def run(self):
        box: dict[str, Any] = {}
        reports: queue.SimpleQueue = queue.SimpleQueue()
        done = threading.Event()
        stop = self.stop

        def progress(*args) -> None:
            now = time.monotonic()
            if self.last is not None:
                self.interval = max(self.interval, now - self.last)
            self.last = now
            if stop.is_set():
                raise Abandoned
            reports.put(args)

        def work() -> None:
            try:
                box["value"] = self.work(progress)
            except BaseException as e:  # noqa: BLE001 - raised again in run()'s thread
                box["error"] = e
            finally:
                done.set()

        threading.Thread(target=work, name="abandonable", daemon=True).start()
        while True:
            finished = done.wait(self.poll_s)
            while not reports.empty():
                args = reports.get()
                if self.report is not None:
                    self.report(*args)
            if finished:
                break
            if stop.is_set():
                done.wait(self.grace_s())
                raise Abandoned
        if "error" in box:
            raise box["error"]
        return box["value"]


def device_bytes(ds: Any) -> int | None:
    """The bytes a data set takes held whole on a device (in-memory tensors as they would be
    kept: a TensorDataset's images as float32, an ImageDataset's as they are, uint8 mostly),
    or None where it cannot be (items made on demand, a Subset of one)."""
    if isinstance(ds, Subset):  # counted, not copied
        inner = device_bytes(ds.dataset) if tensor_pair(ds.dataset) is not None else None
        n = len(ds.dataset)
        return None if inner is None or n == 0 else inner * len(ds.indices) // n
    pair = tensor_pair(ds)
    if pair is not None:
        x, y = pair
        return x.numel() * (x.element_size() if x.is_floating_point() else 4) + y.numel() * 8
    images = getattr(ds, "images", None)
    if _holdable(ds) and isinstance(images, torch.Tensor):
        return images.nbytes + len(ds) * 8
    return None


def _holdable(ds: Any) -> bool:
    """A data set with get_batch whose images are one tensor in memory, that can move (to())."""
    return (callable(getattr(ds, "get_batch", None)) and callable(getattr(ds, "to", None))
            and isinstance(getattr(ds, "images", None), torch.Tensor))


def make_batches(ds: Any, batch: int, train: bool, generator: torch.Generator | None,
                 device: torch.device, channels_last: bool, num_workers: int,
                 share: tuple[int, int] = (0, 1), stop: threading.Event | None = None,
                 resident: bool | None = None):
    """An iterable of (x, y) batches on `device` with len() = batches per epoch, and the bytes
    it copied onto the device for good (a GPU-resident data set). Batches made on the host for
    a GPU (no loader workers) are prepared in a background thread (Prefetch). ``share`` =
    (rank, world): this process's share of every batch of ``batch`` samples (see Share).
    ``stop``: batches read from a data set (not in-memory tensors) are made in a background
    thread on every device, and a pass ends when ``stop`` is set (see the module's docstring).
    ``resident``: whether a data set held in memory (device_bytes not None) is copied to the
    device whole and batched there (True), fed from the host (False), or, None, copied where
    it takes at most a quarter of the device's free memory (CUDA)."""
    batches, resident = _make_batches(ds, batch, train, generator, device, channels_last,
                                      num_workers, share, resident)
    host_made = device.type in PREFETCH_DEVICES and num_workers == 0 and not resident
    if isinstance(batches, _DeviceBatches):
        host_made = False
    if host_made or (stop is not None
                     and not isinstance(batches, (_TensorBatches, _DeviceBatches))):
        batches = Prefetch(batches, stop=stop, device=device)
    return batches, resident


def skip_batches(batches: Any, n: int) -> None:
    """The next pass over `batches` (made by make_batches) leaves out its first `n` batches:
    the same order is drawn, the batches left out are not read."""
    batches.skip = int(n)


class Skip(Sampler):
    """A sampler of batches of indices whose next pass leaves out the first `skip` of them."""

    def __init__(self, inner: Sampler):
        super().__init__()
        self.inner, self.skip = inner, 0

    def __iter__(self):
        skip, self.skip = self.skip, 0
        for i, indices in enumerate(self.inner):
            if i >= skip:
                yield indices

    def __len__(self) -> int:
        return len(self.inner)


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
                  share: tuple[int, int], want: bool | None = None):
    pair = tensor_pair(ds) if tuple(share) == (0, 1) else None
    if pair is not None:
        x, y = pair
        if not x.is_floating_point():
            x = x.float()
        if y.dtype != torch.long:
            y = y.long()
        resident = 0
        keep = _fits_resident(x, y, device) if want is None else want
        if device.type != "cpu" and keep:
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
    order = Skip(batch_order(ds, batch, train, generator, share))
    if want and tuple(share) == (0, 1) and _holdable(ds):
        # a copy of the data set on the device (the caller's stays where it is; the copy shares
        # its augmentation, so set_epoch on the caller's reaches it)
        held = copy.copy(ds).to(device)
        images = held.images
        keep = images.nbytes + held.labels.nbytes if images.device.type != "cpu" else 0
        return _DeviceBatches(held, device, channels_last, order), keep
    # the loader draws its workers' base seed from a generator: never torch's global one
    seeds = torch.Generator().manual_seed(generator.initial_seed() if generator else 0)
    if callable(getattr(ds, "get_batch", None)):
        loader = DataLoader(_WholeBatches(ds), batch_size=None, sampler=order, generator=seeds,
                            **common)
    else:
        # the order's generator as before: the loader draws its workers' base seed from it
        loader = DataLoader(ds, batch_sampler=order, generator=generator or seeds, **common)
    return _LoaderBatches(loader, device, channels_last, order), 0


def _fits_resident(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> bool:
    size = x.nbytes + y.nbytes
    if size > RESIDENT_MAX:
        return False
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return size <= free // 4
    return True
