"""The signal-to-noise ratios that training's augmentation gives command words.

The streams that measure the app mix noise at 5, 10 and 20 dB under each word; this prints what
training's own noise looks like next to that, for the dataset's fixed volume (the default) and
for `--noise-snr-db`. It runs the real `training.augment.Augmenter` on training-split command
clips with shift and gain off (so the added noise is the augmented clip minus the clip), then
adds the gain the augmenter would have drawn: with a fixed noise volume a louder clip has a
higher SNR; with an SNR range the noise follows the clip, so the gain changes nothing.

Usage:
  .venv/bin/python bench/training_snr.py [--data-dir ../shared/data/speech_commands]
      [--clips-per-word 40] [--noise-snr-db 0 30]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import fit_clip
from kws_app.dsp.levels import power_db
from training.augment import Augmenter
from training.config import DEFAULT_WANTED_WORDS, AugmentConfig
from training.data import SkipCounter, try_read_audio
from training.stream_data import list_audio_files, speech_extent, split_files

PERCENTILES = (5, 10, 25, 50, 75, 90)
THRESHOLDS_DB = (5.0, 10.0, 20.0)
NO_FLOOR = 0.0  # neither level is silent here: noiseless clips are skipped, words have speech


def word_clips(data_dir: Path, per_word: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Training-split clips of the command words, cut to one clip length, with a word in them."""
    frontend = FrontendConfig()
    skipped = SkipCounter()
    files = split_files(data_dir, "training")
    clips = []
    for word in DEFAULT_WANTED_WORDS:
        paths = [p for p in files if p.parent.name == word]
        for index in rng.permutation(len(paths))[:per_word]:
            wave = try_read_audio(paths[index], frontend.sample_rate, skipped)
            if wave is None or speech_extent(wave) is None:
                continue
            clips.append(fit_clip(wave, frontend))
    return clips


def measured_snrs(
    config: AugmentConfig, clips: np.ndarray, noises: list[np.ndarray], seed: int
) -> np.ndarray:
    """SNR in dB over each clip's spoken part, for the clips the augmenter added noise to."""
    frontend = FrontendConfig()
    plain = dataclasses.replace(config, time_shift_ms=0, gain_db_range=(0.0, 0.0))
    rng = np.random.default_rng(seed)
    noisy = Augmenter(plain, frontend, noises, seed).waves(clips, rng)
    snrs = []
    for clip, out in zip(clips, noisy, strict=True):
        noise = out - clip
        if not noise.any():
            continue
        start, end = speech_extent(clip) or (0, len(clip))
        snr = power_db(clip[start:end], NO_FLOOR) - power_db(noise, NO_FLOOR)
        if config.noise_snr_db is None:
            snr += rng.uniform(*config.gain_db_range)
        snrs.append(snr)
    return np.array(snrs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/speech_commands"))
    parser.add_argument("--clips-per-word", type=int, default=40)
    parser.add_argument("--noise-snr-db", type=float, nargs=2, default=(0.0, 30.0))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frontend = FrontendConfig()
    skipped = SkipCounter()
    noises = [
        wave
        for path in list_audio_files(args.data_dir / "_background_noise_")
        if (wave := try_read_audio(path, frontend.sample_rate, skipped)) is not None
    ]
    clips = np.stack(word_clips(args.data_dir, args.clips_per_word, np.random.default_rng(0)))
    print(f"{len(clips)} training command clips, {len(noises)} recorded noises")
    configs = {
        "fixed volume (default)": AugmentConfig(),
        "fixed volume, recorded noises only": AugmentConfig(generated_noise_fraction=0.0),
        f"--noise-snr-db {args.noise_snr_db[0]:g} {args.noise_snr_db[1]:g}": AugmentConfig(
            noise_snr_db=tuple(args.noise_snr_db)
        ),
    }
    for name, config in configs.items():
        snrs = measured_snrs(config, clips, noises, args.seed)
        shown = ", ".join(
            f"p{p} {v:.1f}"
            for p, v in zip(PERCENTILES, np.percentile(snrs, PERCENTILES), strict=True)
        )
        under = ", ".join(f"< {t:g} dB {np.mean(snrs < t):.0%}" for t in THRESHOLDS_DB)
        print(f"{name}: {len(snrs)} noisy clips; SNR dB {shown}; {under}")


if __name__ == "__main__":
    main()
