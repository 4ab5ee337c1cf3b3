"""Writes the branched case studies: GoogLeNet (Inception v1) and the ResNets.

    python presets/generate_branched.py          # (re)writes the .convnet.json files beside it

Each network is built with the Network API and the block templates of designer.model.transforms,
checked against the parameter count its authors (or torchvision) publish, and saved with
designer.model.design_file.save. The blocks come grouped and collapsed (GoogLeNet: its stem, its
nine Inception modules and its head; a ResNet: its stem, its stages of residual blocks and its
head), laid out top to bottom as the canvas shows them (model/layout.arrange). The files are
committed; tests check this script still makes them byte for byte.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from designer.model.analysis import analyze  # noqa: E402
from designer.model.design_file import Design, save  # noqa: E402
from designer.model.layout import arrange  # noqa: E402
from designer.model.network import Network  # noqa: E402
from designer.model.transforms import (  # noqa: E402
    ROW,
    basic_block,
    bottleneck_block,
    inception_module,
)

GOOGLENET_SOURCE = (
    "C. Szegedy, W. Liu, Y. Jia, P. Sermanet, S. Reed, D. Anguelov, D. Erhan, V. Vanhoucke, "
    "A. Rabinovich, 'Going Deeper with Convolutions', CVPR 2015 (arXiv:1409.4842, 2014), Table 1"
)
RESNET_SOURCE = (
    "K. He, X. Zhang, S. Ren, J. Sun, 'Deep Residual Learning for Image Recognition', CVPR 2016 "
    "(arXiv:1512.03385, 2015)"
)


class _Column:
    """Adds layers one under another in the canvas column x = 0."""

    def __init__(self, net: Network):
        self.net = net
        self.last: str | None = None

    def add(self, nid: str, type_name: str, params: dict | None = None) -> str:
        if self.last is None:
            pos = (0.0, 0.0)
            inputs: tuple[str, ...] = ()
        else:
            x, y = self.net[self.last].pos or (0.0, 0.0)
            pos = (0.0, y + ROW)
            inputs = (self.last,)
        self.last = self.net.add(type_name, params, id=nid, inputs=inputs, pos=pos)
        return self.last

    def then(self, block: Callable[..., str], *args, **kwargs) -> str:
        self.last = block(self.net, self.last, *args, **kwargs)
        return self.last


def _group(net: Network, block_id: str, members, kind: str = "group", name: str = "") -> None:
    net.add_block(members, kind, name or block_id, id=block_id, collapsed=True)


def _collapsed(net: Network) -> None:
    """Every block collapsed, and the design laid out as the canvas then shows it."""
    net.set_collapsed(list(net.blocks), True)
    for nid, pos in arrange(net, "top-down").items():
        net.move(nid, pos)


def _resnet_blocks(net: Network, stages: int, stem: list[str]) -> None:
    _group(net, "stem", stem)
    for stage in range(1, stages + 1):
        inner = [b for b in net.blocks.values() if b.id.startswith(f"layer{stage}_")]
        _group(net, f"layer{stage}", [m for b in inner for m in b.members], "stage",
               f"layer{stage} (conv{stage + 1}_x)")
    _group(net, "head", ["avgpool", "flatten", "fc"])
    _collapsed(net)


def _conv(filters: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True) -> dict:
    return {"out_channels": filters, "kernel_size": k, "stride": stride, "padding": padding,
            "bias": bias}


# ---------------------------------------------------------------------------------------------
# GoogLeNet

# Table 1 of the paper: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}

LRN = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}
POOL_3_2 = {"kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": True}


def googlenet() -> Design:
    net = Network(
        "GoogLeNet (Inception v1)",
        "The ILSVRC 2014 winner: nine Inception modules, each running 1×1, 3×3 and 5×5 CONVs and "
        "a 3×3 POOL side by side and stacking their outputs along depth, with 1×1 CONVs reducing "
        "the depth first. Average pooling replaces the big FC layers, so 22 layers hold only "
        "about 7 M parameters (AlexNet: 60 M). Laid out as Table 1 of the paper, without the two "
        "auxiliary classifiers used only in training.",
    )
    col = _Column(net)
    col.add("input", "Input", {"channels": 3, "height": 224, "width": 224})
    col.add("conv1_7x7_s2", "Conv2d", _conv(64, 7, 2, 3))
    col.add("conv1_relu", "ReLU")
    col.add("pool1_3x3_s2", "MaxPool2d", POOL_3_2)  # ceil_mode: 112 -> 56, as torchvision
    col.add("pool1_norm1", "LocalResponseNorm", LRN)
    col.add("conv2_3x3_reduce", "Conv2d", _conv(64, 1))
    col.add("conv2_3x3_reduce_relu", "ReLU")
    col.add("conv2_3x3", "Conv2d", _conv(192, 3, 1, 1))
    col.add("conv2_relu", "ReLU")
    col.add("conv2_norm2", "LocalResponseNorm", LRN)
    col.add("pool2_3x3_s2", "MaxPool2d", POOL_3_2)
    for name in ("3a", "3b"):
        col.then(inception_module, *INCEPTION[name], prefix=f"inception_{name}")
    col.add("pool3_3x3_s2", "MaxPool2d", POOL_3_2)
    for name in ("4a", "4b", "4c", "4d", "4e"):
        col.then(inception_module, *INCEPTION[name], prefix=f"inception_{name}")
    col.add("pool4_3x3_s2", "MaxPool2d", POOL_3_2)
    for name in ("5a", "5b"):
        col.then(inception_module, *INCEPTION[name], prefix=f"inception_{name}")
    col.add("pool5_7x7_s1", "AvgPool2d", {"kernel_size": 7, "stride": 1})
    col.add("flatten", "Flatten")
    col.add("dropout", "Dropout", {"p": 0.4})
    col.add("classifier", "Linear", {"out_features": 1000})
    ids = list(net.nodes)
    _group(net, "stem", ids[1:ids.index("pool2_3x3_s2") + 1])
    _group(net, "head", ids[ids.index("pool5_7x7_s1"):])
    _collapsed(net)
    return Design(net, source=GOOGLENET_SOURCE, reference={"params": 6_998_552})


# ---------------------------------------------------------------------------------------------
# ResNets (torchvision layouts)

RESNETS = {
    # name: (block, blocks per stage, params published by torchvision)
    "resnet18": ("basic", (2, 2, 2, 2), 11_689_512),
    "resnet34": ("basic", (3, 4, 6, 3), 21_797_672),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 25_557_032),
    "resnet152": ("bottleneck", (3, 8, 36, 3), 60_192_808),
}


def resnet(name: str) -> Design:
    kind, stages, params = RESNETS[name]
    depth = int(name.removeprefix("resnet"))
    if kind == "basic":
        how = ("basic blocks (two 3×3 CONVs with a shortcut around them)")
    else:
        how = ("bottleneck blocks (1×1 CONV down to a narrow width, 3×3 CONV, 1×1 CONV back up "
               "to 4× the width, with a shortcut around them; the stride sits on the 3×3 CONV as "
               "in torchvision's v1.5)")
    net = Network(
        f"ResNet-{depth}",
        f"A {depth}-layer residual network for ImageNet: each block learns a residual that an Add "
        f"layer sums with the block's input, so very deep stacks still train. Four stages of "
        f"{'/'.join(map(str, stages))} {how}; a 1×1 CONV + BN projects the shortcut where the "
        "size or depth changes. Global average pooling and one FC layer replace the big FC "
        "layers of VGGNet.",
    )
    col = _Column(net)
    col.add("input", "Input", {"channels": 3, "height": 224, "width": 224})
    col.add("conv1", "Conv2d", _conv(64, 7, 2, 3, bias=False))
    col.add("bn1", "BatchNorm2d")
    col.add("relu", "ReLU")
    col.add("maxpool", "MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})
    for stage, blocks in enumerate(stages, 1):
        width = 64 * 2 ** (stage - 1)
        for i in range(blocks):
            stride = 2 if stage > 1 and i == 0 else 1
            prefix = f"layer{stage}_{i}"
            if kind == "basic":
                col.then(basic_block, width, stride, prefix)
            else:
                col.then(bottleneck_block, width, stride, prefix)
    col.add("avgpool", "AdaptiveAvgPool2d", {"output_size": 1})
    col.add("flatten", "Flatten")
    col.add("fc", "Linear", {"out_features": 1000})
    _resnet_blocks(net, len(stages), ["conv1", "bn1", "relu", "maxpool"])
    source = f"{RESNET_SOURCE}; layer layout of torchvision.models.{name}"
    return Design(net, source=source, reference={"params": params})


# He et al. 2015, Section 4.2, n = 3, with 1×1 CONV projections (option B) where the size changes.
RESNET20_CIFAR_PARAMS = 272_474


def resnet20_cifar() -> Design:
    net = Network(
        "ResNet-20 (CIFAR-10)",
        "The residual network He et al. trained on CIFAR-10: a 3×3 CONV with 16 filters, then "
        "three stages of three basic blocks with 16, 32 and 64 filters on 32×32, 16×16 and 8×8 "
        "maps, global average pooling and an FC layer with 10 scores: 20 weight layers. This is "
        "the common variant with 1×1 CONV + BN projection shortcuts where the stride halves the "
        f"size (option B): {RESNET20_CIFAR_PARAMS:,} parameters (the paper quotes 0.27 M).",
    )
    col = _Column(net)
    col.add("input", "Input", {"channels": 3, "height": 32, "width": 32})
    col.add("conv1", "Conv2d", _conv(16, 3, 1, 1, bias=False))
    col.add("bn1", "BatchNorm2d")
    col.add("relu", "ReLU")
    for stage, width in enumerate((16, 32, 64), 1):
        for i in range(3):
            stride = 2 if stage > 1 and i == 0 else 1
            col.then(basic_block, width, stride, f"layer{stage}_{i}")
    col.add("avgpool", "AdaptiveAvgPool2d", {"output_size": 1})
    col.add("flatten", "Flatten")
    col.add("fc", "Linear", {"out_features": 10})
    _resnet_blocks(net, 3, ["conv1", "bn1", "relu"])
    source = f"{RESNET_SOURCE}, Section 4.2 (CIFAR-10, n = 3)"
    return Design(net, source=source, reference={"params": RESNET20_CIFAR_PARAMS})


PRESETS: dict[str, Callable[[], Design]] = {
    "googlenet.convnet.json": googlenet,
    "resnet18.convnet.json": lambda: resnet("resnet18"),
    "resnet34.convnet.json": lambda: resnet("resnet34"),
    "resnet50.convnet.json": lambda: resnet("resnet50"),
    "resnet152.convnet.json": lambda: resnet("resnet152"),
    "resnet20_cifar.convnet.json": resnet20_cifar,
}


def main(folder: Path = HERE) -> None:
    for filename, make in PRESETS.items():
        design = make()
        report = analyze(design.network)
        if not report.ok:
            raise SystemExit(f"{filename}: the design has errors")
        expected = design.reference["params"]
        if report.totals.params != expected:
            raise SystemExit(f"{filename}: {report.totals.params:,} parameters, expected "
                             f"{expected:,}")
        save(design, folder / filename)
        print(f"{filename}: {len(design.network)} layers, {report.totals.params:,} parameters")


if __name__ == "__main__":
    main()
