"""Where a run's data set lives: on the device whole, or fed from the host (training/speed.py
decides, batches.py makes the batches either way). TORCH, no Qt."""

from __future__ import annotations

import threading
from typing import Any

import torch

from .batches import device_bytes, make_batches
from .runtime import free_memory
from .speed import place_data

__all__ = ["placed_batches"]


def placed_batches(train: Any, val: Any, config: Any, device: torch.device,
                   channels_last: bool, generator: torch.Generator,
                   stop: threading.Event | None, notes: list[str]):
    """(training batches, validation batches, bytes kept on the device): both splits on the
    device where, together, they take at most speed.DATA_SHARE of its free memory (or where
    config.data_on_device says), each one that can be held (batches.device_bytes); the
    decision goes to ``notes`` (none on the CPU)."""
    sizes = [device_bytes(train), device_bytes(val)]
    place = place_data(sum(n or 0 for n in sizes), free_memory(device), device.type,
                       want=config.data_on_device)
    if place.why and any(n is not None for n in sizes):
        notes.append(place.why)
    workers, batch = config.num_workers, config.batch_size
    train_batches, r1 = make_batches(train, batch, True, generator, device, channels_last,
                                     workers, stop=stop,
                                     resident=place.on_device and sizes[0] is not None)
    val_batches, r2 = make_batches(val, batch, False, None, device, channels_last, workers,
                                   stop=stop, resident=place.on_device and sizes[1] is not None)
    return train_batches, val_batches, r1 + r2
