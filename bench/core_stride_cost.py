"""Per-stride cost of the live path on one core: front end for one stride + one model run + decoder.

Usage: taskset -c 0 .venv/bin/python bench/core_stride_cost.py [--model M] [--strides N]
Feeds one clip stride of audio at a time (as the GUI worker does with a 30 ms stride) and prints
the median and p99 of StreamingPipeline.process's wall time per stride. With --custom-word the
pipeline scores one custom word too, built as the app builds it (kws_app/session/vocabulary.py:
with the word embedder the model names, a second model call per stride); its head is learned
from tones, since what it learned does not change what a stride costs.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from kws_app.config import MS_PER_SECOND, StreamConfig
from kws_app.inference.loading import load_model
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import Scorer, StreamingPipeline
from kws_app.paths import default_model_path
from kws_app.session.vocabulary import build_vocabulary
from kws_app.words.embedder import PairedModel, identity_paths, words_model
from kws_app.words.refresh import learn
from kws_app.words.store import WordStore
from kws_app.words.trainer import WordTrainer

TONE_WORD = "tone"
TONE_HZ = 1500.0
TONE_TAKES = 5
TONE_SECONDS = 0.5


def learn_tone_word(model: OnnxModel, store: WordStore) -> WordTrainer:
    """Teach `store` one custom word (a tone) for `model`, as the app pairs it, so a vocabulary
    built from the store holds a current head; the trainer, which a build can reuse."""
    rate = model.frontend.sample_rate
    times = np.arange(int(TONE_SECONDS * rate)) / rate
    takes = [
        (0.3 * np.sin(2 * np.pi * TONE_HZ * (1 + index / 50) * times)).astype(np.float32)
        for index in range(TONE_TAKES)
    ]
    model_for_words, _ = words_model(model)
    trainer = WordTrainer(model_for_words, identity_paths(model_for_words))
    learn(trainer, store, TONE_WORD, takes, rate)
    return trainer


def with_one_word(model: OnnxModel) -> Scorer:
    """The model with one custom word, through the app's own vocabulary build."""
    with tempfile.TemporaryDirectory() as folder:
        store = WordStore(Path(folder))
        trainer = learn_tone_word(model, store)
        vocabulary = build_vocabulary(model, store, trainer=trainer)
    if vocabulary.words != (TONE_WORD,):
        raise SystemExit(f"the custom word did not train: {vocabulary.messages}")
    return vocabulary.scorer


def describe_scorer(scorer: Scorer) -> str:
    base = getattr(scorer, "base", None)
    if isinstance(base, PairedModel):
        return f"embedding from {base.embedder.path.name} (two model calls per stride)"
    return "embedding from the model itself (one model call per stride)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--strides", type=int, default=3000)
    parser.add_argument("--provider", choices=("cpu", "auto", "cuda"), default="cpu")
    parser.add_argument(
        "--custom-word", action="store_true", help="score one custom word too, as the app does"
    )
    args = parser.parse_args()

    model = load_model(Path(args.model), args.provider)
    stream = StreamConfig()
    rate = model.frontend.sample_rate
    scorer = with_one_word(model) if args.custom_word else model
    pipeline = StreamingPipeline(scorer, rate, stream)
    stride_samples = rate * stream.clip_stride_ms // MS_PER_SECOND
    rng = np.random.default_rng(0)
    audio = (0.05 * rng.standard_normal(stride_samples * (args.strides + 100))).astype(np.float32)
    pipeline.process(audio[: model.frontend.clip_samples])  # fill the first clip
    costs = []
    for index in range(args.strides):
        block = audio[index * stride_samples : (index + 1) * stride_samples]
        started = time.perf_counter()
        output = pipeline.process(block)
        costs.append(time.perf_counter() - started)
        assert len(output.strides) == 1
    ms = np.array(costs) * MS_PER_SECOND
    params = model.info.parameter_count
    print(f"machine: {platform.processor() or platform.machine()}, provider {model.provider}")
    print(
        f"model: {model.info.model_name} ({params} parameters), stride {stream.clip_stride_ms} ms"
    )
    if args.custom_word:
        print(f"with one custom word: {describe_scorer(scorer)}")
    print(
        f"per-stride cost over {args.strides} strides: median {np.median(ms):.3f} ms, "
        f"p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.3f} ms"
    )


if __name__ == "__main__":
    main()
