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
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from designer.bridge.module import BuildError, build_module
from designer.bridge.project import PACKAGE, TEMPLATE, ProjectError, export_project
from designer.model import Network
from designer.model.design_file import Design, load
from designer.training.batches import make_batches
from designer.training.datasets import load_datasets
from designer.training.events import DataConfig, TrainConfig
from designer.training.runtime import seed_everything

TRAINING = PACKAGE / "training"
PRESETS = Path(__file__).resolve().parents[2] / "presets"
CPU = torch.device("cpu")


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
    """train.py of an exported project, imported as a module (its main() is not run), with the
    project's convlib/ (imported from the folder, and forgotten again afterwards)."""
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("exported_train", folder / "train.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == "convlib" or n.startswith("convlib.")]:
            del sys.modules[name]
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


def imports_of(path: Path) -> set[str]:
    """The top-level names of what a file imports absolutely ("." for a relative import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {"." if n.level else n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom)}
    return names


def test_the_project_has_its_files_and_needs_nothing_of_the_designer(tmp_path):
    result = export_project(tiny(), tmp_path / "proj")
    folder = tmp_path / "proj"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "config.json", "convlib", "model.py", "requirements.txt",
                     "tiny_net.convnet.json", "train.py"]
    assert result.class_name == "TinyNet"
    library = sorted(p.relative_to(folder / "convlib").as_posix()
                     for p in (folder / "convlib").rglob("*.py"))
    app_data = sorted(f"training/data/{p.name}" for p in (TRAINING / "data").glob("*.py"))
    assert library == sorted(["__init__.py", "atomic.py", "training/__init__.py",
                              "training/basics.py", "training/batches.py",
                              "training/events.py", *app_data])
    assert {p.relative_to(folder).as_posix() for p in result.files} >= \
        {f"convlib/{name}" for name in library}
    stdlib = set(sys.stdlib_module_names)
    for path in folder.rglob("*.py"):
        imported = imports_of(path)
        assert "designer" not in imported, path
        if "convlib" in path.parts:  # the copies: each other (relatively), stdlib, numpy, torch
            assert imported <= stdlib | {".", "numpy", "torch", "PIL"}, path
    for name in library:  # the app's own modules, file for file, in the same places
        if name not in ("__init__.py", "training/__init__.py"):
            copy = (folder / "convlib" / name).read_text(encoding="utf-8")
            header, text = copy.split("\n", 1)
            assert header.startswith("# Copied from ConvNet Designer's designer/" + name)
            assert text == (TRAINING.parent / name).read_text(encoding="utf-8"), name
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["model_class"] == "TinyNet" and config["input_shape"] == [3, 12, 12]
    assert config["outputs"] == 10 and config["flatten_output"] is False
    saved = TrainConfig.from_dict(tiny().training["config"]).to_dict()
    assert config["train"] == {**saved, "checkpoint_dir": "checkpoints"}  # the app's settings
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "torchrun --nproc_per_node=4 train.py" in readme
    assert "from model import TinyNet" in readme and "`convlib/`" in readme
    assert load(folder / "tiny_net.convnet.json").network.nodes.keys() == \
        tiny().network.nodes.keys()


def test_train_py_keeps_no_copy_of_the_apps_data_and_runtime_code():
    """The template holds the script's own part only: none of its functions is (or has the
    body of) a function of designer/training, and it imports none of the modules that reading,
    downloading or checking data sets needs: convlib/ does that, from the app's own files."""
    template = ast.parse(TEMPLATE.read_text(encoding="utf-8"))
    mine = {n.name: n for n in template.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    app_names, app_bodies = set(), set()
    for path in TRAINING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                app_names.add(node.name)
                app_bodies.add(ast.dump(ast.Module(node.body, [])))
    assert not set(mine) & app_names
    for name, node in mine.items():
        assert ast.dump(ast.Module(node.body, [])) not in app_bodies, name
    assert set(mine) <= {"checked", "parse_args", "_known", "settings", "model_class",
                         "training_data", "main"}
    assert not imports_of(TEMPLATE) & {"numpy", "gzip", "hashlib", "tarfile", "tempfile",
                                       "urllib", "random", "zlib", "pickle"}


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
    sys.path.insert(0, str(folder))
    try:
        import model as exported  # the project's model.py
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("model", None)
    seed_everything(3)
    start = exported.TinyNet().state_dict()
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
    train.seed_everything(7)  # the project's copy, as its main() calls it
    mine = ns["TinyNet"]().state_dict()
    seed_everything(7)
    apps = build_module(tiny().network).state_dict()
    assert mine.keys() == apps.keys()
    assert all(torch.equal(mine[k], apps[k]) for k in mine)


# The exported project's batches, made in a process where `import designer` fails: for each
# case (train.py's options, the input shape, the processes), every process's first two training
# batches of epochs 1 and 2 and its first two validation batches, through train.py's own
# settings() and training_data().
PROJECT_BATCHES = """
import json, sys, torch
import train
out = []
for options, shape, world in json.loads(sys.argv[1]):
    cfg, _ = train.settings(train.parse_args(options))
    ranks = []
    for rank in range(world):
        ds, val, _, batches, val_batches = train.training_data(
            cfg, shape, torch.device("cpu"), rank, world, say=lambda text: None)
        seen = []
        for epoch in (1, 2):
            ds.set_epoch(epoch)
            seen += [b for _, b in zip(range(2), batches)]
        ranks.append(seen + [b for _, b in zip(range(2), val_batches)])
    out.append(ranks)
torch.save(out, sys.argv[2])
"""


def app_batches(cfg: TrainConfig, shape) -> list:
    """The same through the app's own pipeline, as the Trainer walks it."""
    seed_everything(cfg.seed)
    train, val, _ = load_datasets(cfg.data, shape)
    generator = torch.Generator().manual_seed(cfg.seed)
    batches, _ = make_batches(train, cfg.batch_size, True, generator, CPU, False, 0)
    val_batches, _ = make_batches(val, cfg.batch_size, False, None, CPU, False, 0)
    seen = []
    for epoch in (1, 2):
        train.set_epoch(epoch)
        seen += [b for _, b in zip(range(2), batches)]
    return seen + [b for _, b in zip(range(2), val_batches)]


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_the_project_and_the_app_give_the_same_batches_for_the_same_seed(tmp_path):
    folder = tmp_path / "proj"
    export_project(tiny(), folder)
    rng = np.random.default_rng(0)
    npz = tmp_path / "data.npz"
    np.savez(npz, x=rng.integers(0, 256, (25, 10, 10, 3)).astype(np.uint8),
             y=rng.integers(0, 3, 25))
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for stem, n in (("train", 30), ("t10k", 12)):
        write_idx(mnist / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(mnist / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    saved = TrainConfig.from_dict(tiny().training["config"])  # config.json's settings

    def app(batch: int, seed: int, **data) -> TrainConfig:  # config.json's, with the options
        return replace(saved, batch_size=batch, seed=seed, data=replace(saved.data, seed=seed,
                                                                        **data))

    cases = [  # (train.py's options, input shape, processes; the app's settings)
        ([], [3, 12, 12], 1, saved),  # synthetic, 96 + 10 images, batch 16, seed 3
        ([], [3, 12, 12], 2, saved),
        (["--train-size", "40", "--val-size", "12", "--seed", "5", "--batch", "8"], [3, 20, 24],
         1, app(8, 5, train_size=40, val_size=12)),
        (["--dataset", "npz", "--data-path", str(npz), "--seed", "6", "--batch", "6"],
         [1, 8, 8], 2, app(6, 6, name="npz", path=str(npz))),
        (["--dataset", "mnist", "--data-path", str(mnist), "--train-size", "20", "--val-size",
          "8", "--seed", "1", "--batch", "4", "--no-augment"], [3, 16, 16], 1,
         app(4, 1, name="mnist", path=str(mnist), train_size=20, val_size=8, augment=False)),
    ]
    spec = json.dumps([[options, shape, world] for options, shape, world, _ in cases])
    done = subprocess.run([sys.executable, "-c", PROJECT_BATCHES, spec, str(tmp_path / "b.pt")],
                          cwd=folder, env=no_designer_env(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    project = torch.load(tmp_path / "b.pt", weights_only=True)
    for (options, shape, world, cfg), ranks in zip(cases, project):
        apps = app_batches(cfg, tuple(shape))
        assert len(apps) >= 5, options  # 4 training batches, 1 or 2 validation batches
        for rank, theirs in enumerate(ranks):  # process r: every world-th sample of a batch
            assert len(theirs) == len(apps), (options, rank)
            for i, ((x, y), (ax, ay)) in enumerate(zip(theirs, apps)):
                assert torch.equal(x, ax[rank::world]), (options, rank, i)
                assert torch.equal(y, ay[rank::world]), (options, rank, i)
    assert not torch.equal(apps[0][0], apps[2][0])  # epoch 2: another order, other crops


def test_train_py_settings_come_from_config_json_and_options(tmp_path):
    export_project(tiny(), tmp_path / "proj")
    train = load_train_module(tmp_path / "proj")
    cfg, model = train.settings(train.parse_args([]))
    assert cfg.to_dict() == TrainConfig.from_dict(json.loads(
        (tmp_path / "proj" / "config.json").read_text(encoding="utf-8"))["train"]).to_dict()
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.seed) == ("momentum", 0.05, 16, 3)
    assert cfg.data.train_size == 96 and model["model_class"] == "TinyNet"
    cfg, _ = train.settings(train.parse_args(["--lr", "0.2", "--batch", "8", "--dataset", "npz",
                                              "--data-path", "d.npz", "--seed", "9",
                                              "--no-augment"]))
    assert (cfg.lr, cfg.batch_size, cfg.seed) == (0.2, 8, 9)
    assert (cfg.data.name, cfg.data.path, cfg.data.seed, cfg.data.augment) == ("npz", "d.npz",
                                                                               9, False)


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


def test_the_readme_recipe_gives_the_runs_weights_and_normalisation(tmp_path):
    """The project's README: Model.from_checkpoint("checkpoints/best.pt") has the weights and
    the run's input normalisation (without it raw images scored 85 % where the run scored
    98 %), and preprocess() applies it to raw 8-bit images."""
    import numpy as np

    folder = tmp_path / "proj"
    export_project(tiny(), folder)
    run_training(folder, no_designer_env(tmp_path), 1, "checkpoints")
    best = torch.load(folder / "checkpoints" / "best.pt", weights_only=True)
    norm = best["meta"]["normalization"]
    assert len(norm["mean"]) == len(norm["std"]) == 3 and norm["uint8_divisor"] == 255
    assert all(s > 0 for s in norm["std"]) and norm["mean"] != [0.0, 0.0, 0.0]
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert 'TinyNet.from_checkpoint("checkpoints/best.pt")' in readme
    sys.path.insert(0, str(folder))
    try:
        import model as exported
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("model", None)
    model = exported.TinyNet.from_checkpoint(str(folder / "checkpoints" / "best.pt"))
    for key, value in best["state_dict"].items():
        assert torch.equal(model.state_dict()[key], value), key
    raw = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    x = torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(norm["mean"])[:, None, None]) / torch.tensor(norm["std"])[:, None, None]
    assert torch.allclose(model.preprocess(raw), x, atol=1e-6)
