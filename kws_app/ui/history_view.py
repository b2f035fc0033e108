"""The detection history table: time, word, score; cleared or saved as CSV by the user."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from kws_app.config import MS_PER_SECOND

CSV_HEADER = ("wall_time", "stream_time_s", "word", "score")
MAX_ROWS = 1000


@dataclass(frozen=True)
class HistoryEntry:
    wall_time: datetime
    stream_time_ms: int
    word: str
    score: float


class HistoryView(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["Time", "Word", "Score"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self._entries: list[HistoryEntry] = []

    @property
    def entries(self) -> tuple[HistoryEntry, ...]:
        return tuple(self._entries)

    def add(self, entry: HistoryEntry) -> None:
        if len(self._entries) >= MAX_ROWS:
            self._entries.pop(0)
            self.removeRow(0)
        self._entries.append(entry)
        row = self.rowCount()
        self.insertRow(row)
        cells = (entry.wall_time.strftime("%H:%M:%S"), entry.word, f"{entry.score:.2f}")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setItem(row, column, item)
        self.scrollToBottom()

    def clear_entries(self) -> None:
        self._entries.clear()
        self.setRowCount(0)

    def save_csv(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(CSV_HEADER)
            for entry in self._entries:
                writer.writerow(
                    (
                        entry.wall_time.isoformat(timespec="milliseconds"),
                        f"{entry.stream_time_ms / MS_PER_SECOND:.3f}",
                        entry.word,
                        f"{entry.score:.4f}",
                    )
                )
