"""The design canvas: layer cards and wires in a QGraphicsScene that mirrors a Document.

    scene = CanvasScene(document)
    view = CanvasView(scene)          # view.actions_by_name: delete, copy, paste, ...
    view.file_dropped.connect(open_design)
"""

from .items import NodeCard, PortItem, Wire
from .scene import CanvasScene
from .view import CanvasView

__all__ = ["CanvasScene", "CanvasView", "NodeCard", "PortItem", "Wire", "render_png",
           "render_svg"]


def __getattr__(name: str):
    if name in ("render_png", "render_svg"):  # imported when an export asks for them
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
