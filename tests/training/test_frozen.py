"""A fine-tune with frozen layers (issue 17): two epochs on the synthetic set on the CPU change
the trainable layers' weights and leave the frozen layers' bit for bit as they were, their
BatchNorm statistics included (a frozen BatchNorm2d stays in eval mode while training)."""

from __future__ import annotations

import pytest
import torch

from designer.bridge.module import build_module
from designer.model.network import Network
from designer.training.events import DataConfig, TrainConfig
from designer.training.trainer import Trainer

FROZEN = ("conv1", "bn1", "fc1")  # a frozen prefix, and a frozen FC between trainable layers


def design() -> Network:
    """CONV-BN-RELU-POOL ×2, FC-RELU-FC on the synthetic set's 32×32 pictures."""
    n = Network("fine-tune")
    x = n.add("Input", {"channels": 3, "height": 32, "width": 32}, id="input")
    for i, depth in ((1, 8), (2, 16)):
        x = n.add("Conv2d", {"out_channels": depth, "padding": 1, "bias": False}, id=f"conv{i}",
                  inputs=[x])
        x = n.add("BatchNorm2d", {}, id=f"bn{i}", inputs=[x])
        x = n.add("ReLU", {}, id=f"relu{i}", inputs=[x])
        x = n.add("MaxPool2d", {}, id=f"pool{i}", inputs=[x])
    x = n.add("Linear", {"out_features": 32}, id="fc1", inputs=[x])
    x = n.add("ReLU", {}, id="fc1_relu", inputs=[x])
    n.add("Linear", {"out_features": 10}, id="fc2", inputs=[x])
    for nid in FROZEN:
        n.set_frozen(nid, True)
    return n


class Snapshot:
    """Keeps the model's state as the run starts (on_start comes after the model is built)."""

    def __init__(self):
        self.trainer: Trainer | None = None
        self.before: dict[str, torch.Tensor] = {}

    def on_start(self, _event):
        self.before = {k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()}


@pytest.mark.parametrize("optimizer", ["adamw", "momentum"])
def test_a_fine_tune_changes_only_the_unfrozen_weights(optimizer):
    cfg = TrainConfig(data=DataConfig(name="synthetic", train_size=512, val_size=128),
                      epochs=2, batch_size=64, optimizer=optimizer, lr=3e-3,
                      weight_decay=0.05, device="cpu")
    snap = Snapshot()
    trainer = snap.trainer = Trainer(design(), cfg, snap)
    result = trainer.run()
    assert result.status == "finished", result.fault
    assert result.history[-1].train_loss < result.history[0].train_loss

    after = trainer.model.state_dict()
    assert set(after) == set(snap.before)
    frozen = [k for k in after if k.split(".")[-2] in FROZEN]
    trained = [k for k in after if k not in frozen]
    # every weight, bias and running statistic of the frozen layers, bit for bit
    assert {k.split(".")[-1] for k in frozen} == {
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    for k in frozen:
        assert torch.equal(after[k], snap.before[k]), f"{k} changed"
    # ... and each of the others moved (bn2's statistics too: it trains in training mode)
    for k in trained:
        assert not torch.equal(after[k], snap.before[k]), f"{k} did not change"
    assert not trainer.model.training  # validation ran last: the module is in eval mode
    assert [m.training for m in (trainer.model.train().layers.bn1,
                                 trainer.model.layers.bn2)] == [False, True]


def test_the_built_module_freezes_what_the_design_says():
    module = build_module(design())
    grads = {name: p.requires_grad for name, p in module.named_parameters()}
    assert {n for n, g in grads.items() if not g} == {
        "layers.conv1.weight", "layers.bn1.weight", "layers.bn1.bias", "layers.fc1.weight",
        "layers.fc1.bias"}
    assert module.frozen_ids == FROZEN
    module.train()
    assert not module.layers.bn1.training and module.layers.bn2.training
    module.eval()
    assert not module.layers.bn2.training
