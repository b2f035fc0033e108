"""The window's Words menu: "Add word..." and "Manage words...".

It opens the dialogs on the controller, which owns everything slow behind them: recording (from
the running capture when listening), training (its vocabulary job builds the word trainer, so
opening a dialog never hashes the model file on the GUI thread) and importing. A dialog closed
without a change changes nothing.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from kws_app.ui.add_word_dialog import COUNTDOWN_S, AddWordDialog, Player, sounddevice_player
from kws_app.ui.controller import AppController
from kws_app.ui.words_manager_dialog import WordsManagerDialog

logger = logging.getLogger(__name__)


class WordsMenu(QObject):
    def __init__(
        self,
        controller: AppController,
        window: QMainWindow,
        player: Player = sounddevice_player,
        countdown_s: int = COUNTDOWN_S,
    ) -> None:
        super().__init__(window)
        self.controller = controller
        self._parent = window
        self._player = player
        self._countdown_s = countdown_s
        self.dialog: AddWordDialog | WordsManagerDialog | None = None
        menu = window.menuBar().addMenu("&Words")
        self.add_action = QAction("&Add word...", window)
        self.add_action.triggered.connect(self.open_add_dialog)
        menu.addAction(self.add_action)
        self.manage_action = QAction("&Manage words...", window)
        self.manage_action.triggered.connect(self.open_manager)
        menu.addAction(self.manage_action)

    def _model_loaded(self) -> bool:
        if self.controller.store is None:
            return False  # the window was made without a word store: the menu does nothing
        model = self.controller.model
        if model is None:
            self.controller.show_problem("No model is loaded: open one.", None, offer_model=True)
            return False
        if not model.info.has_embedding:  # what the trainer would refuse, known without it
            self.controller.show_problem(
                "Cannot learn words with this model: it has no 'embedding' output", None
            )
            return False
        return True

    @Slot()
    def open_add_dialog(self) -> AddWordDialog | None:
        if not self._model_loaded():
            return None
        dialog = AddWordDialog(
            self.controller,
            player=self._player,
            countdown_s=self._countdown_s,
            parent=self._parent,
        )
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def open_manager(self) -> WordsManagerDialog | None:
        if not self._model_loaded():
            return None
        dialog = WordsManagerDialog(self.controller, parent=self._parent)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def _dialog_closed(self) -> None:
        self.dialog = None
