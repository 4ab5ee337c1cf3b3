"""Issue cards: a severity, the layer, the analysis' message and one "Fix: …" button per fix,
with the fix's effect on the design (params, MACs, memory before → after) as the analysis wrote it.

Shared by the inspector (one layer's issues) and the issues panel (all of them). The cards only
report clicks; the owner turns them into selections and undoable fixes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...model.layers import Issue
from ..theme import severity_colour

SEVERITY_TITLES = {"error": "Error", "warning": "Warning", "info": "Note"}
MAX_CARDS = 200  # beyond this the list says how many more there are


class IssueCard(QFrame):
    clicked = Signal(object)  # layer id, or None for a network-wide issue
    fix_clicked = Signal(str, object)  # layer id, Fix (only layers' issues have fixes)

    def __init__(self, nid: str | None, issue: Issue, show_layer: bool,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.nid = nid
        self.issue = issue
        colour = severity_colour(issue.severity)
        self.setObjectName("issueCard")
        self.setStyleSheet(
            f"#issueCard {{ border: none; border-left: 3px solid {colour.name()};"
            f" background: rgba({colour.red()}, {colour.green()}, {colour.blue()}, 22);"
            " border-radius: 2px; }")
        if nid is not None:
            self.setCursor(Qt.PointingHandCursor)
            self.setToolTip(f"Select {nid}")

        head = QHBoxLayout()
        head.setSpacing(6)
        severity = QLabel(SEVERITY_TITLES.get(issue.severity, issue.severity.title()))
        severity.setStyleSheet(f"color: {colour.name()}; font-weight: 600;")
        head.addWidget(severity)
        if show_layer:
            where = QLabel(nid if nid is not None else "network")
            where.setStyleSheet("font-weight: 600;" if nid is not None else "font-style: italic;")
            head.addWidget(where)
        head.addStretch(1)

        self.message = QLabel(issue.message)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.PlainText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 5, 6, 6)
        layout.setSpacing(3)
        layout.addLayout(head)
        layout.addWidget(self.message)
        self.buttons: list[QPushButton] = []
        self.effects: list[QLabel] = []  # each fix's effect, as the analysis wrote it
        if issue.fixes and nid is not None:
            row = QHBoxLayout()
            row.setSpacing(4)
            for i, fix in enumerate(issue.fixes):
                button = QPushButton(f"Fix: {fix.label}")
                button.setCursor(Qt.ArrowCursor)
                button.clicked.connect(
                    lambda _=False, i=i: self.fix_clicked.emit(self.nid, self.issue.fixes[i]))
                row.addWidget(button)
                self.buttons.append(button)
            row.addStretch(1)
            layout.addLayout(row)
            for fix in issue.fixes:
                if fix.effect_text:
                    effect = QLabel()
                    effect.setWordWrap(True)
                    effect.setTextFormat(Qt.PlainText)
                    effect.setEnabled(False)  # the palette's muted text colour
                    layout.addWidget(effect)
                    self.effects.append(effect)
        self._fill(issue)

    def shape(self) -> tuple:
        """What the card's widgets are made for: another issue of the same shape is shown by
        setting their texts (show_issue())."""
        return _shape(self.nid, self.issue)

    def show_issue(self, issue: Issue) -> None:
        """Show another issue of the same shape (its fixes' effects differ: an edit elsewhere
        changed what they would do to the design)."""
        self.issue = issue
        self._fill(issue)

    def _fill(self, issue: Issue) -> None:
        if not self.buttons:
            return
        for button, fix in zip(self.buttons, issue.fixes):
            tip = ("Set " + ", ".join(f"{k} = {v}" for k, v in fix.params.items())
                   + " (one undo step)")
            button.setToolTip(tip + (f"\n{fix.effect_text}" if fix.effect_text else ""))
        effects = [fix for fix in issue.fixes if fix.effect_text]
        for label, fix in zip(self.effects, effects):
            label.setText(f"{fix.label}: {fix.effect_text}")

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit(self.nid)
        super().mouseReleaseEvent(event)


def _shape(nid: str | None, issue: Issue) -> tuple:
    return (nid, issue.severity, issue.message, tuple(f.label for f in issue.fixes),
            tuple(bool(f.effect_text) for f in issue.fixes))


class IssueList(QWidget):
    """A column of issue cards. A card whose issue is still there is kept (given the issue's
    new fix effects where only those changed), and the few cards taken off last are kept
    hidden: an edit that makes an issue come and go (VGG-16's note on its parameter count)
    shows a card again instead of building one (its style sheet, its labels), which took a
    quarter of such an edit."""

    layer_clicked = Signal(str)
    fix_requested = Signal(str, object)  # layer id, Fix
    KEPT = 8  # cards kept hidden for issues that may come back

    def __init__(self, show_layer: bool = True, empty_text: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.show_layer = show_layer
        self._issues: list[tuple[str | None, Issue]] | None = None
        self.cards: list[IssueCard] = []
        self._spare: list[IssueCard] = []  # hidden, the most recently taken off last
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.empty = QLabel(empty_text)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)  # the palette's muted text colour
        self._layout.addWidget(self.empty)
        self.more = QLabel()
        self.more.setEnabled(False)
        self._layout.addWidget(self.more)
        self._layout.addStretch(1)

    def set_issues(self, issues: list[tuple[str | None, Issue]]) -> None:
        if issues == self._issues:
            return
        self._issues = list(issues)
        wanted = issues[:MAX_CARDS]
        if [(c.nid, c.issue) for c in self.cards] != wanted:
            # (an issue equal to another one's keeps one card each: matched in order; looked
            # for among the same layer's cards: an edit can change every issue's fix effects)
            by_layer: dict[str | None, list[IssueCard]] = {}
            for card in self.cards + self._spare:
                by_layer.setdefault(card.nid, []).append(card)
            cards = []
            for nid, issue in wanted:
                mine = by_layer.get(nid, ())
                card = next((c for c in mine if c.issue == issue), None)
                if card is None:  # one made for the same kind of issue shows this one
                    shape = _shape(nid, issue)
                    card = next((c for c in mine if c.shape() == shape), None)
                    if card is not None:
                        card.show_issue(issue)
                if card is None:
                    card = IssueCard(nid, issue, self.show_layer, self)
                    card.clicked.connect(self._card_clicked)
                    card.fix_clicked.connect(self.fix_requested)
                else:
                    mine.remove(card)
                cards.append(card)
            left = {id(c) for cards_of in by_layer.values() for c in cards_of}
            old = [c for c in self.cards + self._spare if id(c) in left]
            for card in old:  # no longer wanted: hidden, the last ones kept
                card.hide()
                self._layout.removeWidget(card)
            spare = ([c for c in self._spare if id(c) in left]
                     + [c for c in self.cards if id(c) in left])
            for card in spare[:-self.KEPT]:
                card.deleteLater()
            self._spare = spare[-self.KEPT:]
            for i, card in enumerate(cards):
                if self._layout.indexOf(card) != 1 + i:
                    self._layout.removeWidget(card)
                    self._layout.insertWidget(1 + i, card)
                card.show()
            self.cards = cards
        self.empty.setVisible(not issues and bool(self.empty.text()))
        hidden = len(issues) - MAX_CARDS
        self.more.setText(f"… and {hidden:,} more" if hidden > 0 else "")
        self.more.setVisible(hidden > 0)

    def _card_clicked(self, nid: str | None) -> None:
        if nid is not None:
            self.layer_clicked.emit(nid)

    def fix_buttons(self) -> list[QPushButton]:
        return [b for card in self.cards for b in card.buttons]
