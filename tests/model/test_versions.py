"""A design's version (model/versions.py): the same exactly when the built module has the same
parameters under the same names."""

from __future__ import annotations

from pathlib import Path

from designer.model.design_file import load
from designer.model.versions import is_key, structure_key

ROOT = Path(__file__).resolve().parents[2]


def cifar():
    return load(ROOT / "presets" / "cifar10_example.convnet.json").network


def test_what_keeps_the_weights_usable_keeps_the_version():
    net = cifar()
    key = structure_key(net)
    assert is_key(key)
    net.move("conv", (500.0, 700.0))
    net.name, net.description = "renamed", "another text"
    net.set_frozen("conv", True)
    assert structure_key(net) == key
    assert structure_key(cifar()) == key  # the same file: the same version, every time


def test_what_changes_the_parameters_or_wiring_changes_the_version():
    key = structure_key(cifar())
    a = cifar()
    a.set_params("conv", out_channels=13)
    b = cifar()
    b.set_params("conv", kernel_size=5)
    c = cifar()
    c.remove("relu")
    d = cifar()
    d.rename("conv", "conv1")  # the weights' names change with the layer's id
    keys = {structure_key(n) for n in (a, b, c, d)}
    assert key not in keys and len(keys) == 4


def test_a_version_read_from_a_file_is_checked():
    assert not is_key("../../etc") and not is_key(None) and not is_key("ABCDEF0123456789")
    assert is_key("0123456789abcdef")
