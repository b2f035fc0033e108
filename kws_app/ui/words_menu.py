"""The window's Words menu: "Add word..." and "Manage words...", and keeping the scorer current.

The window itself only needs `set_scorer`; this controller owns the store, builds a WordTrainer for
the loaded base model (cached, since it embeds the fixed negatives once) and, after every change,
hands the window a CustomWordScorer so tiles, bars and the running pipeline follow the vocabulary
without restarting the stream.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction

from kws_app.audio.sources import SourceFactory
from kws_app.ui.add_word_dialog import COUNTDOWN_S, AddWordDialog, Player, sounddevice_player
from kws_app.ui.words_manager_dialog import WordsManagerDialog
from kws_app.words.scorer import CustomWordScorer
from kws_app.words.store import WordStore, WordStoreError
from kws_app.words.trainer import TrainingError, WordTrainer

logger = logging.getLogger(__name__)


class WordsMenu(QObject):
    def __init__(
        self,
        window: Any,  # kws_app.ui.main_window.MainWindow (not imported: it imports nothing of ours)
        store: WordStore,
        source_factory: SourceFactory,
        player: Player = sounddevice_player,
        countdown_s: int = COUNTDOWN_S,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.store = store
        self._source_factory = source_factory
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

    def base_model(self) -> Any:
        model = self.window.model
        return model.base if isinstance(model, CustomWordScorer) else model

    def trainer(self) -> WordTrainer | None:
        base = self.base_model()
        if base is None:
            self.window.show_problem("No model is loaded: open one.", None, offer_model=True)
            return None
        if self._trainer is None or self._trainer.model is not base:
            try:
                self._trainer = WordTrainer(base, base.path)
            except (TrainingError, OSError) as error:
                self.window.show_problem(
                    f"Cannot learn words with this model: {error}", None, offer_model=False
                )
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
            self._source_factory,
            self.window.selected_device,
            self.window.stream_config,
            player=self._player,
            countdown_s=self._countdown_s,
            parent=self.window,
        )
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def open_manager(self) -> WordsManagerDialog | None:
        trainer = self.trainer()
        if trainer is None:
            return None
        dialog = WordsManagerDialog(trainer, self.store, parent=self.window)
        dialog.changed.connect(self.apply)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def _dialog_closed(self) -> None:
        self.dialog = None
        self.apply()

    @Slot()
    def apply(self) -> None:
        """Give the window the base model plus every stored word (retraining stale heads)."""
        trainer = self.trainer()
        if trainer is None:
            return
        try:
            heads = trainer.train_words(self.store)
        except (WordStoreError, TrainingError, OSError) as error:
            self.window.show_problem(f"Custom words are not used: {error}", None, offer_model=False)
            heads = []
        scorer = trainer.scorer(heads) if heads else trainer.model
        self.window.set_scorer(scorer)
