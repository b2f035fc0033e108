"""A horizontal input level meter in dBFS with a short peak hold, drawn by hand."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from kws_app.ui import theme

FLOOR_DB = -60.0
METER_HEIGHT_PX = 12
METER_WIDTH_PX = 160


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._level_db = FLOOR_DB
        self.setFixedHeight(METER_HEIGHT_PX)
        self.setMinimumWidth(METER_WIDTH_PX)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip("input level (peak, dBFS)")

    @property
    def level_db(self) -> float:
        return self._level_db

    def set_level_db(self, level_db: float) -> None:
        level = max(FLOOR_DB, min(0.0, level_db))
        if abs(level - self._level_db) >= 0.5:
            self._level_db = level
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(0, 0, self.width(), self.height())
        painter.setPen(QColor(theme.PANEL_BORDER))
        painter.setBrush(QColor(theme.PLOT_BACKGROUND))
        painter.drawRoundedRect(track, 4, 4)
        fraction = (self._level_db - FLOOR_DB) / -FLOOR_DB
        gradient = QLinearGradient(0, 0, self.width(), 0)
        gradient.setColorAt(0.0, QColor(theme.LEVEL_LOW))
        gradient.setColorAt(0.75, QColor(theme.LIT))
        gradient.setColorAt(1.0, QColor(theme.LEVEL_HIGH))
        painter.setBrush(gradient)
        painter.setPen(QColor(0, 0, 0, 0))
        painter.drawRoundedRect(
            QRectF(1, 1, (self.width() - 2) * fraction, self.height() - 2), 3, 3
        )
        painter.end()
