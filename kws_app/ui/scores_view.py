"""Per-class probability bars (the decoder's averaged scores), each with its own threshold mark.

A model may carry a calibrated threshold per word (kws_app/inference/operating_points.py), so
every bar shows where its own word would fire.

Painted by hand: a dozen bars redrawn 30 times a second cost less this way than as plot items,
and the labels line up with their bars at any window size.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from kws_app.ui import theme

ROW_HEIGHT_PX = 22
ROW_GAP_PX = 4
LABEL_WIDTH_PX = 86
VALUE_WIDTH_PX = 44
DISPLAY_DECIMALS = 2


class ScoresView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: tuple[str, ...] = ()
        self._scores: tuple[float, ...] = ()
        self._thresholds: tuple[float, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def set_labels(self, labels: tuple[str, ...]) -> None:
        self._labels = labels
        self._scores = tuple(0.0 for _ in labels)
        if len(self._thresholds) != len(labels):
            self._thresholds = tuple(0.0 for _ in labels)
        self.setMinimumHeight(len(labels) * (ROW_HEIGHT_PX + ROW_GAP_PX))
        self.updateGeometry()
        self.update()

    def set_thresholds(self, thresholds: tuple[float, ...]) -> None:
        """One threshold per label, in label order."""
        self._thresholds = tuple(float(value) for value in thresholds)
        self.update()

    @property
    def thresholds(self) -> tuple[float, ...]:
        return self._thresholds

    def set_scores(self, scores: tuple[float, ...]) -> None:
        # Repaint only for a change the eye can see (the bars show two decimals).
        shown = tuple(round(score, DISPLAY_DECIMALS) for score in scores)
        if shown != self._scores and len(shown) == len(self._labels):
            self._scores = shown
            self.update()

    @property
    def scores(self) -> tuple[float, ...]:
        return self._scores

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar_left = LABEL_WIDTH_PX
        bar_width = max(1, self.width() - LABEL_WIDTH_PX - VALUE_WIDTH_PX)
        font = QFont(self.font())
        painter.setFont(font)
        thresholds = (
            self._thresholds
            if len(self._thresholds) == len(self._labels)
            else tuple(0.0 for _ in self._labels)
        )
        marker = QPen(QColor(theme.LEVEL_HIGH), 2, Qt.PenStyle.DashLine)
        rows = zip(self._labels, self._scores, thresholds, strict=True)
        for row, (label, score, threshold) in enumerate(rows):
            top = row * (ROW_HEIGHT_PX + ROW_GAP_PX)
            painter.setPen(QColor(theme.TEXT_DIM if label.startswith("_") else theme.TEXT))
            painter.drawText(
                QRectF(0, top, LABEL_WIDTH_PX - 8, ROW_HEIGHT_PX),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
            track = QRectF(bar_left, top + 3, bar_width, ROW_HEIGHT_PX - 6)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.PANEL_BORDER))
            painter.drawRoundedRect(track, 3, 3)
            filled = QRectF(track.left(), track.top(), track.width() * score, track.height())
            above = score >= threshold and not label.startswith("_")
            painter.setBrush(QColor(theme.BAR_ABOVE if above else theme.BAR))
            painter.drawRoundedRect(filled, 3, 3)
            painter.setPen(QColor(theme.TEXT_DIM))
            painter.drawText(
                QRectF(bar_left + bar_width + 4, top, VALUE_WIDTH_PX - 4, ROW_HEIGHT_PX),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{score:.2f}",
            )
            if not label.startswith("_"):
                x = int(bar_left + bar_width * threshold)
                painter.setPen(marker)
                painter.drawLine(x, top, x, top + ROW_HEIGHT_PX)
        painter.end()
