"""Write the plain (no-branch) case-study presets: the notes' layer patterns and the famous stacks.

Run once from the repository root; the .convnet.json files it writes beside it are the presets:

    python presets/generate_plain.py

Every network is built through the designer.model API and saved with design_file.save, so the
files are exactly the app's format. VGG's five stages are blocks (shown expanded). Each preset's
reference parameter count is the published figure where there is one; where the paper gives none,
it is the count this design computes (the description says so).
tests/presets/test_plain_presets.py checks both against analyze().
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from designer.model.analysis import analyze  # noqa: E402
from designer.model.design_file import Design, save  # noqa: E402
from designer.model.network import Network  # noqa: E402

HERE = Path(__file__).resolve().parent
STEP_Y = 90  # canvas: one layer every 90 units down a single column


class Stack:
    """A plain stack under construction: each layer is wired to the one added before it and
    placed below it on the canvas."""

    def __init__(self, name: str, description: str, channels: int, height: int, width: int):
        self.net = Network(name, description)
        self.last: str | None = None
        self.add("input", "Input", channels=channels, height=height, width=width)

    def add(self, node_id: str, type_name: str, label: str = "", **params) -> str:
        inputs = (self.last,) if self.last else ()
        self.last = self.net.add(type_name, params, id=node_id, inputs=inputs, label=label,
                                 pos=(0.0, float(STEP_Y * len(self.net))))
        return self.last

    # -- the blocks the presets repeat

    def conv(self, node_id: str, filters: int, kernel: int, stride: int = 1,
             padding: int | str = "same", groups: int = 1, label: str = "") -> str:
        if stride != 1 and padding == "same":
            raise ValueError(f'{node_id}: "same" padding needs stride 1')
        return self.add(node_id, "Conv2d", label, out_channels=filters, kernel_size=kernel,
                        stride=stride, padding=padding, groups=groups)

    def conv_relu(self, suffix: str, filters: int, kernel: int = 3, stride: int = 1,
                  padding: int | str = "same", groups: int = 1) -> str:
        self.conv(f"conv{suffix}", filters, kernel, stride, padding, groups)
        return self.add(f"relu{suffix}", "ReLU")

    def maxpool(self, node_id: str, kernel: int = 2, stride: int = 2, ceil_mode: bool = False):
        return self.add(node_id, "MaxPool2d", kernel_size=kernel, stride=stride,
                        ceil_mode=ceil_mode)

    def lrn(self, node_id: str) -> str:
        # The AlexNet paper's b = a / (k + α·Σa²)^β with k=2, n=5, α=1e-4, β=0.75. PyTorch's
        # LocalResponseNorm divides α by the size n, so the paper's α is 5 × 1e-4 here.
        return self.add(node_id, "LocalResponseNorm", size=5, alpha=5e-4, beta=0.75, k=2.0)

    def fc(self, suffix: str, features: int, relu: bool = True, dropout: float = 0.0) -> str:
        self.add(f"fc{suffix}", "Linear", out_features=features)
        if relu:
            self.add(f"relu{suffix}", "ReLU")
        if dropout:
            self.add(f"drop{suffix}", "Dropout", p=dropout)
        return self.last or ""


def save_preset(stack: Stack, filename: str, source: str, params: int | None = None) -> int:
    """Save the stack; reference params = `params` (checked) or, where None, what it computes."""
    report = analyze(stack.net)
    errors = [f"{nid}: {i.message}" for nid in report.order for i in report.layers[nid].errors]
    if errors or not report.ok:
        raise SystemExit(f"{filename}: the design has errors: {errors}")
    computed = report.totals.params
    if params is not None and computed != params:
        raise SystemExit(f"{filename}: computes {computed:,} parameters, reference {params:,}")
    save(Design(stack.net, source=source, reference={"params": computed}), HERE / filename)
    print(f"{filename:48} {computed:>12,} params  {len(stack.net):>3} layers")
    return computed


# ------------------------------------------------------------------------------------------
# The notes' layer patterns


def pattern_conv_relu_pool_x2() -> None:
    s = Stack(
        "INPUT → [CONV → RELU → POOL]×2 → FC → RELU → FC",
        "The notes' first layer pattern on a CIFAR-10 image (32×32×3): a single CONV before "
        "every POOL. The 3×3 convolutions are zero-padded ('same') so they keep the width and "
        "height and only change the depth; the 2×2/2 max pools alone halve the size (32 → 16 → "
        "8), discarding 75% of the activations each time. Notice that the first FC layer, on "
        "the 8×8×64 volume, holds almost all of the parameters.",
        3, 32, 32,
    )
    for i, filters in enumerate((32, 64), 1):
        s.conv_relu(str(i), filters)
        s.maxpool(f"pool{i}")
    s.fc("3", 128)
    s.fc("4", 10, relu=False)
    save_preset(s, "pattern_conv_relu_pool_x2.convnet.json",
                "cs231n notes, 'Layer Patterns' (Karpathy et al.); widths chosen for this "
                "example, parameter count as computed", 545_098)


def pattern_conv_relu_conv_relu_pool_x3() -> None:
    s = Stack(
        "INPUT → [CONV → RELU → CONV → RELU → POOL]×3 → [FC → RELU]×2 → FC",
        "The notes' second layer pattern on a CIFAR-10 image (32×32×3): two 3×3 CONV layers "
        "stacked before every POOL, which the notes recommend for larger, deeper networks, "
        "since stacked CONVs build more complex features before the destructive pooling. Two "
        "stacked 3×3 CONVs see a 5×5 region of their input with fewer weights than one 5×5 "
        "CONV (2·9·C² vs 25·C²) and a non-linearity in between; watch the receptive field grow.",
        3, 32, 32,
    )
    for block, filters in enumerate((32, 64, 128), 1):
        s.conv_relu(f"{block}_1", filters)
        s.conv_relu(f"{block}_2", filters)
        s.maxpool(f"pool{block}")
    s.fc("4", 256)
    s.fc("5", 256)
    s.fc("6", 10, relu=False)
    save_preset(s, "pattern_conv_relu_conv_relu_pool_x3.convnet.json",
                "cs231n notes, 'Layer Patterns' (Karpathy et al.); widths chosen for this "
                "example, parameter count as computed", 879_914)


# ------------------------------------------------------------------------------------------
# Case studies


def lenet5() -> None:
    s = Stack(
        "LeNet-5",
        "LeCun's digit reader on a 32×32 grey image: 5×5 convolutions without padding (32 → "
        "28 → 14 → 10 → 5 → 1), each followed by tanh and a 2×2 average 'subsampling', then "
        "fully connected layers 120-84-10. C5 is a 5×5 convolution on a 5×5 volume, so it is "
        "an FC layer written as a CONV (the notes' FC ↔ CONV conversion). Here C3 connects to "
        "all 6 maps and the subsampling layers have no weights, as in most re-implementations "
        "(61,706 parameters; the paper's sparse C3, trainable subsampling coefficients and "
        "fixed RBF output make its 60,000).",
        1, 32, 32,
    )
    s.conv("conv1", 6, 5, padding=0, label="C1")
    s.add("tanh1", "Tanh")
    s.add("pool1", "AvgPool2d", label="S2", kernel_size=2, stride=2)
    s.conv("conv2", 16, 5, padding=0, label="C3")
    s.add("tanh2", "Tanh")
    s.add("pool2", "AvgPool2d", label="S4", kernel_size=2, stride=2)
    s.conv("conv3", 120, 5, padding=0, label="C5")
    s.add("tanh3", "Tanh")
    s.add("fc4", "Linear", label="F6", out_features=84)
    s.add("tanh4", "Tanh")
    s.add("fc5", "Linear", label="OUTPUT", out_features=10)
    save_preset(s, "lenet5.convnet.json",
                "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, 'Gradient-Based Learning Applied "
                "to Document Recognition', Proceedings of the IEEE, 1998", 61_706)


def alexnet() -> None:
    s = Stack(
        "AlexNet",
        "Krizhevsky, Sutskever and Hinton's ILSVRC 2012 winner as in the paper, the network "
        "that popularised ConvNets: CONV layers stacked on each other, an 11×11 stride-4 first "
        "layer to save memory, local response normalisation (LRN, paper α=1e-4, written 5e-4 "
        "here because PyTorch divides α by the size 5) and ~61 M parameters, most in the FC "
        "layers. The paper says 224×224, but (224 − 11)/4 + 1 is not an integer; 227×227 makes "
        "the sizes work out to 55×55×96. groups=2 on conv2, conv4 and conv5 are the two GPUs' "
        "towers, which see only their own half of the depth.",
        3, 227, 227,
    )
    s.conv_relu("1", 96, 11, stride=4, padding=0)
    s.lrn("norm1")
    s.maxpool("pool1", 3, 2)
    s.conv_relu("2", 256, 5, padding=2, groups=2)
    s.lrn("norm2")
    s.maxpool("pool2", 3, 2)
    s.conv_relu("3", 384, 3, padding=1)
    s.conv_relu("4", 384, 3, padding=1, groups=2)
    s.conv_relu("5", 256, 3, padding=1, groups=2)
    s.maxpool("pool5", 3, 2)
    s.fc("6", 4096, dropout=0.5)
    s.fc("7", 4096, dropout=0.5)
    s.fc("8", 1000, relu=False)
    save_preset(s, "alexnet.convnet.json",
                "A. Krizhevsky, I. Sutskever, G. E. Hinton, 'ImageNet Classification with Deep "
                "Convolutional Neural Networks', NIPS 2012", 60_965_224)


def alexnet_single_tower() -> None:
    s = Stack(
        "AlexNet (single tower, torchvision)",
        "The one-GPU AlexNet most code uses (torchvision's, after Krizhevsky's 'One weird "
        "trick' paper): 64-192-384-256-256 filters, no grouping, no LRN, dropout before the FC "
        "layers. With a 224×224 input and padding 2 the first layer's sizes don't work out: "
        "(224 − 11 + 4)/4 + 1 = 55.25, so PyTorch floors it to 55. What the floor drops is one "
        "of the two columns (and rows) of zero padding, so every pixel is still seen, but the "
        "notes' rule is not met (their point about strides: such sizes must be tracked by "
        "hand). The adaptive average pool to 6×6 lets other input sizes reach the FC layers.",
        3, 224, 224,
    )
    s.conv_relu("1", 64, 11, stride=4, padding=2)
    s.maxpool("pool1", 3, 2)
    s.conv_relu("2", 192, 5, padding=2)
    s.maxpool("pool2", 3, 2)
    s.conv_relu("3", 384, 3, padding=1)
    s.conv_relu("4", 256, 3, padding=1)
    s.conv_relu("5", 256, 3, padding=1)
    s.maxpool("pool5", 3, 2)
    s.add("avgpool", "AdaptiveAvgPool2d", output_size=6)
    s.add("drop5", "Dropout", p=0.5)
    s.fc("6", 4096, dropout=0.5)
    s.fc("7", 4096)
    s.fc("8", 1000, relu=False)
    save_preset(s, "alexnet_single_tower.convnet.json",
                "A. Krizhevsky, 'One weird trick for parallelizing convolutional neural "
                "networks', arXiv:1404.5997, 2014; as torchvision.models.alexnet", 61_100_840)


def zfnet() -> None:
    s = Stack(
        "ZFNet",
        "Zeiler and Fergus's ILSVRC 2013 winner (Fig. 3 of the paper): AlexNet with a smaller "
        "first-layer filter and stride (7×7/2 instead of 11×11/4, the notes' example of a "
        "memory compromise at the first CONV) and bigger middle CONVs: layers 3-5 are dense, "
        "each filter seeing the full input depth where AlexNet's two towers saw half (the "
        "paper's wider variant has 512-1024-512 filters). The paper's sizes (110, 55, 26, 13, "
        "6) need padding 1 on conv1 (floored: sizes don't work out) and pools that round up "
        "(ceil_mode, as Caffe does). The paper gives no parameter count; the reference is the "
        "count computed here.",
        3, 224, 224,
    )
    s.conv_relu("1", 96, 7, stride=2, padding=1)
    s.maxpool("pool1", 3, 2, ceil_mode=True)
    s.lrn("norm1")
    s.conv_relu("2", 256, 5, stride=2, padding=0)
    s.maxpool("pool2", 3, 2, ceil_mode=True)
    s.lrn("norm2")
    s.conv_relu("3", 384, 3, padding=1)
    s.conv_relu("4", 384, 3, padding=1)
    s.conv_relu("5", 256, 3, padding=1)
    s.maxpool("pool5", 3, 2)
    s.fc("6", 4096, dropout=0.5)
    s.fc("7", 4096, dropout=0.5)
    s.fc("8", 1000, relu=False)
    save_preset(s, "zfnet.convnet.json",
                "M. D. Zeiler, R. Fergus, 'Visualizing and Understanding Convolutional "
                "Networks', arXiv:1311.2901, 2013 (ECCV 2014); parameter count as computed",
                62_357_608)


VGG_BLOCKS = {16: ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
              19: ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))}


def vgg(depth: int, params: int) -> None:
    config = {16: "D", 19: "E"}[depth]
    s = Stack(
        f"VGG-{depth}",
        f"Simonyan and Zisserman's ILSVRC 2014 runner-up (configuration {config}): {depth} "
        "CONV/FC layers in an extremely homogeneous design, only 3×3 stride-1 pad-1 CONVs and "
        "2×2/2 max pools from 224×224 down to 7×7×512. Notice where the cost is, as the notes "
        "point out: most of the memory in the early CONV volumes (224×224×64), most of the "
        "~140 M parameters in the first FC layer (7·7·512·4096 ≈ 103 M weights), which later "
        "work found can be removed without loss.",
        3, 224, 224,
    )
    for block, (filters, n) in enumerate(VGG_BLOCKS[depth], 1):
        first = len(s.net)
        for i in range(1, n + 1):
            s.conv_relu(f"{block}_{i}", filters, 3, padding=1)
        s.maxpool(f"pool{block}")
        s.net.add_block(list(s.net.nodes)[first:], "stage", f"stage {block} ({filters} filters)",
                        id=f"stage{block}")  # grouped, shown expanded (a column)
    s.fc("6", 4096, dropout=0.5)
    s.fc("7", 4096, dropout=0.5)
    s.fc("8", 1000, relu=False)
    save_preset(s, f"vgg{depth}.convnet.json",
                "K. Simonyan, A. Zisserman, 'Very Deep Convolutional Networks for Large-Scale "
                "Image Recognition', arXiv:1409.1556, 2014 (ICLR 2015)", params)


def allconv_cifar10() -> None:
    s = Stack(
        "All-CNN-C (CIFAR-10)",
        "Springenberg et al.'s All Convolutional Net, the notes' example of getting rid of "
        "pooling: every max pool is replaced by a 3×3 CONV with stride 2 (32 → 16 → 8), and the "
        "FC layers by 1×1 CONVs to 10 maps and a global average over the last 6×6. A 3×3 "
        "stride-2 CONV on an even size never works out exactly ((32 − 3 + 2)/2 + 1 = 16.5, "
        "floored to 16), the sizing headache of strides > 1. The paper says about 1.3 M "
        "parameters; the reference is the exact count computed here.",
        3, 32, 32,
    )
    s.add("drop_in", "Dropout", p=0.2)
    s.conv_relu("1", 96)
    s.conv_relu("2", 96)
    s.conv_relu("3", 96, stride=2, padding=1)
    s.add("drop3", "Dropout", p=0.5)
    s.conv_relu("4", 192)
    s.conv_relu("5", 192)
    s.conv_relu("6", 192, stride=2, padding=1)
    s.add("drop6", "Dropout", p=0.5)
    s.conv_relu("7", 192, 3, padding=0)
    s.conv_relu("8", 192, 1)
    s.conv_relu("9", 10, 1)
    s.add("gap", "AdaptiveAvgPool2d", output_size=1)
    s.add("flatten", "Flatten")
    save_preset(s, "allconv_cifar10.convnet.json",
                "J. T. Springenberg, A. Dosovitskiy, T. Brox, M. Riedmiller, 'Striving for "
                "Simplicity: The All Convolutional Net', ICLR 2015 workshop (arXiv:1412.6806); "
                "parameter count as computed", 1_369_738)


def main() -> None:
    pattern_conv_relu_pool_x2()
    pattern_conv_relu_conv_relu_pool_x3()
    lenet5()
    alexnet()
    alexnet_single_tower()
    zfnet()
    vgg(16, 138_357_544)
    vgg(19, 143_667_240)
    allconv_cifar10()


if __name__ == "__main__":
    main()
