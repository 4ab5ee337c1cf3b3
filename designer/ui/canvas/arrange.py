"""The canvas's block and layout actions: Group (Ctrl+G), Ungroup, Collapse, Expand, Collapse
All / Expand All Blocks, and the layouts of the View menu (top to bottom, left to right, wrapped
columns). Each is one undoable step: blocks through ui/commands, positions through
Document.move (model/layout.py computes them).

    install(view)            # the QActions, in view.actions_by_name
    add_to_menus(window)     # into the window's Edit and View menus
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from ...model import blocks as model_blocks
from ...model.layout import STYLES, arrange, toggle_moves
from .. import commands

BLOCK_ACTIONS = ("group", "ungroup", "collapse", "expand", "collapse_all", "expand_all")


def install(view) -> None:
    spec = [
        ("group", "&Group", "Ctrl+G", lambda: group_selection(view),
         "Group the selected layers as a block (it can be collapsed to one card)"),
        ("ungroup", "&Ungroup", "Ctrl+Shift+G", lambda: ungroup_selection(view),
         "Dissolve the selected block (its layers stay)"),
        ("collapse", "&Collapse Block", "", lambda: show_selection(view, True),
         "Show the block of the selected layers as one card"),
        ("expand", "E&xpand Block", "", lambda: show_selection(view, False),
         "Show the selected block's layers in place"),
        ("collapse_all", "Collapse All Blocks", "", lambda: show_all(view, True),
         "Every block as one card"),
        ("expand_all", "Expand All Blocks", "", lambda: show_all(view, False),
         "Every block's layers shown"),
    ]
    spec += [(f"layout_{style}", text, "", (lambda _=False, s=style: relayout(view, s)),
              f"Lay the design out: {text.lower()} (undoable)")
             for style, text in STYLES.items()]
    for name, text, shortcut, slot, tip in spec:
        action = QAction(text, view)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(view.actions_by_name["delete"].shortcutContext())
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        view.addAction(action)
        view.actions_by_name[name] = action


def add_to_menus(window) -> None:
    """Group / Ungroup / Collapse / Expand in Edit, the layouts and Collapse / Expand All in
    View (a Layout submenu)."""
    actions = window.view.actions_by_name
    window.edit_menu.addSeparator()
    for name in ("group", "ungroup", "collapse", "expand"):
        window.edit_menu.addAction(actions[name])
    menu = QMenu("La&yout", window)  # (Auto &Layout has the L)
    for style in STYLES:
        menu.addAction(actions[f"layout_{style}"])
    menu.addSeparator()
    menu.addActions([actions["collapse_all"], actions["expand_all"]])
    # after the zoom and Auto Layout, before the docks
    after = next((a for a in window.view_menu.actions() if a.isSeparator()), None)
    if after is None:
        window.view_menu.addMenu(menu)
    else:
        window.view_menu.insertMenu(after, menu)


# ------------------------------------------------------------------------------------ blocks

def selected_blocks(view) -> list[str]:
    """The blocks the selection means: the selected blocks' cards, else the smallest block
    that holds each selected layer."""
    scene = view.canvas
    chosen = [bid for bid, c in scene.blocks.cards.items() if c.isSelected()]
    if chosen:
        return chosen
    blocks = view.document.network.blocks
    ids = {c.node_id for c in scene.selected_cards()}
    out: list[str] = []
    for nid in ids:
        holding = [b for b in blocks.values() if nid in b.members]
        if holding:
            smallest = min(holding, key=lambda b: len(b.members)).id
            if smallest not in out:
                out.append(smallest)
    return out


def group_selection(view) -> str | None:
    ids = view._selected_ids()
    if not ids:
        view.document.error.emit("select the layers to group")
        return None
    return commands.group(view.document, ids)


def ungroup_selection(view) -> None:
    commands.ungroup(view.document, selected_blocks(view))


def show_selection(view, collapsed: bool) -> None:
    blocks = view.document.network.blocks
    ids = selected_blocks(view)
    if collapsed:  # a selected collapsed card: its enclosing block
        up = model_blocks.parents(blocks)
        ids = [b if not blocks[b].collapsed else (up[b] or b) for b in ids]
    ids = [b for b in dict.fromkeys(ids) if blocks[b].collapsed != collapsed]
    show(view.canvas, ids, collapsed)
    if collapsed and ids:  # the cards that stand for the selected layers stay selected
        blocks = view.document.network.blocks
        view.document.select([m for b in ids for m in blocks[b].members])


def show_all(view, collapsed: bool) -> None:
    blocks = view.document.network.blocks
    order = sorted(blocks, key=lambda b: len(blocks[b].members), reverse=not collapsed)
    show(view.canvas, [b for b in order if blocks[b].collapsed != collapsed], collapsed)


def show(scene, block_ids: list[str], collapsed: bool) -> None:
    """Collapse or expand blocks in place, one undo step: each block's room is made (or its
    gap closed) in turn."""
    if not block_ids:
        return
    doc = scene.document
    positions = scene.positions()
    now = dict(positions)
    net = doc.network.copy()
    readers = scene.blocks.readers()  # (the wiring stays: only blocks open or close)
    moves: dict[str, tuple[float, float]] = {}
    for bid in block_ids:
        step = toggle_moves(net, bid, now, readers)
        now.update(step)
        moves.update(step)
        net.set_collapsed([bid], collapsed)
    commands.show_blocks(doc, block_ids, collapsed, positions, moves)


# ------------------------------------------------------------------------------------ layouts

def relayout(view, style: str) -> None:
    """Lay the whole design out in `style` (one undoable move) and fit it to the view."""
    positions = arrange(view.document.network, style, _aspect(view))
    view.document.move(positions, f"Layout: {STYLES[style]}")
    view.fit_all()


def _aspect(view) -> float:
    rect = view.viewport().rect()
    return rect.width() / rect.height() if rect.height() > 50 else 16 / 10
