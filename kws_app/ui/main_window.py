"""The main window: microphone picker, live spectrogram, word tiles, score bars, threshold slider,
history and status bar.

Slots that receive worker data only store it; `_draw` (a display-rate timer) moves it onto the
screen. Every failure the user can meet (no device, a refused rate, an unplugged or stalled
device, a broken model) ends in the banner with a Retry button, never in a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kws_app.audio.devices import DeviceError, InputDevice, list_input_devices
from kws_app.audio.sources import SourceFactory, microphone_factory
from kws_app.config import MS_PER_SECOND, ConfigError, DecoderConfig, FrontendConfig, StreamConfig
from kws_app.inference.model import CUDA_PROVIDER, ModelError
from kws_app.inference.operating_points import label_thresholds
from kws_app.inference.pipeline import Detection, is_command_label, operating_points_of
from kws_app.session.listener import ListenerUpdate, SourceInfo
from kws_app.ui import theme
from kws_app.ui.history_view import HistoryEntry, HistoryView
from kws_app.ui.level_meter import FLOOR_DB, LevelMeter
from kws_app.ui.scores_view import ScoresView
from kws_app.ui.settings import AppSettings
from kws_app.ui.spectrogram_view import SpectrogramView
from kws_app.ui.word_tiles import WordTiles
from kws_app.ui.worker import PipelineWorker, keep_until_exit

logger = logging.getLogger(__name__)

DRAW_RATE_HZ = 30
SLIDER_STEPS = 100
THRESHOLD_TOOLTIP = (
    "How sure the model must be before a word counts. A model with calibrated operating points "
    "has its own threshold per word, each set for about one false accept per hour of ordinary "
    "speech at the default 0.50; the slider moves them all together. Lower catches more "
    "words, higher fires less often."
)
# Closing waits this long for the workers: each closes its stream within the capture's own
# deadline, so only a worker stuck in opening a hung device is still running after it.
CLOSE_WAIT_S = 4.0
LEVEL_CAPTION = "Level"
# While the device is stalled the button restarts listening, and both it and the meter say so.
STALLED_LEVEL_CAPTION = "Level: stalled"
STALLED_BUTTON_TEXT = "Start (stalled)"
STALLED_BUTTON_TOOLTIP = "no audio arrives from the microphone; press to start listening again"
DEFAULT_WINDOW_SIZE = (1280, 800)
# Smoothing of the per-stride time shown in the status bar (weight of the newest stride).
STRIDE_TIME_SMOOTHING = 0.1
AVERAGE_WINDOW_RANGE_MS = (100, 3000)
SUPPRESSION_RANGE_MS = (0, 5000)
MINIMUM_COUNT_RANGE = (1, 50)
SPIN_STEP_MS = 50
# Status-bar figures change every stride; refreshing them twice a second keeps them readable.
STATUS_REFRESH_S = 0.5


class LoadedModel(Protocol):
    """What the window needs of a model: a Scorer plus a name and where it runs."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def frontend(self) -> FrontendConfig: ...

    @property
    def provider(self) -> str: ...

    @property
    def path(self) -> Path: ...

    def predict(self, features): ...  # type: ignore[no-untyped-def]


ModelLoader = Callable[[Path], LoadedModel]
DeviceLister = Callable[[], list[InputDevice]]


def _panel(title: str | None = None) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("panel")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(12, 10, 12, 12)
    layout.setSpacing(8)
    if title:
        heading = QLabel(title.upper())
        heading.setObjectName("panelTitle")
        layout.addWidget(heading)
    return frame, layout


class MainWindow(QMainWindow):
    # word, score, time.monotonic() when its tile lit (the GUI latency benchmark listens to this)
    word_shown = Signal(str, float, float)

    def __init__(
        self,
        settings: AppSettings,
        model_loader: ModelLoader,
        model_path: Path,
        stream_config: StreamConfig | None = None,
        decoder_config: DecoderConfig | None = None,
        device_name: str | None = None,
        source_factory: SourceFactory = microphone_factory,
        device_lister: DeviceLister = list_input_devices,
        autostart: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings
        self._model_loader = model_loader
        self._source_factory = source_factory
        self._device_lister = device_lister
        self.stream_config = stream_config or StreamConfig()
        self.decoder_config = decoder_config or settings.decoder_config()
        self.model: LoadedModel | None = None
        self.worker: PipelineWorker | None = None
        self._devices: list[InputDevice] = []
        self._pending_updates: list[ListenerUpdate] = []
        self.last_update: ListenerUpdate | None = None
        self._retry: Callable[[], None] | None = None
        self._stride_time_s: float | None = None
        self._last_counters = (-1, -1)
        self._status_refreshed_at = 0.0
        self._closed = False
        self._model_problem = False
        self._stalled = False
        # Workers asked to stop that may still be closing their stream; never waited for here.
        self._retired_workers: list[PipelineWorker] = []

        self.setWindowTitle("kws — keyword spotting")
        theme.apply_to(self)
        self._build_menu()
        self._build_body()
        self._build_status_bar()
        geometry = settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_WINDOW_SIZE)

        self._draw_timer = QTimer(self)
        self._draw_timer.setInterval(MS_PER_SECOND // DRAW_RATE_HZ)
        self._draw_timer.timeout.connect(self._draw)
        self._draw_timer.start()

        self.refresh_devices(prefer=device_name or settings.device_name)
        self.load_model(model_path)
        if autostart and self.model is not None and self._devices:
            QTimer.singleShot(0, self.start_listening)

    # ----- building -----------------------------------------------------------------------

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open model...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._ask_open_model)
        file_menu.addAction(open_action)
        save_action = QAction("&Save history as CSV...", self)
        save_action.setShortcut(QKeySequence.StandardKey.Save)
        save_action.triggered.connect(self._ask_save_history)
        file_menu.addAction(save_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def _build_body(self) -> None:
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(12, 12, 12, 8)
        root.setSpacing(10)
        root.addWidget(self._build_device_bar())
        root.addWidget(self._build_banner())
        columns = QHBoxLayout()
        columns.setSpacing(10)
        columns.addLayout(self._build_left_column(), 3)
        columns.addLayout(self._build_right_column(), 2)
        root.addLayout(columns, 1)
        self.setCentralWidget(central)

    def _build_device_bar(self) -> QFrame:
        frame, outer = _panel()
        row = QHBoxLayout()
        outer.addLayout(row)
        row.addWidget(QLabel("Microphone"))
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(320)
        self.device_combo.activated.connect(self._device_chosen)
        row.addWidget(self.device_combo, 1)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("look for input devices again")
        self.refresh_button.clicked.connect(lambda: self.refresh_devices())
        row.addWidget(self.refresh_button)
        self.device_rate_label = QLabel("")
        self.device_rate_label.setObjectName("lastScore")
        row.addWidget(self.device_rate_label)
        row.addSpacing(16)
        self.level_caption = QLabel(LEVEL_CAPTION)
        row.addWidget(self.level_caption)
        self.level_meter = LevelMeter()
        row.addWidget(self.level_meter)
        row.addSpacing(16)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.start_button.setMinimumWidth(96)
        self.start_button.clicked.connect(self._toggle_listening)
        row.addWidget(self.start_button)
        return frame

    def _build_banner(self) -> QFrame:
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 8, 12, 8)
        self.banner_label = QLabel("")
        self.banner_label.setObjectName("bannerText")
        self.banner_label.setWordWrap(True)
        row.addWidget(self.banner_label, 1)
        self.banner_open_button = QPushButton("Open model...")
        self.banner_open_button.clicked.connect(self._ask_open_model)
        row.addWidget(self.banner_open_button)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.retry)
        row.addWidget(self.retry_button)
        self.banner.hide()
        return self.banner

    def _build_left_column(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(10)
        frame, layout = _panel("What the model hears (log-mel spectrogram)")
        self.spectrogram = SpectrogramView(FrontendConfig())
        self.spectrogram.setMinimumHeight(260)
        layout.addWidget(self.spectrogram)
        column.addWidget(frame, 3)

        frame, layout = _panel("Words")
        row = QHBoxLayout()
        row.setSpacing(16)
        last = QVBoxLayout()
        self.last_word_label = QLabel("—")
        self.last_word_label.setObjectName("lastWord")
        self.last_word_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.last_word_label.setMinimumWidth(200)
        self.last_score_label = QLabel("say a command word")
        self.last_score_label.setObjectName("lastScore")
        self.last_score_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        last.addStretch(1)
        last.addWidget(self.last_word_label)
        last.addWidget(self.last_score_label)
        last.addStretch(1)
        row.addLayout(last)
        self.tiles = WordTiles()
        row.addWidget(self.tiles, 1)
        layout.addLayout(row)
        column.addWidget(frame, 2)
        return column

    def _build_right_column(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(10)
        frame, layout = _panel("Probabilities (averaged)")
        self.scores_view = ScoresView()
        layout.addWidget(self.scores_view)
        threshold_row = QHBoxLayout()
        threshold_title = QLabel("Threshold")
        threshold_row.addWidget(threshold_title)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        for widget in (threshold_title, self.threshold_slider):
            widget.setToolTip(THRESHOLD_TOOLTIP)
        self.threshold_slider.setRange(0, SLIDER_STEPS)
        self.threshold_slider.setValue(
            round(self.decoder_config.detection_threshold * SLIDER_STEPS)
        )
        self.threshold_slider.valueChanged.connect(self._threshold_moved)
        threshold_row.addWidget(self.threshold_slider, 1)
        self.threshold_label = QLabel(f"{self.decoder_config.detection_threshold:.2f}")
        self.threshold_label.setMinimumWidth(40)
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
        self.average_window_spin = self._spin(AVERAGE_WINDOW_RANGE_MS, " ms", SPIN_STEP_MS)
        self.average_window_spin.setValue(self.decoder_config.average_window_ms)
        form.addRow("Averaging window", self.average_window_spin)
        self.suppression_spin = self._spin(SUPPRESSION_RANGE_MS, " ms", SPIN_STEP_MS)
        self.suppression_spin.setValue(self.decoder_config.suppression_ms)
        form.addRow("Suppression time", self.suppression_spin)
        self.minimum_count_spin = self._spin(MINIMUM_COUNT_RANGE, "", 1)
        self.minimum_count_spin.setValue(self.decoder_config.minimum_count)
        form.addRow("Minimum count", self.minimum_count_spin)
        for spin in (self.average_window_spin, self.suppression_spin, self.minimum_count_spin):
            spin.valueChanged.connect(self._advanced_changed)
        self.word_thresholds_label = QLabel()
        self.word_thresholds_label.setWordWrap(True)
        self.word_thresholds_label.setToolTip(THRESHOLD_TOOLTIP)
        form.addRow("Word thresholds", self.word_thresholds_label)
        self.advanced_box.hide()
        layout.addWidget(self.advanced_box)
        layout.addStretch(1)
        column.addWidget(frame, 3)

        frame, layout = _panel("History")
        self.history = HistoryView()
        layout.addWidget(self.history, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.clear_history_button = QPushButton("Clear")
        self.clear_history_button.clicked.connect(self.history.clear_entries)
        buttons.addWidget(self.clear_history_button)
        self.save_history_button = QPushButton("Save CSV...")
        self.save_history_button.clicked.connect(self._ask_save_history)
        buttons.addWidget(self.save_history_button)
        layout.addLayout(buttons)
        column.addWidget(frame, 2)
        return column

    @staticmethod
    def _spin(value_range: tuple[int, int], suffix: str, step: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(*value_range)
        spin.setSingleStep(step)
        spin.setSuffix(suffix)
        return spin

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        self.provider_label = QLabel("provider: —")
        self.model_label = QLabel("model: —")
        self.stride_label = QLabel("stride: —")
        self.rate_label = QLabel("input: — → model: —")
        self.counters_label = QLabel("overflows 0 · drops 0")
        self.state_label = QLabel("stopped")
        bar.addWidget(self.state_label, 1)
        for label in (
            self.provider_label,
            self.model_label,
            self.stride_label,
            self.rate_label,
            self.counters_label,
        ):
            bar.addPermanentWidget(label)

    # ----- banner -------------------------------------------------------------------------

    def show_problem(
        self, message: str, retry: Callable[[], None] | None, offer_model: bool
    ) -> None:
        """A user-facing problem: the banner, the status bar and the log say the same line."""
        logger.warning("%s", message)
        self._model_problem = offer_model
        self.banner_label.setText(message)
        self._retry = retry
        self.retry_button.setVisible(retry is not None)
        self.banner_open_button.setVisible(offer_model)
        self.banner.show()
        self.state_label.setText(message)

    def clear_problem(self) -> None:
        self.banner.hide()
        self._retry = None
        self._model_problem = False

    @property
    def problem(self) -> str | None:
        return self.banner_label.text() if not self.banner.isHidden() else None

    @Slot()
    def retry(self) -> None:
        action = self._retry
        self.clear_problem()
        if action is not None:
            action()

    # ----- devices ------------------------------------------------------------------------

    def refresh_devices(self, prefer: str | None = None) -> None:
        wanted = prefer or (self.selected_device.name if self.selected_device else None)
        try:
            self._devices = self._device_lister()
        except DeviceError as error:
            self._devices = []
            self._fill_device_combo(wanted)
            self.show_problem(str(error), self.refresh_devices, offer_model=False)
            return
        self._fill_device_combo(wanted)
        if not self._devices and not self._model_problem:
            self.show_problem(
                "No microphone found: plug one in, then press Retry.",
                self._retry_devices,
                offer_model=False,
            )

    def _retry_devices(self) -> None:
        self.refresh_devices()
        if self._devices and self.model is not None and self.worker is None:
            self.start_listening()

    def _fill_device_combo(self, wanted: str | None) -> None:
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        selected = 0
        for position, device in enumerate(self._devices):
            mark = "  (default)" if device.is_default else ""
            self.device_combo.addItem(f"{device.name}{mark}", device.index)
            if wanted is not None and device.name == wanted:
                selected = position
        if not self._devices:
            self.device_combo.addItem("no input device")
        self.device_combo.setCurrentIndex(selected)
        self.device_combo.setEnabled(bool(self._devices))
        self.device_combo.blockSignals(False)
        self._show_device_rate()

    @property
    def selected_device(self) -> InputDevice | None:
        position = self.device_combo.currentIndex()
        if 0 <= position < len(self._devices):
            return self._devices[position]
        return None

    def _show_device_rate(self) -> None:
        device = self.selected_device
        self.device_rate_label.setText(f"{device.default_rate} Hz" if device else "")

    @Slot(int)
    def _device_chosen(self, _position: int) -> None:
        self._show_device_rate()
        device = self.selected_device
        if device is not None:
            self.settings.device_name = device.name
        if self.worker is not None or self._retry is not None:
            self.clear_problem()
            self.start_listening()

    # ----- model --------------------------------------------------------------------------

    def load_model(self, path: Path) -> bool:
        """Load a model; on failure the running model (if any) keeps going, the banner says why."""
        try:
            model = self._model_loader(path)
        except ModelError as error:
            self.show_problem(
                f"Cannot load the model: {error}",
                lambda: self._reload_model(path),
                offer_model=True,
            )
            self._update_start_button()
            return False
        was_listening = self.worker is not None
        self.stop_listening()
        self.model = model
        self.settings.model_path = path
        labels = model.labels
        self.tiles.set_labels(labels)
        self.scores_view.set_labels(labels)
        self._show_word_thresholds()
        self.spectrogram.set_frontend(model.frontend)
        provider = "CUDA" if model.provider == CUDA_PROVIDER else "CPU"
        self.provider_label.setText(f"provider: {provider}")
        name = getattr(getattr(model, "info", None), "model_name", path.stem)
        self.model_label.setText(f"model: {path.name} ({name})")
        self.model_label.setToolTip(str(path))
        if self._model_problem:
            self.clear_problem()
        self._update_start_button()
        if was_listening:
            self.start_listening()
        return True

    def set_scorer(self, scorer: LoadedModel) -> None:
        """Swap the vocabulary (custom words changed) without restarting the stream."""
        self.model = scorer
        self.tiles.set_labels(scorer.labels)
        self.scores_view.set_labels(scorer.labels)
        self._show_word_thresholds()
        if self.worker is not None:
            self.worker.set_scorer(scorer)

    def _reload_model(self, path: Path) -> None:
        if not self.load_model(path) or self.worker is not None:
            return
        if self._devices:
            self.start_listening()
        else:
            self.refresh_devices()  # says so when there is still no microphone

    @Slot()
    def _ask_open_model(self) -> None:
        start_dir = str(self.model.path.parent) if self.model else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", start_dir, "ONNX models (*.onnx);;All files (*)"
        )
        if path:
            self._reload_model(Path(path))

    # ----- listening ----------------------------------------------------------------------

    def _update_start_button(self) -> None:
        if self._stalled:
            self.start_button.setText(STALLED_BUTTON_TEXT)
            self.start_button.setToolTip(STALLED_BUTTON_TOOLTIP)
        else:
            self.start_button.setText("Stop" if self.worker is not None else "Start")
            self.start_button.setToolTip("")
        self.start_button.setEnabled(self.model is not None)

    def _show_stalled(self, stalled: bool) -> None:
        """The button and the level meter say "stalled"; the meters drop their last values."""
        self._stalled = stalled
        self.level_caption.setText(STALLED_LEVEL_CAPTION if stalled else LEVEL_CAPTION)
        self.level_meter.setToolTip(STALLED_BUTTON_TOOLTIP if stalled else "")
        if stalled:
            self._pending_updates.clear()
            self.level_meter.set_level_db(FLOOR_DB)
            if self.model is not None:
                self.scores_view.set_scores(tuple(0.0 for _ in self.model.labels))
        self._update_start_button()

    @property
    def stalled(self) -> bool:
        return self._stalled

    @Slot()
    def _toggle_listening(self) -> None:
        if self.worker is not None and not self._stalled:
            self.stop_listening()
            self.state_label.setText("stopped")
        else:
            self.clear_problem()
            self.start_listening()

    @Slot()
    def start_listening(self) -> None:
        self.stop_listening()
        if self._stalled:
            self._show_stalled(False)
        if self._closed:  # a start queued before the window closed
            return
        if self.model is None:
            self.show_problem("No model is loaded: open one.", None, offer_model=True)
            return
        device = self.selected_device
        worker = PipelineWorker(
            self.model,
            self._source_factory,
            device,
            self.stream_config,
            self.decoder_config,
            emit_interval_s=1 / DRAW_RATE_HZ,
            parent=self,
            previous=self._retired_workers[-1].listener if self._retired_workers else None,
        )
        worker.listening.connect(self._on_listening)
        worker.updated.connect(self._on_update)
        worker.failed.connect(self._on_failed)
        worker.stalled.connect(self._on_stalled)
        worker.source_ended.connect(self._on_source_ended)
        worker.finished.connect(self._on_worker_finished)
        self.worker = worker
        self.state_label.setText(f"opening {device.name if device else 'input'}...")
        worker.start()
        self._update_start_button()

    def stop_listening(self) -> None:
        """Ask the worker to stop, without waiting: a stalled device must never freeze the window.

        The worker closes its stream on its own thread within the capture's deadline; the next
        worker waits for it there before opening the device, and closing the window waits for all.
        """
        worker, self.worker = self.worker, None
        self._retired_workers = [w for w in self._retired_workers if not w.isFinished()]
        if worker is not None:
            worker.request_stop()
            self._retired_workers.append(worker)
        self._pending_updates.clear()
        self._update_start_button()

    def _wait_for_workers(self, timeout_s: float) -> None:
        """On closing: a worker still running after `timeout_s` is kept alive until the process
        exits (destroying a running QThread aborts the process)."""
        deadline = time.monotonic() + timeout_s
        for worker in self._retired_workers:
            remaining_ms = max(0, int((deadline - time.monotonic()) * MS_PER_SECOND))
            if not worker.wait(remaining_ms):
                logger.warning("a pipeline worker did not stop within %g s", timeout_s)
                keep_until_exit(worker)
        self._retired_workers.clear()

    def _from_current_worker(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    @Slot(object)
    def _on_listening(self, info: SourceInfo) -> None:
        if not self._from_current_worker():
            return
        self.rate_label.setText(f"input: {info.sample_rate} Hz → model: {info.model_rate} Hz")
        self.state_label.setText(f"listening on {info.name}")
        self.clear_problem()

    @Slot(object)
    def _on_update(self, update: ListenerUpdate) -> None:
        if self._from_current_worker():
            self.last_update = update
            self._pending_updates.append(update)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._from_current_worker():
            return
        self.show_problem(message, self.start_listening, offer_model=False)

    @Slot(str)
    def _on_stalled(self, message: str) -> None:
        if not self._from_current_worker():
            return
        self._show_stalled(True)
        self.show_problem(message, self.start_listening, offer_model=False)

    @Slot()
    def _on_source_ended(self) -> None:
        if self._from_current_worker():
            self.state_label.setText("input ended")

    @Slot()
    def _on_worker_finished(self) -> None:
        if self._from_current_worker():
            assert self.worker is not None  # what _from_current_worker() checked
            self.worker.wait()
            self._draw()  # show what the worker produced before it stopped
            self.worker = None
            self._update_start_button()

    # ----- decoder settings ---------------------------------------------------------------

    def _apply_decoder_config(self, config: DecoderConfig) -> None:
        self.decoder_config = config
        self.settings.save_decoder_config(config)
        self._show_word_thresholds()
        if self.worker is not None:
            self.worker.set_decoder_config(config)

    def word_thresholds(self) -> tuple[float, ...]:
        """Each label's threshold at the slider's value (calibrated points moved together)."""
        if self.model is None:
            return ()
        return tuple(
            label_thresholds(
                self.model.labels,
                self.decoder_config.detection_threshold,
                operating_points_of(self.model),
            ).tolist()
        )

    def _show_word_thresholds(self) -> None:
        thresholds = self.word_thresholds()
        self.scores_view.set_thresholds(thresholds)
        if self.model is None:
            self.word_thresholds_label.setText("")
            return
        calibrated = operating_points_of(self.model) is not None
        words = [
            f"{label} {value:.2f}"
            for label, value in zip(self.model.labels, thresholds, strict=True)
            if is_command_label(label)
        ]
        source = "calibrated per word" if calibrated else "the same for every word"
        self.word_thresholds_label.setText(f"{', '.join(words)} ({source})")

    @Slot(int)
    def _threshold_moved(self, value: int) -> None:
        threshold = value / SLIDER_STEPS
        self.threshold_label.setText(f"{threshold:.2f}")
        self._apply_decoder_config(replace(self.decoder_config, detection_threshold=threshold))

    @Slot()
    def _advanced_changed(self) -> None:
        try:
            config = replace(
                self.decoder_config,
                average_window_ms=self.average_window_spin.value(),
                suppression_ms=self.suppression_spin.value(),
                minimum_count=self.minimum_count_spin.value(),
            )
        except ConfigError as error:
            self.state_label.setText(str(error))
            return
        self._apply_decoder_config(config)

    @Slot(bool)
    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced_box.setVisible(shown)
        self.advanced_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    # ----- history ------------------------------------------------------------------------

    @Slot()
    def _ask_save_history(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save history", "kws-history.csv", "CSV files (*.csv)"
        )
        if not path:
            return
        try:
            self.history.save_csv(Path(path))
        except OSError as error:
            self.show_problem(f"Cannot save the history: {error}", None, offer_model=False)
        else:
            self.state_label.setText(f"history saved to {path}")

    # ----- drawing ------------------------------------------------------------------------

    def _show_detection(self, detection: Detection, now_s: float) -> None:
        if not self.tiles.light(detection.label, now_s):
            return
        self.last_word_label.setText(detection.label)
        self.last_score_label.setText(f"score {detection.score:.2f}")
        self.history.add(
            HistoryEntry(datetime.now(), detection.time_ms, detection.label, detection.score)
        )
        self.spectrogram.add_marker(detection.time_ms, detection.label)
        self.word_shown.emit(detection.label, detection.score, now_s)

    @Slot()
    def _draw(self) -> None:
        now_s = time.monotonic()
        updates, self._pending_updates = self._pending_updates, []
        for update in updates:
            self.spectrogram.add_frames(update.frames, update.stream_time_ms)
            for detection in update.detections:
                self._show_detection(detection, now_s)
            if update.stride_time_s is not None:
                previous = self._stride_time_s
                self._stride_time_s = (
                    update.stride_time_s
                    if previous is None
                    else previous + STRIDE_TIME_SMOOTHING * (update.stride_time_s - previous)
                )
        if updates:
            latest = updates[-1]
            scored = [update for update in updates if update.average_scores is not None]
            if scored:
                self.scores_view.set_scores(scored[-1].average_scores or ())
            self.level_meter.set_level_db(max(update.level_db for update in updates))
            counters = (latest.overflows, latest.drops)
            if counters != self._last_counters:
                self._last_counters = counters
                self.counters_label.setText(f"overflows {counters[0]} · drops {counters[1]}")
            if (
                self._stride_time_s is not None
                and now_s - self._status_refreshed_at >= STATUS_REFRESH_S
            ):
                self._status_refreshed_at = now_s
                self.stride_label.setText(f"stride: {self._stride_time_s * 1000:.2f} ms")
        self.spectrogram.draw()
        self.tiles.expire(now_s)

    # ----- shutdown -----------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self._closed = True
        self._draw_timer.stop()
        self.stop_listening()
        self._wait_for_workers(CLOSE_WAIT_S)
        self.settings.geometry = self.saveGeometry()
        self.settings.save_decoder_config(self.decoder_config)
        device = self.selected_device
        if device is not None:
            self.settings.device_name = device.name
        self.settings.sync()
        super().closeEvent(event)
