""" "Manage words...": list the custom words; remove, rename, export and import them.

Every change goes through the same WordStore and archive code as `kws-app words`, and reports back
through `changed` so the window can swap its scorer while it keeps listening.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kws_app.words.archive import ARCHIVE_SUFFIX, ArchiveError, export_words, import_words
from kws_app.words.calibration import describe_operating_point
from kws_app.words.store import WordStore, WordStoreError
from kws_app.words.trainer import WordTrainer

logger = logging.getLogger(__name__)

FILE_FILTER = f"kws word files (*{ARCHIVE_SUFFIX});;All files (*)"


class WordsManagerDialog(QDialog):
    changed = Signal(bool)  # the words changed; True: retrain every head (words were added)

    def __init__(
        self, trainer: WordTrainer, store: WordStore, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Custom words")
        self.setMinimumWidth(420)
        self.trainer = trainer
        self.store = store
        layout = QVBoxLayout(self)
        self.word_list = QListWidget()
        layout.addWidget(self.word_list, 1)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        self.rename_button = QPushButton("Rename...")
        self.rename_button.clicked.connect(self._rename_selected)
        self.export_button = QPushButton("Export...")
        self.export_button.clicked.connect(self._export_selected)
        self.import_button = QPushButton("Import...")
        self.import_button.clicked.connect(self._ask_import)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        for button in (
            self.remove_button,
            self.rename_button,
            self.export_button,
            self.import_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.refresh()

    def refresh(self) -> None:
        self.word_list.clear()
        for word in self.store.words():
            head = self.store.head(word)
            point = describe_operating_point(head.details) if head is not None else "not trained"
            item = QListWidgetItem(f"{word.name}    {point}")
            item.setData(Qt.ItemDataRole.UserRole, word.name)
            self.word_list.addItem(item)
        has_words = self.word_list.count() > 0
        if has_words and self.word_list.currentRow() < 0:
            self.word_list.setCurrentRow(0)
        for button in (self.remove_button, self.rename_button, self.export_button):
            button.setEnabled(has_words)
        if not has_words:
            self.status_label.setText("no custom words yet: use Words > Add word...")

    def selected(self) -> str | None:
        item = self.word_list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def remove(self, name: str) -> None:
        try:
            self.store.remove(name)
        except (WordStoreError, OSError) as error:
            self.status_label.setText(str(error))
            return
        self.status_label.setText(f"removed {name!r}")
        self.refresh()
        self.changed.emit(False)

    def rename(self, old: str, new: str) -> None:
        try:
            word = self.store.rename(old, new, reserved=self.trainer.model.labels)
        except (WordStoreError, OSError) as error:
            self.status_label.setText(str(error))
            return
        self.status_label.setText(f"renamed {old!r} to {word.name!r}")
        self.refresh()
        self.changed.emit(False)

    def export(self, names: list[str], path: Path) -> None:
        try:
            written = export_words(self.store, names, path)
        except (WordStoreError, OSError) as error:
            self.status_label.setText(f"cannot export: {error}")
            return
        self.status_label.setText(f"exported {', '.join(written)} to {path}")

    def import_file(self, path: Path) -> None:
        """Validate and install; the controller then trains the new words in the background,
        bounded, while the window keeps listening. A bad file changes nothing."""
        try:
            installed = import_words(self.store, path, reserved=self.trainer.model.labels)
        except (ArchiveError, WordStoreError, OSError) as error:
            self.status_label.setText(f"cannot import {path.name}: {error}")
            return
        names = ", ".join(word.name for word in installed)
        self.status_label.setText(f"imported {names}; training in the background...")
        self.refresh()
        self.changed.emit(True)  # every head learns the new words as negatives

    @Slot()
    def _remove_selected(self) -> None:
        name = self.selected()
        if name is not None:
            self.remove(name)

    @Slot()
    def _rename_selected(self) -> None:
        name = self.selected()
        if name is None:
            return
        new, ok = QInputDialog.getText(self, "Rename word", "New name", text=name)
        if ok and new:
            self.rename(name, new)

    @Slot()
    def _export_selected(self) -> None:
        name = self.selected()
        if name is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export word", f"{name}{ARCHIVE_SUFFIX}", FILE_FILTER
        )
        if path:
            self.export([name], Path(path))

    @Slot()
    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import words", "", FILE_FILTER)
        if path:
            self.import_file(Path(path))
