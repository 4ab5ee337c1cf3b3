"""Carry trained weights from a network to its fully convolutional version (fc_to_conv).

An FC layer's weight matrix is (out_features, C·H·W), its rows laid out the way torch.flatten
lays out a (C, H, W) volume: depth slowest, then rows, then columns. Reshaped to
(out_features, C, H, W) it is exactly the filter bank of the CONV layer that replaces it, so the
converted network computes the same scores at the original input size (designer.model.transforms
explains the idea). Every other layer's weights and buffers are copied unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["convert_fc_weights", "layers_by_id"]


def layers_by_id(module: nn.Module) -> dict[str, nn.Module]:
    """The built module's layers by their design ids (the leaf modules, wherever they sit)."""
    out: dict[str, nn.Module] = {}
    for name, child in module.named_modules():
        if name and not any(True for _ in child.children()):
            out[name.rsplit(".", 1)[-1]] = child
    return out


@torch.no_grad()
def convert_fc_weights(original: nn.Module, converted: nn.Module) -> nn.Module:
    """Copy `original`'s weights into `converted`, built from fc_to_conv of the same design.

    Layers are matched by id. A Linear that became a Conv2d gets its weight reshaped to the
    filter shape; everything else is copied as it is. Returns `converted`. Raises ValueError
    naming the layer where the two do not correspond.
    """
    src = layers_by_id(original)
    dst = layers_by_id(converted)
    for nid, a in src.items():
        state = a.state_dict()
        if not state:
            continue
        b = dst.get(nid)
        if b is None:
            raise ValueError(f"{nid}: the converted network has no layer of that name")
        if isinstance(a, nn.Linear) and isinstance(b, nn.Conv2d):
            w = b.weight
            if a.weight.numel() != w.numel() or a.out_features != w.shape[0]:
                raise ValueError(f"{nid}: an FC weight of {tuple(a.weight.shape)} cannot become "
                                 f"a CONV filter bank of {tuple(w.shape)}")
            w.copy_(a.weight.reshape(w.shape))
            if a.bias is not None:
                if b.bias is None:
                    raise ValueError(f"{nid}: the FC layer has a bias, the CONV layer none")
                b.bias.copy_(a.bias)
            continue
        if type(a) is not type(b):
            raise ValueError(f"{nid}: {type(a).__name__} in the original, {type(b).__name__} "
                             "in the converted network")
        try:
            b.load_state_dict(state)
        except RuntimeError as e:
            raise ValueError(f"{nid}: the weights do not fit ({e})") from None
    return converted
