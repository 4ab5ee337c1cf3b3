"""ONNX export: every preset small enough for a CPU passes onnx.checker and computes what torch
computes (onnxruntime); every layer of the catalogue exports; the files import back as the design.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from designer.bridge.importer import import_onnx
from designer.bridge.onnx import OnnxExportError, check_outputs, export_onnx, require_onnx
from designer.model import Network, analyze
from designer.model.design_file import load

onnx = pytest.importorskip("onnx")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter

PRESETS = Path(__file__).resolve().parents[2] / "presets"
# small enough for a CPU: a few G MACs and a few tens of MB of weights at most
MAX_MACS = 2 * 10**9
MAX_PARAMS = 15 * 10**6


def small_presets() -> list[str]:
    out = []
    for path in sorted(PRESETS.glob("*.convnet.json")):
        totals = analyze(load(path).network).totals
        if totals.macs <= MAX_MACS and totals.params <= MAX_PARAMS:
            out.append(path.name.removesuffix(".convnet.json"))
    return out


SMALL = small_presets()


def test_the_small_presets_are_the_ones_a_cpu_runs():
    assert SMALL == ["allconv_cifar10", "cifar10_example", "googlenet", "lenet5",
                     "pattern_conv_relu_conv_relu_pool_x3", "pattern_conv_relu_pool_x2",
                     "resnet18", "resnet20_cifar"]


def randomized(network: Network) -> dict[str, torch.Tensor]:
    """Weights with BatchNorm statistics away from 0 and 1, so a misplaced one would show."""
    from designer.bridge.module import build_module

    torch.manual_seed(0)
    model = build_module(network)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                for name, t in [*m.named_parameters(), *m.named_buffers()]:
                    if t.is_floating_point():
                        u = torch.rand(t.shape, generator=gen)
                        t.copy_(u + 0.5 if name in ("weight", "running_var") else u * 0.2 - 0.1)
    return model.state_dict()


def assert_outputs_match(result, shape, batch=3):
    pytest.importorskip("onnxruntime")
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        scale = float(result.model(x).abs().max())
    diff = check_outputs(result.path, result.model, x)
    assert diff is not None and diff <= 1e-4 * max(scale, 1e-3), (diff, scale)


@pytest.mark.parametrize("name", SMALL)
def test_each_small_preset_passes_the_checker_and_matches_torch(name, tmp_path):
    net = load(PRESETS / f"{name}.convnet.json").network
    result = export_onnx(net, tmp_path / f"{name}.onnx", weights=randomized(net))
    onnx.checker.check_model(str(result.path), full_check=True)
    graph = onnx.load(str(result.path)).graph
    assert [i.name for i in graph.input] == ["input"] and graph.output[0].name == "output"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # any batch
    assert result.exporter == "torchscript" and result.opset == 17
    shape = analyze(net).layers[result.model.input_id].shape
    assert_outputs_match(result, shape, batch=2)
    if any(n.type == "BatchNorm2d" for n in net.nodes.values()):
        assert "BatchNormalization" in result.operators  # not folded away
    if any(n.type == "LocalResponseNorm" for n in net.nodes.values()):
        assert "LRN" in result.operators


def every_layer() -> Network:
    """Every kind of layer of the catalogue, with parameters away from the defaults."""
    net = Network("every layer")
    x = net.add("Input", {"channels": 3, "height": 12, "width": 12}, id="input")

    def add(type_name, params=None, inputs=None, nid=None):
        return net.add(type_name, params or {}, inputs=inputs or [last[0]], id=nid)

    last = [x]
    for type_name, params in [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "same", "dilation": 2}),
        ("BatchNorm2d", {"eps": 1e-3, "momentum": 0.2}),
        ("LeakyReLU", {"negative_slope": 0.2}),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "groups": 4,
                    "bias": False}),
        ("ELU", {"alpha": 0.5}), ("GELU", {"approximate": "tanh"}),
        ("LocalResponseNorm", {"size": 3, "alpha": 1e-3, "beta": 0.5, "k": 2.0}),
        ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
        ("Dropout2d", {"p": 0.1}),
    ]:
        last[0] = add(type_name, params)
    trunk = last[0]
    a = net.add("Conv2d", {"out_channels": 8, "kernel_size": 1}, inputs=[trunk], id="a")
    b = net.add("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1,
                              "count_include_pad": False}, inputs=[trunk], id="b")
    s = net.add("Add", {}, inputs=[a, b], id="sum")
    c = net.add("Concat", {}, inputs=[s, trunk], id="cat")
    last[0] = c
    for type_name, params in [("GELU", {}), ("Sigmoid", {}), ("AdaptiveAvgPool2d",
                                                              {"output_size": 1}),
                              ("Flatten", {}), ("Dropout", {"p": 0.3}),
                              ("Linear", {"out_features": 6}), ("Tanh", {}), ("ReLU", {})]:
        last[0] = add(type_name, params)
    return net


def test_every_layer_of_the_catalogue_exports_and_matches_torch(tmp_path):
    net = every_layer()
    assert analyze(net).first_error() is None
    result = export_onnx(net, tmp_path / "every.onnx", weights=randomized(net))
    assert result.opset == 20  # GELU is the Gelu operator from opset 20 on
    assert {"Gelu", "LRN", "BatchNormalization", "Elu", "LeakyRelu", "AveragePool", "MaxPool",
            "Concat", "Add", "GlobalAveragePool", "Gemm", "Tanh", "Sigmoid"} <= set(
                result.operators)
    assert_outputs_match(result, (3, 12, 12), batch=5)


def comparable(net: Network) -> list:
    """What an inference graph keeps of a design: no Dropout (the identity at inference), and
    "same" padding written out as the number it is."""
    net = net.copy()
    for nid in [n for n, v in net.nodes.items() if v.type in ("Dropout", "Dropout2d")]:
        net.remove(nid)
    rep = analyze(net)
    out = []
    for nid in rep.order:
        node = net.nodes[nid]
        params = dict(node.params)
        if params.get("padding") == "same":
            params["padding"] = params["dilation"] * (params["kernel_size"] - 1) // 2
        out.append((node.type, params, rep.layers[nid].shape))
    return out


@pytest.mark.parametrize("name", ["cifar10_example", "lenet5", "resnet20_cifar", "googlenet",
                                  "allconv_cifar10"])
def test_an_exported_file_imports_back_as_the_design(name, tmp_path):
    net = load(PRESETS / f"{name}.convnet.json").network
    export_onnx(net, tmp_path / "model.onnx")
    design = import_onnx(tmp_path / "model.onnx")
    assert comparable(design.network) == comparable(net)
    ids = {n for n, v in net.nodes.items() if v.type not in ("Add", "Concat", "Dropout",
                                                              "Dropout2d", "Input")}
    assert ids <= set(design.network.nodes)  # the layer ids come back from the node names


def test_every_layer_imports_back_from_onnx(tmp_path):
    net = every_layer()
    export_onnx(net, tmp_path / "every.onnx")
    imported = import_onnx(tmp_path / "every.onnx").network
    assert comparable(imported) == comparable(net)


def test_onnx_files_that_do_not_map_say_which_operations(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):
            return torch.softmax(torch.relu(x), 1) * 2

    path = tmp_path / "odd.onnx"
    torch.onnx.export(Odd(), (torch.zeros(1, 3, 4, 4),), str(path), dynamo=False)
    with pytest.raises(ValueError, match=r"odd.onnx: 2 operations .*\n  - Softmax \(at "
                                         r"/Softmax\)\n  - Mul of a constant|Mul \(at"):
        import_onnx(path)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01 certainly not protobuf" * 10)
    with pytest.raises(ValueError, match="bad.onnx: not an ONNX model"):
        import_onnx(bad)


def test_the_input_size_comes_from_the_graph_or_the_argument(tmp_path):
    path = tmp_path / "free.onnx"
    torch.onnx.export(nn.Conv2d(3, 4, 3), (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    with pytest.raises(ValueError, match="give the input shape"):
        import_onnx(path)
    net = import_onnx(path, "3,10,10").network
    assert analyze(net).layers[net.topological_order()[-1]].shape == (4, 8, 8)


def test_the_torch_export_based_exporter_also_works(tmp_path):
    pytest.importorskip("onnxscript")
    net = load(PRESETS / "cifar10_example.convnet.json").network
    result = export_onnx(net, tmp_path / "dynamo.onnx", exporter="dynamo")
    assert result.exporter == "dynamo"
    assert_outputs_match(result, (3, 32, 32))


def test_weights_that_do_not_fit_are_refused(tmp_path):
    net = load(PRESETS / "cifar10_example.convnet.json").network
    with pytest.raises(OnnxExportError, match="the weights do not fit the design"):
        export_onnx(net, tmp_path / "x.onnx", weights={"conv.weight": torch.zeros(1)})


# ------------------------------------------------------------------------------ atomic writes


def tiny() -> Network:
    net = Network("tiny")
    x = net.add("Input", {"channels": 2, "height": 6, "width": 6}, id="input")
    x = net.add("Conv2d", {"out_channels": 4, "kernel_size": 3}, inputs=[x])
    x = net.add("Flatten", inputs=[x])
    net.add("Linear", {"out_features": 10}, inputs=[x])  # 2,560 bytes of weights
    return net


def previous(folder: Path) -> tuple[Path, bytes]:
    """A good earlier export in `folder`: (its path, its bytes)."""
    out = folder / "m.onnx"
    export_onnx(tiny(), out)
    return out, out.read_bytes()


def test_a_failed_export_keeps_the_previous_file_and_leaves_nothing(tmp_path, monkeypatch):
    """Both exporters fail midway, after writing half a file, a big model's data file and a
    per-tensor file: the previous export is byte-identical, nothing else is in its folder and
    nothing in the working directory."""
    out_dir, cwd = tmp_path / "out", tmp_path / "cwd"
    out_dir.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out, before = previous(out_dir)

    def half_written(model, args, f=None, **kwargs):
        if f is None:  # the torch.export-based one: fails before saving
            raise RuntimeError("killed by the test")
        target = Path(f)
        target.write_bytes(b"\x08\x07garbage")
        target.with_name(target.name + ".data").write_bytes(b"\0" * 1000)
        (target.parent / "linear.weight").write_bytes(b"\0" * 100)
        raise RuntimeError("killed by the test")

    monkeypatch.setattr(torch.onnx, "export", half_written)
    with pytest.raises(OnnxExportError, match="torchscript: RuntimeError: killed by the test; "
                                              "dynamo: RuntimeError: killed"):
        export_onnx(tiny(), out, exporter="auto")
    assert out.read_bytes() == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["m.onnx"]
    assert os.listdir(cwd) == []


def test_a_relative_path_writes_nothing_else_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export_onnx(tiny(), "m.onnx")
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_a_file_the_checker_refuses_is_not_put_in_place(tmp_path, monkeypatch):
    out, before = previous(tmp_path)

    def refuse(*a, **k):
        raise onnx.checker.ValidationError("bad graph")

    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    with pytest.raises(OnnxExportError, match="does not pass onnx.checker: bad graph"):
        export_onnx(tiny(), out)
    assert out.read_bytes() == before and os.listdir(tmp_path) == ["m.onnx"]


def test_a_big_models_external_data_is_moved_in_beside_it(tmp_path, monkeypatch):
    """Over the threshold (here: any size) the torch.export-based exporter writes NAME.data;
    it goes into place with the file, and the next export that has none removes it."""
    pytest.importorskip("onnxscript")
    from torch.onnx._internal.exporter import _onnx_program

    out, _ = previous(tmp_path)
    monkeypatch.setattr(_onnx_program, "_LARGE_MODEL_THRESHOLD", 0)
    result = export_onnx(tiny(), out, exporter="dynamo")
    assert sorted(os.listdir(tmp_path)) == ["m.onnx", "m.onnx.data"]
    assert {e.value for t in onnx.load(str(out), load_external_data=False).graph.initializer
            for e in t.external_data if e.key == "location"} == {"m.onnx.data"}
    assert_outputs_match(result, (2, 6, 6))
    export_onnx(tiny(), out, exporter="torchscript")
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_one_file_per_tensor_is_gathered_into_one_data_file(tmp_path, monkeypatch):
    """What the TorchScript exporter writes for a model over 2 GB (a file per tensor beside the
    graph) becomes NAME.data, so two files move into place and nothing else is left."""
    from designer.bridge import onnx as bridge

    real = bridge._export

    def per_tensor(model, x, path, opset, kind):
        written = real(model, x, path, opset, kind)
        proto = onnx.load(str(path))
        onnx.save_model(proto, str(path), save_as_external_data=True,
                        all_tensors_to_one_file=False, size_threshold=0)
        assert len(os.listdir(path.parent)) > 2
        return written

    monkeypatch.setattr(bridge, "_export", per_tensor)
    result = export_onnx(tiny(), tmp_path / "m.onnx")
    assert sorted(os.listdir(tmp_path)) == ["m.onnx", "m.onnx.data"]
    assert_outputs_match(result, (2, 6, 6))


def test_onnxruntime_failing_gives_our_error_not_a_traceback(tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    from designer.bridge.onnx import OutputCheckError

    result = export_onnx(tiny(), tmp_path / "m.onnx")

    def broken(*a, **k):
        raise ort.capi.onnxruntime_pybind11_state.Fail(
            "[ONNXRuntimeError] : 1 : FAIL : Load model failed\nmore detail")

    monkeypatch.setattr(ort, "InferenceSession", broken)
    with pytest.raises(OutputCheckError) as caught:
        check_outputs(result.path, result.model, torch.zeros(1, 2, 6, 6))
    assert str(caught.value) == (
        f"{result.path} is written, but its outputs could not be checked: onnxruntime could "
        "not run it (Fail: [ONNXRuntimeError] : 1 : FAIL : Load model failed)")
    assert result.path.is_file()


def test_without_onnx_the_message_names_what_installs(monkeypatch):
    """No package index has convnet-designer: the advice must be one that works."""
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    with pytest.raises(OnnxExportError) as e:
        require_onnx()
    assert "pip install onnx onnxscript onnxruntime" in str(e.value)
    assert "convnet-designer[onnx]" not in str(e.value)


def test_importing_onnx_without_onnx_names_what_installs(monkeypatch, tmp_path):
    """The import path gives the same advice as the export (issue 16)."""
    from designer.bridge.import_graph import ModelImportError

    path = tmp_path / "model.onnx"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ModelImportError) as e:
        import_onnx(path)
    assert "pip install onnx onnxscript onnxruntime" in str(e.value)
    assert "pip install -e '.[onnx]'" in str(e.value)  # from a checkout
    assert "convnet-designer[onnx]" not in str(e.value)
