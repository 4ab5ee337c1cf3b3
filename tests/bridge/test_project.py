"""The training project export: model.py + train.py + config.json + README that train the design
without the designer, on one process or on several under torchrun (DistributedDataParallel)."""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from designer.bridge.module import BuildError, build_module
from designer.bridge.project import ProjectError, export_project
from designer.model import Network
from designer.model.design_file import Design, load
from designer.training.datasets import load_datasets
from designer.training.events import DataConfig, TrainConfig
from designer.training.runtime import seed_everything

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def tiny() -> Design:
    """A design small enough to train a few steps on two CPU processes in seconds."""
    net = Network("tiny net")
    x = net.add("Input", {"channels": 3, "height": 12, "width": 12}, id="input")
    x = net.add("Conv2d", {"out_channels": 6, "kernel_size": 3, "padding": "same"}, id="conv",
                inputs=[x])
    x = net.add("ReLU", {}, id="relu", inputs=[x])
    x = net.add("MaxPool2d", {}, id="pool", inputs=[x])
    net.add("Linear", {"out_features": 10}, id="fc", inputs=[x])
    config = TrainConfig(optimizer="momentum", lr=0.05, batch_size=16, epochs=1, seed=3,
                         data=DataConfig(train_size=96, val_size=10, seed=3))
    return Design(net, training={"config": config.to_dict()})


def load_train_module(folder: Path):
    """train.py of an exported project, imported as a module (its main() is not run)."""
    spec = importlib.util.spec_from_file_location("exported_train", folder / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def no_designer_env(tmp_path: Path) -> dict:
    """An environment in which `import designer` fails, so a script that needs the designer
    cannot pass for one that does not."""
    blocker = tmp_path / "blocker" / "designer"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('train.py must not import designer')")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(blocker.parent)
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_the_project_has_its_files_and_needs_nothing_of_the_designer(tmp_path):
    result = export_project(tiny(), tmp_path / "proj")
    names = sorted(p.name for p in (tmp_path / "proj").iterdir())
    assert names == ["README.md", "config.json", "model.py", "requirements.txt",
                     "tiny_net.convnet.json", "train.py"]
    assert result.class_name == "TinyNet"
    for name in ("model.py", "train.py"):
        tree = ast.parse((tmp_path / "proj" / name).read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                    for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.module}
        assert "designer" not in imported, name
    config = json.loads((tmp_path / "proj" / "config.json").read_text(encoding="utf-8"))
    assert config["model_class"] == "TinyNet" and config["input_shape"] == [3, 12, 12]
    assert config["outputs"] == 10 and config["flatten_output"] is False
    saved = TrainConfig.from_dict(tiny().training["config"]).to_dict()
    assert config["train"] == {**saved, "checkpoint_dir": "checkpoints"}  # the app's settings
    readme = (tmp_path / "proj" / "README.md").read_text(encoding="utf-8")
    assert "torchrun --nproc_per_node=4 train.py" in readme
    assert "from model import TinyNet" in readme
    assert load(tmp_path / "proj" / "tiny_net.convnet.json").network.nodes.keys() == \
        tiny().network.nodes.keys()


def run_training(folder: Path, env: dict, processes: int, out: str) -> subprocess.CompletedProcess:
    args = ["train.py", "--max-steps", "4", "--log-every", "1", "--checkpoints", out]
    if processes > 1:
        # --standalone: the rendezvous binds a free port of its own (port 0): no collisions
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
               "--standalone", *args]
    else:
        cmd = [sys.executable, *args]
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_torchrun_on_two_cpu_processes_gives_the_weights_of_one_process(tmp_path):
    folder = tmp_path / "proj"
    export_project(tiny(), folder)
    env = no_designer_env(tmp_path)
    two = run_training(folder, env, 2, "ddp")
    one = run_training(folder, env, 1, "single")
    assert "on 2 processes (cpu)" in two.stdout and "batch 16 (8 per process)" in two.stdout
    assert "on 1 process (cpu)" in one.stdout and "batch 16 (16 per process)" in one.stdout
    assert two.stdout.count("epoch 1/1 step") == 4  # process 0 alone prints
    # the same losses, step by step (global batch 16 either way)
    losses = [[line.split("loss ")[1].split()[0] for line in run.stdout.splitlines()
               if " step " in line] for run in (one, two)]
    assert losses[0] == losses[1] and len(losses[0]) == 4
    ddp = torch.load(folder / "ddp" / "last.pt", weights_only=True)
    single = torch.load(folder / "single" / "last.pt", weights_only=True)
    assert ddp["meta"]["world_size"] == 2 and single["meta"]["world_size"] == 1
    assert ddp["meta"]["steps"] == single["meta"]["steps"] == 4
    train = load_train_module(folder)
    sys.path.insert(0, str(folder))
    try:
        import model as exported  # the project's model.py
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("model", None)
    start = train.build_model(exported.TinyNet, 3).state_dict()
    for key, value in single["state_dict"].items():
        assert torch.allclose(ddp["state_dict"][key], value, rtol=1e-5, atol=1e-6), key
        assert not torch.allclose(value, start[key], atol=1e-3), f"{key} did not train"
    # the checkpoint loads into the designer's own module
    build_module(tiny().network).load_state_dict(ddp["state_dict"], strict=True)


def test_the_initial_weights_are_the_apps(tmp_path):
    export_project(tiny(), tmp_path / "proj")
    train = load_train_module(tmp_path / "proj")
    ns: dict = {}
    exec((tmp_path / "proj" / "model.py").read_text(encoding="utf-8"), ns)
    mine = train.build_model(ns["TinyNet"], 7).state_dict()
    seed_everything(7)
    apps = build_module(tiny().network).state_dict()
    assert mine.keys() == apps.keys()
    assert all(torch.equal(mine[k], apps[k]) for k in mine)


def assert_same_data(train_module, config: DataConfig, shape, epoch: int = 2) -> None:
    """train.py's data sets are the app's: the same normalised (and augmented) items."""
    app_train, app_val, info = load_datasets(config, shape)
    data = {"name": config.name, "path": config.path, "train_size": config.train_size,
            "val_size": config.val_size, "augment": config.augment, "seed": config.seed}
    train, val, classes, _ = train_module.load_data(data, shape)
    assert (len(train), len(val), classes) == (len(app_train), len(app_val), info.classes)
    app_train.set_epoch(epoch)
    train.set_epoch(epoch)
    for ours, theirs in ((train, app_train), (val, app_val)):
        for i in range(len(ours)):
            x, y = ours[i]
            ax, ay = theirs[i]
            assert int(y) == int(ay)
            assert torch.equal(x, ax), i


def test_train_py_makes_the_apps_synthetic_set(tmp_path):
    export_project(tiny(), tmp_path / "proj")
    train = load_train_module(tmp_path / "proj")
    assert_same_data(train, DataConfig(train_size=40, val_size=12, seed=5), (3, 20, 24))
    assert_same_data(train, DataConfig(train_size=20, val_size=10, seed=0, augment=False),
                     (1, 32, 32))


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_train_py_reads_mnist_cifar_and_npz_files_as_the_app_does(tmp_path):
    export_project(tiny(), tmp_path / "proj")
    train = load_train_module(tmp_path / "proj")
    rng = np.random.default_rng(0)
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for stem, n in (("train", 30), ("t10k", 12)):
        write_idx(mnist / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(mnist / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    assert_same_data(train, DataConfig("mnist", str(mnist), train_size=20, val_size=8, seed=1),
                     (1, 28, 28))
    assert_same_data(train, DataConfig("mnist", str(mnist), seed=2), (3, 16, 16))  # adapted

    cifar = tmp_path / "cifar" / "cifar-10-batches-bin"
    cifar.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rows = np.concatenate([rng.integers(0, 10, (4, 1)), rng.integers(0, 256, (4, 3072))], 1)
        (cifar / name).write_bytes(rows.astype(np.uint8).tobytes())
    assert_same_data(train, DataConfig("cifar10", str(cifar.parent), seed=4), (3, 32, 32))
    assert_same_data(train, DataConfig("cifar10", str(cifar.parent), val_size=3, seed=4),
                     (1, 24, 24))

    npz = tmp_path / "data.npz"
    np.savez(npz, x=rng.integers(0, 256, (25, 10, 10, 3)).astype(np.uint8),
             y=rng.integers(0, 3, 25))
    assert_same_data(train, DataConfig("npz", str(npz), seed=6), (3, 10, 10))
    assert_same_data(train, DataConfig("npz", str(npz), val_size=5, seed=6), (1, 8, 8))
    with pytest.raises(train.DataError, match="does not hold the mnist files"):
        train.load_data({"name": "mnist", "path": str(tmp_path)}, (1, 28, 28))


def test_train_py_settings_come_from_config_json_and_options(tmp_path):
    export_project(tiny(), tmp_path / "proj")
    train = load_train_module(tmp_path / "proj")
    cfg = train.settings(train.parse_args([]))
    assert (cfg["optimizer"], cfg["lr"], cfg["batch_size"], cfg["seed"]) == ("momentum", 0.05,
                                                                            16, 3)
    assert cfg["data"]["train_size"] == 96 and cfg["model"]["model_class"] == "TinyNet"
    cfg = train.settings(train.parse_args(["--lr", "0.2", "--batch", "8", "--dataset", "npz",
                                           "--data-path", "d.npz", "--seed", "9",
                                           "--no-augment"]))
    assert (cfg["lr"], cfg["batch_size"], cfg["seed"]) == (0.2, 8, 9)
    assert cfg["data"] == {**cfg["data"], "name": "npz", "path": "d.npz", "seed": 9,
                           "augment": False}


def test_a_project_is_refused_for_a_design_with_errors_or_a_folder_in_use(tmp_path):
    design = tiny()
    design.network.set_params("conv", kernel_size=30, padding=0)
    with pytest.raises(BuildError, match="conv: the filter"):
        export_project(design, tmp_path / "a")
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ProjectError, match="is not empty"):
        export_project(tiny(), used)
    export_project(tiny(), used, force=True)
    assert (used / "notes.txt").read_text(encoding="utf-8") == "mine"  # only its own files
    volume = load(PRESETS / "cifar10_example.convnet.json")
    volume.network.remove("fc")
    with pytest.raises(BuildError, match="a classifier needs one score per class"):
        export_project(volume, tmp_path / "b")
