"""One tile per command word that lights up when the word is detected (TensorFlow's demo app)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from kws_app.inference.pipeline import is_command_label

TILE_HOLD_S = 1.2
MIN_TILE_HEIGHT_PX = 44


class WordTiles(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(8)
        self._tiles: dict[str, QLabel] = {}
        self._lit_until: dict[str, float] = {}

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self._tiles)

    def set_labels(self, labels: tuple[str, ...]) -> None:
        for tile in self._tiles.values():
            self._grid.removeWidget(tile)
            tile.deleteLater()
        self._tiles.clear()
        self._lit_until.clear()
        words = [label for label in labels if is_command_label(label)]
        columns = max(1, math.ceil(math.sqrt(len(words) * 2))) if words else 1
        for index, word in enumerate(words):
            tile = QLabel(word, self)
            tile.setObjectName("tile")
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setMinimumHeight(MIN_TILE_HEIGHT_PX)
            tile.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            tile.setProperty("lit", "false")
            self._grid.addWidget(tile, index // columns, index % columns)
            self._tiles[word] = tile

    def is_lit(self, word: str) -> bool:
        return word in self._lit_until

    def light(self, word: str, now_s: float) -> bool:
        """Light a word's tile until `now_s + TILE_HOLD_S`; False for a word without a tile."""
        tile = self._tiles.get(word)
        if tile is None:
            return False
        self._lit_until[word] = now_s + TILE_HOLD_S
        self._set_lit(tile, True)
        return True

    def expire(self, now_s: float) -> None:
        for word, until in list(self._lit_until.items()):
            if now_s >= until:
                del self._lit_until[word]
                self._set_lit(self._tiles[word], False)

    @staticmethod
    def _set_lit(tile: QLabel, lit: bool) -> None:
        value = "true" if lit else "false"  # a string: the stylesheet matches [lit="true"]
        if tile.property("lit") == value:
            return
        tile.setProperty("lit", value)
        tile.style().unpolish(tile)
        tile.style().polish(tile)
