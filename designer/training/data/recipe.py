"""Which augmentation a run uses: the data set's standard recipe, or what the settings choose.

``DataConfig.crop_padding`` and ``DataConfig.hflip`` choose it; ``None`` (the default) means the
standard recipe for the data set:

- CIFAR-10 / CIFAR-100: a random crop with 4 px of zero padding (at 32 px; scaled with the input
  size) and a horizontal flip, as the papers train them;
- the synthetic shapes: the random crop, no flip (a mirrored "diagonal" is another class);
- MNIST, Fashion-MNIST: none;
- the user's own data (an image folder, a .npz): none. A flip or a shift can change what a
  picture means (a mirrored 2 or 7), and on a small set it costs accuracy; turn either on when
  it keeps the class.

``resolve(config, input_shape)`` gives the recipe a run will use and a sentence saying why; the
window and the command line show it. Standard library only (no torch): the window calls it as
the settings change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events import DATASETS
from .errors import DatasetError

if TYPE_CHECKING:
    from ..events import DataConfig

BASE_PAD = 4  # the standard crop's padding at 32 px; scaled with the input's smaller side
# data set -> (random crop?, horizontal flip?) of its standard recipe
STANDARD = {"cifar10": (True, True), "cifar100": (True, True), "synthetic": (True, False),
            "mnist": (False, False), "fashion-mnist": (False, False), "folder": (False, False),
            "npz": (False, False)}
WHAT = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "synthetic": "the synthetic shapes",
        "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "folder": "your own image folder",
        "npz": "your own .npz data"}
WHY = {"cifar10": "objects look the same shifted or mirrored",
       "cifar100": "objects look the same shifted or mirrored",
       "synthetic": "a shape is the same shifted, but a mirrored diagonal is another class",
       "mnist": "digits are centred, and a mirrored digit is another digit or none",
       "fashion-mnist": "the clothes are centred and upright",
       "folder": "a shift or a mirror image can change what a picture means, as a mirrored 2 or 7"
                 " does; turn either on where it keeps the class",
       "npz": "a shift or a mirror image can change what a picture means, as a mirrored 2 or 7"
              " does; turn either on where it keeps the class"}
ALIASES = {"cifar-10": "cifar10", "cifar-100": "cifar100", "fashion_mnist": "fashion-mnist",
           "fashionmnist": "fashion-mnist", "image-folder": "folder", "imagefolder": "folder",
           "images": "folder"}


def dataset_name(name: str) -> str:
    """The data set's name as DATASETS spell it (aliases such as 'cifar-10' accepted)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}",
                           f"set the data set to one of {', '.join(DATASETS)}")
    return key


def standard_padding(input_shape: Sequence[int] | None) -> int:
    """The standard crop's padding for an input (C, H, W): 4 px at 32 px, scaled with the smaller
    side and rounded; none below 8 px (None: the 32-px figure)."""
    if input_shape is None:
        return BASE_PAD
    side = min(int(v) for v in tuple(input_shape)[-2:])
    return max(0, round(BASE_PAD * side / 32)) if side >= 8 else 0


@dataclass(frozen=True)
class Recipe:
    """The augmentation of the training split, resolved (validation images are never
    augmented)."""

    crop_padding: int  # pixels of zero padding (the mean colour) around a random crop; 0: none
    hflip: bool  # half the images mirrored left to right
    standard: bool  # neither chosen in the settings: the data set's standard recipe
    dataset: str
    usual: str = ""  # the data set's standard recipe as text (where this one is chosen)

    @property
    def active(self) -> bool:
        return bool(self.crop_padding or self.hflip)

    @property
    def text(self) -> str:
        """'random crop (pad 4) + horizontal flip', 'random crop (pad 2)', 'off'."""
        parts = []
        if self.crop_padding:
            parts.append(f"random crop (pad {self.crop_padding})")
        if self.hflip:
            parts.append("horizontal flip")
        return " + ".join(parts) or "off"

    @property
    def description(self) -> str:
        """The recipe and why, in a sentence: 'off, the standard for MNIST (digits are centred,
        and a mirrored digit is another digit or none)', 'random crop (pad 2), as chosen (the
        standard for MNIST is off)'."""
        if self.standard:
            return f"{self.text}, the standard for {WHAT[self.dataset]} ({WHY[self.dataset]})"
        return (f"{self.text}, as chosen (the standard for {WHAT[self.dataset]} is "
                f"{self.usual or 'off'})")


def resolve(config: DataConfig, input_shape: Sequence[int] | None = None) -> Recipe:
    """The augmentation a run of ``config`` uses on an input of ``input_shape`` (C, H, W): its
    ``crop_padding`` and ``hflip`` where set, the data set's standard recipe where None.
    ``DatasetError`` for an unknown data set's name."""
    name = dataset_name(config.name)
    crop, flip = STANDARD[name]
    chosen_pad = getattr(config, "crop_padding", None)
    chosen_flip = getattr(config, "hflip", None)
    usual = Recipe(standard_padding(input_shape) if crop else 0, flip, True, name)
    if chosen_pad is None and chosen_flip is None:
        return usual
    pad = usual.crop_padding if chosen_pad is None else int(chosen_pad)
    hflip = flip if chosen_flip is None else bool(chosen_flip)
    return Recipe(pad, hflip, False, name, usual.text)
