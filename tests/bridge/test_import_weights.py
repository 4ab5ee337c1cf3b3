"""Importing a model keeps its weights: the design's module, given the imported state_dict
(strict), computes what the model computes (nn.Module, ONNX, .pt2); what cannot come in gives no
weights and a note saying why, never wrong weights nor an exception; a .pt2's weights are read
without unpickling anything, and a crafted file's weights end in a note or a ModelImportError.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
import textwrap
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from designer.bridge import import_weights
from designer.bridge.fx_reader import read_module
from designer.bridge.importer import (
    Imported,
    ModelImportError,
    import_model,
    import_model_weights,
)
from designer.bridge.module import build_module
from designer.bridge.pt2 import export_pt2
from designer.model import Network
from designer.model.design_file import Design, load

PRESETS = Path(__file__).resolve().parents[2] / "presets"
TOLERANCE = 1e-5
FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default values everywhere: weights, biases, BatchNorm statistics and counters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            if not t.is_floating_point():
                t.fill_(5)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
    return model.eval()


def random_state(network: Network, seed: int = 0) -> dict[str, torch.Tensor]:
    return randomize(build_module(network), seed).state_dict()


def max_difference(imported: Imported, model: nn.Module, shape) -> float:
    assert imported.weights is not None, imported.note
    built = build_module(imported.design.network)
    built.load_state_dict(imported.weights, strict=True)
    built.eval()
    model.eval()
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = model(x), built(x)
    assert want.abs().max() > 0.1  # the comparison means something
    return float((got - want).abs().max())


def check_tensors(weights: dict[str, torch.Tensor]) -> None:
    for key, t in weights.items():
        assert t.device.type == "cpu" and t.is_contiguous()
        want = torch.int64 if key.endswith("num_batches_tracked") else torch.float32
        assert t.dtype == want, key


def quiet():
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")


# ---------------------------------------------------------------------------------------------
# nn.Module


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(x + self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.a = nn.Conv2d(6, 4, 1)
        self.b = nn.Conv2d(6, 5, 3, padding=1)
        self.bn = nn.BatchNorm2d(9)
        self.avg = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(9, 7)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = torch.cat([self.a(x), F.relu(self.b(x))], 1)
        x = self.gap(self.avg(F.relu(self.bn(x))))
        return self.fc(x.view(x.size(0), -1))


class Functional(nn.Module):
    """F.conv2d, F.batch_norm and F.linear reading the model's own tensors."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(6, 3, 3, 3))
        self.b = nn.Parameter(torch.zeros(6))
        self.gamma = nn.Parameter(torch.ones(6))
        self.beta = nn.Parameter(torch.zeros(6))
        self.register_buffer("running_mean", torch.zeros(6))
        self.register_buffer("running_var", torch.ones(6))
        self.fw = nn.Parameter(torch.zeros(4, 6))

    def forward(self, x):
        x = F.conv2d(x, self.w, self.b, padding=1)
        x = F.batch_norm(x, self.running_mean, self.running_var, self.gamma, self.beta, False)
        x = torch.mean(F.relu(x), (2, 3))
        return F.linear(x, self.fw)


class Branching(Residual):
    """A forward() with Python control flow torch.fx cannot follow (torch.export reads it)."""

    def forward(self, x):
        if x.shape[-1] > 4:
            x = F.relu(self.bn1(self.conv1(x)))
        return self.fc(torch.flatten(self.pool(F.relu(self.bn2(self.conv2(x)))), 1))


@pytest.mark.parametrize("cls", [Residual, Branches, Functional, Branching])
def test_a_module_comes_in_with_its_weights(cls):
    model = randomize(cls())
    imported = Imported(*read_module(model, (3, 8, 8)))
    assert imported.weights is not None, imported.note
    check_tensors(imported.weights)
    assert max_difference(imported, model, (3, 8, 8)) <= TOLERANCE
    assert imported.note.startswith("weights of ")
    stats = [k for k in imported.weights if k.endswith("running_mean")]
    assert stats, "the BatchNorm statistics come in"
    if cls is not Functional:
        counters = [v for k, v in imported.weights.items() if k.endswith("num_batches_tracked")]
        assert counters and all(int(v) == 5 for v in counters)


def test_the_weights_are_copies_of_the_models(tmp_path):
    model = randomize(Residual())
    _, weights, _ = read_module(model, (3, 8, 8))
    weights["conv1.weight" if "conv1.weight" in weights else next(iter(weights))].zero_()
    assert model.conv1.weight.abs().max() > 0  # the model is untouched


def test_a_python_file_comes_in_with_its_weights(tmp_path):
    source = tmp_path / "model.py"
    source.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3, padding=1)
                self.bn = nn.BatchNorm2d(4)
                self.fc = nn.Linear(4 * 6 * 6, 3)

            def forward(self, x):
                return self.fc(torch.flatten(F.relu(self.bn(self.conv(x))), 1))

        def make():
            torch.manual_seed(3)
            net = Net()
            with torch.no_grad():
                net.bn.running_mean.uniform_(-1, 1)
                net.bn.running_var.uniform_(0.5, 2)
                net.bn.bias.uniform_(-1, 1)
            return net
    """))
    imported = import_model_weights(f"{source}:make", "3,6,6")
    assert isinstance(imported, Imported) and isinstance(imported.design, Design)
    design, weights, note = imported  # unpacks as a tuple
    ns: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), ns)
    assert max_difference(imported, ns["make"](), (3, 6, 6)) <= TOLERANCE
    assert note == "weights of 3 layers (9 tensors, 2.3 kB) from model.py:make"
    assert isinstance(import_model(f"{source}:make", "3,6,6"), Design)  # as before


def test_a_module_used_twice_gives_each_layer_a_copy():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 8 * 8, 2)

        def forward(self, x):
            return self.fc(torch.flatten(F.relu(self.conv(F.relu(self.conv(x)))), 1))

    model = randomize(Twice())
    imported = Imported(*read_module(model, (4, 8, 8)))
    assert max_difference(imported, model, (4, 8, 8)) <= TOLERANCE
    assert "several places" in imported.note and "own copy" in imported.note
    w = [v for k, v in imported.weights.items() if k.endswith(".weight") and v.dim() == 4]
    assert len(w) == 2 and w[0].data_ptr() != w[1].data_ptr()


def test_weights_the_design_has_no_place_for_give_none_and_say_why():
    class Computed(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 3, 3, 3))
            self.fc = nn.Linear(4 * 6 * 6, 2)

        def forward(self, x):
            return self.fc(torch.flatten(F.conv2d(x, self.w * 2), 1))

    design, weights, note = read_module(Computed(), (3, 8, 8))
    assert [n.type for n in design.network.nodes.values()] == ["Input", "Conv2d", "Linear"]
    assert weights is None
    assert note.startswith("no weights from Computed: conv2d (Conv2d): its weight is computed "
                           "in forward() (mul)"), note

    class BiasOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.zeros(3))
            self.register_buffer("var", torch.ones(3))
            self.beta = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return F.batch_norm(x, self.mean, self.var, None, self.beta, False)

    design, weights, note = read_module(BiasOnly(), (3, 4, 4))
    assert weights is None and "no place for the bias" in note
    assert design.network.nodes["batch_norm"].params["affine"] is False


# ---------------------------------------------------------------------------------------------
# ONNX


@pytest.fixture(scope="module")
def onnx_mod():
    return pytest.importorskip("onnx")


def export_with(kind: str, network: Network, path: Path, weights) -> None:
    quiet()
    try:
        if kind == "onnx":
            from designer.bridge.onnx import export_onnx

            export_onnx(network, path, weights=weights)
        else:
            export_pt2(network, path, weights=weights)
    finally:
        logging.disable(logging.NOTSET)
        warnings.resetwarnings()


def branches_design() -> Network:
    """Conv, BatchNorm, ReLU, pools, a residual Add, a Concat and a Linear."""
    net = Network("branches")
    x = net.add("Input", {"channels": 3, "height": 8, "width": 8}, id="input")
    c = net.add("Conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, id="conv",
                inputs=[x])
    b = net.add("BatchNorm2d", id="bn", inputs=[c])
    r = net.add("ReLU", id="relu", inputs=[b])
    c2 = net.add("Conv2d", {"out_channels": 6, "kernel_size": 1, "bias": False}, id="conv2",
                 inputs=[r])
    a = net.add("Add", id="add", inputs=[r, c2])
    c3 = net.add("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, id="conv3",
                 inputs=[r])
    cat = net.add("Concat", id="cat", inputs=[a, c3])
    p = net.add("MaxPool2d", {"kernel_size": 2, "stride": 2}, id="pool", inputs=[cat])
    net.add("Linear", {"out_features": 5}, id="fc", inputs=[p])
    return net


@pytest.mark.parametrize("kind", ["onnx", "pt2"])
@pytest.mark.parametrize("design", ["cifar10_example", "branches"])
def test_a_design_exported_with_weights_comes_back_with_them(kind, design, tmp_path,
                                                             monkeypatch):
    if kind == "onnx":
        pytest.importorskip("onnx")
    network = branches_design() if design == "branches" else \
        load(PRESETS / f"{design}.convnet.json").network
    state = random_state(network)
    path = tmp_path / f"{design}.{kind}"
    export_with(kind, network, path, state)
    with monkeypatch.context() as m:
        forbid_unpickling(m)
        imported = import_model_weights(str(path))
    assert imported.weights is not None, imported.note
    check_tensors(imported.weights)
    source = build_module(network)
    source.load_state_dict(state)
    shape = next(n for n in network.nodes.values() if n.type == "Input").params
    difference = max_difference(imported, source, (shape["channels"], shape["height"],
                                                   shape["width"]))
    assert difference <= TOLERANCE
    assert set(imported.weights) == set(state)  # the same design: the same keys
    for key, value in imported.weights.items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, state[key]), key
    assert imported.note.startswith("weights of ") and path.name in imported.note


def test_onnx_gemm_matmul_and_identity_weights(onnx_mod, tmp_path):
    """Gemm with transB 0 and C as 1×out, a MatMul, a Conv whose W is an Identity of an
    initializer: the weights laid out as the layers have them."""
    from onnx import TensorProto, helper, numpy_helper

    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, 3, 3, generator=g)
    b = torch.randn(4, generator=g)
    w1 = torch.randn(6, 4 * 6 * 6, generator=g)
    b1 = torch.randn(6, generator=g)
    w2 = torch.randn(3, 6, generator=g)

    def init(name, t):
        return numpy_helper.from_array(t.numpy(), name)

    nodes = [helper.make_node("Identity", ["w"], ["w_alias"], "alias"),
             helper.make_node("Conv", ["x", "w_alias", "b"], ["c"], "conv", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], "relu"),
             helper.make_node("Flatten", ["r"], ["f"], "flat", axis=1),
             helper.make_node("Gemm", ["f", "w1t", "b1"], ["h"], "fc1", transB=0),
             helper.make_node("Relu", ["h"], ["hr"], "relu2"),
             helper.make_node("MatMul", ["hr", "w2t"], ["y"], "fc2")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [init("w", w), init("b", b), init("w1t", w1.t().contiguous()),
         init("b1", b1.reshape(1, 6)), init("w2t", w2.t().contiguous())])
    path = tmp_path / "g.onnx"
    onnx_mod.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                  str(path))
    imported = import_model_weights(str(path))

    class Reference(nn.Module):
        def forward(self, x):
            x = torch.flatten(F.relu(F.conv2d(x, w, b)), 1)
            return F.relu(F.linear(x, w1, b1)) @ w2.t()

    assert max_difference(imported, Reference(), (3, 8, 8)) <= TOLERANCE
    assert imported.note == "weights of 3 layers (5 tensors, 4.0 kB) from g.onnx"


def test_onnx_weights_that_do_not_fit_give_none_and_say_why(onnx_mod, tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    def model(w):
        graph = helper.make_graph(
            [helper.make_node("Conv", ["x", "w"], ["y"], "conv", kernel_shape=[1, 1])], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
            [numpy_helper.from_array(w, "w")])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    import numpy as np

    path = tmp_path / "int8.onnx"
    onnx_mod.save(model(np.ones((2, 3, 1, 1), np.int8)), str(path))
    design, weights, note = import_model_weights(str(path))
    assert [n.type for n in design.network.nodes.values()] == ["Input", "Conv2d"]
    assert weights is None
    assert note == "no weights from int8.onnx: conv (Conv2d): the tensor 'w' is INT8, not " \
                   "floating point"
    broken = model(np.ones((2, 3, 1, 1), np.float32))
    broken.graph.initializer[0].raw_data = b"\0" * 5  # less data than its size declares
    path.write_bytes(broken.SerializeToString())
    _, weights, note = import_model_weights(str(path))
    assert weights is None and "the tensor 'w' cannot be read" in note


def test_the_weights_of_a_file_are_bounded(onnx_mod, tmp_path, monkeypatch):
    network = branches_design()
    state = random_state(network)
    for kind in ("onnx", "pt2"):
        export_with(kind, network, tmp_path / f"b.{kind}", state)
    monkeypatch.setattr(import_weights, "MAX_WEIGHT_BYTES", 1000)
    for kind in ("onnx", "pt2"):
        design, weights, note = import_model_weights(str(tmp_path / f"b.{kind}"))
        assert weights is None and design.network.nodes
        assert note.startswith(f"no weights from b.{kind}: the design's weights would take ")
        assert note.endswith("; more than 1.0 kB is not read")


# ---------------------------------------------------------------------------------------------
# .pt2: read as bytes, never unpickled


def forbid_unpickling(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the importer unpickled something")

    for owner, name in ((pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"),
                        (torch, "load"), (torch.export, "load")):
        monkeypatch.setattr(owner, name, refuse)


def rewrite(src: Path, dst: Path, change=None, drop=(), add=None) -> Path:
    change, add = change or {}, add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        root = zin.namelist()[0].split("/")[0]
        for info in zin.infolist():
            if any(info.filename.endswith(d) for d in drop):
                continue
            data = zin.read(info)
            for suffix, new in change.items():
                if info.filename.endswith(suffix):
                    data = new(data) if callable(new) else new
            zout.writestr(info.filename, data)
        for name, data in add.items():
            zout.writestr(f"{root}/{name}", data)
    return dst


CONFIG = "data/weights/model_weights_config.json"


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pt2") / "branches.pt2"
    export_with("pt2", branches_design(), path, random_state(branches_design()))
    return path


def edit_config(program: Path, dst: Path, edit) -> Path:
    def change(data: bytes) -> bytes:
        doc = json.loads(data)
        edit(doc["config"])
        return json.dumps(doc).encode()

    return rewrite(program, dst, {CONFIG: change})


def test_pt2_weights_only_unpickling_could_give_are_refused_with_a_reason(program, tmp_path,
                                                                         monkeypatch):
    forbid_unpickling(monkeypatch)

    def pickled(config):
        config["conv_to_relu.conv.weight"]["use_pickle"] = True

    design, weights, note = import_model_weights(str(edit_config(program, tmp_path / "p.pt2",
                                                                 pickled)))
    assert design.network.nodes and weights is None
    assert note == "no weights from p.pt2: conv (Conv2d): the archive keeps " \
                   "'conv_to_relu.conv.weight' " \
                   "pickled (a tensor subclass), and the importer never unpickles anything"
    legacy = rewrite(program, tmp_path / "legacy.pt2", drop=[CONFIG],
                     add={"data/weights/model.pt": pickle.dumps({"x": 1})})
    _, weights, note = import_model_weights(str(legacy))
    assert weights is None
    assert "keeps its weights pickled" in note and "data/weights/model.pt" in note
    assert "never does" in note


def test_pt2_weights_that_do_not_fit_give_none_and_say_why(program, tmp_path):
    def resized(config):
        config["pool_to_fc.fc.weight"]["tensor_meta"]["sizes"][0] = {"as_int": 4}

    _, weights, note = import_model_weights(str(edit_config(program, tmp_path / "s.pt2",
                                                            resized)))
    assert weights is None
    assert "fc (Linear): the program's 'pool_to_fc.fc.weight' is 4×128, the layer's 5×128" in note

    def far(config):
        config["conv_to_relu.conv.weight"]["tensor_meta"]["storage_offset"] = {"as_int": 10**9}

    _, weights, note = import_model_weights(str(edit_config(program, tmp_path / "o.pt2", far)))
    assert weights is None and "reaches 4,000,000,648 bytes into" in note

    with zipfile.ZipFile(program) as z:
        member = next(n for n in z.namelist() if n.endswith("data/weights/weight_0"))
    short = rewrite(program, tmp_path / "short.pt2", {member[member.index("/") + 1:]: b"\0" * 3})
    _, weights, note = import_model_weights(str(short))
    assert weights is None and "which holds 3" in note


# ---------------------------------------------------------------------------------------------
# The fuzz: crafted weights end in a note (or a ModelImportError for the structure), nothing else


def assert_imports_or_says_why(path: Path) -> None:
    try:
        imported = import_model_weights(str(path))
    except ModelImportError as e:
        assert str(e).startswith((str(path), path.name)), str(e)
        return
    assert isinstance(imported.note, str) and imported.note
    if imported.weights is not None:
        build_module(imported.design.network).load_state_dict(imported.weights, strict=True)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    pytest.importorskip("onnx")
    path = tmp_path_factory.mktemp("onnx") / "branches.onnx"
    export_with("onnx", branches_design(), path, random_state(branches_design()))
    return path


@FUZZ
@given(data=st.data())
def test_onnx_weights_with_mutated_bytes_import_or_say_why(onnx_file, tmp_path_factory, data):
    raw = bytearray(onnx_file.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("bytes") / "mutated.onnx"
    path.write_bytes(bytes(raw))
    assert_imports_or_says_why(path)


@FUZZ
@given(data=st.data())
def test_onnx_initializers_edited_import_or_say_why(onnx_file, tmp_path_factory, data):
    import onnx

    model = onnx.load(str(onnx_file))
    inits = model.graph.initializer
    for _ in range(data.draw(st.integers(1, 3))):
        t = inits[data.draw(st.integers(0, len(inits) - 1))]
        edit = data.draw(st.sampled_from(["type", "dims", "raw", "float_data", "drop"]))
        if edit == "type":
            t.data_type = data.draw(st.sampled_from([0, 1, 2, 3, 6, 7, 10, 11, 16, 17, 23, 99]))
        elif edit == "dims":
            t.ClearField("dims")
            t.dims.extend(data.draw(st.lists(st.integers(0, 5000), max_size=4)))
        elif edit == "raw":
            t.raw_data = data.draw(st.binary(max_size=64))
        elif edit == "float_data":
            t.ClearField("raw_data")
            t.float_data.extend(data.draw(st.lists(st.floats(width=32), max_size=8)))
        else:
            inits.remove(t)
    path = tmp_path_factory.mktemp("edited") / "edited.onnx"
    path.write_bytes(model.SerializeToString())
    assert_imports_or_says_why(path)


PT2_VALUES = st.none() | st.booleans() | st.integers(-2**40, 2**70) | st.text(max_size=6) | \
    st.sampled_from([[], {}, {"as_int": 3}, {"as_int": -1}, "weight_0", "../x", 7, 13, 99])


@FUZZ
@given(data=st.data())
def test_pt2_weights_edited_import_or_say_why(program, tmp_path_factory, monkeypatch, data):
    forbid_unpickling(monkeypatch)

    def places(value, prefix=()):
        out = [prefix]
        if isinstance(value, dict):
            for k, v in value.items():
                out += places(v, (*prefix, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out += places(v, (*prefix, i))
        return out

    def edit(config):
        for _ in range(data.draw(st.integers(1, 3))):
            where = data.draw(st.sampled_from([p for p in places(config) if p]))
            parent = config
            for key in where[:-1]:
                parent = parent[key]
            parent[where[-1]] = copy.deepcopy(data.draw(PT2_VALUES))

    changes = {}
    with zipfile.ZipFile(program) as z:
        members = [n[n.index("/") + 1:] for n in z.namelist() if "/data/weights/weight_" in n]
    if data.draw(st.booleans()):
        member = data.draw(st.sampled_from(members))
        changes[member] = data.draw(st.binary(max_size=80))
    out = tmp_path_factory.mktemp("pt2fuzz") / "edited.pt2"
    if data.draw(st.booleans()):
        edit_config(program, out, edit)
        if changes:
            rewrite(out, out.with_name("both.pt2"), changes)
            out = out.with_name("both.pt2")
    else:
        rewrite(program, out, changes)
    assert_imports_or_says_why(out)
