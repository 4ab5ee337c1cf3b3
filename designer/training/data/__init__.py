"""The data sets: synthetic shapes and textures, MNIST, Fashion-MNIST, CIFAR-10/100 (download
with checksums, or a local folder), an image folder, a .npz; shaped to the design's input,
normalised and augmented (``sets.load_datasets``).

Standard library, numpy and torch only, and this package's own modules (relative imports): an
exported training project copies the package as it is (``convlib/data/``), so the app and the
project read the same data the same way.
"""
