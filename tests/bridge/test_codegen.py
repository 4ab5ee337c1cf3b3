"""The code export: readable PyTorch source that rebuilds the designer's module exactly.

Every test runs the exported text the way a user would (in a fresh namespace, with nothing of the
designer imported by it) and compares it with build_module(): the same module tree and state_dict
keys, the designer's weights loaded with strict=True, the same outputs.
"""

import ast
import importlib.util
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from designer.bridge import codegen
from designer.bridge.codegen import class_name_for, export_code
from designer.bridge.module import BuildError, build_module
from designer.model import Network, analyze
from designer.model.design_file import dumps, load, loads

PRESETS = Path(__file__).resolve().parents[2] / "presets"
ALL_PRESETS = sorted(p.name.removesuffix(".convnet.json") for p in PRESETS.glob("*.convnet.json"))
# small enough to build and run one sample on a CPU in well under a second each
RUN_ON_CPU = ["cifar10_example", "pattern_conv_relu_pool_x2",
              "pattern_conv_relu_conv_relu_pool_x3", "lenet5", "allconv_cifar10",
              "resnet20_cifar", "resnet18", "googlenet"]
# the big ones (VGG, AlexNet, ResNet-34/50/152): structure and weights only, on the meta device
META_ONLY = [name for name in ALL_PRESETS if name not in RUN_ON_CPU]


def preset(name: str) -> Network:
    return load(PRESETS / f"{name}.convnet.json").network


def exported_class(source: str) -> type[nn.Module]:
    """Run the exported module as a user would and return the class it defines."""
    classes = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    assert len(classes) == 1, classes
    ns: dict = {}
    exec(compile(source, "model.py", "exec"), ns)
    return ns[classes[0]]


def randomize(model: nn.Module) -> None:
    """BatchNorm statistics and affine parameters away from their initial 0s and 1s, so that a
    BatchNorm loaded into the wrong place would show in the output (the other weights are random
    from their initialisation already). Moderate values: large ones would blow the last-bit
    differences of CPU kernels (which depend on memory alignment) up past the tolerance."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                for name, t in [*module.named_parameters(), *module.named_buffers()]:
                    if t.is_floating_point():
                        u = torch.rand(t.shape, generator=gen)
                        t.copy_(u + 0.5 if name in ("weight", "running_var") else u * 0.2 - 0.1)


def tree(model: nn.Module) -> list[tuple[str, str]]:
    """Every submodule's dotted name and class (the root's class is the model's own)."""
    return [(name, type(m).__name__) for name, m in model.named_modules() if name]


def assert_same_model(net: Network, source: str, train: bool = False) -> None:
    cls = exported_class(source)
    built = build_module(net)
    randomize(built)
    exported = cls()
    assert tree(exported) == tree(built)
    assert list(exported.state_dict()) == list(built.state_dict())
    exported.load_state_dict(built.state_dict(), strict=True)
    rep = analyze(net)
    assert cls.input_shape == rep.layers[built.input_id].shape
    x = torch.randn(2 if train else 1, *cls.input_shape)
    for mode in (False, True) if train else (False,):
        built.train(mode)
        exported.train(mode)
        with torch.no_grad():
            torch.manual_seed(7)  # the same dropout masks, drawn in the same order
            want = built(x.clone())
            torch.manual_seed(7)
            got = exported(x.clone())
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    if train:  # BatchNorm statistics were updated the same way
        for (k, a), b in zip(built.state_dict().items(), exported.state_dict().values()):
            torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=k)


# ------------------------------------------------------------------------------------- presets


@pytest.mark.parametrize("name", RUN_ON_CPU)
def test_exported_preset_loads_the_designers_weights_and_computes_the_same(name):
    torch.manual_seed(0)
    net = preset(name)
    assert_same_model(net, export_code(net))


@pytest.mark.parametrize("name", META_ONLY)
def test_exported_big_preset_has_the_designers_tree_and_state_dict(name):
    net = preset(name)
    cls = exported_class(export_code(net))
    with torch.device("meta"):
        built = build_module(net)
        exported = cls()
    assert tree(exported) == tree(built)
    want = {k: t.shape for k, t in built.state_dict().items()}
    got = {k: t.shape for k, t in exported.state_dict().items()}
    assert list(got) == list(want)
    assert got == want
    exported.load_state_dict(built.state_dict(), strict=True)
    assert sum(p.numel() for p in exported.parameters()) == analyze(net).totals.params


def test_every_preset_is_covered():
    assert set(RUN_ON_CPU) <= set(ALL_PRESETS)
    assert len(ALL_PRESETS) == len(RUN_ON_CPU) + len(META_ONLY) >= 16


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_exported_source_needs_only_torch_and_is_stable(name):
    net = preset(name)
    source = export_code(net)
    compile(source, f"{name}.py", "exec")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    # the standard library's, and safetensors inside from_checkpoint for .safetensors files
    assert imported <= {"torch", "torch.nn", "collections", "json", "warnings",
                        "safetensors"}, imported
    assert "designer" not in source.split('"""', 2)[2]  # only the docstring names the app
    # the same design gives the same text, also after a save and a reload
    assert export_code(net) == source
    again = loads(dumps(load(PRESETS / f"{name}.convnet.json")))
    assert export_code(again.network) == source


# ------------------------------------------------------------------------------------- reading


def test_cifar10_example_reads_like_hand_written_code():
    net = preset("cifar10_example")
    source = export_code(net)
    head = source.split('"""', 2)[1]
    assert head.startswith("CIFAR-10 example")
    assert net.description in head
    assert "32×32×3" in head and "31,066" in head and "Generated by ConvNet Designer" in head
    assert "class CIFAR10Example(nn.Module):" in source
    assert "input_shape = (3, 32, 32)" in source
    assert "from collections import OrderedDict\n\nimport torch\nfrom torch import nn\n" in source
    for line in ('("conv", nn.Conv2d(3, 12, kernel_size=3, padding="same")),',
                 '("relu", nn.ReLU(inplace=True)),',
                 '("pool", nn.MaxPool2d(kernel_size=2, stride=2)),',
                 '("fc", nn.Linear(3072, 10)),'):
        assert line in source
    # the FC flattens the pooled volume in forward(); the Sequential keeps the designer's tree
    assert "x = torch.flatten(x, 1)" in source
    assert "x = self.layers.fc(x)" in source
    assert "nn.Flatten" not in source


def test_defaults_are_left_out():
    source = export_code(preset("resnet18"))
    assert "nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False)" in source
    assert "nn.Conv2d(64, 128, kernel_size=1, stride=2, bias=False)" in source
    assert "nn.BatchNorm2d(64)" in source
    for default in ("stride=1,", "dilation=1", "groups=1", "bias=True", "ceil_mode=False"):
        assert default not in source


def test_the_defaults_the_export_leaves_out_are_pytorchs():
    for cls_name, (positional, always, defaults) in codegen._SIGNATURES.items():
        params = inspect.signature(getattr(nn, cls_name)).parameters
        for name in (*positional, *always, *defaults):
            assert name in params, (cls_name, name)
        for name, value in defaults.items():
            assert params[name].default == value, (cls_name, name)


def branched_network() -> Network:
    """A stem, an Inception-like fork joined by Concat, a residual Add around it, and an FC on
    the volume."""
    net = Network("tiny branched", "An Add and a Concat.")
    x = net.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input")
    x = net.add("Conv2d", {"out_channels": 8, "padding": 1}, id="stem", inputs=[x])
    x = net.add("BatchNorm2d", id="stem_bn", inputs=[x])
    x = net.add("ReLU", id="stem_relu", inputs=[x])
    a = net.add("Conv2d", {"out_channels": 4, "kernel_size": 1}, id="mix_1x1", inputs=[x])
    b = net.add("Conv2d", {"out_channels": 4, "padding": 1}, id="mix_3x3", inputs=[x])
    b = net.add("ReLU", id="mix_3x3_relu", inputs=[b])
    cat = net.add("Concat", id="mix", inputs=[a, b])
    y = net.add("Add", id="block_add", inputs=[cat, x])
    y = net.add("ReLU", id="block_relu", inputs=[y])
    y = net.add("Dropout", {"p": 0.25}, id="drop", inputs=[y])
    net.add("Linear", {"out_features": 5}, id="fc", inputs=[y])
    return net


def test_branches_are_explicit_in_forward():
    net = branched_network()
    source = export_code(net)
    forward = source[source.index("def forward"):source.index("return")]
    assert forward.split("\n")[1:-1] == [
        "        if self.raw_input:",
        "            x = self.preprocess(x)",
        "        x = self.stem_to_stem_relu(x)",
        "        branch1 = self.mix_1x1(x)",
        "        branch2 = self.mix_3x3_to_mix_3x3_relu(x)",
        "        out = torch.cat([branch1, branch2], 1)  # mix",
        "        x = out + x  # block_add",
        "        x = self.block_relu_to_fc[:2](x)  # block_relu to drop",
        "        x = torch.flatten(x, 1)",
        "        x = self.block_relu_to_fc.fc(x)",
    ]
    assert "class TinyBranched(nn.Module):" in source
    assert "nn.Dropout(p=0.25)" in source
    assert_same_model(net, source, train=True)


def test_residual_blocks_keep_the_shortcut_as_identity():
    source = export_code(preset("resnet20_cifar"))
    forward = source[source.index("def forward"):]
    assert ("        identity = x\n"
            "        x = self.layer2_0_conv1_to_layer2_0_bn2(x)\n"
            "        identity = self.layer2_0_downsample_conv_to_layer2_0_downsample_bn(identity)\n"
            "        x = x + identity  # layer2_0_add\n"
            "        x = self.layer2_0_relu2(x)\n") in forward


def test_inception_modules_name_their_branches():
    source = export_code(preset("googlenet"))
    assert ("branch4 = self.inception_3a_pool_to_inception_3a_pool_proj_relu(x)\n"
            "        x = torch.cat([branch1, branch2, branch3, branch4], 1)  # inception_3a_output"
            ) in source


def test_unused_outputs_are_still_computed():
    """A second output is computed (as in the designer: it may draw dropout masks or update
    BatchNorm statistics) but not kept."""
    net = Network("two heads")
    x = net.add("Input", {"channels": 2, "height": 4, "width": 4}, id="input")
    x = net.add("Conv2d", {"out_channels": 3}, id="conv", inputs=[x])
    net.add("BatchNorm2d", id="side", inputs=[x])
    net.add("Linear", {"out_features": 2}, id="head", inputs=[x])
    source = export_code(net)
    assert "_ = self.side(x)" in source
    assert_same_model(net, source, train=True)


# ------------------------------------------------------------------------------------- names


def test_class_names():
    assert class_name_for("ResNet-18") == "ResNet18"
    assert class_name_for("CIFAR-10 example") == "CIFAR10Example"
    assert class_name_for("GoogLeNet (Inception v1)") == "GoogLeNetInceptionV1"
    assert class_name_for("my net") == "MyNet"
    assert class_name_for("Réseau à 3 couches") == "ReseauA3Couches"
    assert class_name_for("16 layers") == "Net16Layers"
    assert class_name_for("none") == "NoneNet"
    assert class_name_for("") == class_name_for("→ ×") == "Net"
    long_name = "a very long name that goes on and on and on"
    assert class_name_for(long_name) == "AVeryLongNameThatGoesOnAndOnAnd"
    for name in ALL_PRESETS:
        assert class_name_for(preset(name).name).isidentifier()


def test_any_name_and_description_make_valid_source():
    net = Network('Quotes """ and a backslash \\ in a long name that must be wrapped somewhere',
                  'A description with """ and \\n.\n\nA second paragraph.')
    x = net.add("Input", {"channels": 1, "height": 4, "width": 4})
    net.add("Conv2d", {"out_channels": 2, "kernel_size": 1}, inputs=[x])
    source = export_code(net)
    assert max(len(line) for line in source.splitlines()) <= 100
    cls = exported_class(source)
    assert 'Quotes """ and a backslash \\ in' in cls.__doc__
    assert_same_model(net, source)


def test_class_name_can_be_chosen():
    net = preset("lenet5")
    source = export_code(net, class_name="Digits")
    assert "class Digits(nn.Module):" in source and "Digits.input_shape" in source
    assert exported_class(source).__name__ == "Digits"
    for bad in ("2net", "my net", "class", "OrderedDict"):
        with pytest.raises(ValueError):
            export_code(net, class_name=bad)


def test_designs_with_errors_or_clashing_names_are_refused():
    net = Network()
    x = net.add("Input", {"channels": 3, "height": 4, "width": 4})
    net.add("Conv2d", {"kernel_size": 7}, inputs=[x])
    with pytest.raises(BuildError):
        export_code(net)
    for taken in ("forward", "training", "input_shape", "mean", "std", "preprocess",
                  "from_checkpoint", "raw_input", "classes"):
        net = Network()
        x = net.add("Input", {"channels": 3, "height": 4, "width": 4})
        net.add("Conv2d", {"out_channels": 2, "kernel_size": 1}, id=taken, inputs=[x])
        with pytest.raises(BuildError, match=taken):
            export_code(net)


# ------------------------------------------------------------------------------------- lint


def _ruff() -> list[str] | None:
    if shutil.which("ruff"):
        return ["ruff"]
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    return None


@pytest.mark.skipif(_ruff() is None, reason="ruff is not installed")
def test_exported_source_is_ruff_clean(tmp_path):
    for name in ALL_PRESETS:
        (tmp_path / f"{name}.py").write_text(export_code(preset(name)), encoding="utf-8")
    (tmp_path / "branched.py").write_text(export_code(branched_network()), encoding="utf-8")
    result = subprocess.run(
        [*_ruff(), "check", "--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "100",
         "--target-version", "py310", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------- property


VOLUME_SAME = ["BatchNorm2d", "ReLU", "LeakyReLU", "GELU", "Tanh", "Dropout", "Dropout2d",
               "LocalResponseNorm"]


@st.composite
def branched_networks(draw):
    """Random DAGs: chains, forks of 2-3 branches joined by Add or Concat, long skips, side
    outputs, an FC on a volume (in a run or on its own)."""
    net = Network("random")
    c = draw(st.integers(1, 4))
    prev = net.add("Input", {"channels": c, "height": draw(st.integers(3, 6)),
                             "width": draw(st.integers(3, 6))})
    depth = {prev: c}  # volumes by id -> channels
    history = [prev]
    prev = net.add("Conv2d", {"out_channels": c, "kernel_size": 1}, inputs=[prev])
    depth[prev] = c

    def layer(src, t, **params):
        nid = net.add(t, params, inputs=[src])
        depth[nid] = params.get("out_channels", depth[src])
        return nid

    def branch(src, channels):
        """0-2 layers from src keeping the spatial size; channels=None: any depth."""
        for _ in range(draw(st.integers(0 if channels is None else 1, 2))):
            t = draw(st.sampled_from(["Conv2d", "Conv2d", "MaxPool2d", *VOLUME_SAME]))
            if t == "Conv2d":
                out = channels or draw(st.integers(1, 4))
                src = layer(src, "Conv2d", out_channels=out, kernel_size=3, padding="same")
            elif t == "MaxPool2d":
                src = layer(src, "MaxPool2d", kernel_size=3, stride=1, padding=1)
            else:
                src = layer(src, t)
        if channels is not None and depth[src] != channels:
            src = layer(src, "Conv2d", out_channels=channels, kernel_size=1)
        return src

    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["chain", "fork", "skip", "side"]))
        if kind == "chain":
            prev = branch(prev, None)
        elif kind == "fork":
            merge = draw(st.sampled_from(["Add", "Concat"]))
            k = draw(st.integers(2, 3))
            channels = depth[prev] if merge == "Add" else None
            ends = list(dict.fromkeys(branch(prev, channels) for _ in range(k)))
            if len(ends) < 2:
                continue
            prev = net.add(merge, inputs=ends)
            depth[prev] = depth[ends[0]] if merge == "Add" else sum(depth[e] for e in ends)
        elif kind == "skip":
            old = draw(st.sampled_from(history))
            if old == prev:
                continue
            other = branch(prev, depth[old]) if depth[old] != depth[prev] else prev
            if other == old:
                continue
            prev = net.add("Add", inputs=[other, old])
            depth[prev] = depth[old]
        else:
            layer(draw(st.sampled_from(history)), "BatchNorm2d")
        history.append(prev)
    if draw(st.booleans()):
        if draw(st.booleans()):
            prev = layer(prev, "ReLU")
        prev = net.add("Linear", {"out_features": draw(st.integers(1, 4))}, inputs=[prev])
        for t in draw(st.lists(st.sampled_from(["ReLU", "Dropout", "Linear"]), max_size=2)):
            prev = net.add(t, inputs=[prev])
    return net


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(branched_networks())
def test_random_branched_networks_export_exactly(net):
    assume(analyze(net).ok)
    assert_same_model(net, export_code(net), train=True)
