"""The main window: the panels, composed around one AppController.

Each panel binds itself to the controller's signals and changes things only through it; the
window adds the menu, lays the panels out, draws them when the worker's batch of updates arrives
(the panels' slots only store what it sent; the worker sends at most the draw rate, a detection
at once) or on a slow timer that dims the tiles when no update comes, and, on closing, lets the
controller stop everything. Every failure the user
can meet (no device, a refused rate, an unplugged or stalled device, a broken model) ends in the
banner with a Retry button, never in a traceback.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QVBoxLayout, QWidget

from kws_app.config import MS_PER_SECOND
from kws_app.inference.pipeline import Detection
from kws_app.ui import theme
from kws_app.ui.add_word_dialog import COUNTDOWN_S, Player, sounddevice_player
from kws_app.ui.controller import AppController
from kws_app.ui.device_bar import DeviceBar
from kws_app.ui.history_panel import HistoryPanel
from kws_app.ui.model_file import ask_and_open_model
from kws_app.ui.probabilities_panel import ProbabilitiesPanel
from kws_app.ui.problem_banner import ProblemBanner
from kws_app.ui.spectrogram_panel import SpectrogramPanel
from kws_app.ui.status_panel import StatusPanel
from kws_app.ui.words_menu import WordsMenu
from kws_app.ui.words_panel import WordsPanel

DEFAULT_WINDOW_SIZE = (1280, 800)
MARGINS_PX = (12, 12, 12, 8)
SPACING_PX = 10
# Closing waits this long for the workers: each closes its stream within the capture's own
# deadline, so only a worker stuck in opening a hung device is still running after it.
CLOSE_WAIT_S = 4.0
# Without updates (not listening) the tiles still dim on time; this slower timer draws then. While
# listening every update draws, so the GUI thread wakes once per update instead of also on a
# display-rate timer (each wake-up costs far more than the drawing it does on this kind of machine).
IDLE_DRAW_RATE_HZ = 10
# Relative widths of the two columns and heights of the panels in them.
LEFT_COLUMN, RIGHT_COLUMN = 3, 2
SPECTROGRAM_SHARE, WORDS_SHARE = 3, 2
PROBABILITIES_SHARE, HISTORY_SHARE = 3, 2


class MainWindow(QMainWindow):
    # word, score, time.monotonic() when its tile lit (the GUI latency benchmark listens to this)
    word_shown = Signal(str, float, float)

    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self.controller = controller
        controller.setParent(self)
        self.setWindowTitle("kws — keyword spotting")
        theme.apply_to(self)
        self.device_bar = DeviceBar(controller)
        self.banner = ProblemBanner(controller)
        self.spectrogram = SpectrogramPanel(controller)
        self.words = WordsPanel(controller)
        self.probabilities = ProbabilitiesPanel(controller)
        self.history = HistoryPanel(controller)
        self.status = StatusPanel(controller, self.statusBar())
        self.words.shown.connect(self._word_shown)
        self.words_menu: WordsMenu | None = None  # add_words_menu: only with a word store
        self._build_menu()
        self._lay_out()
        geometry = controller.settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_WINDOW_SIZE)
        self._live_panels = (
            self.spectrogram,
            self.words,
            self.probabilities,
            self.device_bar,
            self.status,
        )
        # Connected after the panels' own slots, so they have stored the update when it draws.
        controller.updated.connect(self._draw)
        self._draw_timer = QTimer(self)
        self._draw_timer.setInterval(MS_PER_SECOND // IDLE_DRAW_RATE_HZ)
        self._draw_timer.timeout.connect(self._draw)
        self._draw_timer.start()

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open model...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(lambda: ask_and_open_model(self, self.controller))
        file_menu.addAction(open_action)
        save_action = QAction("&Save history as CSV...", self)
        save_action.setShortcut(QKeySequence.StandardKey.Save)
        save_action.triggered.connect(self.history.ask_save)
        file_menu.addAction(save_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def add_words_menu(
        self, player: Player = sounddevice_player, countdown_s: int = COUNTDOWN_S
    ) -> WordsMenu:
        """The Words menu (Add word..., Manage words...), after File."""
        self.words_menu = WordsMenu(self.controller, self, player, countdown_s)
        return self.words_menu

    def _lay_out(self) -> None:
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(*MARGINS_PX)
        root.setSpacing(SPACING_PX)
        root.addWidget(self.device_bar)
        root.addWidget(self.banner)
        left, right = QVBoxLayout(), QVBoxLayout()
        for column, panels in (
            (left, ((self.spectrogram, SPECTROGRAM_SHARE), (self.words, WORDS_SHARE))),
            (right, ((self.probabilities, PROBABILITIES_SHARE), (self.history, HISTORY_SHARE))),
        ):
            column.setSpacing(SPACING_PX)
            for panel, share in panels:
                column.addWidget(panel, share)
        columns = QHBoxLayout()
        columns.setSpacing(SPACING_PX)
        columns.addLayout(left, LEFT_COLUMN)
        columns.addLayout(right, RIGHT_COLUMN)
        root.addLayout(columns, 1)
        self.setCentralWidget(central)

    @Slot(object, float)
    def _word_shown(self, detection: Detection, now_s: float) -> None:
        self.history.add(detection)
        self.spectrogram.add_marker(detection)
        self.word_shown.emit(detection.label, detection.score, now_s)

    @Slot()
    @Slot(object)
    def _draw(self, _update: object = None) -> None:
        now_s = time.monotonic()
        for panel in self._live_panels:
            panel.draw(now_s)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self._draw_timer.stop()
        self.controller.shutdown(CLOSE_WAIT_S)
        self.controller.settings.geometry = self.saveGeometry()
        self.controller.settings.sync()
        super().closeEvent(event)
