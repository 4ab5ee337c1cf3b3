"""python -m designer import keeps the model's weights (issue 17): the design file names a run of
kind "imported" and its weights folder holds them, so that reopening the design (the window's
Document) finds them as a trained run's; --no-weights writes the structure only; a model whose
weights cannot be taken still gives its design, and the line says why."""

from __future__ import annotations

import json
import logging
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from designer.bridge.module import build_module
from designer.cli import main
from designer.model.design_file import load
from designer.model.versions import structure_key
from designer.training import runs as checkpoints
from designer.training.store import is_run_id, weights_folder

MODEL = textwrap.dedent("""
    import torch
    from torch import nn


    class Small(nn.Module):
        input_shape = (3, 8, 8)

        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(7)
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(4)
            self.relu1 = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 4 * 4, 5)
            with torch.no_grad():  # not what a fresh module holds, BatchNorm's statistics too
                for t in [*self.parameters(), self.bn1.running_mean]:
                    t.copy_(torch.randn(t.shape, generator=g))
                self.bn1.running_var.copy_(torch.rand(4, generator=g) + 0.5)
                self.bn1.num_batches_tracked.fill_(9)

        def forward(self, x):
            x = self.pool(self.relu1(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(x, 1))


    class Computed(nn.Module):
        input_shape = (3, 8, 8)

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 3, 3, 3))
            self.fc = nn.Linear(4 * 6 * 6, 2)

        def forward(self, x):
            return self.fc(torch.flatten(nn.functional.conv2d(x, self.w * 2), 1))
""")


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "small.py"
    path.write_text(MODEL, encoding="utf-8")
    return path


def the_model(path: Path, name: str) -> torch.nn.Module:
    """The model as its own code makes it (the file's module, run here)."""
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace[name]().eval()


def test_import_keeps_the_weights_and_reopening_the_design_finds_them(model_file, tmp_path,
                                                                       capsys, qapp):
    from designer.ui.document import Document

    out = tmp_path / "small.convnet.json"
    assert main(["import", f"{model_file}:Small", str(out)]) == 0
    line = capsys.readouterr().out
    (record,) = json.loads(out.read_text(encoding="utf-8"))["training"]["runs"]
    best = weights_folder(out) / record["id"] / "best.safetensors"
    assert line == (f"wrote {out}: Small, 6 layers, 445 parameters, with its trained weights in "
                    f"{best} (weights of 3 layers (9 tensors, 1.8 kB) from small.py:Small)\n")
    assert is_run_id(record["id"]) and record["kind"] == record["status"] == "imported"
    assert record["weights"] == ["best"] and record["source"] == f"{model_file}:Small"
    assert record["note"].startswith("weights of 3 layers")
    assert record["version"] == structure_key(load(out).network)

    doc = Document()
    doc.open(str(out))
    assert doc.weight_problems == []
    found = doc.trained_weights()
    assert found is not None and found[0]["id"] == record["id"] and found[1] == best
    weights, meta = checkpoints.read_weights(found[1])
    assert meta["kind"] == "imported" and meta["source"] == f"{model_file}:Small"

    model = the_model(model_file, "Small")
    state = model.state_dict()
    by_layer = {".".join(k.split(".")[-2:]): v for k, v in weights.items()}
    assert sorted(by_layer) == sorted(state)
    assert max(float((by_layer[k].double() - v.double()).abs().max()) for k, v in
               state.items()) == 0.0
    built = build_module(doc.network).eval()
    built.load_state_dict(weights, strict=True)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(x)
        assert want.abs().max() > 0.1
        assert float((built(x) - want).abs().max()) < 1e-6
    doc.close()

    # imported again over it: the weights folder keeps only the run the file names
    assert main(["import", f"{model_file}:Small", str(out), "--force"]) == 0
    (again,) = json.loads(out.read_text(encoding="utf-8"))["training"]["runs"]
    assert again["id"] != record["id"]
    assert [p.name for p in weights_folder(out).iterdir()] == [again["id"]]


def test_no_weights_writes_the_structure_only(model_file, tmp_path, capsys):
    out = tmp_path / "bare.convnet.json"
    assert main(["import", f"{model_file}:Small", str(out), "--no-weights"]) == 0
    assert capsys.readouterr().out == \
        f"wrote {out}: Small, 6 layers, 445 parameters, structure only (--no-weights)\n"
    assert "runs" not in json.loads(out.read_text(encoding="utf-8")).get("training", {})
    assert not weights_folder(out).exists()
    assert [n.type for n in load(out).network.nodes.values()] == \
        ["Input", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Linear"]


def test_weights_that_cannot_be_taken_still_give_the_design_and_say_why(model_file, tmp_path,
                                                                        capsys):
    out = tmp_path / "computed.convnet.json"
    assert main(["import", f"{model_file}:Computed", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote {out}: Computed, 3 layers, 398 parameters, structure only: "
                           "its weights could not be taken (no weights from ")
    assert "conv2d (Conv2d): its weight is computed in forward() (mul)" in line
    assert "runs" not in json.loads(out.read_text(encoding="utf-8")).get("training", {})
    assert not weights_folder(out).exists()
    assert [n.type for n in load(out).network.nodes.values()] == ["Input", "Conv2d", "Linear"]


def test_weights_that_cannot_be_written_leave_no_design_naming_them(model_file, tmp_path,
                                                                   capsys):
    out = tmp_path / "small.convnet.json"
    weights_folder(out).write_text("a file where the weights folder goes", encoding="utf-8")
    assert main(["import", f"{model_file}:Small", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {weights_folder(out)}"), err
    assert not out.exists()  # never a design that names weights which are not there
