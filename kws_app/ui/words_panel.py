"""The words: a tile per command word that lights when it is heard, and the last word and score.

A detection counts once its tile lights (`shown`); the history and the spectrogram's markers
follow that, so what the user sees in each place agrees. Under the tiles, custom words that are
not listening say why (waiting for training, or could not train), for as long as that holds.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout

from kws_app.inference.pipeline import Detection, Scorer
from kws_app.session.listener import ListenerUpdate
from kws_app.ui.controller import AppController
from kws_app.ui.panel import panel_layout
from kws_app.ui.word_tiles import WordTiles

LAST_WORD_MIN_WIDTH_PX = 200
ROW_SPACING_PX = 16


class WordsPanel(QFrame):
    shown = Signal(object, float)  # Detection, time.monotonic() when its tile lit

    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self._pending: list[Detection] = []
        row = QHBoxLayout()
        row.setSpacing(ROW_SPACING_PX)
        last = QVBoxLayout()
        self.last_word_label = QLabel("—")
        self.last_word_label.setObjectName("lastWord")
        self.last_word_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.last_word_label.setMinimumWidth(LAST_WORD_MIN_WIDTH_PX)
        self.last_score_label = QLabel("say a command word")
        self.last_score_label.setObjectName("lastScore")
        self.last_score_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        last.addStretch(1)
        last.addWidget(self.last_word_label)
        last.addWidget(self.last_score_label)
        last.addStretch(1)
        row.addLayout(last)
        self.tiles = WordTiles()
        row.addWidget(self.tiles, 1)
        self.notes_label = QLabel("")
        self.notes_label.setObjectName("lastScore")
        self.notes_label.setWordWrap(True)
        self.notes_label.hide()
        layout = panel_layout(self, "Words")
        layout.addLayout(row)
        layout.addWidget(self.notes_label)
        controller.vocabulary_changed.connect(self._show_vocabulary)
        controller.word_notes_changed.connect(self._show_notes)
        controller.updated.connect(self._store)
        controller.cleared.connect(self._clear)

    @Slot(object)
    def _show_vocabulary(self, scorer: Scorer) -> None:
        self.tiles.set_labels(scorer.labels)

    @Slot(object)
    def _show_notes(self, notes: dict[str, str]) -> None:
        self.notes_label.setText(describe_notes(notes))
        self.notes_label.setVisible(bool(notes))

    @Slot(object)
    def _store(self, update: ListenerUpdate) -> None:
        self._pending.extend(update.detections)

    def _clear(self) -> None:
        self._pending = []

    def draw(self, now_s: float) -> None:
        pending, self._pending = self._pending, []
        for detection in pending:
            if self.tiles.light(detection.label, now_s):
                self.last_word_label.setText(detection.label)
                self.last_score_label.setText(f"score {detection.score:.2f}")
                self.shown.emit(detection, now_s)
        self.tiles.expire(now_s)


def describe_notes(notes: dict[str, str]) -> str:
    """One line per note, naming the words it applies to ("hum, lamp: waiting (...)")."""
    words_by_note: dict[str, list[str]] = {}
    for name, note in notes.items():
        words_by_note.setdefault(note, []).append(name)
    return "\n".join(f"{', '.join(names)}: {note}" for note, names in words_by_note.items())
