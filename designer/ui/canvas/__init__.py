"""The design canvas: layer cards and wires in a QGraphicsScene that mirrors a Document.

    scene = CanvasScene(document)
    view = CanvasView(scene)          # view.actions_by_name: delete, copy, paste, ...
    view.file_dropped.connect(open_design)
"""

from .export import render_png, render_svg
from .items import NodeCard, PortItem, Wire
from .scene import CanvasScene
from .view import CanvasView

__all__ = ["CanvasScene", "CanvasView", "NodeCard", "PortItem", "Wire", "render_png",
           "render_svg"]
