"""CPU use of the whole app while listening with its window visible, and word-end -> tile latency.

Usage: .venv/bin/python bench/gui_cpu_latency.py [--model M] [--words 24] [--idle-s 20]
           [--custom-word] [--command-veto LABEL]
Starts Xvfb and a private PulseAudio virtual microphone (tests/virtual_mic.py), launches the app
as its own process on the `pulse` device with a real X11 window, then
1. measures the app process's CPU time (/proc/<pid>/stat, all its threads) over --idle-s seconds
   of listening to silence, and again while the spoken words play;
2. plays --words real command-word clips (../shared/data, each one the model recognizes on its
   own) separated by silence, and for each takes the time from the end of the spoken word (last
   10 ms frame above -30 dB of the clip's peak) to the moment its tile lit in the window.
Prints the figures and a JSON line. Needs xvfb, pulseaudio, pulseaudio-utils, libasound2-plugins.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_SPEECH = REPO.parent / "shared" / "data" / "speech_commands"
sys.path.insert(0, str(REPO / "tests"))

MODEL_RATE = 16000
GAP_S = 1.5
END_FRAME_S = 0.01
END_LEVEL_DB = -30.0
CLIPS_TRIED_PER_WORD = 40
READY_TIMEOUT_S = 30.0
SETTLE_S = 2.0
# Other processes using more than this share of a core while the app listens make a busy machine.
BUSY_MACHINE_SHARE = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds all processes spent busy, summed over the cores (/proc/stat, first line)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / CLOCK_TICKS  # user .. steal


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread of `pid`, keyed by `<tid> <name>` (/proc/<pid>/task)."""
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        found[f"{task.name} {name}"] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def word_end_s(samples: np.ndarray) -> float:
    frame = int(END_FRAME_S * MODEL_RATE)
    count = samples.shape[0] // frame
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms / rms.max()) > END_LEVEL_DB)[0]
    return float((loud[-1] + 1) * frame / MODEL_RATE)


def pick_clips(model_path: Path, words: int) -> list[tuple[str, np.ndarray]]:
    """Round-robin over the model's words, clips it detects on their own (latency needs a hit)."""
    from test_ui_virtual_mic import detected_alone

    from kws_app.audio.files import read_audio
    from kws_app.inference.model import OnnxModel
    from kws_app.inference.pipeline import is_command_label

    model = OnnxModel(model_path, prefer_gpu=False)
    vocabulary = [label for label in model.labels if is_command_label(label)]
    candidates = {
        word: iter(sorted((SHARED_SPEECH / word).glob("*.flac"))[:CLIPS_TRIED_PER_WORD])
        for word in vocabulary
    }
    picked: list[tuple[str, np.ndarray]] = []
    while len(picked) < words and candidates:
        for word in list(candidates):
            for path in candidates[word]:
                samples, rate = read_audio(path)
                if rate == MODEL_RATE and detected_alone(model, samples, rate) == [word]:
                    picked.append((word, samples))
                    break
            else:
                del candidates[word]
            if len(picked) == words:
                break
    return picked


def run_child(args: argparse.Namespace) -> int:
    """The app itself, with one addition: it prints when each word's tile lights up."""
    from PySide6.QtCore import QSettings, QTimer

    from kws_app.cli import build_parser
    from kws_app.ui.app import create_window, ensure_application
    from kws_app.ui.settings import AppSettings

    app = ensure_application()
    words_store = str(Path(args.settings).parent / "words")  # the user's own words stay out
    app_args = build_parser().parse_args(
        ["--model", args.model, "--device", "pulse", "--words-store", words_store]
        + args.decoder.split()
    )
    settings = AppSettings(QSettings(args.settings, QSettings.Format.IniFormat))
    window = create_window(app_args, settings)
    window.word_shown.connect(
        lambda word, score, at: print(f"SHOWN {word} {score:.3f} {at:.6f}", flush=True)
    )
    window.show()

    def report_ready() -> None:
        update = window.controller.last_update
        if (
            window.controller.worker is not None
            and update is not None
            and update.stream_time_ms > 0
            and not window.controller.training_words  # custom words and vetoes are in place
        ):
            scorer = window.controller.scorer
            words = getattr(scorer, "word_names", ())
            print(f"READY custom words {words}, vetoes {window.controller.vetoed}", flush=True)
            ready_timer.stop()

    ready_timer = QTimer()
    ready_timer.timeout.connect(report_ready)
    ready_timer.start(50)
    signal.signal(signal.SIGTERM, lambda *_: window.close())
    wake = QTimer()  # lets Python run its signal handler while Qt's loop runs
    wake.timeout.connect(lambda: None)
    wake.start(200)
    return app.exec()


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    display = f":{100 + os.getpid() % 100}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return xvfb, display


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def run_bench(args: argparse.Namespace) -> int:
    from virtual_mic import VirtualMicrophone, write_wav

    model = Path(args.model)
    if not model.exists():
        print(f"model not found: {model}", file=sys.stderr)
        return 2
    clips = pick_clips(model, args.words)
    print(f"playing {len(clips)} words: {' '.join(word for word, _ in clips)}", flush=True)
    with tempfile.TemporaryDirectory() as folder, VirtualMicrophone() as microphone:
        if args.custom_word:  # in the store the child listens with (run_child's words_store)
            from core_stride_cost import learn_tone_word

            from kws_app.inference.model import OnnxModel
            from kws_app.words.store import WordStore

            learn_tone_word(OnnxModel(model, prefer_gpu=False), WordStore(Path(folder) / "words"))
            print("with one custom word (a tone), as a user's word is scored", flush=True)
        if args.command_veto:  # a false alarm of a command word given back: it gets a veto
            from kws_app.words.store import WordStore

            rng = np.random.default_rng(0)
            sound = rng.normal(0.0, 0.05, int(1.5 * MODEL_RATE)).astype(np.float32)
            store = WordStore(Path(folder) / "words")
            store.add_command_alarm(args.command_veto, sound, MODEL_RATE, MODEL_RATE)
            print(f"with a veto on {args.command_veto!r} (noise given back)", flush=True)
        parts: list[np.ndarray] = [np.zeros(MODEL_RATE, np.float32)]
        expected: list[tuple[str, float, float]] = []  # word, start_s, end_s in the played file
        position_s = 0.3 + 1.0  # write_wav's leading silence, then the first second of parts
        for word, samples in clips:
            expected.append((word, position_s, position_s + word_end_s(samples)))
            parts += [samples, np.zeros(int(GAP_S * MODEL_RATE), np.float32)]
            position_s += samples.shape[0] / MODEL_RATE + GAP_S
        wav = write_wav(Path(folder) / "words.wav", np.concatenate(parts), MODEL_RATE)
        offline = offline_latencies(model, wav, expected, args.decoder)
        xvfb, display = start_xvfb()
        env = {**os.environ, **microphone.env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", "--model", str(model)]
            + [f"--decoder={args.decoder}"]
            + ["--settings", str(Path(folder) / "settings.ini")],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            return _measure(args, microphone, wav, expected, child, xvfb, offline)
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
            xvfb.terminate()
            xvfb.wait()


def offline_latencies(
    model_path: Path, wav: Path, expected: list[tuple[str, float, float]], decoder_args: str
) -> list[float]:
    """Word end -> detection in stream time (model + decoder alone), replaying the same file
    with the decoder settings the app gets from the same options."""
    from kws_app.audio.files import read_audio
    from kws_app.cli import build_parser, configs_from_args
    from kws_app.inference.model import OnnxModel
    from kws_app.inference.pipeline import StreamingPipeline, replay

    model = OnnxModel(model_path, prefer_gpu=False)
    stream, decoder = configs_from_args(build_parser().parse_args(decoder_args.split()), model)
    samples, rate = read_audio(wav)
    detections = replay(StreamingPipeline(model, rate, stream, decoder), samples, rate // 50)
    found = [(d.label, d.time_ms / 1000) for d in detections]
    return match(expected, found, offset_s=0.0)


def match(
    expected: list[tuple[str, float, float]], found: list[tuple[str, float]], offset_s: float
) -> list[float]:
    """Per expected word, the first matching detection in its slot, minus the word's end."""
    latencies = []
    for index, (word, start_s, end_s) in enumerate(expected):
        slot_end = expected[index + 1][1] if index + 1 < len(expected) else float("inf")
        hits = [
            at
            for label, at in found
            if label == word and offset_s + start_s <= at < offset_s + slot_end
        ]
        if hits:
            latencies.append(hits[0] - (offset_s + end_s))
    return latencies


def _measure(args, microphone, wav, expected, child, xvfb, offline) -> int:  # type: ignore[no-untyped-def]
    assert child.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    for line in child.stdout:
        if line.startswith("READY"):
            print(line.strip().removeprefix("READY ").capitalize(), flush=True)
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not start listening")
    time.sleep(SETTLE_S)
    cpu0, wall0, x0 = cpu_seconds(child.pid), time.monotonic(), cpu_seconds(xvfb.pid)
    busy0 = machine_busy_seconds()
    threads0 = thread_cpu_seconds(child.pid)
    time.sleep(args.idle_s)
    idle_wall = time.monotonic() - wall0
    idle_cpu = (cpu_seconds(child.pid) - cpu0) / idle_wall
    idle_x = (cpu_seconds(xvfb.pid) - x0) / idle_wall
    # Everything else the machine did meanwhile (the bench, PulseAudio, other work): another busy
    # process competes for the caches and cores, so a figure measured beside one is not comparable.
    others = (machine_busy_seconds() - busy0) / idle_wall - idle_cpu - idle_x
    threads1 = thread_cpu_seconds(child.pid)
    per_thread = {
        name: round(100 * (seconds - threads0.get(name, 0.0)) / idle_wall, 1)
        for name, seconds in threads1.items()
        if seconds - threads0.get(name, 0.0) > 0
    }
    print(f"CPU per thread while listening to silence (% of one core): {per_thread}")
    if others > BUSY_MACHINE_SHARE:
        print(
            f"warning: other processes used {100 * others:.0f}% of a core while the app listened; "
            "measure again on a quiet machine"
        )

    shown: list[tuple[str, float, float]] = []
    os.set_blocking(child.stdout.fileno(), False)
    cpu0, wall0 = cpu_seconds(child.pid), time.monotonic()
    played_at = time.monotonic()
    microphone.play(wav)
    time.sleep(SETTLE_S)
    speech_cpu = (cpu_seconds(child.pid) - cpu0) / (time.monotonic() - wall0)
    for line in child.stdout:
        if line.startswith("SHOWN"):
            _, word, score, at = line.split()
            shown.append((word, float(score), float(at)))

    latencies = match(expected, [(word, at) for word, _, at in shown], offset_s=played_at)
    missed = len(expected) - len(latencies)
    extra = len(shown) - len(latencies)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "idle_listening_cpu_percent_of_one_core": round(100 * idle_cpu, 1),
        "xvfb_cpu_percent_while_idle_listening": round(100 * idle_x, 1),
        "other_processes_cpu_percent_while_idle_listening": round(100 * others, 1),
        "speech_cpu_percent_of_one_core": round(100 * speech_cpu, 1),
        "words_played": len(expected),
        "words_lit": len(latencies),
        "missed": missed,
        "extra_detections": extra,
        "latency_ms_median": round(1000 * percentile(latencies, 50)) if latencies else None,
        "latency_ms_p95": round(1000 * percentile(latencies, 95)) if latencies else None,
        "latency_ms_min": round(1000 * min(latencies)) if latencies else None,
        "latency_ms_max": round(1000 * max(latencies)) if latencies else None,
        "model_decoder_only_words_detected": len(offline),
        "model_decoder_only_latency_ms_median": round(1000 * percentile(offline, 50)),
        "model_decoder_only_latency_ms_p95": round(1000 * percentile(offline, 95)),
    }
    idle = result["idle_listening_cpu_percent_of_one_core"]
    print(f"CPU, listening to silence: {idle}% of one core")
    print(f"CPU, while words play:     {result['speech_cpu_percent_of_one_core']}% of one core")
    print(f"words lit: {len(latencies)}/{len(expected)}, extra detections: {extra}")
    print(
        f"word end -> tile lit: median {result['latency_ms_median']} ms, "
        f"p95 {result['latency_ms_p95']} ms"
    )
    print(
        f"model + decoder alone (same file replayed in stream time): {len(offline)} words, median "
        f"{result['model_decoder_only_latency_ms_median']} ms, "
        f"p95 {result['model_decoder_only_latency_ms_p95']} ms"
    )
    print(json.dumps(result))
    return 0


def main() -> int:
    from kws_app.paths import default_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--words", type=int, default=24)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument(
        "--custom-word",
        action="store_true",
        help="listen with one custom word too (with the word embedder the model names)",
    )
    parser.add_argument(
        "--command-veto",
        metavar="LABEL",
        help="listen with a veto on this command word (1.5 s of noise given back as its false "
        "alarm), as after the window's \"Not 'word'\" on a command word",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    parser.add_argument(
        "--decoder",
        default="",
        help="decoder options for the app, as one value: --decoder='--threshold 0.7 "
        "--average-window-ms 500 --clip-stride-ms 30' (default: the app's own defaults)",
    )
    args = parser.parse_args()
    return run_child(args) if args.child else run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
