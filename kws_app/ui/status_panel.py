"""The status bar: what the window is doing, where the model runs, the input and its counters.

The state line follows the controller's `status`; a move of our stream to another source by the
sound server (`source_changed`) has a label of its own, so it stays visible after later lines.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QStatusBar

from kws_app.inference.model import CUDA_PROVIDER, OnnxModel
from kws_app.session.listener import ListenerUpdate, SourceInfo
from kws_app.ui.controller import AppController

# Smoothing of the per-stride time shown (weight of the newest stride).
STRIDE_TIME_SMOOTHING = 0.1
# The figures change every stride; refreshing them twice a second keeps them readable.
STATUS_REFRESH_S = 0.5


class StatusPanel:
    """Fills a QStatusBar (the window's own) with labels bound to the controller."""

    def __init__(self, controller: AppController, bar: QStatusBar) -> None:
        bar.setSizeGripEnabled(False)
        self._stride_time_s: float | None = None
        self._counters = (-1, -1)
        self._pending: list[ListenerUpdate] = []
        self._refreshed_at = 0.0
        self.state_label = QLabel("stopped")
        self.source_label = QLabel("")
        self.source_label.hide()
        self.provider_label = QLabel("provider: —")
        self.model_label = QLabel("model: —")
        self.stride_label = QLabel("stride: —")
        self.rate_label = QLabel("input: — → model: —")
        self.counters_label = QLabel("overflows 0 · drops 0")
        bar.addWidget(self.state_label, 1)
        bar.addWidget(self.source_label)
        for label in (
            self.provider_label,
            self.model_label,
            self.stride_label,
            self.rate_label,
            self.counters_label,
        ):
            bar.addPermanentWidget(label)
        controller.status.connect(self.state_label.setText)
        controller.model_changed.connect(self._show_model)
        controller.listening_on.connect(self._show_source)
        controller.source_changed.connect(self._show_source_moved)
        controller.updated.connect(self._store)
        controller.cleared.connect(self._clear)

    @Slot(object)
    def _show_model(self, model: OnnxModel) -> None:
        provider = "CUDA" if model.provider == CUDA_PROVIDER else "CPU"
        self.provider_label.setText(f"provider: {provider}")
        self.model_label.setText(f"model: {model.path.name} ({model.info.model_name})")
        self.model_label.setToolTip(str(model.path))

    @Slot(object)
    def _show_source(self, info: SourceInfo) -> None:
        self.rate_label.setText(f"input: {info.sample_rate} Hz → model: {info.model_rate} Hz")
        self.source_label.hide()

    @Slot(str)
    def _show_source_moved(self, source_name: str) -> None:
        self.source_label.setText(f"input moved to {source_name}")
        self.source_label.setToolTip("the sound server moved this stream to another source")
        self.source_label.show()

    def _store(self, update: ListenerUpdate) -> None:
        self._pending.append(update)

    def _clear(self) -> None:
        self._pending = []

    def draw(self, now_s: float) -> None:
        pending, self._pending = self._pending, []
        for update in pending:
            if update.stride_time_s is not None:
                previous = self._stride_time_s
                self._stride_time_s = (
                    update.stride_time_s
                    if previous is None
                    else previous + STRIDE_TIME_SMOOTHING * (update.stride_time_s - previous)
                )
        if not pending:
            return
        counters = (pending[-1].overflows, pending[-1].drops)
        if counters != self._counters:
            self._counters = counters
            self.counters_label.setText(f"overflows {counters[0]} · drops {counters[1]}")
        if self._stride_time_s is not None and now_s - self._refreshed_at >= STATUS_REFRESH_S:
            self._refreshed_at = now_s
            self.stride_label.setText(f"stride: {self._stride_time_s * 1000:.2f} ms")
