"""The window's Words menu: "Add word..." and "Manage words...".

It opens the dialogs with a WordTrainer for the controller's base model (cached, since it embeds
the fixed negatives once), records through the controller (from the running capture when
listening), and tells the controller when the stored words really changed; the controller then
rebuilds the vocabulary in the background while listening goes on. A dialog closed without a
change changes nothing.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from kws_app.ui.add_word_dialog import COUNTDOWN_S, AddWordDialog, Player, sounddevice_player
from kws_app.ui.controller import AppController
from kws_app.ui.words_manager_dialog import WordsManagerDialog
from kws_app.words.store import WordStore
from kws_app.words.trainer import TrainingError, WordTrainer

logger = logging.getLogger(__name__)


class WordsMenu(QObject):
    def __init__(
        self,
        controller: AppController,
        store: WordStore,
        window: QMainWindow,
        player: Player = sounddevice_player,
        countdown_s: int = COUNTDOWN_S,
    ) -> None:
        super().__init__(window)
        self.controller = controller
        self.store = store
        self._parent = window
        self._player = player
        self._countdown_s = countdown_s
        self._trainer: WordTrainer | None = None
        self.dialog: AddWordDialog | WordsManagerDialog | None = None
        menu = window.menuBar().addMenu("&Words")
        self.add_action = QAction("&Add word...", window)
        self.add_action.triggered.connect(self.open_add_dialog)
        menu.addAction(self.add_action)
        self.manage_action = QAction("&Manage words...", window)
        self.manage_action.triggered.connect(self.open_manager)
        menu.addAction(self.manage_action)
        controller.vocabulary_changed.connect(self._refresh_manager)

    def trainer(self) -> WordTrainer | None:
        base = self.controller.model
        if base is None:
            self.controller.show_problem("No model is loaded: open one.", None, offer_model=True)
            return None
        if self._trainer is None or self._trainer.model is not base:
            try:
                self._trainer = WordTrainer(base, base.path)
            except (TrainingError, OSError) as error:
                self.controller.show_problem(f"Cannot learn words with this model: {error}", None)
                return None
        return self._trainer

    @Slot()
    def open_add_dialog(self) -> AddWordDialog | None:
        trainer = self.trainer()
        if trainer is None:
            return None
        dialog = AddWordDialog(
            trainer,
            self.store,
            self.controller.record,
            player=self._player,
            countdown_s=self._countdown_s,
            parent=self._parent,
        )
        dialog.accepted.connect(self.controller.words_changed)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def open_manager(self) -> WordsManagerDialog | None:
        trainer = self.trainer()
        if trainer is None:
            return None
        dialog = WordsManagerDialog(trainer, self.store, parent=self._parent)
        dialog.changed.connect(self.controller.words_changed)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def _dialog_closed(self) -> None:
        self.dialog = None

    @Slot()
    def _refresh_manager(self) -> None:
        """Imported words train in the background: the open manager shows them once trained."""
        if isinstance(self.dialog, WordsManagerDialog):
            self.dialog.refresh()
