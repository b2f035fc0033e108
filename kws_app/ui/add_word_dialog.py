"""The "Add word..." dialog: record a few examples of a new word, then learn it in seconds.

Recording goes through a `TapOpener`: the controller's by default (the running capture when
listening, one opened off the GUI thread otherwise); in tests, a session recorder on arrays (a
simulated microphone) may stand in. The tap is polled from a GUI timer, so the window never blocks
on audio. Train hands the takes to the controller, which stores the word and trains it first in
its bounded vocabulary job, off the GUI thread (the running stream keeps going and gets the new
scorer); a word that cannot be trained is taken out of the store again and the dialog says why.

Each take is a few seconds, with room for a pause before and after the word; `trim_take` keeps the
word and a short margin (what is shown, played and stored), or refuses the take with the same
message the command line gives, shown next to the take. A refused take is not trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from kws_app.audio.devices import DeviceError
from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.dsp.frontend import compute_features, fit_clip
from kws_app.session.listener import block_level_db
from kws_app.session.recording import RecordingTap, TapOpener
from kws_app.ui import theme
from kws_app.ui.controller import AppController
from kws_app.ui.level_meter import LevelMeter
from kws_app.ui.spectrogram_view import COLOUR_MAP, LEVELS, LUT_ENTRIES
from kws_app.words.store import MIN_EXAMPLES, WordStoreError, normalise_name
from kws_app.words.synthetic import SyntheticVoicesConfig, find_espeak
from kws_app.words.takes import (
    MAX_UTTERANCE_SECONDS,
    SPEECH_SECONDS,
    TakeError,
    take_label,
    trim_take,
)
from kws_app.words.trainer import to_rate

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# Long enough to start speaking late and stop early; the pauses are trimmed off.
TAKE_SECONDS = 3.0
READ_ALOUD_TEXT = (
    "The morning train was late again, so we walked to the old market instead. It was busy with "
    "people buying bread, apples and flowers, and a band was playing near the fountain. We "
    "talked about the weekend, the weather and what to cook for dinner, then took the bus home."
)
COUNTDOWN_S = 3
POLL_INTERVAL_MS = 10
SPECTROGRAM_SIZE_PX = (150, 56)
# A take whose peak stays below this is almost certainly a muted or wrong microphone.
QUIET_TAKE_DBFS = -50.0

Player = Callable[[FloatArray, int], None]


def sounddevice_player(samples: FloatArray, rate: int) -> None:
    """Play through the default output; raises DeviceError when there is none."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as error:
        raise DeviceError(f"cannot play audio: {error}") from error
    try:
        sd.play(samples, rate)
    except (sd.PortAudioError, ValueError) as error:
        raise DeviceError(f"cannot play audio: {error}") from error


@dataclass(frozen=True)
class Take:
    """One finished recording at the model's sample rate."""

    samples: FloatArray
    level_db: float


@dataclass(frozen=True)
class CheckedTake:
    """A recorded take and what became of it: trimmed to its word, or refused and why."""

    recorded: Take
    trimmed: FloatArray | None
    problem: TakeError | None

    @classmethod
    def check(cls, take: Take, sample_rate: int, number: int) -> CheckedTake:
        try:
            trimmed = trim_take(take.samples, sample_rate, take_label(number))
        except TakeError as error:
            return cls(take, None, error)
        return cls(take, trimmed, None)

    @property
    def samples(self) -> FloatArray:
        """What is shown and played: the trimmed word, or the whole take when it was refused."""
        return self.trimmed if self.trimmed is not None else self.recorded.samples


class Recorder(QObject):
    """Counts down, then records `seconds` through a RecordingTap, polled by a timer.

    The tap is filled on a listening thread (the window's running capture, or one opened for the
    recording), so the GUI thread never opens a device nor waits for audio.
    """

    countdown = Signal(int)  # seconds left before recording starts
    level = Signal(float)  # peak dBFS of the newest audio
    finished = Signal(object)  # Take
    failed = Signal(str)

    def __init__(
        self,
        open_tap: TapOpener,
        model_rate: int,
        countdown_s: int = COUNTDOWN_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._open_tap = open_tap
        self._model_rate = model_rate
        self._countdown_s = countdown_s
        self._tap: RecordingTap | None = None
        self._seconds = 0.0
        self._left = 0
        self._tick = QTimer(self)
        self._tick.setInterval(MS_PER_SECOND)
        self._tick.timeout.connect(self._count)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_INTERVAL_MS)
        self._poll.timeout.connect(self._read)

    @property
    def busy(self) -> bool:
        return self._tick.isActive() or self._poll.isActive()

    def record(self, seconds: float) -> None:
        if self.busy:
            return
        self._seconds = seconds
        self._left = self._countdown_s
        if self._left <= 0:
            self._begin()
            return
        self.countdown.emit(self._left)
        self._tick.start()

    @Slot()
    def _count(self) -> None:
        self._left -= 1
        if self._left > 0:
            self.countdown.emit(self._left)
            return
        self._tick.stop()
        self._begin()

    def _begin(self) -> None:
        self.countdown.emit(0)
        self._tap = self._open_tap(self._seconds)
        self._poll.start()

    @Slot()
    def _read(self) -> None:
        tap = self._tap
        if tap is None:
            return
        if tap.problem is not None:
            self._finish()
            self.failed.emit(tap.problem)
            return
        self.level.emit(tap.level_db)
        rate = tap.sample_rate
        if not tap.complete or rate is None:
            return
        self._finish()
        samples = to_rate(tap.samples(), rate, self._model_rate)
        self.finished.emit(Take(samples, block_level_db(samples)))

    def _finish(self) -> None:
        self._poll.stop()
        tap, self._tap = self._tap, None
        if tap is not None:
            tap.close()

    def cancel(self) -> None:
        self._tick.stop()
        self._finish()


def _at_least_a_clip(samples: FloatArray, frontend: FrontendConfig) -> FloatArray:
    """The whole take, padded to one clip: a refused take shows why (two words, a long sound)."""
    return samples if samples.shape[0] >= frontend.clip_samples else fit_clip(samples, frontend)


class ExampleRow(QFrame):
    """One take: a spectrogram (the trimmed word, or all of a refused take), Play and Delete.

    A refused take keeps its row, with the reason beside it, so the user sees which take to
    record again; it is not trained on.
    """

    play_requested = Signal(object)
    delete_requested = Signal(object)

    def __init__(
        self, index: int, take: CheckedTake, frontend: FrontendConfig, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.take = take
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        row = QHBoxLayout()
        outer.addLayout(row)
        self.title = QLabel()
        self.title.setMinimumWidth(28)
        row.addWidget(self.title)
        plot = pg.PlotWidget(background=theme.PLOT_BACKGROUND)
        plot.setFixedSize(*SPECTROGRAM_SIZE_PX)
        plot.hideAxis("bottom")
        plot.hideAxis("left")
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        features = compute_features(_at_least_a_clip(take.samples, frontend), frontend)
        self.image = np.ascontiguousarray(features.T, dtype=np.float32)
        item = pg.ImageItem(axisOrder="row-major")
        item.setLookupTable(pg.colormap.get(COLOUR_MAP).getLookupTable(nPts=LUT_ENTRIES))
        item.setImage(self.image, levels=LEVELS, autoLevels=False)
        plot.addItem(item)
        plot.setRange(xRange=(0, self.image.shape[1]), yRange=(0, self.image.shape[0]), padding=0)
        row.addWidget(plot)
        level = QLabel(f"{take.recorded.level_db:.0f} dBFS")
        level.setObjectName("lastScore")
        row.addWidget(level)
        row.addStretch(1)
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(lambda: self.play_requested.emit(self))
        row.addWidget(self.play_button)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(lambda: self.delete_requested.emit(self))
        row.addWidget(self.delete_button)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color: {theme.WARNING_BORDER};")
        self.problem_label.setVisible(take.problem is not None)
        outer.addWidget(self.problem_label)
        self.set_number(index)

    @property
    def accepted(self) -> bool:
        return self.take.problem is None

    def set_number(self, number: int) -> None:
        """Number the take; a refusal names the take by its current number."""
        self.title.setText(f"#{number}")
        if self.take.problem is not None:
            self.problem_label.setText(f"{take_label(number)} {self.take.problem.reason}")


class AddWordDialog(QDialog):
    """Type the word, record examples (and optionally yourself talking normally), then Train.

    Once the controller has learned the word (it listens with it), `learned` holds its name and
    the dialog is accepted.
    """

    def __init__(
        self,
        controller: AppController,
        open_tap: TapOpener | None = None,
        player: Player = sounddevice_player,
        countdown_s: int = COUNTDOWN_S,
        parent: QWidget | None = None,
        speech_seconds: float = SPEECH_SECONDS,
        synthetic_voices: bool | None = None,
    ) -> None:
        """`synthetic_voices`: whether espeak-ng can teach the word in other voices (None: look
        for it)."""
        super().__init__(parent)
        self.setWindowTitle("Add a word")
        self.synthetic_voices = (
            find_espeak() is not None if synthetic_voices is None else synthetic_voices
        )
        self._spelling_edited = False
        self.speech_seconds = speech_seconds
        self.setMinimumWidth(560)
        assert controller.store is not None and controller.model is not None  # the menu checks
        self.controller = controller
        self.store = controller.store
        self.labels: tuple[str, ...] = tuple(controller.model.labels)
        self._player = player
        self.frontend: FrontendConfig = controller.model.frontend
        self.rows: list[ExampleRow] = []
        self.background: Take | None = None
        self.learned: str | None = None
        self.training: str | None = None  # the word the controller is learning
        self._recording_background = False
        controller.new_word_done.connect(self._on_learned)
        self._bound = True  # until the dialog closes
        self.recorder = Recorder(
            open_tap or controller.record, self.frontend.sample_rate, countdown_s, parent=self
        )
        self.recorder.countdown.connect(self._on_countdown)
        self.recorder.level.connect(self._on_level)
        self.recorder.finished.connect(self._on_take)
        self.recorder.failed.connect(self._on_record_failed)
        self._build()
        self._update_state()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Word"))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. marvin")
        self.name_edit.textChanged.connect(self._update_state)
        name_row.addWidget(self.name_edit, 1)
        layout.addLayout(name_row)

        voices_row = QHBoxLayout()
        self.voices_check = QCheckBox("Also learn it from synthetic voices saying")
        self.spelling_edit = QLineEdit()
        self.spelling_edit.setPlaceholderText("the word as it is spelled")
        self.spelling_edit.setMaxLength(SyntheticVoicesConfig().max_spelling_chars)
        self.spelling_edit.textEdited.connect(self._on_spelling_edited)
        self.voices_check.toggled.connect(self.spelling_edit.setEnabled)
        if self.synthetic_voices:
            self.voices_check.setToolTip(
                "optional: espeak-ng says the word in a dozen other voices than yours; on "
                "words from one speaker it found about as many words at fewer false accepts"
            )
        else:
            self.voices_check.setToolTip(
                "install espeak-ng to teach the word in other voices than yours"
            )
        self.voices_check.setEnabled(self.synthetic_voices)
        self.spelling_edit.setEnabled(False)
        voices_row.addWidget(self.voices_check)
        voices_row.addWidget(self.spelling_edit, 1)
        layout.addLayout(voices_row)
        self.name_edit.textChanged.connect(self._follow_name)

        hint = QLabel(
            f"Record at least {MIN_EXAMPLES} examples: press Record, wait for the countdown, "
            f"then say the word once (at most {MAX_UTTERANCE_SECONDS:g} s) within the next "
            f"{TAKE_SECONDS:g} s; the pauses around it are trimmed. Vary your distance and tone."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)

        record_row = QHBoxLayout()
        self.record_button = QPushButton("Record example")
        self.record_button.setObjectName("primary")
        self.record_button.clicked.connect(self.record_example)
        record_row.addWidget(self.record_button)
        self.background_button = QPushButton(f"Record yourself talking ({SPEECH_SECONDS:g} s)")
        self.background_button.setToolTip(
            "optional: read the text below aloud (or just talk) without saying the word, so the "
            "word learns not to fire on your voice and your room"
        )
        self.background_button.clicked.connect(self.record_background)
        record_row.addWidget(self.background_button)
        self.countdown_label = QLabel("")
        self.countdown_label.setObjectName("lastWord")
        self.countdown_label.setMinimumWidth(40)
        record_row.addWidget(self.countdown_label)
        self.level_meter = LevelMeter()
        record_row.addWidget(self.level_meter, 1)
        layout.addLayout(record_row)

        self.examples_box = QWidget()
        self.examples_layout = QVBoxLayout(self.examples_box)
        self.examples_layout.setContentsMargins(0, 0, 0, 0)
        self.examples_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.examples_box)
        scroll.setMinimumHeight(260)
        layout.addWidget(scroll, 1)

        self.read_aloud_label = QLabel(READ_ALOUD_TEXT)
        self.read_aloud_label.setWordWrap(True)
        self.read_aloud_label.setHidden(True)
        layout.addWidget(self.read_aloud_label)
        self.background_label = QLabel("your speech: none (optional)")
        layout.addWidget(self.background_label)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)

        self.buttons = QDialogButtonBox()
        self.train_button = self.buttons.addButton("Train", QDialogButtonBox.ButtonRole.AcceptRole)
        self.train_button.clicked.connect(self.train)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)

    # ----- state --------------------------------------------------------------------------

    @property
    def spelling(self) -> str | None:
        """What synthetic voices are to say, or None for the user's takes alone."""
        text = self.spelling_edit.text().strip()
        return text if self.voices_check.isChecked() and text else None

    @Slot(str)
    def _follow_name(self, name: str) -> None:
        if not self._spelling_edited:
            self.spelling_edit.setText(name)

    @Slot(str)
    def _on_spelling_edited(self, text: str) -> None:
        self._spelling_edited = bool(text)

    @property
    def examples(self) -> list[FloatArray]:
        """The accepted takes, trimmed to their word: what is stored and trained on."""
        return [row.take.samples for row in self.rows if row.accepted]

    def name_problem(self) -> str | None:
        try:
            name = normalise_name(self.name_edit.text())
        except WordStoreError as error:
            return str(error) if self.name_edit.text().strip() else "type the word first"
        if name.casefold() in {label.casefold() for label in self.labels}:
            return f"{name!r} is already a word of the model"
        if self.store.find(name) is not None:
            return f"a custom word named {name!r} already exists"
        return None

    @Slot()
    def _update_state(self) -> None:
        busy = self.recorder.busy or self.training is not None
        problem = self.name_problem()
        missing = MIN_EXAMPLES - len(self.examples)
        self.record_button.setEnabled(not busy)
        self.background_button.setEnabled(not busy)
        self.name_edit.setEnabled(self.training is None)
        self.voices_check.setEnabled(self.synthetic_voices and self.training is None)
        self.spelling_edit.setEnabled(
            self.voices_check.isChecked() and self.voices_check.isEnabled()
        )
        self.cancel_button.setEnabled(self.training is None)
        for row in self.rows:
            row.delete_button.setEnabled(not busy)
        self.train_button.setEnabled(not busy and problem is None and missing <= 0)
        if busy:
            return
        if problem is not None:
            self.status_label.setText(problem)
        elif missing > 0:
            self.status_label.setText(f"record {missing} more example(s)")
        elif len(self.examples) < len(self.rows):
            self.status_label.setText("ready to train (the refused takes are left out)")
        else:
            self.status_label.setText("ready to train")

    # ----- recording ----------------------------------------------------------------------

    @Slot()
    def record_example(self) -> None:
        self._recording_background = False
        self.recorder.record(TAKE_SECONDS)
        if self.recorder.busy:  # a failure to open has already said why
            self._update_state()

    @Slot()
    def record_background(self) -> None:
        self._recording_background = True
        self.recorder.record(self.speech_seconds)
        if self.recorder.busy:
            self._update_state()
            self.read_aloud_label.setHidden(False)
            self.status_label.setText(
                "read the text below aloud, or just talk, without saying the word..."
            )

    @Slot(int)
    def _on_countdown(self, seconds: int) -> None:
        self.countdown_label.setText(str(seconds) if seconds > 0 else "REC")
        if seconds == 0 and not self._recording_background:
            self.status_label.setText("say the word now")

    @Slot(float)
    def _on_level(self, level_db: float) -> None:
        self.level_meter.set_level_db(level_db)

    @Slot(object)
    def _on_take(self, take: Take) -> None:
        self.countdown_label.setText("")
        if self._recording_background:
            self.background = take
            self.read_aloud_label.setHidden(True)
            self.background_label.setText(
                f"your speech: {take.samples.size / self.frontend.sample_rate:.0f} s recorded"
            )
        else:
            self._add_row(take)
        self._update_state()
        problem = None if self._recording_background else self.rows[-1].take.problem
        if problem is not None:
            self.status_label.setText(str(problem))
        elif take.level_db < QUIET_TAKE_DBFS:
            self.status_label.setText(
                f"that take is very quiet ({take.level_db:.0f} dBFS): is the right microphone "
                "selected and unmuted?"
            )

    def _add_row(self, take: Take) -> None:
        number = len(self.rows) + 1
        checked = CheckedTake.check(take, self.frontend.sample_rate, number)
        if checked.problem is not None:
            logger.info("refused a take: %s", checked.problem)
        row = ExampleRow(number, checked, self.frontend, self.examples_box)
        row.play_requested.connect(self._play)
        row.delete_requested.connect(self._delete)
        self.examples_layout.insertWidget(len(self.rows), row)
        self.rows.append(row)

    @Slot(str)
    def _on_record_failed(self, message: str) -> None:
        self.countdown_label.setText("")
        self._update_state()
        self.status_label.setText(message)

    @Slot(object)
    def _play(self, row: ExampleRow) -> None:
        try:
            self._player(row.take.samples, self.frontend.sample_rate)
        except DeviceError as error:
            self.status_label.setText(str(error))

    @Slot(object)
    def _delete(self, row: ExampleRow) -> None:
        self.rows.remove(row)
        self.examples_layout.removeWidget(row)
        row.deleteLater()
        for index, other in enumerate(self.rows, start=1):
            other.set_number(index)
        self._update_state()

    # ----- training -----------------------------------------------------------------------

    @Slot()
    def train(self) -> None:
        if self.training is not None or self.name_problem() is not None:
            return
        self.training = self.name_edit.text()
        self.status_label.setText("training...")
        self._update_state()
        background = self.background.samples if self.background else None
        self.controller.learn_word(
            self.training, self.examples, self.frontend.sample_rate, background, self.spelling
        )

    @Slot(str, object)
    def _on_learned(self, name: str, problem: str | None) -> None:
        if self.training is None:
            return  # not this dialog's word
        self.training = None
        if problem is None:
            self.learned = name
            self.accept()
            return
        self._update_state()
        self.status_label.setText(f"could not learn the word: {problem}")

    def done(self, result: int) -> None:
        """Closing never waits: a recording is cancelled; a word being learned is the
        controller's, which finishes it (or takes it out again) on its own."""
        self.recorder.cancel()
        if self._bound:
            self.controller.new_word_done.disconnect(self._on_learned)
            self._bound = False
        super().done(result)

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        # Enter in the name field must not "press" Train before the examples exist.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return
        super().keyPressEvent(event)
