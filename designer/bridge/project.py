"""A design as a standalone training project: a folder that trains the network without the
designer, on one device or on many with torch.distributed.

    OUT/model.py            the readable code export (designer.bridge.codegen)
    OUT/train.py            the training script (project_train.py, copied as it is): its options,
                            DistributedDataParallel under torchrun (each process a share of every
                            batch), the loop, logging and checkpoints on process 0
    OUT/convlib/            the app's own data and runtime code, copied file for file from
                            designer/ into the same places (the same modules the Trainer uses,
                            so a fix lands once, and their relative imports hold as they are):
                            atomic.py (files written atomically), training/events.py (the
                            settings' records), training/basics.py (device, precision,
                            optimizer, schedule, seeds, checkpoint files), training/batches.py
                            (the batches, their order, a process's share), training/data/ (the
                            data sets: reading, download with checksums, adaptation,
                            normalisation, augmentation)
    OUT/config.json         the design's training settings (what the Training panel saved), the
                            model class and its input; train.py's options override them
    OUT/README.md           how to run it
    OUT/requirements.txt    torch, numpy
    OUT/NAME.convnet.json   the design, to open again in ConvNet Designer

Nothing in the folder imports designer: the copied modules import the standard library, numpy,
torch and each other (relatively) only. TORCH (through codegen's name check), no Qt.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..model.analysis import analyze
from ..model.design_file import SUFFIX, Design, dumps
from ..model.layers import fmt_shape
from ..model.units import format_count
from ..training.events import TrainConfig
from .codegen import class_name_for, export_code
from .plan import BuildError

__all__ = ["BuildError", "ProjectError", "ProjectResult", "export_project", "train_script"]

TEMPLATE = Path(__file__).with_name("project_train.py")
PACKAGE = Path(__file__).resolve().parents[1]  # designer/
LIBRARY = "convlib"  # the copied modules' package in the project: a trimmed designer/
# copied from designer/ to the same place under convlib/, with every module of training/data/
LIBRARY_MODULES = ("atomic.py", "training/events.py", "training/basics.py",
                   "training/batches.py")
FILES = ("model.py", "train.py", "config.json", "README.md", "requirements.txt", LIBRARY)
LIBRARY_INIT = (
    '"""ConvNet Designer\'s data and runtime code, copied from its designer package when this\n'
    "project was exported: the modules the app's Trainer itself uses, file for file and in the\n"
    "same places (each says which file it came from). train.py imports them; they need PyTorch\n"
    'and NumPy only."""\n')
TRAINING_INIT = '"""The training modules of ConvNet Designer (designer/training), as copied."""\n'


class ProjectError(ValueError):
    """The project cannot be written there; the message says why."""


@dataclass(frozen=True)
class ProjectResult:
    folder: Path
    files: tuple[Path, ...]
    class_name: str


def train_script() -> str:
    """The text of train.py (the same for every design)."""
    return TEMPLATE.read_text(encoding="utf-8")


def library_files() -> dict[str, str]:
    """The project's convlib/ package: path in the project -> text (the same for every design):
    LIBRARY_MODULES and designer/training/data/, each under a line naming its source."""
    sources = [PACKAGE / name for name in LIBRARY_MODULES]
    sources += sorted((PACKAGE / "training" / "data").glob("*.py"))
    texts = {f"{LIBRARY}/__init__.py": LIBRARY_INIT,
             f"{LIBRARY}/training/__init__.py": TRAINING_INIT}
    for path in sources:
        where = path.relative_to(PACKAGE).as_posix()
        header = f"# Copied from ConvNet Designer's designer/{where} when this project was " \
                 "exported.\n"
        texts[f"{LIBRARY}/{where}"] = header + path.read_text(encoding="utf-8")
    return texts


def _config(design: Design, class_name: str) -> dict:
    net = design.network
    report = analyze(net)
    error = report.first_error()
    if error is not None:
        raise BuildError(error)
    if report.output is None:
        raise BuildError("the network has no output: wire layers after the INPUT")
    inputs = [nid for nid in report.order if report.layers[nid].type == "Input"]
    out = tuple(report.layers[report.output].shape)
    if len(out) == 3 and out[1:] != (1, 1):
        raise BuildError(f"the design's output ({report.output}) is a {fmt_shape(out)} volume; "
                         "a classifier needs one score per class (1×1×K): end it with global "
                         "average pooling or an FC layer")
    saved = design.training.get("config") if isinstance(design.training, dict) else None
    try:
        cfg = TrainConfig.from_dict(saved) if isinstance(saved, dict) else TrainConfig()
    except (TypeError, ValueError):
        cfg = TrainConfig()
    train = cfg.to_dict()
    train["checkpoint_dir"] = "checkpoints"  # relative to where train.py is run
    return {"format": "convnet-designer-project", "version": 1, "design": net.name,
            "model_class": class_name, "input_shape": list(report.layers[inputs[0]].shape),
            "outputs": int(out[0]), "flatten_output": len(out) > 1, "train": train}


def export_project(design: Design, folder: str | os.PathLike[str], *, force: bool = False,
                   class_name: str | None = None) -> ProjectResult:
    """Write the project into `folder` (made if missing). A folder that already holds files
    is refused unless `force` (then the project's own files are replaced, nothing else).
    BuildError when the design has errors or is no classifier."""
    net = design.network
    class_name = class_name or class_name_for(net.name)
    config = _config(design, class_name)
    code = export_code(net, class_name)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise ProjectError(f"{folder} is not empty: choose a new folder (or overwrite the "
                           f"project's files with --force)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ProjectError(f"cannot make the folder {folder}: {e.strerror or e}") from None
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in net.name.lower()).strip("_")
    design_file = (stem or "design") + SUFFIX
    texts = {
        "model.py": code,
        "train.py": train_script(),
        **library_files(),
        "config.json": json.dumps(config, indent=1, ensure_ascii=False) + "\n",
        "README.md": _readme(design, config, design_file),
        "requirements.txt": "torch>=2.2\nnumpy>=1.24\n# pillow  (for an image folder)\n"
                            "# safetensors>=0.4  (model.py's from_checkpoint on the app's "
                            ".safetensors checkpoints)\n",
        design_file: dumps(design),
    }
    written = []
    for name, text in texts.items():
        path = folder / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, text)  # a unique temp beside it, then renamed: no planted link
        except OSError as e:
            raise ProjectError(f"cannot write {path}: {e.strerror or e}") from None
        written.append(path)
    return ProjectResult(folder, tuple(written), class_name)


def _readme(design: Design, config: dict, design_file: str) -> str:
    net = design.network
    report = analyze(net)
    t = report.totals
    c, h, w = config["input_shape"]
    train = config["train"]
    data = train["data"]
    title = " ".join(net.name.split()) or "Net"
    description = "\n\n".join(textwrap.fill(p, 100) for p in net.description.split("\n\n")
                              if p.strip())
    settings = (f"data set `{data['name']}`, {train['epochs']} epochs, batch {train['batch_size']}"
                f", {train['optimizer']} at learning rate {train['lr']:g}, schedule "
                f"`{train['schedule']}`, seed {train['seed']}, precision {train['precision']}")
    return f"""# {title}: a training project

Exported from ConvNet Designer. It needs PyTorch and NumPy only (`pip install -r
requirements.txt`), not the designer.
{chr(10) + description + chr(10) if description else ""}
- `model.py`: the network, class `{config['model_class']}`: input {w}×{h}×{c} (W×H×D), output
  {config['outputs']} scores; {t.params:,} parameters, {format_count(t.macs)} MACs per image.
- `train.py`: trains it with the app's settings: its options, the processes, the loop.
- `convlib/`: ConvNet Designer's own data and runtime code, copied from the app file for file:
  the data sets (reading, download, normalisation, augmentation), the order of the batches, the
  optimizer, the schedule, the seeds and the checkpoint files. With the same seed, one process
  trains on the same batches as the app.
- `config.json`: the settings ({settings}). Options of `train.py` override them.
- `{design_file}`: the design, to open in ConvNet Designer again.

## Train

```bash
python train.py                                   # one process: a CUDA GPU if there is one
torchrun --nproc_per_node=4 train.py              # 4 processes, one per GPU (or CPU processes)
torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 train.py
python train.py --dataset cifar10 --download --epochs 30 --batch 128 --lr 0.05 --schedule cosine
python train.py --help                            # every option
```

Under `torchrun` each process trains on its share of every batch (every N-th sample of it),
gradients are averaged across processes (`DistributedDataParallel`, NCCL on GPUs, gloo on
CPUs), and `--batch` is the batch of all processes together: N processes take the same steps as
one process with the same batch. BatchNorm normalises each process's share, except on CUDA with
several processes, where it is made `SyncBatchNorm` (`--no-sync-bn` keeps it per process).
Process 0 prints the progress and writes the checkpoints.

## Data

`synthetic` (the default) makes the app's ten classes of coloured shapes and textures at the
model's input size, the same images for the same seed. `mnist`, `fashion-mnist`, `cifar10` and
`cifar100` read their standard files from `--data-path` or from the app's cache folder
(`~/.cache/convnet-designer/datasets/NAME` on Linux); `--download` fetches them there (checked
against the published MD5 sums; under `torchrun` process 0 fetches them while the others
wait). `folder` reads one sub-folder of images per class (with `train/` and `val/` where
present; PNG files are read without Pillow, other formats need it), `npz` a file with arrays `x`
and `y` (or `x_train`, `y_train`, `x_test`, `y_test`). Images are resized and their channels
adapted to the input; the training images are augmented with random crops (and flips where a
flip keeps the class) unless `--no-augment`.

## Checkpoints

`checkpoints/best.pt` (best validation accuracy) and `checkpoints/last.pt`, written by process 0
after every epoch:

```python
from model import {config['model_class']}

model = {config['model_class']}.from_checkpoint("checkpoints/best.pt")  # weights + normalisation
predicted = model(model.preprocess(images)).argmax(1)  # raw uint8 images, as read from files
```

`from_checkpoint` reads the run's input normalisation from the checkpoint (`preprocess` applies
it), so raw images give the run's accuracy. The file itself is a dict (`state_dict`, `meta`)
that `torch.load(path, weights_only=True)` reads without running code; the state_dict's keys are
those of the model ConvNet Designer builds, so the weights also load there.
"""
