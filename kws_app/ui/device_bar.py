"""The top bar: microphone picker, its rate, the input level and Start/Stop.

While the device is stalled the button restarts listening, and both it and the meter say so.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

from kws_app.session.listener import ListenerUpdate
from kws_app.ui.controller import AppController
from kws_app.ui.level_meter import FLOOR_DB, LevelMeter
from kws_app.ui.panel import panel_layout

LEVEL_CAPTION = "Level"
STALLED_LEVEL_CAPTION = "Level: stalled"
STALLED_BUTTON_TEXT = "Start (stalled)"
STALLED_BUTTON_TOOLTIP = "no audio arrives from the microphone; press to start listening again"
COMBO_MIN_WIDTH_PX = 320
BUTTON_MIN_WIDTH_PX = 96
GAP_PX = 16


class DeviceBar(QFrame):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self._controller = controller
        self._levels: list[float] = []
        row = QHBoxLayout()
        panel_layout(self).addLayout(row)
        row.addWidget(QLabel("Microphone"))
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(COMBO_MIN_WIDTH_PX)
        self.device_combo.activated.connect(controller.select_device)
        row.addWidget(self.device_combo, 1)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("look for input devices again")
        self.refresh_button.clicked.connect(lambda: controller.refresh_devices())
        row.addWidget(self.refresh_button)
        self.device_rate_label = QLabel("")
        self.device_rate_label.setObjectName("lastScore")
        row.addWidget(self.device_rate_label)
        row.addSpacing(GAP_PX)
        self.level_caption = QLabel(LEVEL_CAPTION)
        row.addWidget(self.level_caption)
        self.level_meter = LevelMeter()
        row.addWidget(self.level_meter)
        row.addSpacing(GAP_PX)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.start_button.setMinimumWidth(BUTTON_MIN_WIDTH_PX)
        self.start_button.clicked.connect(controller.toggle_listening)
        row.addWidget(self.start_button)
        controller.devices_changed.connect(self._show_devices)
        controller.listening_changed.connect(self._show_listening)
        controller.updated.connect(self._store)
        controller.cleared.connect(self._levels.clear)
        self._show_devices()
        self._show_listening()

    @Slot()
    def _show_devices(self) -> None:
        devices = self._controller.devices
        selected = self._controller.selected_device
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for device in devices:
            mark = "  (default)" if device.is_default else ""
            self.device_combo.addItem(f"{device.name}{mark}", device.index)
        if not devices:
            self.device_combo.addItem("no input device")
        self.device_combo.setCurrentIndex(devices.index(selected) if selected in devices else 0)
        self.device_combo.setEnabled(bool(devices))
        self.device_combo.blockSignals(False)
        self.device_rate_label.setText(f"{selected.default_rate} Hz" if selected else "")

    @Slot()
    def _show_listening(self) -> None:
        controller = self._controller
        stalled = controller.stalled
        if stalled:
            self.start_button.setText(STALLED_BUTTON_TEXT)
            self.start_button.setToolTip(STALLED_BUTTON_TOOLTIP)
            self.level_meter.set_level_db(FLOOR_DB)  # no frozen value
        else:
            self.start_button.setText("Stop" if controller.listening else "Start")
            self.start_button.setToolTip("")
        self.start_button.setEnabled(controller.can_listen)
        self.level_caption.setText(STALLED_LEVEL_CAPTION if stalled else LEVEL_CAPTION)
        self.level_meter.setToolTip(STALLED_BUTTON_TOOLTIP if stalled else "")

    @Slot(object)
    def _store(self, update: ListenerUpdate) -> None:
        self._levels.append(update.level_db)

    def draw(self, now_s: float) -> None:
        if self._levels:
            self.level_meter.set_level_db(max(self._levels))
            self._levels.clear()
