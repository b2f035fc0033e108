"""The history of words shown, with Clear and Save CSV, and "Not 'word'" for a word that fired on
something else (the controller keeps that sound among the word's false alarms: a custom word
trains again with them, a command word learns a veto from them)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QPushButton

from kws_app.inference.pipeline import Detection, Scorer
from kws_app.ui.controller import AppController
from kws_app.ui.history_view import HistoryEntry, HistoryView
from kws_app.ui.panel import panel_layout
from kws_app.words.scorer import CustomWordScorer

NOT_WORD_IDLE = "Not my word"
NOT_WORD_TIP = (
    "The last word shown was not what you said: the word keeps that sound as something it "
    "must not fire on, and learns from it"
)


class HistoryPanel(QFrame):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self._controller = controller
        layout = panel_layout(self, "History")
        self.history = HistoryView()
        layout.addWidget(self.history, 1)
        buttons = QHBoxLayout()
        self.not_word_button = QPushButton(NOT_WORD_IDLE)
        self.not_word_button.setToolTip(NOT_WORD_TIP)
        self.not_word_button.setEnabled(False)
        self.not_word_button.clicked.connect(controller.reject_heard)
        self.not_word_button.setVisible(False)  # only while a word can be given back
        buttons.addWidget(self.not_word_button)
        buttons.addStretch(1)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.history.clear_entries)
        buttons.addWidget(self.clear_button)
        self.save_button = QPushButton("Save CSV...")
        self.save_button.clicked.connect(self.ask_save)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        controller.heard_changed.connect(self.show_heard)
        controller.vocabulary_changed.connect(self.follow_vocabulary)

    @Slot(object)
    def follow_vocabulary(self, scorer: Scorer) -> None:
        self.not_word_button.setVisible(
            isinstance(scorer, CustomWordScorer) or bool(self._controller.vetoable)
        )

    @Slot(object)
    def show_heard(self, word: str | None) -> None:
        self.not_word_button.setEnabled(word is not None)
        self.not_word_button.setText(NOT_WORD_IDLE if word is None else f"Not '{word}'")

    def add(self, detection: Detection) -> None:
        self.history.add(
            HistoryEntry(datetime.now(), detection.time_ms, detection.label, detection.score)
        )

    @Slot()
    def ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save history", "kws-history.csv", "CSV files (*.csv)"
        )
        if not path:
            return
        try:
            self.history.save_csv(Path(path))
        except OSError as error:
            self._controller.show_problem(f"Cannot save the history: {error}", None)
        else:
            self._controller.say(f"history saved to {path}")
