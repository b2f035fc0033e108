""" "Manage words...": list the custom words; remove, rename, export and import them, and forget
the false alarms given back to one ("Not 'word'" in the History); list the command words given
false alarms of back, and forget those.

Every change goes through the same WordStore and archive code as `kws-app words`, and through the
controller, which swaps the scorer while the window keeps listening. A word file is checked and
installed by the controller off the GUI thread (a large valid one takes seconds): the dialog says
so and waits with its buttons off; closing it meanwhile loses nothing, since the controller
installs the whole file or none and trains what it installed. Each word that is not listening says
why next to it ("waiting", "could not train: <reason>") until that changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, SignalInstance, Slot
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

from kws_app.session.word_import import ImportResult
from kws_app.ui.controller import AppController
from kws_app.words.archive import ARCHIVE_SUFFIX, export_words
from kws_app.words.calibration import describe_operating_point
from kws_app.words.store import WordStore, WordStoreError

logger = logging.getLogger(__name__)

FILE_FILTER = f"kws word files (*{ARCHIVE_SUFFIX});;All files (*)"


class WordsManagerDialog(QDialog):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Custom words")
        self.setMinimumWidth(420)
        assert controller.store is not None  # the Words menu checks
        self.controller = controller
        self.store: WordStore = controller.store
        self._alarm_words: set[str] = set()  # the listed words that have false alarms
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
        self.forget_button = QPushButton("Forget false alarms")
        self.forget_button.setToolTip(
            "Drop the sounds given back with \"Not 'word'\" and train the word again without them"
        )
        self.forget_button.clicked.connect(self._forget_selected)
        self.word_list.currentItemChanged.connect(self._follow_selection)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        for button in (
            self.remove_button,
            self.rename_button,
            self.export_button,
            self.import_button,
            self.forget_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        # Command words of the model given back with "Not 'word'": each learned a veto.
        self.command_header = QLabel("Command words that learned from false alarms")
        layout.addWidget(self.command_header)
        self.command_list = QListWidget()
        layout.addWidget(self.command_list)
        command_buttons = QHBoxLayout()
        self.forget_command_button = QPushButton("Forget false alarms")
        self.forget_command_button.setToolTip(
            "Drop the sounds given back with \"Not 'word'\": the command word is heard as the "
            "model hears it again"
        )
        self.forget_command_button.clicked.connect(self._forget_selected_command)
        command_buttons.addWidget(self.forget_command_button)
        command_buttons.addStretch(1)
        layout.addLayout(command_buttons)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        # Imported words train in the background: the list follows them; bound while open.
        self._bindings: tuple[tuple[SignalInstance, Callable[..., None]], ...] = (
            (controller.vocabulary_changed, self.refresh),
            (controller.word_notes_changed, self.refresh),
            (controller.words_imported, self._on_imported),
        )
        for signal, slot in self._bindings:
            signal.connect(slot)
        self.refresh()
        importing = controller.importing
        if importing is not None:  # started from a dialog closed since
            self.status_label.setText(f"checking {importing.name}...")

    @Slot()
    def refresh(self) -> None:
        selected = self.selected()
        self.word_list.clear()
        notes = self.controller.word_notes
        self._alarm_words = set()
        for word in self.store.words():
            head = self.store.head(word)
            point = describe_operating_point(head.details) if head is not None else "not trained"
            alarm_s = self.store.false_alarm_seconds(word)
            given_back = ""
            if alarm_s:
                self._alarm_words.add(word.name)
                given_back = f"    {alarm_s:.1f} s of false alarms"
            item = QListWidgetItem(f"{word.name}    {notes.get(word.name, point)}{given_back}")
            item.setData(Qt.ItemDataRole.UserRole, word.name)
            self.word_list.addItem(item)
            if word.name == selected:
                self.word_list.setCurrentItem(item)
        has_words = self.word_list.count() > 0
        if has_words and self.word_list.currentRow() < 0:
            self.word_list.setCurrentRow(0)
        idle = self.controller.importing is None
        for button in (self.remove_button, self.rename_button, self.export_button):
            button.setEnabled(has_words and idle)
        self.import_button.setEnabled(idle)
        self._follow_selection()
        if not has_words and idle:
            self.status_label.setText("no custom words yet: use Words > Add word...")
        self._list_commands()

    def _list_commands(self) -> None:
        selected = self.selected_command()
        self.command_list.clear()
        alarmed = self.store.command_alarm_seconds(self._labels())
        for label, seconds in alarmed.items():
            used = "" if label in self.controller.vetoed else "    (not used yet)"
            item = QListWidgetItem(f"{label}    {seconds:.1f} s of false alarms{used}")
            item.setData(Qt.ItemDataRole.UserRole, label)
            self.command_list.addItem(item)
            if label == selected or self.command_list.currentRow() < 0:
                self.command_list.setCurrentItem(item)
        for widget in (self.command_header, self.command_list, self.forget_command_button):
            widget.setVisible(bool(alarmed))

    def selected_command(self) -> str | None:
        item = self.command_list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def forget_command_alarms(self, label: str) -> None:
        try:
            forgot = self.controller.forget_command_alarms(label)
        except OSError as error:
            self.status_label.setText(f"cannot forget the false alarms of {label!r}: {error}")
            return
        self.status_label.setText(f"{label!r} forgot its false alarms" if forgot else "")
        self.refresh()

    @Slot()
    def _forget_selected_command(self) -> None:
        label = self.selected_command()
        if label is not None:
            self.forget_command_alarms(label)

    @Slot()
    def _follow_selection(self) -> None:
        idle = self.controller.importing is None
        self.forget_button.setEnabled(idle and self.selected() in self._alarm_words)

    def forget_false_alarms(self, name: str) -> None:
        try:
            forgot = self.store.forget_false_alarms(self.store.get(name))
        except (WordStoreError, OSError) as error:
            self.status_label.setText(str(error))
            return
        self.status_label.setText(
            f"{name!r} forgot its false alarms; training it again..." if forgot else ""
        )
        self.refresh()
        if forgot:
            self.controller.words_changed()

    @Slot()
    def _forget_selected(self) -> None:
        name = self.selected()
        if name is not None:
            self.forget_false_alarms(name)

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
        self.controller.words_changed()

    def rename(self, old: str, new: str) -> None:
        try:
            word = self.store.rename(old, new, reserved=self._labels())
        except (WordStoreError, OSError) as error:
            self.status_label.setText(str(error))
            return
        self.status_label.setText(f"renamed {old!r} to {word.name!r}")
        self.refresh()
        self.controller.words_changed()

    def export(self, names: list[str], path: Path) -> None:
        try:
            written = export_words(self.store, names, path)
        except (WordStoreError, OSError) as error:
            self.status_label.setText(f"cannot export: {error}")
            return
        self.status_label.setText(f"exported {', '.join(written)} to {path}")

    def _labels(self) -> tuple[str, ...]:
        model = self.controller.model
        return tuple(model.labels) if model is not None else ()

    def import_file(self, path: Path) -> None:
        """Have the controller check and install the file off the GUI thread; it then trains the
        new words in the background, bounded, while the window keeps listening. A bad file
        changes nothing."""
        if not self.controller.import_words(path):
            importing = self.controller.importing
            self.status_label.setText(
                f"still importing {importing.name}: try again when it is done"
                if importing is not None
                else "cannot import: no model is loaded"
            )
            return
        self.status_label.setText(f"checking {path.name}...")
        self.refresh()  # buttons off until the result comes

    @Slot(object)
    def _on_imported(self, result: ImportResult) -> None:
        if result.problem is not None:
            self.status_label.setText(f"cannot import {result.path.name}: {result.problem}")
        else:
            names = ", ".join(result.names)
            self.status_label.setText(f"imported {names}; training in the background...")
        self.refresh()

    def done(self, result: int) -> None:
        for signal, slot in self._bindings:
            signal.disconnect(slot)
        self._bindings = ()
        super().done(result)

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
