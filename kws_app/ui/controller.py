"""The window's one owner of the listening state: model, vocabulary, device, decoder settings,
the listening worker and the current problem.

Panels and the Words dialogs read it and follow its signals; they change things only by calling
its methods, never each other or the window. Everything slow or possibly stuck runs elsewhere:
listening on a worker thread (a session Listener), custom-word training on a background job
(session VocabularyJob, which also builds the word trainer: hashing the model file), checking a
word file on another (session ImportJob), a recording while nothing listens on a daemon thread.
Nothing here waits for a device, a model file or a word file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from kws_app.audio.devices import DeviceError, InputDevice, list_input_devices
from kws_app.audio.pulse import SourceWatch
from kws_app.audio.sources import SourceFactory, microphone_factory
from kws_app.config import MS_PER_SECOND, DecoderConfig, StreamConfig
from kws_app.errors import one_line
from kws_app.inference.model import ModelError, OnnxModel
from kws_app.inference.operating_points import (
    calibrated_decoder_values,
    follow_calibration,
    label_thresholds,
)
from kws_app.inference.pipeline import Scorer, operating_points_of
from kws_app.session.listener import Listener, ListenerUpdate, SourceInfo
from kws_app.session.recent_audio import RecentAudio
from kws_app.session.recording import RecordingTap, record
from kws_app.session.vocabulary import Vocabulary, VocabularyJob
from kws_app.session.word_import import ImportJob, ImportResult
from kws_app.ui.settings import AppSettings
from kws_app.ui.worker import PipelineWorker, keep_until_exit
from kws_app.words.refresh import TrainingBudget
from kws_app.words.scorer import CustomWordScorer, heard_span_ms
from kws_app.words.store import MAX_OWN_TAKE_SECONDS, WordStore, WordStoreError
from kws_app.words.trainer import WordTrainer

logger = logging.getLogger(__name__)

# The worker batches its updates to about this rate: the panels draw no faster.
DRAW_RATE_HZ = 30
# The capture kept for handing a false alarm back: longer than any custom word's heard span
# (the model's clip, a phrase's earlier window and the word's averaging window: under 3 s) and
# the time an update takes to reach the window.
RECENT_AUDIO_S = 5.0
# A command word's take not given back is the user's own, except within this long before a
# false alarm of it given back: false alarms come in bursts, while someone else talks.
FALSE_ALARM_BURST_S = 10.0

ModelLoader = Callable[[Path], OnnxModel]
DeviceLister = Callable[[], list[InputDevice]]


@dataclass(frozen=True)
class HeardWord:
    """The latest word heard that can be given back ("Not 'word'"): a custom word, or a command
    word where the model's words can learn vetoes; with the sound it was heard in (at the
    capture's rate)."""

    word: str
    samples: npt.NDArray[np.float32]
    sample_rate: int
    heard_at_s: float = 0.0  # time.monotonic() when it was shown


@dataclass(frozen=True)
class Problem:
    """What the banner shows: a one-line message, what Retry does, whether to offer a model."""

    message: str
    retry: Callable[[], None] | None
    offer_model: bool


class AppController(QObject):
    model_changed = Signal(object)  # OnnxModel: the base model
    vocabulary_changed = Signal(object)  # Scorer: what the pipeline runs (base + custom words)
    devices_changed = Signal()  # the list of devices or the selection
    decoder_changed = Signal(object)  # DecoderConfig
    listening_changed = Signal()  # started, stopped, stalled or ended (read the properties)
    listening_on = Signal(object)  # SourceInfo, once audio flows
    updated = Signal(object)  # ListenerUpdate of the current worker, on the GUI thread
    cleared = Signal()  # listening stopped or stalled: drop what is waiting to be drawn
    problem_changed = Signal(object)  # Problem | None
    status = Signal(str)  # a passing line for the status bar
    # The sound server moved our stream to another source (kws_app.audio.pulse): the status
    # panel shows the new source's name.
    source_changed = Signal(str)
    # {stored word: note} for words not listening (waiting for training, or why they cannot
    # train); shown next to the words until the next vocabulary replaces it.
    word_notes_changed = Signal(object)
    words_imported = Signal(object)  # ImportResult of import_words
    new_word_done = Signal(str, object)  # learn_word's word and None, or why it was not learned
    heard_changed = Signal(object)  # the latest word heard that can be given back, or None
    _vocabulary_ready = Signal(object, object)  # (job, Vocabulary), from the job's thread
    _import_ready = Signal(object, object)  # (job, ImportResult), from the job's thread
    _source_moved = Signal(object, str)  # (SourceWatch, description), from the watch's thread

    def __init__(
        self,
        settings: AppSettings,
        model_loader: ModelLoader,
        stream_config: StreamConfig | None = None,
        decoder_config: DecoderConfig | None = None,
        store: WordStore | None = None,
        source_factory: SourceFactory = microphone_factory,
        device_lister: DeviceLister = list_input_devices,
        training_budget: TrainingBudget | None = None,
        pinned_decoder_fields: Collection[str] = (),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._model_loader = model_loader
        self.stream_config = stream_config or StreamConfig()
        self.decoder_config = decoder_config or settings.decoder_config()
        # Decoder fields the user set for this run (command-line flags): no model moves them.
        self._pinned_decoder_fields = frozenset(pinned_decoder_fields)
        # The calibrated decoder values that `decoder_config` was last set to follow; a value
        # that differs from them is the user's own choice and survives opening another model.
        self._followed_calibration = settings.followed_calibration()
        self.store = store
        self._source_factory = source_factory
        self._device_lister = device_lister
        self._training_budget = training_budget
        self.model: OnnxModel | None = None  # the base model
        # What the pipeline runs: the base model, or it plus the custom words.
        self.scorer: Scorer | None = None
        self.devices: list[InputDevice] = []
        self.selected_device: InputDevice | None = None
        self.worker: PipelineWorker | None = None
        self.problem: Problem | None = None
        self.stalled = False
        self.closed = False
        self.source: SourceInfo | None = None
        self.last_update: ListenerUpdate | None = None
        self._vocabulary_job: VocabularyJob | None = None
        # Embeds the fixed negatives once; built by a vocabulary job, reused by the next one.
        self._trainer: WordTrainer | None = None
        self._new_word: str | None = None  # stored by learn_word, trained first, not yet done
        self._import_job: ImportJob | None = None
        self.word_notes: dict[str, str] = {}
        self._recording: Listener | None = None
        # Workers asked to stop that may still be closing their stream; never waited for here.
        self._retired_workers: list[PipelineWorker] = []
        self._vocabulary_ready.connect(self._on_vocabulary)
        self._import_ready.connect(self._on_imported)
        self._source_watch: SourceWatch | None = None
        self._source_moved.connect(self._on_source_moved)
        # The current worker's last seconds of audio, and the latest word heard in them that
        # can be given back.
        self._recent: RecentAudio | None = None
        self.heard: HeardWord | None = None
        # The model's command words that can learn from false alarms (the last vocabulary found
        # their kept strides), and those that have a veto.
        self.vetoable: tuple[str, ...] = ()
        self.vetoed: tuple[str, ...] = ()
        # Per command word without a veto, the takes heard and not given back since the model
        # was opened (`_keep_take`).
        self._kept_takes: dict[str, list[HeardWord]] = {}
        self.false_alarm_burst_s = FALSE_ALARM_BURST_S

    # ----- start-up -----------------------------------------------------------------------

    def start(self, model_path: Path, device_name: str | None, autostart: bool) -> None:
        """Find the devices, load the model and (on the next turn of the event loop) listen."""
        self.refresh_devices(prefer=device_name or self.settings.device_name)
        self.open_model(model_path)
        if autostart and self.model is not None and self.devices:
            QTimer.singleShot(0, self.start_listening)

    # ----- problems -----------------------------------------------------------------------

    def show_problem(
        self, message: str, retry: Callable[[], None] | None, offer_model: bool = False
    ) -> None:
        """A user-facing problem: the banner, the status bar and the log say the same line."""
        logger.warning("%s", message)
        self.problem = Problem(message, retry, offer_model)
        self.problem_changed.emit(self.problem)
        self.status.emit(message)

    def say(self, line: str) -> None:
        """A passing line for the status bar (nothing is wrong)."""
        self.status.emit(line)

    def clear_problem(self) -> None:
        if self.problem is not None:
            self.problem = None
            self.problem_changed.emit(None)

    @Slot()
    def retry(self) -> None:
        problem = self.problem
        self.clear_problem()
        if problem is not None and problem.retry is not None:
            problem.retry()

    # ----- devices ------------------------------------------------------------------------

    @Slot()
    def refresh_devices(self, prefer: str | None = None) -> None:
        wanted = prefer or (self.selected_device.name if self.selected_device else None)
        try:
            self.devices = self._device_lister()
        except DeviceError as error:
            self.devices = []
            self._select(wanted)
            self.show_problem(str(error), self.refresh_devices)
            return
        self._select(wanted)
        model_problem = self.problem is not None and self.problem.offer_model
        if not self.devices and not model_problem:
            self.show_problem(
                "No microphone found: plug one in, then press Retry.", self._retry_devices
            )

    def _select(self, wanted: str | None) -> None:
        matching = [device for device in self.devices if device.name == wanted]
        candidates = matching or self.devices
        self.selected_device = candidates[0] if candidates else None
        self.devices_changed.emit()

    def _retry_devices(self) -> None:
        self.refresh_devices()
        if self.devices and self.model is not None and self.worker is None:
            self.start_listening()

    def select_device(self, position: int) -> None:
        """The user picked a device: remember it; listen on it if listening (or failing to)."""
        if not 0 <= position < len(self.devices):
            return
        self.selected_device = self.devices[position]
        self.settings.device_name = self.selected_device.name
        self.devices_changed.emit()
        if self.worker is not None or (self.problem is not None and self.problem.retry):
            self.clear_problem()
            self.start_listening()

    # ----- model and vocabulary -----------------------------------------------------------

    def open_model(self, path: Path) -> bool:
        """Load a model; on failure the running model (if any) keeps going, the banner says why."""
        try:
            model = self._model_loader(path)
        except ModelError as error:
            self.show_problem(
                f"Cannot load the model: {error}", lambda: self.reopen_model(path), True
            )
            self.listening_changed.emit()
            return False
        was_listening = self.worker is not None
        self.stop_listening()
        self.model = model
        self._follow_calibration(model)
        self._trainer = None  # fitted to the old model; the next vocabulary job builds one
        self.vetoable, self.vetoed = (), ()  # until the next vocabulary says
        self._kept_takes.clear()  # of the other model's words
        self.settings.model_path = path
        self.model_changed.emit(model)
        self._use_scorer(model)
        if self.problem is not None and self.problem.offer_model:
            self.clear_problem()
        self.listening_changed.emit()
        self.words_changed()
        if was_listening:
            self.start_listening()
        return True

    def reopen_model(self, path: Path) -> None:
        """File > Open model... and the banner's Retry: load, then listen when a device is there."""
        if not self.open_model(path) or self.worker is not None:
            return
        if self.devices:
            self.start_listening()
        else:
            self.refresh_devices()  # says so when there is still no microphone

    def words_changed(self, retrain_all: bool = False) -> None:
        """The stored words changed (or the model did): rebuild the vocabulary in the background;
        listening goes on with the current one meanwhile."""
        if self._vocabulary_job is not None:
            # A retraining of every word (after an import) that is cut short must still happen.
            retrain_all = retrain_all or self._vocabulary_job.retrain_all
            self._vocabulary_job.cancel()
            self._vocabulary_job = None
        if self.store is None or self.model is None:
            return
        job = VocabularyJob(
            self.model,
            self.store,
            lambda vocabulary: self._vocabulary_ready.emit(job, vocabulary),
            self._training_budget,
            retrain_all,
            self._trainer,
            self._new_word,
        )
        self._vocabulary_job = job
        job.start()

    @property
    def training_words(self) -> bool:
        return self._vocabulary_job is not None

    @Slot(object, object)
    def _on_vocabulary(self, job: VocabularyJob, vocabulary: Vocabulary) -> None:
        if job is not self._vocabulary_job or vocabulary.base is not self.model:
            return  # a later change or another model replaced it
        self._vocabulary_job = None
        if vocabulary.trainer is not None:
            self._trainer = vocabulary.trainer
        for message in vocabulary.messages:
            self.status.emit(message)
        self.vetoable, self.vetoed = vocabulary.vetoable, vocabulary.vetoed
        self._use_scorer(vocabulary.scorer)
        self.word_notes = vocabulary.notes()
        self.word_notes_changed.emit(self.word_notes)
        if job.new_word is not None and job.new_word == self._new_word:
            self._new_word = None
            self._finish_new_word(job.new_word, vocabulary.new_word_problem)

    def learn_word(
        self,
        name: str,
        examples: Sequence[npt.ArrayLike],
        sample_rate: int,
        background: npt.ArrayLike | None = None,
        spelling: str | None = None,
    ) -> None:
        """Store a word the user recorded and train it first, in the bounded background job,
        while listening goes on; `new_word_done` says how it went. A word that cannot be
        trained is taken out of the store again. `spelling` is what synthetic voices say to
        teach it in other voices."""
        if self.store is None or self.model is None:
            self.new_word_done.emit(name, "no model is loaded")
            return
        try:
            word = self.store.add(
                name,
                examples,
                sample_rate,
                background,
                reserved=self.model.labels,
                spelling=spelling,
            )
        except (WordStoreError, OSError, ValueError) as error:
            self.new_word_done.emit(name, one_line(error))
            return
        self._new_word = word.name
        self.words_changed(retrain_all=True)

    def _finish_new_word(self, name: str, problem: str | None) -> None:
        if problem is not None:
            try:
                self.store.remove(name)  # type: ignore[union-attr]  # learn_word had a store
            except (WordStoreError, OSError) as error:
                logger.warning("cannot remove the untrained word %r: %s", name, error)
            self.status.emit(f"could not learn {name!r}: {problem}")
        self.new_word_done.emit(name, problem)

    # ----- importing word files -----------------------------------------------------------

    @property
    def importing(self) -> Path | None:
        """The word file being checked and installed, if any."""
        return self._import_job.path if self._import_job is not None else None

    def import_words(self, path: Path) -> bool:
        """Check and install a word file off the GUI thread (a large valid one takes seconds);
        `words_imported` says how it went, and the new words then train in the background.
        False (nothing started) while another import runs or without a model."""
        if self.store is None or self.model is None or self._import_job is not None:
            return False
        job = ImportJob(
            self.store,
            path,
            self.model.labels,
            lambda result: self._import_ready.emit(job, result),
        )
        self._import_job = job
        job.start()
        return True

    @Slot(object, object)
    def _on_imported(self, job: ImportJob, result: ImportResult) -> None:
        if job is not self._import_job:
            return
        self._import_job = None
        if result.names:
            self.words_changed(retrain_all=True)  # every head learns the new words as negatives
        self.words_imported.emit(result)

    def _use_scorer(self, scorer: Scorer) -> None:
        """Swap the vocabulary without restarting the stream."""
        self.scorer = scorer
        self.vocabulary_changed.emit(scorer)
        if self.worker is not None:
            self.worker.set_scorer(scorer)
        if self.heard is not None and not self.can_give_back(self.heard.word):
            self.heard = None  # removed or renamed: nothing to give back to
            self.heard_changed.emit(None)

    def can_give_back(self, label: str) -> bool:
        """Whether a detection of `label` can be given back ("Not 'word'"): a custom word of the
        vocabulary, or a command word of a model whose words can learn vetoes."""
        scorer = self.scorer
        if scorer is None:
            return False
        if isinstance(scorer, CustomWordScorer) and label in scorer.word_names:
            return True
        return label in self.vetoable and label in scorer.labels

    def word_thresholds(self) -> tuple[float, ...]:
        """Each label's threshold at the slider's value (calibrated points moved together)."""
        if self.scorer is None:
            return ()
        return tuple(
            label_thresholds(
                self.scorer.labels,
                self.decoder_config.detection_threshold,
                operating_points_of(self.scorer),
            ).tolist()
        )

    # ----- decoder settings ---------------------------------------------------------------

    def _follow_calibration(self, model: OnnxModel) -> None:
        """Move the decoder to the window and count `model` was calibrated at, since its word
        thresholds hold only there; values the user chose (flags, or changed from the
        calibration they were set against) stay. With nothing saved to compare against (a first
        run, or settings from before this rule) the model's values are taken."""
        calibrated = calibrated_decoder_values(model.operating_points)
        keep = set(self._pinned_decoder_fields)
        followed = self._followed_calibration
        if followed is not None:
            keep |= {
                name
                for name, value in followed.items()
                if getattr(self.decoder_config, name) != value
            }
        self._followed_calibration = {**(followed or {}), **calibrated}
        self.settings.save_followed_calibration(self._followed_calibration)
        self.set_decoder_config(follow_calibration(self.decoder_config, calibrated, keep))

    def set_decoder_config(self, config: DecoderConfig) -> None:
        if config == self.decoder_config:
            return
        self.decoder_config = config
        self.settings.save_decoder_config(config)
        if self.worker is not None:
            self.worker.set_decoder_config(config)
        self.decoder_changed.emit(config)

    # ----- listening ----------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self.worker is not None

    @property
    def can_listen(self) -> bool:
        return self.model is not None

    @Slot()
    def toggle_listening(self) -> None:
        if self.worker is not None and not self.stalled:
            self.stop_listening()
            self.status.emit("stopped")
        else:
            self.clear_problem()
            self.start_listening()

    @Slot()
    def start_listening(self) -> None:
        self.stop_listening()
        self.stalled = False
        if self.closed:  # a start queued before the window closed
            return
        if self.model is None or self.scorer is None:  # both are set together
            self.show_problem("No model is loaded: open one.", None, offer_model=True)
            return
        device = self.selected_device
        worker = PipelineWorker(
            self.scorer,
            self._source_factory,
            device,
            self.stream_config,
            self.decoder_config,
            emit_interval_s=1 / DRAW_RATE_HZ,
            parent=self,
            previous=self._previous_listener(),
        )
        worker.listening.connect(self._on_listening)
        worker.updated.connect(self._on_update)
        worker.failed.connect(self._on_failed)
        worker.stalled.connect(self._on_stalled)
        worker.source_ended.connect(self._on_source_ended)
        worker.finished.connect(self._on_worker_finished)
        self._recent = RecentAudio(RECENT_AUDIO_S)
        worker.add_tap(self._recent)
        self.worker = worker
        self.source = None
        self.last_update = None  # the next one comes from this worker
        self.status.emit(f"opening {device.name if device else 'input'}...")
        worker.start()
        self.listening_changed.emit()

    def _previous_listener(self) -> Listener | None:
        """The listener that may still hold the device: the next one waits for it to let go."""
        recording, self._recording = self._recording, None
        if recording is not None and not recording.finished.is_set():
            recording.request_stop()
            return recording
        return self._retired_workers[-1].listener if self._retired_workers else None

    def stop_listening(self) -> None:
        """Ask the worker to stop, without waiting: a stalled device must never freeze the window.

        The worker closes its stream on its own thread within the capture's deadline; the next
        worker waits for it there before opening the device, and shutting down waits for all.
        """
        self._stop_source_watch()
        worker, self.worker = self.worker, None
        self._retired_workers = [w for w in self._retired_workers if not w.isFinished()]
        if worker is not None:
            worker.request_stop()
            self._retired_workers.append(worker)
            self.cleared.emit()
            self.listening_changed.emit()

    def _from_current_worker(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    @Slot(object)
    def _on_listening(self, info: SourceInfo) -> None:
        if self._from_current_worker():
            self.source = info
            self.listening_on.emit(info)
            self.status.emit(f"listening on {info.name}")
            self.clear_problem()
            self._watch_source()

    def _watch_source(self) -> None:
        """Follow the source the sound server records our stream from (kws_app.audio.pulse); the
        watch reports on its own thread, and the signal carries the news to this one."""
        self._stop_source_watch()
        watch = SourceWatch(lambda source: self._source_moved.emit(watch, source.describe()))
        self._source_watch = watch.start()

    def _stop_source_watch(self) -> None:
        watch, self._source_watch = self._source_watch, None
        if watch is not None:
            watch.stop()  # never waits

    @Slot(object, str)
    def _on_source_moved(self, watch: SourceWatch, description: str) -> None:
        if watch is self._source_watch:  # not the late news of a stream already stopped
            self.source_changed.emit(description)

    @Slot(object)
    def _on_update(self, update: ListenerUpdate) -> None:
        if self._from_current_worker():
            self.last_update = update
            self.updated.emit(update)
            self._keep_heard(update)

    def _keep_heard(self, update: ListenerUpdate) -> None:
        """Keep the sound of the latest word in the update that can be given back, for
        `reject_heard`."""
        scorer, recent = self.scorer, self._recent
        if scorer is None or recent is None:
            return
        window_ms = update.decoder_config.average_window_ms
        clip_ms = scorer.frontend.clip_ms
        for detection in update.detections:
            if not self.can_give_back(detection.label):
                continue
            span_ms = heard_span_ms(scorer, detection.label, window_ms)
            sound = recent.before(detection.time_ms, span_ms)
            if sound is not None and sound[0].size * MS_PER_SECOND >= clip_ms * sound[1]:
                self._keep_take(self.heard)  # not given back before the next word came
                self.heard = HeardWord(detection.label, *sound, time.monotonic())
                self.heard_changed.emit(detection.label)
            elif self.heard is not None:  # no longer held: never give back an older sound
                self.heard = None
                self.heard_changed.emit(None)

    def _keep_take(self, heard: HeardWord | None) -> None:
        """A command word heard and not given back is taken for the user's own take of it: a
        word's veto, learned from false alarms in the user's voice, must not learn to block the
        user's own word. Takes wait in memory; those older than `false_alarm_burst_s` are stored
        for words with false alarms (nothing of the user's voice is stored before they give one
        back), and the newer ones are dropped when a false alarm of the word is given back."""
        if heard is None or heard.word not in self.vetoable or self.store is None:
            return
        takes = self._kept_takes.setdefault(heard.word, [])
        takes.append(heard)
        while sum(take.samples.size / take.sample_rate for take in takes) > MAX_OWN_TAKE_SECONDS:
            takes.pop(0)
        cutoff = time.monotonic() - self.false_alarm_burst_s
        for label, held in list(self._kept_takes.items()):
            old = [take for take in held if take.heard_at_s < cutoff]
            if old and self.store.command_alarm_seconds([label]):
                self._store_takes(label, old)
                self._kept_takes[label] = [take for take in held if take.heard_at_s >= cutoff]

    def _store_takes(self, label: str, takes: Sequence[HeardWord]) -> None:
        """Store the user's takes of a command word beside its false alarms; a take that cannot
        be stored costs its veto a little of the user's voice, never the false alarm."""
        assert self.store is not None  # the callers checked
        rate = self._model_rate()
        for take in takes:
            try:
                self.store.add_command_take(label, take.samples, take.sample_rate, rate)
            except (WordStoreError, OSError) as error:
                logger.warning("cannot keep a take of %r: %s", label, one_line(error))
                return

    def forget_command_alarms(self, label: str) -> bool:
        """Drop a command word's false alarms and takes, stored and held (Manage words), and
        hear it as the model does again; False when it had none."""
        if self.store is None:
            return False
        self._kept_takes.pop(label, None)
        forgot = self.store.forget_command_alarms(label)
        if forgot:
            self.words_changed()
        return forgot

    def _model_rate(self) -> int:
        assert self.scorer is not None  # a word was heard
        return self.scorer.frontend.sample_rate

    def reject_heard(self) -> None:
        """The latest word heard was not the word: keep its sound among its false alarms and,
        in the background, train a custom word again with them among its negatives, or learn
        a command word's veto from them."""
        heard, self.heard = self.heard, None
        self.heard_changed.emit(None)
        if heard is None or self.store is None or self.scorer is None:
            return
        try:
            custom = isinstance(self.scorer, CustomWordScorer) and (
                heard.word in self.scorer.word_names
            )
            if custom:
                word = self.store.get(heard.word)
                self.store.add_false_alarm(word, heard.samples, heard.sample_rate)
            else:
                rate = self._model_rate()
                self.store.add_command_alarm(heard.word, heard.samples, heard.sample_rate, rate)
        except (WordStoreError, OSError) as error:
            self.show_problem(
                f"Cannot keep that false alarm of {heard.word!r}: {one_line(error)}", None
            )
            return
        held = self._kept_takes.pop(heard.word, [])
        if not custom and held:  # false alarms come in bursts: the latest may be some too
            cutoff = heard.heard_at_s - self.false_alarm_burst_s
            self._store_takes(heard.word, [take for take in held if take.heard_at_s < cutoff])
        self.status.emit(
            f"{heard.word!r} is learning not to fire on that sound "
            "(Words > Manage words... forgets it)"
        )
        self.words_changed()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._from_current_worker():
            self.show_problem(message, self.start_listening)

    @Slot(str)
    def _on_stalled(self, message: str) -> None:
        if not self._from_current_worker():
            return
        self.stalled = True
        self._stop_source_watch()
        self.cleared.emit()
        self.show_problem(message, self.start_listening)
        self.listening_changed.emit()

    @Slot()
    def _on_source_ended(self) -> None:
        if self._from_current_worker():
            self.status.emit("input ended")

    @Slot()
    def _on_worker_finished(self) -> None:
        if self._from_current_worker():
            assert self.worker is not None  # what _from_current_worker() checked
            self.worker.wait()
            self.worker = None
            self._stop_source_watch()
            self.listening_changed.emit()

    # ----- recording (the Add-word dialog) ------------------------------------------------

    def record(self, seconds: float) -> RecordingTap:
        """`seconds` from the selected microphone: from the running capture when listening (one
        stream per device), else from one opened for it off the GUI thread."""
        tap = RecordingTap(seconds)
        worker = self.worker
        if worker is not None and not self.stalled and not worker.listener.stopping:
            worker.add_tap(tap)
            return tap
        if worker is not None:  # stalled or stopping: the new capture waits for it to let go
            previous: Listener | None = worker.listener
        else:
            previous = self._retired_workers[-1].listener if self._retired_workers else None
        self._recording = record(
            self._source_factory, self.selected_device, self.stream_config, tap, previous
        )
        return tap

    # ----- shutdown -----------------------------------------------------------------------

    def shutdown(self, timeout_s: float) -> None:
        """Stop everything; a worker still running after `timeout_s` is kept alive until the
        process exits (destroying a running QThread aborts the process)."""
        self.closed = True
        if self._vocabulary_job is not None:
            self._vocabulary_job.cancel()
        if self._import_job is not None:
            self._import_job.cancel()  # the file is installed whole or not at all
        if self._recording is not None:
            self._recording.request_stop()
        self.stop_listening()
        deadline = time.monotonic() + timeout_s
        for worker in self._retired_workers:
            remaining_ms = max(0, int((deadline - time.monotonic()) * MS_PER_SECOND))
            if not worker.wait(remaining_ms):
                logger.warning("a pipeline worker did not stop within %g s", timeout_s)
                keep_until_exit(worker)
        self._retired_workers.clear()
        job = self._vocabulary_job
        if job is not None:
            job.wait(max(0.0, deadline - time.monotonic()))  # cancelled: ends after its word
        self.settings.save_decoder_config(self.decoder_config)
        if self.selected_device is not None:
            self.settings.device_name = self.selected_device.name
