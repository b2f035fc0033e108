"""Turns stored recordings into heads: augmentation, embeddings, negatives, and retraining.

A head is only valid for the base model whose embedding it was fitted on, so every head records the
model's identity (the SHA-256 of the model file, which holds its labels and front end too); when
the app loads another model, stale heads are retrained from the stored recordings in seconds.

Negatives teach each head what is NOT the word: digital silence and generated noise, the user's
room recording, the other custom words, time-reversed copies of the word's own examples (same
voice and spectrum, wrong order), and, when one matches the model, the shipped negative embeddings
(assets/words-negatives.npz: training-split clips of non-command words, command words, silence and
background noise; made by bench/words_negatives.py). Shipped negatives of a word with the same name
as the new word are left out, so teaching the app "marvin" does not fight its own examples.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample

from kws_app.audio.resample import to_rate
from kws_app.config import MS_PER_SECOND, FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor, fit_clip, fit_length
from kws_app.dsp.levels import db_to_amplitude, frame_powers, power_db, powers_to_db, rms_of
from kws_app.dsp.noise import NOISE_COLOURS, amplitude_slope, shape_spectrum
from kws_app.dsp.tilt import tilted
from kws_app.errors import UserError
from kws_app.words.calibration import (
    THRESHOLD_KEY,
    WordCalibrationConfig,
    word_operating_point,
)
from kws_app.words.head import HeadConfig, WordHead, fit_head
from kws_app.words.phrases import LAG_KEY, PhraseConfig, head_lag_ms, paired, window_pair
from kws_app.words.scorer import (
    DEFAULT_COMMAND_SHARE,
    CustomWordScorer,
    EmbeddingModel,
    available_mass,
    available_shares,
)
from kws_app.words.store import StoredWord, WordStore, WordStoreError
from kws_app.words.synthetic import (
    SYNTHETIC_TAKES_KEY,
    SyntheticVoiceError,
    SyntheticVoicesConfig,
    synthetic_other_words,
    synthetic_takes,
)
from kws_app.words.takes import FLOOR_PERCENTILE, SOUND_ABOVE_FLOOR_DB
from kws_app.words.vetoes import (
    CommandVeto,
    KeptStrides,
    KeptStridesError,
    VetoConfig,
    kept_strides_path,
    learn_veto,
    load_kept_strides,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

NEGATIVES_FILE_NAME = "words-negatives.npz"
NEGATIVES_FORMAT = "kws-words-negatives-1"
PROBABILITIES_KEY = "probabilities"
# Optional in the negatives file: for some speech rows (`EARLIER_ROWS_KEY`), the embedding of the
# window ending `EARLIER_LAG_KEY` ms before theirs in the same recording, so phrase heads
# (kws_app/words/phrases.py) learn what running speech looks like through their two windows.
EARLIER_EMBEDDINGS_KEY = "earlier_embeddings"
EARLIER_ROWS_KEY = "earlier_rows"
EARLIER_LAG_KEY = "earlier_lag_ms"
WHITENING_KEY = "within_whitening"
# Heads record the recipe that made them; older ones are retrained from the stored recordings.
# 4: the shipped negatives file holds noisy speech (bench/words_negatives.py), so heads
# calibrated on the clean file are retrained even though the model is the same. 5: words and
# phrases are calibrated to half the share of passing negatives (WordCalibrationConfig,
# PhraseConfig), so heads of a user's own base model are retrained too (the shipped model's new
# embedding changed its id). 6: a word is averaged over its own, longer window and calibrated
# to pass twice the share of negatives (WordCalibrationConfig), so every head is made again.
# 7: the shipped negatives file holds more running speech and the within-word whitening the
# heads are fitted through (WHITENING_KEY). 8: a word's "your speech" recording is only a source
# of negatives, no longer noise under its positives (TrainerConfig.background_as_noise), and ten
# times as many crops of it are negatives.
RECIPE_KEY = "trainer_recipe"
# The false alarms a head was trained with (WordStore.false_alarms_id); absent: none.
FALSE_ALARMS_KEY = "false_alarms"
TRAINER_RECIPE = 8
MAX_SHIPPED_NEGATIVES = 20000
ENERGY_FRAME_MS = 10
# A recording's noise floor is the mean power of its quietest 1/FLOOR_FRAME_FRACTION of frames.
FLOOR_FRAME_FRACTION = 10
ENERGY_FLOOR = 1e-10
WORD_BELOW_PEAK_DB = 25.0
# A noise recording within this many dB of digital silence is silence: it is not mixed in.
SILENT_NOISE_MARGIN_DB = 1.0


class TrainingError(UserError, ValueError):
    """Training cannot proceed; str() is a one-line message for the user."""


@dataclass(frozen=True)
class TrainerConfig:
    variants_per_example: int = 16
    # Each synthetic take is one crude voice among many: fewer variants than a real take.
    synthetic_variants_per_take: int = 4
    # Synthetic takes come with digital silence around the word; heard through the user's
    # microphone they would sit on its noise floor, so they get the floor of the user's takes.
    synthetic_on_users_floor: bool = True
    reversed_variants_per_example: int = 2
    # Negatives in the takes' own voice: each take's spoken part cut into segments of
    # `shuffle_segment_ms`, put in another order and joined with `shuffle_fade_ms` fades (the
    # same voice and microphone saying other sequences of sounds). Like the reversed copies they
    # train the head but never calibrate it.
    shuffled_variants_per_example: int = 0
    shuffle_segment_ms: int = 80
    shuffle_fade_ms: int = 5
    # Phrases only: variants of each half of each example, alone (a phrase needs both halves),
    # and pairs of unrelated negatives seen through the head's two windows.
    half_variants_per_example: int = 16
    phrase_random_pairs: int = 4000
    other_word_variants_per_example: int = 2
    gain_db_range: float = 6.0
    # Resampling by a random factor changes tempo and pitch together, a cheap stand-in for the
    # other speakers the five examples lack (vocal-tract-length perturbation).
    speed_range: tuple[float, float] = (0.88, 1.12)
    perturbed_fraction: float = 0.7
    # A perturbed variant is also tilted by a random slope within +-this many dB per octave
    # around `tilt_pivot_hz` (kws_app/dsp/tilt.py): other microphones and rooms than the takes'.
    tilt_db_per_octave: float = 0.0
    tilt_pivot_hz: float = 1000.0
    tilt_lowest_hz: float = 100.0
    noise_snr_db: tuple[float, float] = (5.0, 25.0)
    noisy_fraction: float = 0.5
    # The user's own speech (the Words dialog's optional recording) also as noise under the
    # word's positives, besides being a source of negatives. Off: mixed under the positives, the
    # voice's ordinary speech becomes part of what the head learns as the word, and the word
    # fired more on that voice (docs/benchmarks.md, "The user's own speech").
    background_as_noise: bool = False
    # Generated negatives: noise colours at these RMS levels, one second each.
    noise_levels_dbfs: tuple[float, ...] = (-70.0, -55.0, -40.0, -25.0)
    noise_clips_per_level: int = 3
    # Crops of the word's "your speech" recording among its negatives; 40 of about 20,000 rows
    # barely counted, more of them let the user's voice weigh in the fit and the calibration
    # (chosen on validation one-speaker sets: docs/benchmarks.md, "The user's own speech"). As
    # many again of its false alarms, where the user gave some back.
    background_clips: int = 400
    # Share of a command word's probability the word may take (scorer.available_shares): the
    # word's threshold is calibrated on the mass it can reach, so the scorer that decodes it
    # must use the same share.
    command_share: float = DEFAULT_COMMAND_SHARE
    seed: int = 1234
    synthetic: SyntheticVoicesConfig = SyntheticVoicesConfig()
    head: HeadConfig = HeadConfig()
    calibration: WordCalibrationConfig = WordCalibrationConfig()
    phrase: PhraseConfig = PhraseConfig()
    veto: VetoConfig = VetoConfig()


def model_id_of(path: Path | Sequence[Path]) -> str:
    """Identity of a model file: the SHA-256 of its bytes (labels and front end included); of a
    command model and its word embedder (kws_app/words/embedder.py), both joined by "+"."""
    if not isinstance(path, Path):
        return "+".join(model_id_of(part) for part in path)
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def energy_frame(sample_rate: int) -> int:
    """Samples per frame of the level measurements that find a take's spoken part."""
    return max(1, sample_rate * ENERGY_FRAME_MS // MS_PER_SECOND)


def word_span(samples: FloatArray, sample_rate: int) -> tuple[int, int]:
    """(start, end) samples of the loud part: frames within WORD_BELOW_PEAK_DB of the peak and
    clearly above the take's floor (as the take detector, kws_app/words/takes.py, asks). Without
    the floor condition a take whose noise lies within WORD_BELOW_PEAK_DB of the word counts its
    floor as speech, and a short word said into a noisy microphone looks like a long phrase."""
    frame = energy_frame(sample_rate)
    if samples.shape[0] < frame:
        return 0, samples.shape[0]
    level = powers_to_db(frame_powers(samples, frame), ENERGY_FLOOR)
    peak = float(level.max())
    floor = float(np.percentile(level, FLOOR_PERCENTILE))
    threshold = min(peak, max(peak - WORD_BELOW_PEAK_DB, floor + SOUND_ABOVE_FLOOR_DB))
    loud = np.flatnonzero(level >= threshold)
    return int(loud[0] * frame), int((loud[-1] + 1) * frame)


def spoken_samples(examples: Sequence[FloatArray], sample_rate: int) -> float:
    """The median length of the loud part of a word's examples."""
    spans = [end - start for start, end in (word_span(e, sample_rate) for e in examples)]
    return float(np.median(spans)) if spans else 0.0


def noise_floor_rms(samples: FloatArray, sample_rate: int) -> float:
    """A recording's noise floor: the RMS of its quietest tenth of energy frames."""
    quiet = np.sort(frame_powers(samples, energy_frame(sample_rate)))
    count = max(1, quiet.size // FLOOR_FRAME_FRACTION)
    return float(np.sqrt(quiet[:count].mean())) if quiet.size else 0.0


def on_floor(
    takes: list[FloatArray], floor_rms: float | None, rng: np.random.Generator
) -> list[FloatArray]:
    """Synthetic takes as the user's microphone would give them: on its noise floor (None: as
    they are, drawing nothing from `rng`)."""
    if not takes or floor_rms is None:
        return takes
    return [(take + rng.normal(0.0, floor_rms, take.size)).astype(np.float32) for take in takes]


def shuffled(
    example: FloatArray, sample_rate: int, config: TrainerConfig, rng: np.random.Generator
) -> FloatArray:
    """The take with its spoken part cut into `config.shuffle_segment_ms` segments in a random
    other order, each faded in and out over `config.shuffle_fade_ms` so the joins do not click;
    what lies around the spoken part stays where it was. A part of one segment is left as is."""
    start, end = word_span(example, sample_rate)
    segment = max(1, sample_rate * config.shuffle_segment_ms // MS_PER_SECOND)
    count = (end - start) // segment
    if count < 2:
        return example.copy()
    order = rng.permutation(count)
    while np.array_equal(order, np.arange(count)):
        order = rng.permutation(count)
    fade = min(segment // 2, sample_rate * config.shuffle_fade_ms // MS_PER_SECOND)
    envelope = np.ones(segment, dtype=np.float32)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        envelope[:fade], envelope[-fade:] = ramp, ramp[::-1]
    pieces = example[start : start + count * segment].reshape(count, segment)
    out = example.copy()
    out[start : start + count * segment] = (pieces[order] * envelope).reshape(-1)
    return out


def halves(example: FloatArray, sample_rate: int) -> tuple[FloatArray, FloatArray]:
    """The take cut in the middle of its loud part: what comes before, and what comes after."""
    start, end = word_span(example, sample_rate)
    middle = (start + end) // 2
    return example[:middle], example[middle:]


class Augmenter:
    """Windows around the spoken part, shifted, scaled and noised: one clip long, or a clip and
    `extra_samples` for a phrase (whose head reads two windows of it)."""

    def __init__(
        self,
        frontend: FrontendConfig,
        config: TrainerConfig,
        rng: np.random.Generator,
        extra_samples: int = 0,
    ):
        self.frontend = frontend
        self.config = config
        self.rng = rng
        self.length = frontend.clip_samples + extra_samples

    def window(self, samples: FloatArray, centre: int, floor_rms: float) -> FloatArray:
        clip = self.length
        start = centre - clip // 2
        padded = np.zeros(clip, dtype=np.float32)
        source_start, source_end = max(0, start), min(samples.shape[0], start + clip)
        if source_end > source_start:
            padded[source_start - start : source_end - start] = samples[source_start:source_end]
        # Fill what lies outside the recording with noise at the recording's own floor, so the
        # head never learns "digital silence at the edges" as part of the word.
        outside = np.ones(clip, dtype=bool)
        outside[max(0, source_start - start) : max(0, source_end - start)] = False
        padded[outside] = self.rng.normal(0.0, floor_rms, int(outside.sum())).astype(np.float32)
        return padded

    def variants(
        self, samples: FloatArray, count: int, noises: Sequence[FloatArray]
    ) -> list[FloatArray]:
        out = [self._variant(samples, index == 0, noises) for index in range(count)]
        return out

    def _variant(self, samples: FloatArray, original: bool, noises: Sequence[FloatArray]):  # type: ignore[no-untyped-def]
        if not original and self.rng.random() < self.config.perturbed_fraction:
            factor = self.rng.uniform(*self.config.speed_range)
            samples = resample(samples, max(1, int(round(samples.shape[0] / factor)))).astype(
                np.float32
            )
            samples = self.tilt(samples)
        rate = self.frontend.sample_rate
        clip = self.length
        start, end = word_span(samples, rate)
        centre = (start + end) // 2
        slack = max(0, (clip - (end - start)) // 2)
        floor_rms = noise_floor_rms(samples, rate)
        shift = 0 if original else int(self.rng.integers(-slack, slack + 1))
        clip_samples = self.window(samples, centre + shift, floor_rms)
        if not original:
            gain_db = self.rng.uniform(-self.config.gain_db_range, self.config.gain_db_range)
            clip_samples = clip_samples * np.float32(db_to_amplitude(gain_db))
            if noises and self.rng.random() < self.config.noisy_fraction:
                clip_samples = self.mix(clip_samples, noises)
        return clip_samples.astype(np.float32)

    def tilt(self, samples: FloatArray) -> FloatArray:
        """`samples` at a random spectral tilt (as they are, drawing nothing, when tilts are
        off: the trainer's draws, and so its heads, stay those of a trainer without them)."""
        limit = self.config.tilt_db_per_octave
        if limit <= 0.0:
            return samples
        slope = float(self.rng.uniform(-limit, limit))
        config, rate = self.config, self.frontend.sample_rate
        return tilted(samples, slope, rate, config.tilt_pivot_hz, config.tilt_lowest_hz)

    def mix(self, clip_samples: FloatArray, noises: Sequence[FloatArray]) -> FloatArray:
        noise = self.crop(noises[int(self.rng.integers(len(noises)))])
        snr_db = self.rng.uniform(*self.config.noise_snr_db)
        noise_db = power_db(noise, ENERGY_FLOOR)
        if noise_db <= float(powers_to_db(0.0, ENERGY_FLOOR)) + SILENT_NOISE_MARGIN_DB:
            return clip_samples
        gain = db_to_amplitude(power_db(clip_samples, ENERGY_FLOOR) - snr_db - noise_db)
        return (clip_samples + np.float32(gain) * noise).astype(np.float32)

    def crop(self, noise: FloatArray) -> FloatArray:
        clip = self.length
        if noise.shape[0] <= clip:
            return fit_length(noise, clip)
        start = int(self.rng.integers(0, noise.shape[0] - clip))
        return noise[start : start + clip]


def generated_noise(colour: str, samples: int, rng: np.random.Generator) -> FloatArray:
    """White, pink (1/f) or brown (1/f^2) noise with unit RMS, shaped in the frequency domain
    (white too: the heads were tuned on exactly this noise)."""
    noise = shape_spectrum(rng.standard_normal(samples), amplitude_slope(colour))
    return (noise / (rms_of(noise) + ENERGY_FLOOR)).astype(np.float32)


@dataclass(frozen=True)
class ShippedNegatives:
    embeddings: FloatArray
    labels: tuple[str, ...]  # one per row
    # The base model's probabilities for each row; None in files made before they were kept.
    probabilities: FloatArray | None = None
    # Rows of running speech with the embedding of the window ending `earlier_lag_ms` before
    # theirs (EARLIER_EMBEDDINGS_KEY); none in files made before phrases.
    earlier_rows: npt.NDArray[np.int64] | None = None
    earlier_embeddings: FloatArray | None = None
    earlier_lag_ms: int = 0
    # A square matrix the heads' standardised embeddings are multiplied by (WHITENING_KEY);
    # None in files made without one.
    whitening: FloatArray | None = None

    def keep_mask(self, name: str) -> npt.NDArray[np.bool_]:
        unwanted = name.casefold()
        return np.array([label.casefold() != unwanted for label in self.labels], dtype=bool)

    def excluding(self, name: str) -> tuple[FloatArray | None, FloatArray]:
        """(probabilities, embeddings) of every row not labelled `name`, as `outputs` gives."""
        keep = self.keep_mask(name)
        probabilities = None if self.probabilities is None else self.probabilities[keep]
        return probabilities, self.embeddings[keep]

    def speech_pairs(self, name: str, lag_ms: int) -> tuple[FloatArray | None, FloatArray] | None:
        """(probabilities, paired embeddings) of the running-speech rows seen through a phrase
        head's two windows, or None when the file has none for this lag."""
        if self.earlier_rows is None or self.earlier_embeddings is None:
            return None
        if self.earlier_lag_ms != lag_ms:
            return None
        keep = self.keep_mask(name)[self.earlier_rows]
        rows = self.earlier_rows[keep]
        probabilities = None if self.probabilities is None else self.probabilities[rows]
        return probabilities, paired(self.earlier_embeddings[keep], self.embeddings[rows])


def load_shipped_negatives(path: Path, model_id: str, size: int) -> ShippedNegatives | None:
    """The negatives file if it was made with this very model, else None (it is then skipped)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != NEGATIVES_FORMAT or str(data["model_id"]) != model_id:
                logger.info("%s was made for another model; not using it", path.name)
                return None
            embeddings = np.asarray(data["embeddings"], dtype=np.float32)
            label_index = np.asarray(data["label_index"])
            label_names = [str(name) for name in data["label_names"]]
            probabilities = (
                np.asarray(data[PROBABILITIES_KEY], dtype=np.float32)
                if PROBABILITIES_KEY in data.files
                else None
            )
            whitening = (
                np.asarray(data[WHITENING_KEY], dtype=np.float32)
                if WHITENING_KEY in data.files
                else None
            )
            earlier: tuple[npt.NDArray[np.int64], FloatArray, int] | None = None
            if EARLIER_EMBEDDINGS_KEY in data.files:
                earlier = (
                    np.asarray(data[EARLIER_ROWS_KEY], dtype=np.int64),
                    np.asarray(data[EARLIER_EMBEDDINGS_KEY], dtype=np.float32),
                    int(data[EARLIER_LAG_KEY]),
                )
    except (OSError, KeyError, ValueError) as error:
        logger.warning("cannot read %s: %s", path, error)
        return None
    if (
        embeddings.ndim != 2
        or embeddings.shape[1] != size
        or not 0 < embeddings.shape[0] <= MAX_SHIPPED_NEGATIVES
        or label_index.shape != (embeddings.shape[0],)
        or label_index.min() < 0
        or label_index.max() >= len(label_names)
        or not np.all(np.isfinite(embeddings))
        or (
            probabilities is not None
            and (
                probabilities.ndim != 2
                or probabilities.shape[0] != embeddings.shape[0]
                or not np.all(np.isfinite(probabilities))
            )
        )
        or (
            whitening is not None
            and (whitening.shape != (size, size) or not np.all(np.isfinite(whitening)))
        )
    ):
        logger.warning("%s has inconsistent shapes; not using it", path.name)
        return None
    labels = tuple(label_names[int(index)] for index in label_index)
    if earlier is not None:
        rows, earlier_embeddings, lag_ms = earlier
        if (
            rows.ndim != 1
            or earlier_embeddings.shape != (rows.shape[0], size)
            or (rows.size and (rows.min() < 0 or rows.max() >= embeddings.shape[0]))
            or not np.all(np.isfinite(earlier_embeddings))
            or lag_ms <= 0
        ):
            logger.warning("%s has inconsistent phrase rows; not using them", path.name)
        else:
            return ShippedNegatives(
                embeddings, labels, probabilities, rows, earlier_embeddings, lag_ms, whitening
            )
    return ShippedNegatives(embeddings, labels, probabilities, whitening=whitening)


@dataclass
class WordAudio:
    """A word's recordings at the model's sample rate."""

    name: str
    examples: list[FloatArray]
    background: FloatArray | None
    # Takes of the word in other voices (kws_app/words/synthetic.py): positives only; the user's
    # own takes alone decide the word's length and its phrase halves.
    synthetic: list[FloatArray] = field(default_factory=list)
    # Other words said by the same synthetic voices: negatives only.
    synthetic_negatives: list[FloatArray] = field(default_factory=list)
    # What the word fired on and the user said was not it (WordStore.add_false_alarm), joined:
    # negatives that also calibrate, cropped as the background recording is.
    false_alarms: FloatArray | None = None
    false_alarms_id: int = 0  # WordStore.false_alarms_id: recorded in the head it makes


class WordTrainer:
    """Fits heads for a base model; keeps its embedding of the fixed negatives between words."""

    def __init__(
        self,
        model: EmbeddingModel,
        model_path: Path | Sequence[Path],
        negatives_path: Path | None = None,
        config: TrainerConfig | None = None,
        kept_path: Path | None = None,
    ) -> None:
        self.model = model
        self.config = config or TrainerConfig()
        self.model_id = model_id_of(model_path)
        self.frontend = model.frontend
        self._extractor = FeatureExtractor(self.frontend)
        probe_probabilities, probe = model.run(
            np.zeros((1, *self.frontend.input_shape), dtype=np.float32)
        )
        if probe is None:
            raise TrainingError(
                "this model has no 'embedding' output, so it cannot learn custom words"
            )
        self.embedding_size = int(probe.shape[1])
        if negatives_path is None:
            from kws_app.paths import assets_dir

            negatives_path = assets_dir() / NEGATIVES_FILE_NAME
        self.shipped = load_shipped_negatives(negatives_path, self.model_id, self.embedding_size)
        command_path = model_path if isinstance(model_path, Path) else model_path[0]
        self.kept = self._load_kept(kept_path or kept_strides_path(command_path))
        # Per command word, its veto and the identities of the false alarms and own takes it
        # was learned from (AlarmFile.identity).
        self._vetoes: dict[str, tuple[tuple[int, int], CommandVeto | None]] = {}
        self._generated: tuple[FloatArray, FloatArray] | None = None
        self._shares = available_shares(model.labels, self.config.command_share)

    def embed(self, clips: Sequence[FloatArray]) -> FloatArray:
        return self.outputs(clips)[1]

    def outputs(self, clips: Sequence[FloatArray]) -> tuple[FloatArray, FloatArray]:
        """The base model's (probabilities, embeddings) for 1-s clips, in batches."""
        if not clips:
            return (
                np.zeros((0, len(self.model.labels)), dtype=np.float32),
                np.zeros((0, self.embedding_size), dtype=np.float32),
            )
        features = np.stack([self._extractor.compute(fit_clip(c, self.frontend)) for c in clips])
        probabilities: list[FloatArray] = []
        embeddings: list[FloatArray] = []
        batch = 128
        for start in range(0, features.shape[0], batch):
            probability, embedding = self.model.run(features[start : start + batch])
            assert embedding is not None
            probabilities.append(np.asarray(probability, dtype=np.float32))
            embeddings.append(np.asarray(embedding, dtype=np.float32))
        return np.concatenate(probabilities), np.concatenate(embeddings)

    def available_mass(self, probabilities: FloatArray | None, rows: int) -> FloatArray:
        """Per row, the base-model mass a custom word may take (`scorer.combine`); all of it
        when the probabilities are unknown, which can only make a threshold stricter."""
        if probabilities is None:
            return np.ones(rows, dtype=np.float32)
        return available_mass(probabilities, self._shares)

    def _generated_negatives(self) -> tuple[FloatArray, FloatArray]:
        if self._generated is None:
            rng = np.random.default_rng(self.config.seed)
            clip = self.frontend.clip_samples
            clips = [np.zeros(clip, dtype=np.float32)]
            for colour in NOISE_COLOURS:
                for level_db in self.config.noise_levels_dbfs:
                    for _ in range(self.config.noise_clips_per_level):
                        noise = generated_noise(colour, clip, rng)
                        clips.append(noise * np.float32(db_to_amplitude(level_db)))
            self._generated = self.outputs(clips)
        return self._generated

    def _load_kept(self, path: Path) -> KeptStrides | None:
        """What command-word vetoes learn against; None (no vetoes, one warning) where the file
        is missing, made for another model or damaged: custom words do not need it."""
        try:
            return load_kept_strides(path, self.model_id, self.embedding_size)
        except KeptStridesError as error:
            logger.warning("command words cannot learn false alarms: %s", error)
            return None

    def command_veto(
        self,
        label: str,
        alarms: tuple[Sequence[FloatArray], int],
        own: tuple[Sequence[FloatArray], int] | None = None,
        identity: tuple[int, int] | None = None,
    ) -> CommandVeto | None:
        """The veto of the command word `label` from its false alarms and the user's own takes
        of it (each: sounds and their rate); None where this model has no kept strides for it.
        With the `identity` of both (`AlarmFile.identity`), a veto learned before from the
        same ones is reused."""
        cached = self._vetoes.get(label)
        if identity is not None and cached is not None and cached[0] == identity:
            return cached[1]
        if self.kept is None:
            return None
        rate = self.frontend.sample_rate

        def at_rate(sounds: tuple[Sequence[FloatArray], int] | None) -> list[FloatArray]:
            return [] if sounds is None else [to_rate(s, sounds[1], rate) for s in sounds[0]]

        veto = learn_veto(
            label,
            at_rate(alarms),
            self.kept,
            self.embed,
            self.frontend,
            self.config.veto,
            own=at_rate(own),
        )
        if identity is not None:
            self._vetoes[label] = (identity, veto)
        return veto

    @property
    def vetoable(self) -> tuple[str, ...]:
        """The model's command words that can learn a veto (the kept strides hold them)."""
        kept = () if self.kept is None else self.kept.labels
        return tuple(label for label in self.model.labels if label in kept)

    def word_audio(self, store: WordStore, word: StoredWord) -> WordAudio:
        rate = self.frontend.sample_rate
        examples = [to_rate(samples, r, rate) for samples, r in store.examples(word)]
        background = store.background(word)
        alarms = store.false_alarms(word)
        return WordAudio(
            word.name,
            examples,
            to_rate(*background, rate) if background is not None else None,
            false_alarms=to_rate(*alarms, rate) if alarms is not None else None,
            false_alarms_id=store.false_alarms_id(word) if alarms is not None else 0,
        )

    def phrase_outputs(
        self, long_clips: Sequence[FloatArray], lag_ms: int
    ) -> tuple[FloatArray, FloatArray]:
        """(probabilities of the latest window, paired embeddings) of phrase windows: what a
        phrase head reads when each window ends now (kws_app/words/phrases.py)."""
        pairs = [window_pair(clip, self.frontend, lag_ms) for clip in long_clips]
        _, earlier = self.outputs([first for first, _ in pairs])
        probabilities, latest = self.outputs([second for _, second in pairs])
        return probabilities, paired(earlier, latest)

    def lag_for(self, word: WordAudio) -> int:
        """The phrase lag (ms) a word needs, or 0 when one window holds it."""
        phrase = self.config.phrase
        spoken = spoken_samples(word.examples, self.frontend.sample_rate)
        return phrase.lag_ms if phrase.is_phrase(spoken, self.frontend) else 0

    def train_audio(self, word: WordAudio, others: Sequence[WordAudio]) -> WordHead:
        config = self.config
        rng = np.random.default_rng(config.seed)
        lag_ms = self.lag_for(word)
        extra = config.phrase.lag_samples(self.frontend) if lag_ms else 0
        augmenter = Augmenter(self.frontend, config, rng, extra)

        def outputs(clips: Sequence[FloatArray]) -> tuple[FloatArray, FloatArray]:
            return self.phrase_outputs(clips, lag_ms) if lag_ms else self.outputs(clips)

        noises: list[FloatArray] = []
        if word.background is not None and config.background_as_noise:
            noises.append(word.background)
        noises.extend(generated_noise(c, augmenter.length * 2, rng) for c in NOISE_COLOURS)

        positive_outputs = [
            outputs(augmenter.variants(example, config.variants_per_example, noises))
            for example in word.examples
        ]
        floor_rms = self._users_floor(word)
        positive_outputs += [
            outputs(augmenter.variants(take, config.synthetic_variants_per_take, noises))
            for take in on_floor(word.synthetic, floor_rms, rng)
        ]
        reversed_clips: list[FloatArray] = []
        for example in word.examples:
            reversed_clips += augmenter.variants(
                example[::-1].copy(), config.reversed_variants_per_example, noises
            )
        if config.shuffled_variants_per_example > 0:
            for example in word.examples:
                reversed_clips += augmenter.variants(
                    shuffled(example, self.frontend.sample_rate, config, rng),
                    config.shuffled_variants_per_example,
                    noises,
                )
        negative_clips: list[FloatArray] = []
        for other in others:
            for example in other.examples:
                negative_clips += augmenter.variants(
                    example, config.other_word_variants_per_example, noises
                )
        for take in on_floor(word.synthetic_negatives, floor_rms, rng):
            negative_clips += augmenter.variants(take, 1, noises)
        for recording in (word.background, word.false_alarms):
            if recording is None:
                continue
            for _ in range(config.background_clips):
                gain = np.float32(db_to_amplitude(rng.uniform(-12.0, 6.0)))
                negative_clips.append(augmenter.crop(recording) * gain)
        # Time-reversed copies teach the head the word's order but are no sound a user makes
        # (and a steady sound reversed is itself), so they train the head, never calibrate it.
        one_window: list[tuple[FloatArray | None, FloatArray]] = [self._generated_negatives()]
        if self.shipped is not None:
            one_window.append(self.shipped.excluding(word.name))
        negatives: list[tuple[FloatArray | None, FloatArray]]
        if lag_ms:
            half_clips: list[FloatArray] = []
            for example in word.examples:
                for half in halves(example, self.frontend.sample_rate):
                    half_clips += augmenter.variants(half, config.half_variants_per_example, noises)
            negatives = [
                outputs(reversed_clips),
                outputs(negative_clips),
                outputs(half_clips),
                *self._phrase_negatives(word.name, lag_ms, one_window, rng),
            ]
        else:
            negatives = [
                outputs(reversed_clips),
                one_window[0],
                outputs(negative_clips),
                *one_window[1:],
            ]
        fit = fit_head(
            [embeddings for _, embeddings in positive_outputs],
            np.concatenate([embeddings for _, embeddings in negatives]),
            self.model_id,
            config.head,
            transform=self._transform(lag_ms),
        )
        positive_mass = np.concatenate(
            [self.available_mass(p, e.shape[0]) for p, e in positive_outputs if e.shape[0]]
        )
        negative_mass = np.concatenate([self.available_mass(p, e.shape[0]) for p, e in negatives])
        calibrating = fit.held_out_negative_rows >= len(reversed_clips)
        # The threshold rests on the negatives alone; the detection it reports is the user's
        # own takes' (they come first), not the synthetic voices'.
        own_rows = sum(e.shape[0] for _, e in positive_outputs[: len(word.examples)])
        point = word_operating_point(
            fit.held_out_positive_scores[:own_rows],
            positive_mass[:own_rows],
            fit.held_out_negative_scores[calibrating],
            negative_mass[fit.held_out_negative_rows[calibrating]],
            replace(
                config.calibration,
                negative_pass_rate=config.phrase.negative_pass_rate,
                average_window_ms=config.phrase.average_window_ms,
            )
            if lag_ms
            else config.calibration,
        )
        head = replace(
            fit.head,
            bias=fit.head.bias + point.logit_shift,
            details={
                **fit.head.details,
                **point.details(),
                RECIPE_KEY: TRAINER_RECIPE,
                # fit_head counted the synthetic takes among the examples; these are the user's.
                "examples": len(word.examples),
                SYNTHETIC_TAKES_KEY: len(word.synthetic),
                **({LAG_KEY: lag_ms} if lag_ms else {}),
                **({FALSE_ALARMS_KEY: word.false_alarms_id} if word.false_alarms_id else {}),
            },
        )
        logger.info("trained custom word %r: %s", word.name, head.details)
        return head

    def _users_floor(self, word: WordAudio) -> float | None:
        """The noise floor synthetic takes are put on: the user's takes' median, or None."""
        if not (word.synthetic or word.synthetic_negatives):
            return None
        if not self.config.synthetic_on_users_floor:
            return None
        rate = self.frontend.sample_rate
        return float(np.median([noise_floor_rms(example, rate) for example in word.examples]))

    def _transform(self, lag_ms: int) -> FloatArray | None:
        """The shipped whitening for this head's input: one per window it reads."""
        if self.shipped is None or self.shipped.whitening is None:
            return None
        whitening = self.shipped.whitening
        if not lag_ms:
            return whitening
        return np.kron(np.eye(2, dtype=np.float32), whitening)

    def _phrase_negatives(
        self,
        name: str,
        lag_ms: int,
        one_window: Sequence[tuple[FloatArray | None, FloatArray]],
        rng: np.random.Generator,
    ) -> list[tuple[FloatArray | None, FloatArray]]:
        """Negatives as a phrase head sees them, from one-window negatives: generated noise in
        both windows, two unrelated sounds in a row, and running speech through both windows
        (the shipped file's speech pairs)."""
        generated_probabilities, generated = one_window[0]
        out: list[tuple[FloatArray | None, FloatArray]] = [
            (generated_probabilities, paired(generated, generated))
        ]
        probabilities = [p for p, _ in one_window]
        known = [p for p in probabilities if p is not None]
        pool = np.concatenate([e for _, e in one_window])
        rows = rng.integers(0, pool.shape[0], (2, self.config.phrase_random_pairs))
        latest_probabilities = (
            np.concatenate(known)[rows[1]] if len(known) == len(probabilities) else None
        )
        out.append((latest_probabilities, paired(pool[rows[0]], pool[rows[1]])))
        if self.shipped is not None:
            speech = self.shipped.speech_pairs(name, lag_ms)
            if speech is not None:
                out.append(speech)
        return out

    def train_stored(
        self, word: StoredWord, audio: WordAudio, others: Sequence[WordAudio]
    ) -> WordHead:
        """A stored word's head: its recordings (`audio`) and what its record adds to them.

        The one place a stored word becomes a head (kws_app/words/refresh.py calls it for the
        window and the command line alike)."""
        return self.train_audio(self.with_synthetic_voices(audio, word.record.spelling), others)

    def with_synthetic_voices(self, word: WordAudio, spelling: str | None) -> WordAudio:
        """The word with synthetic takes of its spelling, or as it is when it has no spelling or
        espeak-ng cannot say it (the word then learns from the user's takes alone)."""
        if spelling is None or self.config.synthetic.takes <= 0:
            return word
        rate, config = self.frontend.sample_rate, self.config.synthetic
        try:
            takes = synthetic_takes(spelling, rate, config)
            others = synthetic_other_words(spelling, rate, config) if config.other_words else []
        except (SyntheticVoiceError, ValueError) as error:
            logger.warning("custom word %r learns from its own takes only: %s", word.name, error)
            return word
        return replace(word, synthetic=takes, synthetic_negatives=others)

    def head_is_current(self, head: WordHead) -> bool:
        """A head fitted on this very model (same embedding) by this recipe, with its own
        operating point."""
        windows = 2 if head_lag_ms(head.details) else 1
        return (
            head.model_id == self.model_id
            and head.embedding_size == windows * self.embedding_size
            and THRESHOLD_KEY in head.details
            and head.details.get(RECIPE_KEY) == TRAINER_RECIPE
            and head_lag_ms(head.details) in (0, self.config.phrase.lag_ms)
        )

    def clashes(self, words: Sequence[StoredWord]) -> dict[str, str]:
        """The stored words whose name is already one of the model's labels (word -> label).

        A model trained later on a word the user had taught (or one that happens to share its
        name) must still load: its own word wins, and the custom word waits, untouched, until it
        is renamed or another model is used.
        """
        labels = {label.casefold(): label for label in self.model.labels}
        clashes: dict[str, str] = {}
        for word in words:
            clash = labels.get(word.name.casefold())
            if clash is None:
                continue
            clashes[word.name] = clash
            logger.warning(
                "custom word %r is not used: the model has its own word %r "
                "(rename the custom word to use both)",
                word.name,
                clash,
            )
        return clashes

    def scorer(
        self, heads: Sequence[tuple[str, WordHead]], vetoes: Sequence[CommandVeto] = ()
    ) -> CustomWordScorer:
        return CustomWordScorer(self.model, heads, self.config.command_share, vetoes)


__all__ = [
    "TrainerConfig",
    "TrainingError",
    "WordStoreError",
    "WordTrainer",
    "model_id_of",
]
