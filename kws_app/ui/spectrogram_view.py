"""The scrolling log-mel spectrogram: exactly what the model sees, with a marker per detection.

Columns arrive from the worker and are stored; `draw()` (called from the window's timer) scrolls a
preallocated C-contiguous image and hands it to pyqtgraph with fixed levels, so the picture does
not pump with loudness and a quiet room looks quiet.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QTransform
from PySide6.QtWidgets import QVBoxLayout, QWidget

from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.ui import theme

HISTORY_S = 6
# log(mel energy + 1e-6): digital silence sits at -13.8, loud speech peaks near +6.
LEVELS = (-12.0, 5.0)
COLOUR_MAP = "inferno"
LUT_ENTRIES = 256


class SpectrogramView(QWidget):
    def __init__(self, frontend: FrontendConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plot = pg.PlotWidget(background=theme.PLOT_BACKGROUND)
        self._plot.setMenuEnabled(False)
        self._plot.setMouseEnabled(x=False, y=False)
        self._plot.hideButtons()
        self._plot.setLabel("bottom", "time (s)")
        self._plot.setLabel("left", "mel band")
        for side in ("bottom", "left"):
            axis = self._plot.getAxis(side)
            axis.setTextPen(theme.TEXT_DIM)
            axis.setPen(theme.GRID)
        self._image_item = pg.ImageItem(axisOrder="row-major")
        lut = pg.colormap.get(COLOUR_MAP).getLookupTable(nPts=LUT_ENTRIES)
        self._image_item.setLookupTable(lut)
        self._plot.addItem(self._image_item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot)
        self._markers: list[tuple[int, pg.InfiniteLine]] = []
        self._pending: list[npt.NDArray[np.float32]] = []
        self._dirty = True
        self.set_frontend(frontend)

    def set_frontend(self, frontend: FrontendConfig) -> None:
        """Sizes follow the model's front end: one column per hop, one row per mel band."""
        self._hop_ms = frontend.hop_ms
        self._columns = HISTORY_S * MS_PER_SECOND // frontend.hop_ms
        self._image = np.full(
            (frontend.num_mel_bins, self._columns), LEVELS[0], dtype=np.float32, order="C"
        )
        self._latest_ms = 0
        self._pending.clear()
        self.clear_markers()
        self._image_item.setImage(self._image, levels=LEVELS, autoLevels=False)
        scale_x = frontend.hop_ms / MS_PER_SECOND
        self._image_item.setTransform(
            QTransform.fromScale(scale_x, 1.0) * QTransform.fromTranslate(-HISTORY_S, 0.0)
        )
        self._plot.setXRange(-HISTORY_S, 0, padding=0)
        self._plot.setYRange(0, frontend.num_mel_bins, padding=0)
        self._dirty = True

    @property
    def image(self) -> npt.NDArray[np.float32]:
        return self._image

    def add_frames(self, frames: npt.NDArray[np.float32], stream_time_ms: int) -> None:
        if frames.shape[0]:
            self._pending.append(frames)
        self._latest_ms = stream_time_ms

    def add_marker(self, time_ms: int, label: str) -> None:
        line = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(QColor(theme.ACCENT), width=2, style=Qt.PenStyle.DashLine),
            label=label,
            labelOpts={
                "position": 0.92,
                "color": theme.TEXT,
                "fill": pg.mkBrush(QColor(theme.ACCENT_FILL)),
                "anchors": [(1, 0.5), (1, 0.5)],
            },
        )
        line.label.setFont(QFont(self.font().family(), 10, QFont.Weight.Bold))
        self._plot.addItem(line)
        self._markers.append((time_ms, line))
        self._dirty = True

    def clear_markers(self) -> None:
        for _, line in self._markers:
            self._plot.removeItem(line)
        self._markers.clear()

    def draw(self) -> None:
        if self._pending:
            new = np.concatenate(self._pending)[-self._columns :]
            self._pending.clear()
            count = new.shape[0]
            self._image[:, :-count] = self._image[:, count:]
            self._image[:, -count:] = new.T
            self._image_item.setImage(self._image, levels=LEVELS, autoLevels=False)
            self._dirty = True
        if not self._dirty:
            return
        self._dirty = False
        keep: list[tuple[int, pg.InfiniteLine]] = []
        for time_ms, line in self._markers:
            x_s = (time_ms - self._latest_ms) / MS_PER_SECOND
            if x_s < -HISTORY_S:
                self._plot.removeItem(line)
                continue
            line.setValue(x_s)
            keep.append((time_ms, line))
        self._markers = keep
