"""Probabilities (averaged) with each word's threshold, the sensitivity slider and the decoder's
advanced settings (spin boxes made from the settings described in config.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from kws_app.config import ConfigError, DecoderConfig
from kws_app.inference.operating_points import describe_calibration
from kws_app.inference.pipeline import Scorer, is_command_label, operating_points_of
from kws_app.session.listener import ListenerUpdate
from kws_app.ui.controller import AppController
from kws_app.ui.panel import panel_layout
from kws_app.ui.scores_view import ScoresView
from kws_app.ui.setting_fields import setting_label, setting_spin_box

SLIDER_STEPS = 100
THRESHOLD_LABEL_MIN_WIDTH_PX = 40
THRESHOLD_TOOLTIP = (
    "How sure the model must be before a word counts. A model with calibrated operating points "
    "has its own threshold per word, each set for about one false accept per hour of ordinary "
    "speech at the default 0.50; the slider moves them all together. Lower catches more "
    "words, higher fires less often."
)
# The decoder settings offered under "Advanced", in this order.
ADVANCED_FIELDS = ("average_window_ms", "suppression_ms", "minimum_count")


class ProbabilitiesPanel(QFrame):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self._controller = controller
        self._scores: tuple[float, ...] | None = None
        layout = panel_layout(self, "Probabilities (averaged)")
        self.scores_view = ScoresView()
        layout.addWidget(self.scores_view)
        config = controller.decoder_config

        threshold_row = QHBoxLayout()
        threshold_title = QLabel("Threshold")
        threshold_row.addWidget(threshold_title)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        for widget in (threshold_title, self.threshold_slider):
            widget.setToolTip(THRESHOLD_TOOLTIP)
        self.threshold_slider.setRange(0, SLIDER_STEPS)
        self.threshold_slider.setValue(round(config.detection_threshold * SLIDER_STEPS))
        self.threshold_slider.valueChanged.connect(self._threshold_moved)
        threshold_row.addWidget(self.threshold_slider, 1)
        self.threshold_label = QLabel(f"{config.detection_threshold:.2f}")
        self.threshold_label.setMinimumWidth(THRESHOLD_LABEL_MIN_WIDTH_PX)
        threshold_row.addWidget(self.threshold_label)
        layout.addLayout(threshold_row)

        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.advanced_button)
        self.advanced_box = QWidget()
        form = QFormLayout(self.advanced_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.spins: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for name in ADVANCED_FIELDS:
            spin = setting_spin_box(DecoderConfig, name, getattr(config, name))
            spin.valueChanged.connect(self._advanced_changed)
            form.addRow(setting_label(DecoderConfig, name), spin)
            self.spins[name] = spin
        self.word_thresholds_label = QLabel()
        self.word_thresholds_label.setWordWrap(True)
        self.word_thresholds_label.setToolTip(THRESHOLD_TOOLTIP)
        form.addRow("Word thresholds", self.word_thresholds_label)
        self.advanced_box.hide()
        layout.addWidget(self.advanced_box)
        layout.addStretch(1)

        controller.vocabulary_changed.connect(self._show_vocabulary)
        controller.decoder_changed.connect(self._show_decoder)
        controller.updated.connect(self._store)
        controller.listening_changed.connect(self._show_listening)

    @property
    def average_window_spin(self) -> QSpinBox | QDoubleSpinBox:
        return self.spins["average_window_ms"]

    @property
    def suppression_spin(self) -> QSpinBox | QDoubleSpinBox:
        return self.spins["suppression_ms"]

    @property
    def minimum_count_spin(self) -> QSpinBox | QDoubleSpinBox:
        return self.spins["minimum_count"]

    @Slot(object)
    def _show_vocabulary(self, scorer: Scorer) -> None:
        self._scores = None
        self.scores_view.set_labels(scorer.labels)
        self._show_word_thresholds()

    @Slot(object)
    def _show_decoder(self, config: DecoderConfig) -> None:
        """Also when the controller moved the values (a model's calibrated window), so the
        spin boxes never show a value the decoder does not use."""
        for name, spin in self.spins.items():
            blocked = spin.blockSignals(True)
            spin.setValue(getattr(config, name))
            spin.blockSignals(blocked)
        self._show_word_thresholds()

    def _show_word_thresholds(self) -> None:
        scorer = self._controller.scorer
        thresholds = self._controller.word_thresholds()
        self.scores_view.set_thresholds(thresholds)
        if scorer is None:
            self.word_thresholds_label.setText("")
            return
        points = operating_points_of(scorer)
        own_windows = {} if points is None else points.windows_ms
        words = [
            f"{label} {value:.2f}"
            + (f" over {own_windows[label]} ms" if label in own_windows else "")
            for label, value in zip(scorer.labels, thresholds, strict=True)
            if is_command_label(label)
        ]
        source = "the same for every word" if points is None else describe_calibration(points)
        self.word_thresholds_label.setText(f"{', '.join(words)} ({source})")

    @Slot(object)
    def _store(self, update: ListenerUpdate) -> None:
        if update.average_scores is not None:
            self._scores = update.average_scores

    @Slot()
    def _show_listening(self) -> None:
        if self._controller.stalled:  # the bars drop their last values
            self._scores = None
            self.scores_view.set_scores(tuple(0.0 for _ in self.scores_view.scores))

    def draw(self, now_s: float) -> None:
        scores, self._scores = self._scores, None
        if scores is not None:
            self.scores_view.set_scores(scores)

    @Slot(int)
    def _threshold_moved(self, value: int) -> None:
        threshold = value / SLIDER_STEPS
        self.threshold_label.setText(f"{threshold:.2f}")
        config = self._controller.decoder_config
        self._controller.set_decoder_config(replace(config, detection_threshold=threshold))

    @Slot()
    def _advanced_changed(self) -> None:
        values: dict[str, Any] = {name: spin.value() for name, spin in self.spins.items()}
        try:
            config = replace(self._controller.decoder_config, **values)
        except ConfigError as error:
            self._controller.say(str(error))
            return
        self._controller.set_decoder_config(config)

    @Slot(bool)
    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced_box.setVisible(shown)
        self.advanced_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
