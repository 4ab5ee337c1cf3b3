"""The one error a data set raises, and the advice its faults share. Standard library only, so
the window can name a data set's problem (and resolve its augmentation, recipe.py) without torch.
"""

from __future__ import annotations


class DatasetError(ValueError):
    """A data set cannot be found, read or shaped to the design; the message says what, where.
    ``advice`` says what to do about it (the Trainer shows it as the fault's advice)."""

    def __init__(self, message: str, advice: str = ""):
        super().__init__(message)
        self.advice = advice


# advice shared by several faults (each names the fix, not the symptom)
NOT_GENUINE = ("the file is not a genuine copy of the data (a decompression bomb, or corrupt): "
               "delete it, and download it again or point the path at the real files")
MISSING_FILES = ("turn on Download (--download on the command line) to fetch the files, or point "
                 "the data path at the folder that holds them")
CORRUPT_DOWNLOAD = ("the file is damaged or incomplete: delete it and turn on Download "
                    "(--download) to fetch it again")
NPZ_FORMAT = ("save the data with numpy.savez or numpy.savez_compressed, e.g. "
              "np.savez('data.npz', x=images, y=labels): x uint8 or float images (N, H, W), "
              "(N, H, W, C) or (N, C, H, W), y integer labels 0..K-1")
FOLDER_LAYOUT = ("give the path of a folder that holds one sub-folder per class, each with that "
                 "class's images (PNG, JPEG, BMP, WebP, ...); train/ and val/ inside it are used "
                 "as the splits where present")
LABELS = "number the classes 0..K-1 (one integer label per image) and save the file again"
CHANNELS = "change the Input layer's channels to a depth the message names"
SPLIT_SIZE = "change the validation size (val_size, --val-size) to one the message allows"
