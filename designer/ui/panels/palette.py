"""The layer palette: every kind in the catalogue, grouped by category, searchable, draggable.

Entries are drag sources carrying the layer type's name as "application/x-convnet-layer" (blocks
carry their kind as "application/x-convnet-block"); double-click or Enter asks for the layer to be
added (`layer_activated`) and the main window decides where.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...model.layers import CATALOGUE
from ..widgets.decor import category_icon
from ..widgets.formatting import layer_title

LAYER_MIME = "application/x-convnet-layer"
BLOCK_MIME = "application/x-convnet-block"

# The order a reader of the notes meets them in; unknown categories go last.
CATEGORY_ORDER = ("Input", "Convolution", "Pooling", "Activation", "Normalization",
                  "Regularization", "Reshape", "Fully connected", "Merge")

# kind -> (title, tooltip); the search looks in the title and BLOCK_KEYWORDS
BLOCKS: dict[str, tuple[str, str]] = {
    "inception": ("Inception module",
                  "GoogLeNet's module: 1×1, 3×3 and 5×5 CONV branches and a pooled branch, "
                  "concatenated along depth."),
    "basic": ("Residual block (basic)",
              "ResNet-18/34: two 3×3 CONVs with BatchNorm, added to a shortcut."),
    "bottleneck": ("Residual block (bottleneck)",
                   "ResNet-50/101/152: 1×1 reduce, 3×3, 1×1 expand, added to a shortcut."),
}
BLOCK_KEYWORDS = {"inception": "googlenet concat", "basic": "resnet add shortcut",
                  "bottleneck": "resnet add shortcut"}

_KIND = Qt.UserRole  # ("layer", type name) | ("block", kind) on entries, None on groups
_TEXT = Qt.UserRole + 1  # lower-case words the search looks in
# an entry's flags, made once (each | of Qt's flags runs the enum module's Python code)
_ENTRY_FLAGS = Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled


def layer_mime_data(type_name: str) -> QMimeData:
    """What dragging a layer entry carries: the type name, utf-8."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_name.encode("utf-8"))
    mime.setText(type_name)
    return mime


def block_mime_data(kind: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(BLOCK_MIME, kind.encode("utf-8"))
    mime.setText(BLOCKS[kind][0])
    return mime


class _Tree(QTreeWidget):
    """A tree whose entries drag our MIME types (Qt's own drag machinery does the rest)."""

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt's name)
        return [LAYER_MIME, BLOCK_MIME]

    def mimeData(self, items) -> QMimeData | None:  # noqa: N802
        for item in items:
            kind = item.data(0, _KIND)
            if kind:
                return (layer_mime_data if kind[0] == "layer" else block_mime_data)(kind[1])
        return None

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.CopyAction


class LayerPalette(QWidget):
    layer_activated = Signal(str)  # a layer type's name
    block_activated = Signal(str)  # "inception" | "basic" | "bottleneck"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers: CONV, pool, fully…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._activate_first)
        self.search.installEventFilter(self)

        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(8)
        self.tree.setUniformRowHeights(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragOnly)
        self.tree.setDefaultDropAction(Qt.CopyAction)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.itemActivated.connect(self._activated)
        self._fill()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)

    # ----------------------------------------------------------------------------- contents

    def _fill(self) -> None:
        by_category: dict[str, list] = {}
        for layer in CATALOGUE.values():
            by_category.setdefault(layer.category, []).append(layer)
        rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
        bold = self.tree.font()
        bold.setBold(True)
        for category in sorted(by_category, key=lambda c: (rank.get(c, len(rank)), c)):
            group = self._group(category, bold)
            icon = category_icon(category)
            for layer in by_category[category]:
                item = QTreeWidgetItem(group, [layer_title(layer)])
                item.setIcon(0, icon)
                item.setToolTip(0, f"<b>{layer_title(layer)}</b><br>{layer.doc}")
                item.setData(0, _KIND, ("layer", layer.name))
                item.setData(0, _TEXT, " ".join(
                    (layer.name, layer.alias, layer.category, layer.doc)).lower())
                item.setFlags(_ENTRY_FLAGS)
        group = self._group("Blocks", bold)
        icon = category_icon("Merge")
        for kind, (title, doc) in BLOCKS.items():
            item = QTreeWidgetItem(group, [title])
            item.setIcon(0, icon)
            item.setToolTip(0, f"<b>{title}</b><br>{doc}")
            item.setData(0, _KIND, ("block", kind))
            item.setData(0, _TEXT, f"{kind} {title} {BLOCK_KEYWORDS.get(kind, '')}".lower())
            item.setFlags(_ENTRY_FLAGS)
        self.tree.expandAll()

    def _group(self, title: str, font) -> QTreeWidgetItem:
        group = QTreeWidgetItem(self.tree, [title])
        group.setFont(0, font)
        group.setFlags(Qt.ItemIsEnabled)
        group.setData(0, _TEXT, title.lower())
        return group

    def _entries(self):
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            for i in range(group.childCount()):
                yield group, group.child(i)

    def visible_entries(self) -> list[str]:
        """The entries the search leaves on show, top to bottom (their displayed titles)."""
        return [item.text(0) for group, item in self._entries()
                if not item.isHidden() and not group.isHidden()]

    # ----------------------------------------------------------------------------- behaviour

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            group_text = group.data(0, _TEXT)
            shown = 0
            for i in range(group.childCount()):
                item = group.child(i)
                hay = f"{group_text} {item.data(0, _TEXT)}"
                hide = not all(w in hay for w in words)
                item.setHidden(hide)
                shown += not hide
            group.setHidden(shown == 0)
        self.tree.expandAll()

    def _first_visible(self) -> QTreeWidgetItem | None:
        for group, item in self._entries():
            if not item.isHidden() and not group.isHidden():
                return item
        return None

    def _activate_first(self) -> None:
        item = self._first_visible()
        if item is not None:
            self._activated(item)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        kind = item.data(0, _KIND)
        if not kind:
            return
        if kind[0] == "layer":
            self.layer_activated.emit(kind[1])
        else:
            self.block_activated.emit(kind[1])

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        # Down from the search box walks into the list, so the keyboard alone can add a layer.
        # (a key press comes as a QKeyEvent: QKeyEvent's class is not needed before one)
        if (obj is self.search and event.type() == QEvent.Type.KeyPress
                and event.key() == Qt.Key_Down):
            item = self._first_visible()
            if item is not None:
                self.tree.setCurrentItem(item)
                self.tree.setFocus()
                return True
        return super().eventFilter(obj, event)
