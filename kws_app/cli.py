"""`kws-app`: the window by default; file replay, headless listening and device listing on request.

User mistakes (a missing file, an unknown device, a broken model) end with one line on stderr and
exit code 2; nothing here lets a traceback reach the user for those.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from kws_app.audio.devices import DeviceError, InputDevice
from kws_app.audio.pulse import PulseSource, SourceWatch
from kws_app.audio.sources import SourceFactory
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.config_flags import DECODER_FLAGS, STREAM_FLAGS, add_setting_flags, given_options
from kws_app.errors import UserError, one_line
from kws_app.inference.loading import load_model
from kws_app.inference.operating_points import calibrated_decoder_values, follow_calibration
from kws_app.inference.pipeline import Scorer, operating_points_of
from kws_app.paths import default_model_path
from kws_app.session.listener import Listener, ListenerUpdate, SourceInfo

logger = logging.getLogger(__name__)

EXIT_USER_ERROR = 2
# --wav feeds the pipeline this much audio at a time. The resampler's working memory grows with the
# block (about 18 MB per second of 48 kHz input), so half a second keeps a replay near 10 MB
# whatever the file's length, at no cost in speed.
REPLAY_BLOCK_MS = 500
# Ctrl-C and `kill`: --headless stops listening on either.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Input overflow / dropped block counters go to stderr when they change, at most this often.
COUNTER_REPORT_INTERVAL_S = 5.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kws-app",
        description="Listen to a microphone and recognize spoken command words.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    mode.add_argument(
        "--wav",
        metavar="FILE",
        type=Path,
        help="replay an audio file (WAV, FLAC, OGG...) and print detections",
    )
    mode.add_argument(
        "--headless",
        action="store_true",
        help="listen without a window and print detections until Ctrl-C",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"ONNX model file (default: the bundled {default_model_path().name})",
    )
    parser.add_argument("--device", help="input device: index or part of its name")
    parser.add_argument(
        "--words-store",
        type=Path,
        default=None,
        help="custom words folder (default: the user data folder; see 'kws-app words --help')",
    )
    parser.add_argument(
        "--provider",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the model runs; auto uses CUDA when it works",
    )
    # Decoder and stream flags default to None, so "not given" stays distinguishable from "given
    # the default value": the window lays only the flags actually given over its saved settings.
    add_setting_flags(parser, DecoderConfig)
    add_setting_flags(parser, StreamConfig)
    parser.add_argument("--verbose", "-v", action="store_true", help="log what happens")
    return parser


def configs_from_args(
    args: argparse.Namespace, scorer: Scorer | None = None
) -> tuple[StreamConfig, DecoderConfig]:
    """The stream and decoder settings: each flag given, else the decoder values the scorer's
    model was calibrated at (its thresholds hold only there), else the app's default."""
    stream = replace(StreamConfig(), **given_options(args, STREAM_FLAGS))
    calibrated = calibrated_decoder_values(None if scorer is None else operating_points_of(scorer))
    decoder = follow_calibration(DecoderConfig(), calibrated)
    decoder = replace(decoder, **given_options(args, DECODER_FLAGS))
    return stream, decoder


def load_scorer(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The model, wrapped with the user's custom words when there are any."""
    from kws_app.session.vocabulary import with_custom_words
    from kws_app.words.store import WordStore

    return with_custom_words(load_model(args.model, args.provider), WordStore(args.words_store))


def run_list_devices() -> int:
    from kws_app.audio.devices import list_input_devices

    devices = list_input_devices()
    if not devices:
        print("no audio input devices found")
        return 0
    for device in devices:
        print(device.describe())
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Stream the file through the pipeline block by block: memory stays flat for any length."""
    from itertools import chain, repeat

    import numpy as np

    from kws_app.audio.files import AudioFileStream
    from kws_app.config import MS_PER_SECOND
    from kws_app.inference.pipeline import StreamingPipeline

    with AudioFileStream(args.wav) as audio:
        model = load_scorer(args)
        stream, decoder = configs_from_args(args, model)
        pipeline = StreamingPipeline(model, audio.sample_rate, stream, decoder)
        # Silence after the file, in the same blocks, so a word it ends on is decided (a 1-s
        # clip of one word).
        silence = np.zeros(audio.sample_rate * REPLAY_BLOCK_MS // MS_PER_SECOND, np.float32)
        tail = repeat(silence, math.ceil(pipeline.settle_ms / REPLAY_BLOCK_MS))
        for block in chain(audio.blocks(REPLAY_BLOCK_MS), tail):
            for detection in pipeline.process(block).detections:
                print(detection.to_json(), flush=True)
    return 0


class CounterReporter:
    """Prints the input overflow / dropped block counters to stderr as they change.

    At most once per `interval_s`, so a struggling machine does not flood the terminal, and once
    more at exit when they changed since: a user watching a long run sees trouble when it starts.
    """

    def __init__(
        self,
        interval_s: float = COUNTER_REPORT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._stream = stream
        self._reported = (0, 0)
        self._reported_at = -math.inf

    def update(self, overflows: int, drops: int, final: bool = False) -> None:
        counters = (overflows, drops)
        if counters == self._reported:
            return
        now = self._clock()
        if not final and now - self._reported_at < self._interval_s:
            return
        self._reported, self._reported_at = counters, now
        print(
            f"kws-app: input overflows: {overflows}, dropped blocks: {drops}",
            file=self._stream or sys.stderr,
            flush=True,
        )


def listen_headless(
    source_factory: SourceFactory,
    device: InputDevice | None,
    scorer: Scorer,
    stream: StreamConfig,
    decoder: DecoderConfig,
    stop: threading.Event,
    reporter: CounterReporter,
) -> None:
    """Print a JSON line per detection until `stop` is set, through the same listening loop as the
    window (rate fallback, stall detection); raises StreamStalledError when no audio came for the
    stall timeout, DeviceError when the device fails."""
    counters = {"overflows": 0, "drops": 0}
    watch = SourceWatch(_say_source_moved)

    def started(info: SourceInfo) -> None:
        print(
            f"listening on {info.name} at {info.sample_rate} Hz; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        watch.start()

    def updated(update: ListenerUpdate) -> None:
        for detection in update.detections:
            print(detection.to_json(), flush=True)
        counters.update(overflows=update.overflows, drops=update.drops)
        reporter.update(update.overflows, update.drops)

    listener = Listener(
        source_factory,
        device,
        stream,
        decoder,
        scorer,
        on_started=started,
        on_update=updated,
        stop=stop,
    )
    try:
        listener.run()  # closing is bounded: a stalled stream is left to a daemon thread
    finally:
        watch.stop()
        reporter.update(counters["overflows"], counters["drops"], final=True)


def _say_source_moved(source: PulseSource) -> None:
    """PulseAudio moved the stream to another source (a headset plugged in, the desktop's default
    changed): what is heard now comes from there. Called on the watch's thread."""
    print(
        f"kws-app: the sound server moved the input; now recording from {source.describe()}",
        file=sys.stderr,
        flush=True,
    )


def run_headless(args: argparse.Namespace) -> int:
    """Listen until Ctrl-C / SIGTERM (exit 0) or a device problem (DeviceError, exit 2)."""
    stop = _stop_on_signals()
    try:
        return _listen_until_stopped(args, stop)
    finally:
        _ignore_signals_while_exiting()


def _listen_until_stopped(args: argparse.Namespace, stop: threading.Event) -> int:
    from kws_app.audio.devices import find_input_device
    from kws_app.audio.sources import microphone_factory

    device = find_input_device(args.device)
    model = load_scorer(args)
    stream, decoder = configs_from_args(args, model)
    listen_headless(microphone_factory, device, model, stream, decoder, stop, CounterReporter())
    return 0


def _stop_on_signals() -> threading.Event:
    """Ctrl-C and `kill` set an event that the listener checks every POLL_INTERVAL_S.

    A handler that raised KeyboardInterrupt could fire inside the clean-up and replace its outcome
    (a stall message) with a traceback; an event cannot. It also works where a parent shell
    ignored SIGINT.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, request_stop)
    return stop


def _ignore_signals_while_exiting() -> None:
    """Listening is over and the exit (code and message) is under way. Python resets its signal
    handlers to the default while it shuts down, so a late Ctrl-C or `kill` would otherwise turn
    exit code 2 into a kill or a KeyboardInterrupt traceback."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def run_gui(args: argparse.Namespace) -> int:
    try:
        from kws_app.ui.app import run_app
    except ImportError as error:
        raise DeviceError(f"the window cannot start: {error}") from error
    return run_app(args)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "words":
        from kws_app.words_cli import main as words_main

        return words_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return _leave(_run(args))


def _run(args: argparse.Namespace) -> int:
    try:
        if args.list_devices:
            return run_list_devices()
        if args.wav is not None:
            return run_replay(args)
        if args.headless:
            return run_headless(args)
        return run_gui(args)
    except UserError as error:
        print(f"kws-app: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 0


def _shutdown_is_unsafe() -> bool:
    """A thread is still inside PortAudio (a stalled stream), a detached worker still runs or a
    background job still runs (a custom word training, a word file being imported): the
    interpreter's shutdown would terminate PortAudio under it (a hang or a double free), destroy a
    running QThread (an abort) or the model under training."""
    capture = sys.modules.get("kws_app.audio.capture")
    worker = sys.modules.get("kws_app.ui.worker")
    jobs = sys.modules.get("kws_app.session.jobs")
    return bool(
        (capture is not None and capture.portaudio_busy())
        or (worker is not None and worker.workers_still_running())
        or (jobs is not None and jobs.jobs_running())
    )


def _leave(code: int) -> int:
    """The exit code, after making sure nothing stuck can hold up or crash the exit."""
    if not _shutdown_is_unsafe():
        return code
    logger.info("an audio stream is stuck; leaving without terminating PortAudio")
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or file: nothing left to save
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
