"""Import of models made elsewhere: the code the designer exports comes back as the same design;
functional forms map to layers; what does not map is listed with where it is."""

from __future__ import annotations

import ast
import logging
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from designer.bridge.codegen import export_code
from designer.bridge.importer import (
    ModelImportError,
    import_model,
    import_module,
    import_pt2,
    parse_input_shape,
)
from designer.bridge.pt2 import export_pt2
from designer.model import Network, analyze
from designer.model.design_file import dumps, load, loads

PRESETS = Path(__file__).resolve().parents[2] / "presets"
ALL_PRESETS = sorted(p.name.removesuffix(".convnet.json") for p in PRESETS.glob("*.convnet.json"))
RUN_ON_CPU = ["cifar10_example", "pattern_conv_relu_pool_x2",
              "pattern_conv_relu_conv_relu_pool_x3", "lenet5", "allconv_cifar10",
              "resnet20_cifar", "resnet18", "googlenet"]


def preset(name: str) -> Network:
    return load(PRESETS / f"{name}.convnet.json").network


def exported_class(source: str) -> type[nn.Module]:
    name = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)][0]
    ns: dict = {}
    exec(compile(source, "model.py", "exec"), ns)
    return ns[name]


def node_map(original: Network, imported: Network) -> dict[str, str]:
    """Original id -> imported id: layers by their id (the module attribute names), the INPUT
    to the INPUT, merges (their ids are not in the code) by their mapped inputs."""
    mapping: dict[str, str] = {}
    in_a = [n for n in original.nodes.values() if n.type == "Input"]
    in_b = [n for n in imported.nodes.values() if n.type == "Input"]
    assert len(in_a) == len(in_b) == 1
    mapping[in_a[0].id] = in_b[0].id
    for nid in original.topological_order():
        node = original.nodes[nid]
        if node.type == "Input":
            continue
        if node.type in ("Add", "Concat"):
            want = tuple(mapping[s] for s in node.inputs)
            found = [n.id for n in imported.nodes.values()
                     if n.type == node.type and n.inputs == want]
            assert len(found) == 1, (nid, want)
            mapping[nid] = found[0]
        else:
            assert nid in imported.nodes, f"{nid} is missing from the imported design"
            mapping[nid] = nid
    return mapping


def assert_same_design(original: Network, imported: Network, ignore=()) -> None:
    """Same layers (types, parameters), same wiring, same output volumes."""
    def kept(net):
        return {n: v for n, v in net.nodes.items() if v.type not in ignore}

    ra, rb = analyze(original), analyze(imported)
    assert rb.first_error() is None
    assert len(kept(imported)) == len(kept(original))
    mapping = node_map(original, imported)
    for nid, new in mapping.items():
        a, b = original.nodes[nid], imported.nodes[new]
        assert (b.type, dict(b.params)) == (a.type, dict(a.params)), nid
        assert b.inputs == tuple(mapping[s] for s in a.inputs), nid
        assert rb.layers[new].shape == ra.layers[nid].shape, nid
        assert b.pos is not None  # laid out for the canvas
    assert rb.totals.params == ra.totals.params and rb.totals.macs == ra.totals.macs


@pytest.mark.parametrize("name", ALL_PRESETS)
def test_the_code_exported_for_each_preset_imports_back_as_the_same_design(name):
    net = preset(name)
    cls = exported_class(export_code(net))
    if name in RUN_ON_CPU:
        model = cls()
    else:  # the big ones: on the meta device (shapes without weights or compute)
        with torch.device("meta"):
            model = cls()
    design = import_module(model)  # the input shape from the class's input_shape
    assert_same_design(net, design.network)
    assert design.network.name == cls.__name__
    assert loads(dumps(design)).network.nodes.keys() == design.network.nodes.keys()


class Functional(nn.Module):
    """The functional forms: F.conv2d with the model's own weight, F.* activations and pools,
    a residual `+`, torch.cat, x.view(x.size(0), -1) before an nn.Linear."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.conv_b = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(F.conv2d(x, self.weight, None, 1, 1))
        y = F.leaky_relu(self.conv_b(x), 0.2)
        x = torch.cat([x, x + y], 1)
        x = F.max_pool2d(self.bn(x), 2)
        x = F.avg_pool2d(torch.tanh(x), kernel_size=2, stride=2)
        x = F.dropout(x, 0.3, self.training)
        return self.fc(x.view(x.size(0), -1))


def test_functional_forms_map_to_layers():
    net = import_module(Functional(), "3,16,16").network
    types = [net.nodes[n].type for n in net.topological_order()]
    assert types == ["Input", "Conv2d", "ReLU", "Conv2d", "LeakyReLU", "Add", "Concat",
                     "BatchNorm2d", "MaxPool2d", "Tanh", "AvgPool2d", "Dropout", "Linear"]
    conv = net.nodes["conv2d"]
    assert dict(conv.params) == {"out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1,
                                 "dilation": 1, "groups": 1, "bias": False}
    assert net.nodes["leaky_relu"].params["negative_slope"] == 0.2
    assert net.nodes["dropout"].params["p"] == 0.3
    assert net.nodes["cat"].inputs == ("relu", "add")  # the order of torch.cat's list
    report = analyze(net)
    assert report.layers["fc"].in_shapes == ((16, 4, 4),)  # the view was a flatten: left out
    assert report.totals.params == sum(p.numel() for p in Functional().parameters())


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, (3, 5))
        self.up = nn.Upsample(scale_factor=2)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = torch.softmax(self.conv(x), 1)
        x = self.up(x * 2)
        return self.pool(x)


def test_an_unsupported_operation_gives_the_list_of_what_does_not_map():
    with pytest.raises(ModelImportError) as info:
        import_module(Unsupported(), (3, 16, 16))
    message = str(info.value)
    assert message.startswith("Unsupported: 4 operations of the model do not map to the "
                              "designer's layers:")
    assert "  - Conv2d with a kernel 3×5 (the designer's layers are square) (at conv)" in message
    assert "  - torch.softmax (at softmax)" in message
    assert "  - operator.mul (at mul)" in message
    assert "  - Upsample (at up)" in message
    assert "The designer has: Conv2d, MaxPool2d" in message
    assert [what for what, _ in info.value.unsupported] == [
        "Conv2d with a kernel 3×5 (the designer's layers are square)", "torch.softmax",
        "operator.mul", "Upsample"]


def test_a_linear_on_a_volume_means_something_else_and_is_refused():
    class LastAxis(nn.Module):  # nn.Linear on (N, C, H, W) acts on W alone
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(ModelImportError, match=r"fc \(Linear\): the design makes 1×1×4 but "
                                                r"the model makes 4×8×3 there"):
        import_module(LastAxis(), "3,8,8")


def test_the_input_shape_comes_from_the_argument_or_the_class():
    model = Functional()
    with pytest.raises(ModelImportError, match="give the input shape"):
        import_module(model)
    with pytest.raises(ModelImportError, match="is not C,H,W"):
        import_module(model, "3,16")
    with pytest.raises(ModelImportError, match=r"running the model on a 1×3×20×20 .* failed"):
        import_module(model, "3,20,20")  # the Linear wants 16×4×4
    assert parse_input_shape("1x28x28") == (1, 28, 28)
    assert parse_input_shape([3, 32, 32]) == (3, 32, 32)


def test_a_python_file_or_module_names_the_model(tmp_path):
    net = preset("lenet5")
    source = tmp_path / "lenet.py"
    source.write_text(export_code(net), encoding="utf-8")
    for spec in (str(source), f"{source}:LeNet5"):
        design = import_model(spec)
        assert_same_design(net, design.network)
        assert design.source == "imported from lenet.py:LeNet5"
    two = tmp_path / "two.py"
    two.write_text(textwrap.dedent("""
        from torch import nn
        class A(nn.Module):
            pass
        class B(nn.Module):
            pass
        def make():
            return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    """), encoding="utf-8")
    with pytest.raises(ModelImportError, match=r"name the model as .*two.py:NAME \(nn.Module "
                                                r"classes defined there: A, B\)"):
        import_model(str(two))
    made = import_model(f"{two}:make", "1,4,4").network
    assert [n.type for n in made.nodes.values()] == ["Input", "Conv2d", "ReLU", "Flatten",
                                                     "Linear"]
    assert list(made.nodes)[1:] == ["layer_0", "layer_1", "layer_2", "layer_3"]
    with pytest.raises(ModelImportError, match="has no attribute 'C'"):
        import_model(f"{two}:C")
    with pytest.raises(ModelImportError, match="no such file"):
        import_model(str(tmp_path / "missing.py"))
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    with pytest.raises(ModelImportError, match="importing it failed: RuntimeError: boom"):
        import_model(str(broken))
    mod = import_model("torch.nn:Tanh", "1,2,2").network
    assert [n.type for n in mod.nodes.values()] == ["Input", "Tanh"]


def test_pickled_models_and_files_that_are_not_models_are_refused(tmp_path):
    pickled = tmp_path / "model.pt"
    torch.save(nn.Conv2d(1, 1, 1), pickled)
    with pytest.raises(ModelImportError, match="a pickled model is not opened"):
        import_model(str(pickled))
    fake = tmp_path / "fake.pt2"
    fake.write_text("not a zip", encoding="utf-8")
    with pytest.raises(ModelImportError, match="not a torch.export"):
        import_model(str(fake))
    with pytest.raises(ModelImportError, match="no such file"):
        import_model(str(tmp_path / "nothing.pt2"))


@pytest.mark.parametrize("name", ["cifar10_example", "resnet20_cifar"])
def test_a_torch_export_program_imports_back_as_the_same_design(name, tmp_path):
    net = preset(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_pt2(net, tmp_path / "model.pt2")
        design = import_pt2(tmp_path / "model.pt2")
    assert_same_design(net, design.network)


def test_a_torch_export_program_keeps_local_response_norm(tmp_path):
    net = Network("lrn")
    prev = net.add("Input", {"channels": 8, "height": 6, "width": 6}, id="input")
    prev = net.add("Conv2d", {"out_channels": 8, "kernel_size": 3}, id="conv", inputs=[prev])
    prev = net.add("LocalResponseNorm", {"size": 3, "alpha": 0.002, "beta": 0.7, "k": 2.0},
                   id="norm", inputs=[prev])
    net.add("Dropout2d", {"p": 0.25}, id="drop", inputs=[prev])
    logging.disable(logging.WARNING)
    try:
        export_pt2(net, tmp_path / "lrn.pt2")
        design = import_model(str(tmp_path / "lrn.pt2"))
    finally:
        logging.disable(logging.NOTSET)
    assert_same_design(net, design.network)
