"""Design hints in the window: the model that keeps the advisor's hints for the open design, and
the "Hints" panel that shows them as cards with Apply and Ignore.

HintsModel re-runs designer.model.advisor.advise on every change of the Document (cheap and
cached per network version) and drops the hints the design file says to ignore. Apply runs the
hint's edit through Document.edit (one undo step); Ignore is an undo command too, that writes the
key into the design's "hints" section, so it is saved with the file. Hints never block anything.
The canvas asks the model which layers have hints (titles_by_layer) to mark their cards.

The predicted effects (an analysis of an edited copy each) are filled in a moment after a
change, so that editing stays as fast with the panel open as without it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette, QUndoCommand
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...model.advisor import Hint, advise, ignored_keys
from ..document import Document
from ..widgets.decor import discard, vertical_scroll

KIND_TITLES = {"rule": "Rule of thumb", "compromise": "Compromise", "alternative": "Alternative"}
KIND_COLOURS = {"rule": "#0d9488", "compromise": "#2563eb", "alternative": "#6b7280"}
EFFECT_DELAY_MS = 120  # predictions wait for a pause in the editing


def kind_colour(kind: str) -> QColor:
    return QColor(KIND_COLOURS.get(kind, "#6b7280"))


def _muted(label: QLabel) -> QLabel:
    """Secondary text: the label's own text colour, a little transparent (light and dark)."""
    palette = label.palette()
    colour = QColor(palette.color(QPalette.WindowText))
    colour.setAlphaF(0.68)
    palette.setColor(QPalette.WindowText, colour)
    label.setPalette(palette)
    return label


class IgnoreHints(QUndoCommand):
    """Hide (or show again) a hint for this design: the keys live in design.hints["ignored"],
    which the design file saves."""

    def __init__(self, doc: Document, keys: Iterable[str], text: str):
        super().__init__(text)
        self._doc = weakref.ref(doc)  # the document owns the stack that owns this command
        self.before = sorted(ignored_keys(doc.design.hints))
        self.after = sorted(set(keys))

    def redo(self) -> None:
        self._set(self.after)

    def undo(self) -> None:
        self._set(self.before)

    def _set(self, keys: list[str]) -> None:
        doc = self._doc()
        if doc is None:
            return
        section = dict(doc.design.hints)
        if keys:
            section["ignored"] = list(keys)
        else:
            section.pop("ignored", None)
        doc.design.hints = section
        doc.refresh()


class HintsModel(QObject):
    """The advisor's hints for the Document's design, minus the ignored ones."""

    changed = Signal()

    def __init__(self, doc: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc
        self.hints: list[Hint] = []  # shown
        self.ignored: list[Hint] = []  # hidden for this design
        self._by_layer: dict[str, tuple[str, ...]] | None = None
        doc.changed.connect(self.update)
        self.update(doc.report)

    def update(self, report=None) -> None:
        report = report if report is not None else self.doc.report
        hidden = ignored_keys(self.doc.design.hints)
        every = advise(self.doc.network, report)
        self.hints = [h for h in every if h.key not in hidden]
        self.ignored = [h for h in every if h.key in hidden]
        self._by_layer = None
        self.changed.emit()

    def titles_by_layer(self) -> dict[str, tuple[str, ...]]:
        """{layer id: the titles of the shown hints that concern it}, for the card markers."""
        if self._by_layer is None:
            out: dict[str, list[str]] = {}
            for h in self.hints:
                for nid in h.layers:
                    out.setdefault(nid, []).append(h.title)
            self._by_layer = {nid: tuple(titles) for nid, titles in out.items()}
        return self._by_layer

    def hints_for(self, node_id: str) -> list[Hint]:
        return [h for h in self.hints if node_id in h.layers]

    def apply(self, hint: Hint) -> bool:
        """Run the hint's edit as one undo step (and its settings, e.g. the batch)."""
        done = True
        if hint.edit:
            def change(net) -> bool:
                hint.apply(net)
                return True

            done = bool(self.doc.edit(f"Hint: {hint.title}", change))
            if done:
                self.doc.select([n for n in hint.layers if n in self.doc.network.nodes])
        if done and hint.settings:
            self.doc.set_settings(**hint.settings)
        return done

    def ignore(self, hint: Hint) -> None:
        keys = ignored_keys(self.doc.design.hints) | {hint.key}
        self.doc.undo_stack.push(IgnoreHints(self.doc, keys, f"Ignore hint “{hint.title}”"))

    def restore(self, hint: Hint) -> None:
        keys = ignored_keys(self.doc.design.hints) - {hint.key}
        self.doc.undo_stack.push(IgnoreHints(self.doc, keys, f"Show hint “{hint.title}”"))


class HintCard(QFrame):
    """One hint: its kind and title, the layers, the reason, the section of the notes, the
    predicted effect, and Apply / Ignore (Show again for an ignored one)."""

    clicked = Signal(object)  # the Hint
    apply_clicked = Signal(object)
    ignore_clicked = Signal(object)
    restore_clicked = Signal(object)
    try_clicked = Signal(object)

    def __init__(self, hint: Hint, ignored: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.hint = hint
        self.ignored = ignored
        colour = kind_colour(hint.kind)
        self.setObjectName("hintCard")
        alpha = 10 if ignored else 22
        self.setStyleSheet(
            f"#hintCard {{ border: none; border-left: 3px solid {colour.name()};"
            f" background: rgba({colour.red()}, {colour.green()}, {colour.blue()}, {alpha});"
            " border-radius: 2px; }")
        if hint.layers:
            self.setCursor(Qt.PointingHandCursor)
            self.setToolTip("Select " + ", ".join(hint.layers))

        head = QHBoxLayout()
        head.setSpacing(6)
        self.kind_label = QLabel(KIND_TITLES.get(hint.kind, hint.kind.title())
                                 + (" · ignored" if ignored else ""))
        self.kind_label.setStyleSheet(f"color: {colour.name()}; font-weight: 600;")
        head.addWidget(self.kind_label)
        head.addStretch(1)
        self.title = QLabel(hint.title)
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.PlainText)
        self.title.setStyleSheet("font-weight: 600;")
        self.reason = QLabel(hint.reason)
        self.reason.setWordWrap(True)
        self.reason.setTextFormat(Qt.PlainText)
        self.section = QLabel(f"From the notes: “{hint.section}”")
        self.section.setWordWrap(True)
        self.section.setStyleSheet("font-style: italic;")
        _muted(self.section)

        self.effect = QGridLayout()
        self.effect.setHorizontalSpacing(10)
        self.effect.setVerticalSpacing(0)
        self.effect_rows: list[tuple[str, str, str]] = []
        self._effect_labels: list[QLabel] = []

        self.apply_button = QPushButton("Apply")
        self.apply_button.setCursor(Qt.ArrowCursor)
        self.apply_button.clicked.connect(lambda: self.apply_clicked.emit(self.hint))
        self.try_button = QPushButton("Try")
        self.try_button.setCursor(Qt.ArrowCursor)
        self.try_button.setToolTip(
            "Train this variant (the design with the hint applied) with the same data and "
            "settings, the design on screen unchanged: its accuracy joins its cost in "
            "Train → Experiments")
        self.try_button.clicked.connect(lambda: self.try_clicked.emit(self.hint))
        self.ignore_button = QPushButton("Show again" if ignored else "Ignore")
        self.ignore_button.setCursor(Qt.ArrowCursor)
        if ignored:
            self.ignore_button.setToolTip("Show this hint again for this design")
            self.ignore_button.clicked.connect(lambda: self.restore_clicked.emit(self.hint))
        else:
            self.ignore_button.setToolTip("Hide this hint for this design (saved in the file)")
            self.ignore_button.clicked.connect(lambda: self.ignore_clicked.emit(self.hint))
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.try_button)
        buttons.addWidget(self.ignore_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 5, 6, 6)
        layout.setSpacing(3)
        layout.addLayout(head)
        layout.addWidget(self.title)
        layout.addWidget(self.reason)
        layout.addLayout(self.effect)
        layout.addWidget(self.section)
        layout.addLayout(buttons)
        self.set_hint(hint)

    def set_hint(self, hint: Hint) -> None:
        """The same hint for a newer version of the design (its prediction comes later)."""
        self.hint = hint
        self.title.setText(hint.title)
        self.reason.setText(hint.reason)
        self.apply_button.setVisible(hint.applicable)
        self.apply_button.setEnabled(False)
        self.try_button.setVisible(bool(hint.edit))  # a change of the network to train
        self.try_button.setEnabled(False)
        self.apply_button.setToolTip("Working out the predicted effect…")

    def show_effect(self) -> None:
        """Work out the prediction (an analysis of the edited copy) and show it."""
        hint = self.hint
        rows = hint.effect_rows()
        if rows != self.effect_rows:
            self.effect_rows = rows
            for label in self._effect_labels:
                discard(label, self.effect)
            self._effect_labels = []
            for i, (what, before, after) in enumerate(rows):
                name = _muted(QLabel(what))
                value = QLabel(f"{before} → {after}")
                value.setTextInteractionFlags(Qt.TextSelectableByMouse)
                self.effect.addWidget(name, i, 0)
                self.effect.addWidget(value, i, 1)
                self._effect_labels += [name, value]
            self.effect.setColumnStretch(1, 1)
        if not hint.applicable:
            return
        safe = hint.safe
        self.apply_button.setEnabled(safe)
        self.try_button.setEnabled(safe and bool(hint.edit))
        steps = [op.describe() for op in hint.edit or ()]
        steps += [f"{k} = {v}" for k, v in (hint.settings or {}).items()]
        tip = "\n".join(steps) + "\n(one undo step)" if hint.edit else "\n".join(steps)
        if not safe:
            tip = "Applying it would make the design invalid:\n" + tip
        self.apply_button.setToolTip(tip)

    def effect_text(self) -> str:
        return "\n".join(f"{what} {before} → {after}" for what, before, after in self.effect_rows)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit(self.hint)
        super().mouseReleaseEvent(event)


class HintsPanel(QWidget):
    """Every hint for the open design, in network order; ignored ones on request."""

    try_requested = Signal(object)  # a hint whose variant the user wants trained

    def __init__(self, model: HintsModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.doc = model.doc
        self.cards: list[HintCard] = []
        self._keys: list[tuple[str, bool]] | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.show_ignored = QCheckBox("Show ignored")
        self.show_ignored.toggled.connect(lambda _: self._update())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(EFFECT_DELAY_MS)
        self._timer.timeout.connect(self.fill_effects)

        self._list = QVBoxLayout()
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.setSpacing(4)
        self._list.addStretch(1)
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(6, 0, 6, 6)
        inner_layout.addLayout(self._list)
        scroll = self._scroll = vertical_scroll(inner)
        self._design = None  # the design shown: another one starts at the top of the list
        head = QHBoxLayout()
        head.setContentsMargins(8, 0, 8, 0)
        head.addWidget(self.summary, 1)
        head.addWidget(self.show_ignored)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(scroll)
        model.changed.connect(self._update)
        self._update()

    def _update(self) -> None:
        model = self.model
        shown = [(h, False) for h in model.hints]
        if self.show_ignored.isChecked():
            shown += [(h, True) for h in model.ignored]
        n, k = len(model.hints), len(model.ignored)
        if n:
            text = f"{n} hint{'s' if n != 1 else ''} from the notes' rules of thumb"
        else:
            text = "✓ No hints: the design follows the notes' rules of thumb."
        self.summary.setText(text + (f" ({k} ignored)" if k else ""))
        self.show_ignored.setEnabled(bool(k) or self.show_ignored.isChecked())
        keys = [(h.key, ignored) for h, ignored in shown]
        if keys != self._keys:  # other hints: new cards
            self._rebuild(shown)
            self._keys = keys
        else:  # the same hints for a newer version of the design: new predictions
            for card, (hint, _) in zip(self.cards, shown):
                if card.hint is not hint:
                    card.set_hint(hint)
        if self.doc.design is not self._design:  # another design opened: from its first hint
            self._design = self.doc.design
            self._scroll.verticalScrollBar().setValue(0)
        if self.cards and self.isVisible():  # a hidden panel works them out when shown
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self.cards:
            self._timer.start()

    def _rebuild(self, shown: list[tuple[Hint, bool]]) -> None:
        for card in self.cards:
            discard(card, self._list)
        self.cards = []
        for i, (hint, ignored) in enumerate(shown):
            card = HintCard(hint, ignored, self)
            card.clicked.connect(self._select)
            card.apply_clicked.connect(self.model.apply)
            card.ignore_clicked.connect(self.model.ignore)
            card.restore_clicked.connect(self.model.restore)
            card.try_clicked.connect(self.try_requested)
            self._list.insertWidget(i, card)
            self.cards.append(card)

    def fill_effects(self) -> None:
        """Show every card's predicted effect (the timer calls it after a pause in editing)."""
        self._timer.stop()
        for card in self.cards:
            card.show_effect()

    def _select(self, hint: Hint) -> None:
        ids = [n for n in hint.layers if n in self.doc.network.nodes]
        if ids:
            self.doc.select(ids)

    def card(self, key: str) -> HintCard | None:
        return next((c for c in self.cards if c.hint.key == key), None)
