"""The history of words shown, with Clear and Save CSV."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QPushButton

from kws_app.inference.pipeline import Detection
from kws_app.ui.controller import AppController
from kws_app.ui.history_view import HistoryEntry, HistoryView
from kws_app.ui.panel import panel_layout


class HistoryPanel(QFrame):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self._controller = controller
        layout = panel_layout(self, "History")
        self.history = HistoryView()
        layout.addWidget(self.history, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.history.clear_entries)
        buttons.addWidget(self.clear_button)
        self.save_button = QPushButton("Save CSV...")
        self.save_button.clicked.connect(self.ask_save)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)

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
