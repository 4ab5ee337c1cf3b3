"""ConvNet Designer: design, understand and train convolutional networks.

The rooms of the code (model/ pure Python, bridge/ and training/ torch without Qt, cli/ the
command line, ui/ the window) and the arrows that must never exist between them are described in
docs/ARCHITECTURE.md.
"""
