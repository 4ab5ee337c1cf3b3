"""What the training panel's settings read as: the data sets, optimizers and schedules by
name, and what the path field asks for each data set; choosing a data set's file or folder."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget

DATASETS = (  # (name in DataConfig, what the user reads)
    ("synthetic", "Synthetic shapes"),
    ("mnist", "MNIST"),
    ("fashion-mnist", "Fashion-MNIST"),
    ("cifar10", "CIFAR-10"),
    ("cifar100", "CIFAR-100"),
    ("folder", "Image folder"),
    ("npz", ".npz file (x, y)"),
)
STANDARD = {"mnist", "fashion-mnist", "cifar10", "cifar100"}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "SGD + Nesterov",
                   "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
SCHEDULE_NAMES = {"none": "constant", "step": "step", "cosine": "cosine",
                  "onecycle": "one-cycle"}


def path_hint(name: str) -> str:
    """The path field's placeholder for the data set `name`."""
    return {
        "synthetic": "generated, nothing to read",
        "folder": "a folder with one folder of images per class",
        "npz": "a .npz file with arrays x and y",
    }.get(name, "folder of the standard files (empty: the cache)")


def browse_data(parent: QWidget, name: str, current: str) -> str:
    """Ask for the data set's .npz file or folder; '' when the user cancels."""
    if name == "npz":
        path, _ = QFileDialog.getOpenFileName(parent, "Data set", current,
                                              "NumPy archives (*.npz);;All files (*)")
        return path
    return QFileDialog.getExistingDirectory(parent, "Data set folder", current)
