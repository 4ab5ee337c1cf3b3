"""Mouse and drag-and-drop gestures sent to a view's viewport as Qt delivers them."""

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication


def at(view, x, y) -> QPoint:
    """Viewport coordinates of a scene point."""
    return view.mapFromScene(QPointF(x, y))


def mouse(view, kind, pos: QPoint, button=Qt.MouseButton.LeftButton, buttons=None,
          modifiers=Qt.KeyboardModifier.NoModifier):
    vp = view.viewport()
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease \
            else button
    event = QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos)), button, buttons,
                        modifiers)
    QApplication.sendEvent(vp, event)


def drag_mouse(view, start: QPoint, end: QPoint, steps=6, modifiers=Qt.KeyboardModifier.NoModifier):
    mouse(view, QMouseEvent.Type.MouseButtonPress, start, modifiers=modifiers)
    for i in range(1, steps + 1):
        p = start + (end - start) * i / steps
        mouse(view, QMouseEvent.Type.MouseMove, p, button=Qt.MouseButton.NoButton,
              buttons=Qt.MouseButton.LeftButton, modifiers=modifiers)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, end, modifiers=modifiers)


def click(view, pos: QPoint, modifiers=Qt.KeyboardModifier.NoModifier):
    mouse(view, QMouseEvent.Type.MouseButtonPress, pos, modifiers=modifiers)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, pos, modifiers=modifiers)


def drop(view, mime: QMimeData, pos: QPoint) -> QDropEvent:
    """A real drag over the canvas and a drop, as Qt delivers them to the viewport."""
    vp = view.viewport()
    action = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(vp, move)
    assert move.isAccepted()
    event = QDropEvent(QPointF(pos), action, mime, buttons, mods)
    QApplication.sendEvent(vp, event)
    return event


def layer_mime(name: str) -> QMimeData:
    mime = QMimeData()
    mime.setData("application/x-convnet-layer", name.encode("utf-8"))
    return mime
