"""Per-stride cost of the live path on one core: front end for one stride + one model run + decoder.

Usage: taskset -c 0 .venv/bin/python bench/core_stride_cost.py [--model M] [--strides N]
Feeds one clip stride of audio at a time (as the GUI worker does with a 30 ms stride) and prints
the median and p99 of StreamingPipeline.process's wall time per stride.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from kws_app.config import MS_PER_SECOND, StreamConfig
from kws_app.inference.loading import load_model
from kws_app.inference.pipeline import StreamingPipeline
from kws_app.paths import default_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--strides", type=int, default=3000)
    parser.add_argument("--provider", choices=("cpu", "auto", "cuda"), default="cpu")
    args = parser.parse_args()

    model = load_model(Path(args.model), args.provider)
    stream = StreamConfig()
    rate = model.frontend.sample_rate
    pipeline = StreamingPipeline(model, rate, stream)
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
    print(
        f"per-stride cost over {args.strides} strides: median {np.median(ms):.3f} ms, "
        f"p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.3f} ms"
    )


if __name__ == "__main__":
    main()
