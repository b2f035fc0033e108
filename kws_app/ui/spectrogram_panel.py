"""What the model hears: the live log-mel spectrogram, with a marker per word shown."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFrame

from kws_app.config import FrontendConfig
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import Detection
from kws_app.session.listener import ListenerUpdate
from kws_app.ui.controller import AppController
from kws_app.ui.panel import panel_layout
from kws_app.ui.spectrogram_view import SpectrogramView

MIN_HEIGHT_PX = 260
# The scrolling picture is most of the window's drawing cost (Qt scales the image on every
# redraw); half the words' and bars' rate still scrolls smoothly and keeps the window's CPU down
# (docs/benchmarks.md, "The window").
SPECTROGRAM_DRAW_RATE_HZ = 15


class SpectrogramPanel(QFrame):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self._pending: list[tuple[npt.NDArray[np.float32], int]] = []
        self._next_draw_s = 0.0
        self.view = SpectrogramView(FrontendConfig())
        self.view.setMinimumHeight(MIN_HEIGHT_PX)
        panel_layout(self, "What the model hears (log-mel spectrogram)").addWidget(self.view)
        controller.model_changed.connect(self._show_model)
        controller.updated.connect(self._store)
        controller.cleared.connect(self._clear)

    @Slot(object)
    def _show_model(self, model: OnnxModel) -> None:
        self._pending.clear()
        self.view.set_frontend(model.frontend)

    @Slot(object)
    def _store(self, update: ListenerUpdate) -> None:
        self._pending.append((update.frames, update.stream_time_ms))

    def add_marker(self, detection: Detection) -> None:
        self.view.add_marker(detection.time_ms, detection.label)

    def _clear(self) -> None:
        self._pending = []

    def draw(self, now_s: float) -> None:
        if now_s < self._next_draw_s:
            return
        self._next_draw_s = now_s + 1.0 / SPECTROGRAM_DRAW_RATE_HZ
        pending, self._pending = self._pending, []
        for frames, stream_time_ms in pending:
            self.view.add_frames(frames, stream_time_ms)
        self.view.draw()
