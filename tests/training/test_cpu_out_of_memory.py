"""CPU out of memory (issue 16): the CPU allocator's 'not enough memory' (a RuntimeError) and
Python's MemoryError are out-of-memory faults whose advice names the largest batch the analysis
estimates to fit in the RAM still free, not 'check the layer the details name, or change its
parameters'. The window's view of it is in tests/ui/test_panels_polish.py."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from designer.model.analysis import analyze
from designer.model.network import Network
from designer.training import runtime
from designer.training.events import TrainConfig
from designer.training.trainer import Trainer

MIB = 1024**2


def _net() -> Network:
    n = Network("tiny")
    x = n.add("Input", {"channels": 3, "height": 16, "width": 16}, id="input")
    x = n.add("Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}, id="conv",
              inputs=[x])
    x = n.add("ReLU", {}, id="relu", inputs=[x])
    n.add("Linear", {"out_features": 4}, id="fc", inputs=[x])
    return n


def _data(n: int) -> TensorDataset:
    g = torch.Generator().manual_seed(n)
    return TensorDataset(torch.randn(n, 3, 16, 16, generator=g), torch.arange(n) % 4)


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
                 "memory: you tried to allocate 1073741824 bytes."),
    MemoryError(),
])
def test_cpu_out_of_memory_names_the_largest_batch_that_fits_the_free_ram(monkeypatch, error):
    def step(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Trainer, "_train_step", step)
    monkeypatch.setattr(runtime, "available_ram", lambda: 8 * MIB)
    net = _net()
    config = TrainConfig(epochs=1, batch_size=128, optimizer="sgd", device="cpu")
    result = Trainer(net, config, datasets=(_data(256), _data(64), None)).run()
    assert result.status == "failed" and result.fault.kind == "out_of_memory", result.fault
    fit = analyze(net, batch=128, dtype="fp32", optimizer="sgd", budget=8 * MIB,
                  device="cpu").pytorch.max_batch
    assert 1 <= fit < 128
    assert "batch size 128" in result.fault.message and "8 MiB of RAM free" in (
        result.fault.message)
    assert f"a batch of at most {fit} fits in the 8 MiB of RAM free" in result.fault.advice
    assert "check the layer" not in result.fault.advice


def test_other_runtime_errors_are_not_taken_for_out_of_memory():
    assert runtime.is_oom(RuntimeError("DefaultCPUAllocator: not enough memory: 8 bytes"))
    assert runtime.is_oom(MemoryError())
    assert not runtime.is_oom(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not runtime.is_oom(ValueError("not enough memory"))  # only the allocator's kind
