"""The command line: python -m designer export FILE --to code|project|onnx|pt2 OUT, import MODEL
OUT, compare A B."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from designer.bridge.module import build_module
from designer.cli import main
from designer.model import Network, analyze
from designer.model.design_file import Design, load, save
from designer.training.runtime import save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)  # torch.export's notes about torchvision
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


def test_export_code_and_import_it_back(tmp_path, capsys):
    code = tmp_path / "cifar.py"
    assert main(["export", str(CIFAR), "--to", "code", str(code)]) == 0
    assert capsys.readouterr().out == f"wrote {code}: the PyTorch code of CIFAR-10 example\n"
    assert "class CIFAR10Example(nn.Module):" in code.read_text(encoding="utf-8")
    out = tmp_path / "back.convnet.json"
    assert main(["import", f"{code}:CIFAR10Example", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: CIFAR10Example, 5 layers, 31,066 "
                                              "parameters")
    original, back = load(CIFAR).network, load(out).network
    assert [(n.id, n.type, dict(n.params)) for n in back.nodes.values()] == \
        [(n.id, n.type, dict(n.params)) for n in original.nodes.values()]


def test_existing_outputs_are_kept_unless_forced(tmp_path, capsys):
    code = tmp_path / "model.py"
    code.write_text("mine\n", encoding="utf-8")
    assert main(["export", str(CIFAR), "--to", "code", str(code)]) == 2
    assert capsys.readouterr().err == f"error: {code} exists: choose another name or add " \
                                      "--force\n"
    assert code.read_text(encoding="utf-8") == "mine\n"
    assert main(["export", str(CIFAR), "--to", "code", str(code), "--force"]) == 0
    assert code.read_text(encoding="utf-8") != "mine\n"
    design = tmp_path / "d.convnet.json"
    design.write_text("{}", encoding="utf-8")
    assert main(["import", str(code), str(design)]) == 2
    assert design.read_text(encoding="utf-8") == "{}"


def test_a_failed_forced_export_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    """--force over a good file, and the write fails midway: the good file is as it was, no
    temporary file is left, and the error is one line."""
    import os

    pytest.importorskip("onnx")
    code, model = tmp_path / "model.py", tmp_path / "m.onnx"
    assert main(["export", str(CIFAR), "--to", "code", str(code)]) == 0
    assert main(["export", str(CIFAR), "--to", "onnx", str(model)]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in (code, model)}

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert main(["export", str(CIFAR), "--to", "code", str(code), "--force"]) == 1
    assert capsys.readouterr().err == (f"error: {CIFAR}: the code export failed: cannot write "
                                       f"{code}: No space left on device\n")

    def killed(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.undo()
    monkeypatch.setattr(torch.onnx, "export", killed)
    assert main(["export", str(CIFAR), "--to", "onnx", str(model), "--force"]) == 1
    assert "the ONNX export failed (torchscript: RuntimeError: killed" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (code, model)} == before
    assert sorted(os.listdir(tmp_path)) == ["m.onnx", "model.py"]


def test_onnxruntime_failing_is_one_line_saying_the_file_is_written(tmp_path, capsys,
                                                                     monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"

    def broken(*a, **k):
        raise ort.capi.onnxruntime_pybind11_state.Fail("[ONNXRuntimeError] : 1 : FAIL : no")

    monkeypatch.setattr(ort, "InferenceSession", broken)
    assert main(["export", str(CIFAR), "--to", "onnx", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: wrote {out}: ONNX opset 17, 5 nodes (Conv, Flatten, Gemm, MaxPool, Relu); "
        "onnx.checker passed; but its outputs could not be compared with torch's: onnxruntime "
        "could not run it (Fail: [ONNXRuntimeError] : 1 : FAIL : no)\n")
    assert out.stat().st_size > 100_000


def test_export_project_writes_a_runnable_folder(tmp_path, capsys):
    folder = tmp_path / "proj"
    assert main(["export", str(CIFAR), "--to", "project", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "torchrun --nproc_per_node=N train.py" in out
    assert {p.name for p in folder.iterdir()} >= {"model.py", "train.py", "config.json",
                                                   "README.md"}
    assert main(["export", str(CIFAR), "--to", "project", str(folder)]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_export_pt2_with_trained_weights(tmp_path, capsys):
    net = load(CIFAR).network
    torch.manual_seed(5)
    trained = build_module(net)
    ckpt = tmp_path / "best.pt"
    save_checkpoint(ckpt, trained, {"epoch": 3})
    out = tmp_path / "cifar.pt2"
    assert main(["export", str(CIFAR), "--to", "pt2", str(out), "--weights", str(ckpt)]) == 0
    assert "torch.export.load" in capsys.readouterr().out
    program = torch.export.load(str(out))
    x = torch.randn(3, 3, 32, 32)
    assert torch.allclose(program.module()(x), trained.eval()(x), atol=1e-6)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["export", str(CIFAR), "--to", "pt2", str(tmp_path / "x.pt2"), "--weights",
                 str(bad)]) == 2
    assert "not a checkpoint of ConvNet Designer or train.py" in capsys.readouterr().err
    assert main(["export", str(CIFAR), "--to", "code", str(tmp_path / "x.py"), "--weights",
                 str(ckpt)]) == 2


def test_export_onnx_checks_the_file(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "cifar.onnx"
    assert main(["export", str(CIFAR), "--to", "onnx", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote {out}: ONNX opset 17, 5 nodes (Conv, Flatten, Gemm, "
                           "MaxPool, Relu); onnx.checker passed; ")
    onnx.checker.check_model(str(out))
    back = tmp_path / "back.convnet.json"
    assert main(["import", str(out), str(back)]) == 0
    assert load(back).network.name == "cifar"
    assert analyze(load(back).network).totals.params == 31066


def test_bad_designs_and_models_give_one_line_naming_the_problem(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.convnet.json"), "--to", "code",
                 str(tmp_path / "x.py")]) == 2
    assert "none.convnet.json: cannot read it" in capsys.readouterr().err
    broken = load(CIFAR)
    broken.network.set_params("conv", kernel_size=40, padding=0)
    path = tmp_path / "broken.convnet.json"
    save(broken, path)
    assert main(["export", str(path), "--to", "pt2", str(tmp_path / "x.pt2")]) == 2
    assert capsys.readouterr().err.startswith("error: the design cannot be exported: conv: ")
    model = tmp_path / "odd.py"
    model.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Odd(nn.Module):
            input_shape = (3, 8, 8)

            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)

            def forward(self, x):
                return torch.softmax(self.conv(x).flatten(1), 1)
    """), encoding="utf-8")
    assert main(["import", str(model), str(tmp_path / "odd.convnet.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: odd.py:Odd: 1 operation of the model does not map to the "
                          "designer's layers:\n  - torch.softmax (at softmax)\n")
    assert not (tmp_path / "odd.convnet.json").exists()
    assert main(["import", str(tmp_path / "model.pt"), str(tmp_path / "m.convnet.json")]) == 2
    assert "a pickled model is not opened" in capsys.readouterr().err


def stack(name, *convs):
    net = Network(name)
    prev = net.add("Input", {"channels": 64, "height": 56, "width": 56}, id="input")
    for i, k in enumerate(convs, 1):
        prev = net.add("Conv2d", {"out_channels": 64, "kernel_size": k, "padding": k // 2,
                                  "bias": False}, id=f"conv{i}", inputs=[prev])
        prev = net.add("ReLU", {}, id=f"relu{i}", inputs=[prev])
    return Design(net)


def test_compare_three_3x3_with_one_7x7(tmp_path, capsys):
    a, b = tmp_path / "three.convnet.json", tmp_path / "seven.convnet.json"
    save(stack("three 3×3", 3, 3, 3), a)
    save(stack("one 7×7", 7), b)
    assert main(["compare", str(a), str(b), "--batch", "32"]) == 0
    out = capsys.readouterr().out
    assert "A: three 3×3" in out and "(batch 32, fp32, sgd)" in out
    row = next(line for line in out.splitlines() if line.startswith("=  conv1 … conv3"))
    assert "conv1 (Conv2d)" in row and "110,592" in row and "200,704" in row  # 27·C², 49·C²
    assert "7×7" in row
    assert main(["compare", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["parameters"] == {"a": 27 * 64 * 64, "b": 49 * 64 * 64}
    assert data["totals"]["output receptive field"] == {"a": [7, 7], "b": [7, 7]}
    aligned = [r for r in data["rows"] if r["aligned"]]
    assert [r["a"]["layers"][-1] for r in aligned] == ["input", "conv3", "relu3"]


def test_the_command_line_does_not_import_torch_until_a_command_runs():
    code = ("import sys; from designer.cli import parser; "
            "parser().parse_args(['export', 'x', '--to', 'onnx', 'y']); "
            "print('torch' in sys.modules, 'onnx' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip() == "False False", done.stderr


# ------------------------------------------------------------------------------ --to diagram

ALEXNET = ROOT / "presets" / "alexnet.convnet.json"


def test_export_diagram_as_svg(tmp_path, capsys):
    import xml.etree.ElementTree as ET

    out = tmp_path / "alexnet.svg"
    assert main(["export", str(ALEXNET), "--to", "diagram", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: the volumes figure of AlexNet (12 volumes in ")
    words = [t.text for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert "55×55×96" in words and "11×11 /4" in words


@pytest.mark.parametrize("suffix", [".pdf", ".png"])
def test_export_diagram_as_pdf_and_png_without_qt_in_the_command(tmp_path, capsys, suffix):
    """Qt draws them in a child process: this process never imports PySide6."""
    out = tmp_path / f"alexnet{suffix}"
    code = ("import sys; from designer.cli import main; rc = main(sys.argv[1:]); "
            "assert 'PySide6' not in sys.modules, 'the command imported Qt'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, "export", str(ALEXNET), "--to",
                           "diagram", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: the volumes figure of AlexNet")
    data = out.read_bytes()
    assert data.startswith(b"%PDF" if suffix == ".pdf" else b"\x89PNG") and len(data) > 5000


@pytest.mark.parametrize("name", ["alexnet.txt", "alexnet", "alexnet.jpg"])
def test_export_diagram_refuses_a_suffix_it_cannot_write(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["export", str(ALEXNET), "--to", "diagram", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: a diagram is written as .svg, .pdf or .png, not ")
    assert (Path(name).suffix or "without a suffix") in err and err.count("\n") == 1
    assert not out.exists()


def test_export_diagram_of_a_design_with_an_error_is_refused(tmp_path, capsys):
    design = load(ALEXNET)
    design.network.set_params("conv1", kernel_size=300)
    bad = tmp_path / "bad.convnet.json"
    save(design, bad)
    out = tmp_path / "bad.svg"
    assert main(["export", str(bad), "--to", "diagram", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the design cannot be drawn: the design has an error")
    assert "conv1" in err and not out.exists()


def test_export_diagram_keeps_an_existing_file_unless_forced(tmp_path, capsys):
    out = tmp_path / "a.svg"
    out.write_text("mine", encoding="utf-8")
    assert main(["export", str(ALEXNET), "--to", "diagram", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == "mine"
    assert main(["export", str(ALEXNET), "--to", "diagram", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<?xml")
