"""Using what was trained (issue 17): the exported code's docstring recipe, run as written in a
fresh Python that has only the exported model.py and a checkpoint the Trainer wrote, scores the
run's own validation images (raw uint8, as files hold them) exactly as the run scored them.

The run trains the CIFAR-10 example for 2 epochs on the synthetic set, whose per-channel mean
(~0.38) and std (~0.31) are far from 0 and 1, on the CPU, in a few seconds.
"""

import ast
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from designer.bridge.codegen import export_code
from designer.model.design_file import load
from designer.training.basics import load_checkpoint, save_checkpoint
from designer.training.data.synthetic import SyntheticSource
from designer.training.events import DataConfig, TrainConfig
from designer.training.trainer import Trainer

CIFAR = Path(__file__).resolve().parents[2] / "presets" / "cifar10_example.convnet.json"
TRAIN, VAL = 1500, 400


def recipe_of(source: str) -> str:
    """The code block of the module docstring's "Using what a training run saved" paragraph,
    dedented: exactly what a reader would copy."""
    doc = ast.get_docstring(ast.parse(source))
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Using what"))
    block = []
    for line in lines[start + 1:]:
        if line and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(network, the run's checkpoint files {"best", "last"}, its result, its config): a short
    run with checkpoints on."""
    folder = tmp_path_factory.mktemp("run")
    net = load(CIFAR).network
    config = TrainConfig(data=DataConfig(train_size=TRAIN, val_size=VAL, augment=False),
                         epochs=2, batch_size=64, optimizer="adam", lr=0.003, device="cpu",
                         checkpoint_dir=str(folder / "checkpoints"))
    result = Trainer(net, config).run()
    assert result.status == "finished", result.fault
    written = sorted(p.name for p in (folder / "checkpoints").iterdir())
    suffix = ".safetensors" if "best.safetensors" in written else ".pt"
    files = {k: folder / "checkpoints" / f"{k}{suffix}" for k in ("best", "last")}
    assert all(f.is_file() for f in files.values()), written
    return net, files, result, config


def weights_and_meta(path: Path) -> tuple[dict, dict]:
    """What the app itself reads from one of its checkpoints."""
    if path.suffix == ".safetensors":
        from designer.training.runs import read_weights

        return read_weights(path)
    return load_checkpoint(path)


def raw_validation_images(config) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's validation split as the generator makes it (the same samples the run
    validated on): uint8 (N, C, H, W) at the design's input size, and the labels."""
    source = SyntheticSource(config.data.seed, "val", VAL, (3, 32, 32))
    return source(range(VAL)), source.labels()


RUNNER = """\
import sys
sys.modules["designer"] = None  # the ConvNet Designer package cannot be imported here
try:
    import designer  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("designer is importable")
import json
import torch

images = torch.load("images.pt", weights_only=True)
labels = torch.load("labels.pt", weights_only=True)
namespace = {"images": images}
exec(compile(open("recipe.py", encoding="utf-8").read(), "recipe.py", "exec"), namespace)
predicted = namespace["predicted"]
print(json.dumps({"correct": int((predicted == labels).sum()), "n": len(labels),
                  "loaded": sorted(m for m, v in sys.modules.items()
                                   if v is not None and m.split(".")[0] == "designer"),
                  "classes": namespace["model"].classes}))
"""


def run_recipe(folder: Path, source: str, checkpoint: Path, images: torch.Tensor,
               labels: torch.Tensor) -> dict:
    """The recipe in a fresh Python whose folder holds model.py, the checkpoint (by its own
    name) and the images only, with PYTHONPATH cleared and the designer package blocked."""
    folder.mkdir()
    (folder / "model.py").write_text(source, encoding="utf-8")
    (folder / checkpoint.name).write_bytes(checkpoint.read_bytes())
    (folder / "recipe.py").write_text(recipe_of(source), encoding="utf-8")
    (folder / "runner.py").write_text(RUNNER, encoding="utf-8")
    torch.save(images, folder / "images.pt")
    torch.save(labels, folder / "labels.pt")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "runner.py"], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_docstring_recipe_scores_what_the_run_scored(run, tmp_path):
    net, files, result, config = run
    best = files["best"]
    source = export_code(net)
    recipe = recipe_of(source)
    # the recipe names the file the Trainer keeps the best weights in
    assert recipe == textwrap.dedent(f"""\
        import torch
        from model import CIFAR10Example  # this file, saved as model.py

        model = CIFAR10Example.from_checkpoint("{best.name}")  # weights and normalisation
        with torch.no_grad():
            predicted = model(model.preprocess(images)).argmax(1)
        """)
    # what the issue saw the old docstring suggest (it fails: see the last test)
    assert "load_state_dict(torch.load(" not in source
    _, meta = weights_and_meta(best)
    norm = meta["normalization"]
    assert norm["uint8_divisor"] == 255  # a non-trivial normalisation:
    assert all(0.3 < m < 0.45 for m in norm["mean"]) and all(0.25 < s < 0.4 for s in norm["std"])
    assert meta["val_accuracy"] == result.best_val_accuracy

    images, labels = raw_validation_images(config)
    run_correct = round(result.best_val_accuracy * VAL)
    # raw images as image files hold them: uint8, channels last
    hwc = images.permute(0, 2, 3, 1).contiguous()
    got = run_recipe(tmp_path / "uint8", source, best, hwc, labels)
    assert got["loaded"] == [] and got["n"] == VAL
    assert got["classes"] == meta["classes"]
    # preprocess() normalises with the training data's float32 arithmetic, so the inputs are
    # the run's bit for bit; only the forward pass may differ in the last bits (one batch of
    # 400 here, batches of 64 in the run; the exported module's ops vs the app's), which can
    # turn at most a near-tie: allow one sample.
    assert abs(got["correct"] - run_correct) <= 1, (got, run_correct)
    # float 0..1, channels first: x / 255 in float32 differs from the run's in the last bits
    floats = images.float() / 255
    got = run_recipe(tmp_path / "float", source, best, floats, labels)
    assert abs(got["correct"] - run_correct) <= 1, (got, run_correct)


def exported(source: str):
    ns: dict = {}
    exec(compile(source, "model.py", "exec"), ns)
    return ns["CIFAR10Example"]


def test_preprocess_is_the_runs_normalisation_and_forward_can_apply_it(run):
    net, files, result, config = run
    cls = exported(export_code(net))
    model = cls.from_checkpoint(files["best"])
    assert not model.training
    images, labels = raw_validation_images(config)
    from designer.training.data.common import ImageDataset

    state, meta = weights_and_meta(files["best"])
    norm = meta["normalization"]
    want, _ = ImageDataset(images, labels, norm["mean"], norm["std"]).get_batch(range(VAL))
    assert torch.equal(model.preprocess(images), want)  # the run's inputs, bit for bit
    assert torch.equal(model.preprocess(images.permute(0, 2, 3, 1).numpy()), want)
    assert torch.equal(model.preprocess(images[7].permute(1, 2, 0)), want[7:8])  # one image
    torch.testing.assert_close(model.preprocess(images.float() / 255), want)
    # the weights are the app's, the normalisation rides outside the state_dict
    assert list(model.state_dict()) == list(state)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    raw = cls.from_checkpoint(files["best"], raw_input=True)
    with torch.no_grad():
        assert torch.equal(raw(images), model(model.preprocess(images)))


def test_a_torch_save_checkpoint_loads_the_same(run, tmp_path):
    """best.pt / last.pt (earlier versions, exported projects): save_checkpoint's dict."""
    net, files, _, _ = run
    cls = exported(export_code(net))
    from_run = cls.from_checkpoint(files["best"])
    _, meta = weights_and_meta(files["best"])
    save_checkpoint(tmp_path / "best.pt", from_run, meta)
    again = cls.from_checkpoint(tmp_path / "best.pt")
    assert torch.equal(again.mean, from_run.mean) and torch.equal(again.std, from_run.std)
    assert again.classes == from_run.classes
    for (k, a), b in zip(from_run.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_without_a_run_the_export_is_the_identity_and_says_so(run):
    net = run[0]
    source = export_code(net)
    assert "this export knows no training run" in " ".join(source.split())
    model = exported(source)()
    assert model.mean.tolist() == [0.0, 0.0, 0.0] and model.std.tolist() == [1.0, 1.0, 1.0]
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model.preprocess(x), x)
    grey = export_code(load(CIFAR.parent / "lenet5.convnet.json").network)
    assert "mean = (0.0,) if mean is None else mean" in grey


def test_plain_state_dicts_load_with_a_warning_and_the_old_advice_fails(run, tmp_path):
    net, files, _, _ = run
    cls = exported(export_code(net))
    state, _ = weights_and_meta(files["best"])
    torch.save(state, tmp_path / "plain.pt")
    plain = [tmp_path / "plain.pt"]
    if importlib.util.find_spec("safetensors") is not None:
        from safetensors.torch import save_file

        save_file(state, tmp_path / "plain.safetensors")
        plain.append(tmp_path / "plain.safetensors")
    for path in plain:
        with pytest.warns(UserWarning, match="does not say how the run normalised its inputs"):
            model = cls.from_checkpoint(path)
        assert model.mean.tolist() == [0.0] * 3 and model.classes is None
        for key, value in model.state_dict().items():
            assert torch.equal(value, state[key]), key
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls.from_checkpoint(files["last"])  # the Trainer's: no warning
    # the old advice, load_state_dict(torch.load(path)), fails on the Trainer's checkpoints
    with pytest.raises(RuntimeError, match="Missing key"):
        cls().load_state_dict(torch.load(files["best"], weights_only=True))


def test_the_recipe_imports_from_the_module_it_is_told():
    net = load(CIFAR).network
    recipe = recipe_of(export_code(net, module="cifar"))
    assert "from cifar import CIFAR10Example  # this file, saved as cifar.py\n" in recipe
    long_name = "a_module_name_long_enough_that_the_comment_would_not_fit_in_the_line_width"
    assert f"from {long_name} import CIFAR10Example\n" in recipe_of(
        export_code(net, module=long_name))
    for bad in ("my model", "2net", "class", ""):
        with pytest.raises(ValueError):
            export_code(net, module=bad)
