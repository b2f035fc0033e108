"""Helpers for the window tests: fake devices, scripted audio sources and a window factory.

Sources follow kws_app.audio.sources.AudioSource, so the real listener, worker and window run
unchanged; only the audio comes from arrays instead of PortAudio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from model_factory import TONE_DECODER, TONE_STREAM
from PySide6.QtCore import QSettings

from kws_app.audio.devices import DeviceError, InputDevice
from kws_app.audio.sources import ArraySource, AudioSource, SourceFactory
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.ui.controller import AppController
from kws_app.ui.main_window import MainWindow
from kws_app.ui.settings import AppSettings
from kws_app.words.refresh import TrainingBudget
from kws_app.words.store import WordStore

TEST_RATE = 16000
FAKE_MIC = InputDevice(0, "Test microphone", "test", 1, TEST_RATE, True)
OTHER_MIC = InputDevice(1, "Other microphone", "test", 1, 48000, False)


def temp_settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def silence_factory(seconds: float = 60.0) -> SourceFactory:
    """A microphone that hears a quiet room in real time."""

    def factory(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        rate = device.default_rate if device else TEST_RATE
        return ArraySource(np.zeros(int(seconds * rate), np.float32), rate, config, realtime=True)

    return factory


def replay_factory(
    samples: npt.NDArray[np.float32], rate: int, realtime: bool = False
) -> SourceFactory:
    def factory(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        return ArraySource(samples, rate, config, realtime=realtime, name="replay")

    return factory


class ScriptedSource(ArraySource):
    """Silence in real time that fails on cue: at start, after some blocks, or by going quiet."""

    def __init__(
        self,
        config: StreamConfig,
        fail_on_start: str | None = None,
        raise_after_blocks: int | None = None,
        stall_after_blocks: int | None = None,
    ) -> None:
        super().__init__(np.zeros(TEST_RATE * 60, np.float32), TEST_RATE, config, realtime=True)
        self._fail_on_start = fail_on_start
        self._raise_after = raise_after_blocks
        self._stall_after = stall_after_blocks
        self.blocks_read = 0

    def start(self) -> None:
        if self._fail_on_start:
            raise DeviceError(self._fail_on_start)
        super().start()

    def read(self, timeout_s: float) -> npt.NDArray[np.float32] | None:
        if self._raise_after is not None and self.blocks_read >= self._raise_after:
            raise DeviceError("input device 'Test microphone' disappeared (unplugged)")
        if self._stall_after is not None and self.blocks_read >= self._stall_after:
            time.sleep(timeout_s)
            return None
        block = super().read(timeout_s)
        if block is not None:
            self.blocks_read += 1
        return block


def sequence_factory(sources: Iterator[Callable[[StreamConfig], AudioSource]]) -> SourceFactory:
    """Each start of listening takes the next source, so a test can fail once, then recover."""

    def factory(device: InputDevice | None, config: StreamConfig) -> AudioSource:
        return next(sources)(config)

    return factory


# A stall declared quickly, so the stall tests run in a fraction of a second.
QUICK_STALL = StreamConfig(stall_timeout_s=0.3)


def stall_then_recover_window(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, model_path: Path, stalling: Callable[[StreamConfig], AudioSource]
) -> MainWindow:
    """A window whose first source is `stalling` and whose next start gets a healthy source."""
    sources = iter([stalling, lambda config: ScriptedSource(config)])
    return make_window(
        qtbot, tmp_path, model_path, sequence_factory(sources), stream_config=QUICK_STALL
    )


def tone_model_loader(path: Path) -> OnnxModel:
    return OnnxModel(path, prefer_gpu=False)


def make_controller(
    tmp_path: Path,
    source_factory: SourceFactory,
    devices: list[InputDevice] | Callable[[], list[InputDevice]] = (FAKE_MIC,),  # type: ignore[assignment]
    stream_config: StreamConfig | None = TONE_STREAM,
    settings: AppSettings | None = None,
    decoder_config: DecoderConfig | None = TONE_DECODER,
    store: WordStore | None = None,
    training_budget: TrainingBudget | None = None,
) -> AppController:
    lister = devices if callable(devices) else (lambda: list(devices))
    return AppController(
        settings or temp_settings(tmp_path),
        tone_model_loader,
        stream_config=stream_config,
        decoder_config=decoder_config,
        store=store,
        source_factory=source_factory,
        device_lister=lister,
        training_budget=training_budget,
    )


def make_window(
    qtbot,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    model_path: Path,
    source_factory: SourceFactory,
    devices: list[InputDevice] | Callable[[], list[InputDevice]] = (FAKE_MIC,),  # type: ignore[assignment]
    stream_config: StreamConfig | None = TONE_STREAM,
    settings: AppSettings | None = None,
    autostart: bool = True,
    decoder_config: DecoderConfig | None = TONE_DECODER,
    store: WordStore | None = None,
    device_name: str | None = None,
    training_budget: TrainingBudget | None = None,
) -> MainWindow:
    """The window on a simulated source; the decoder defaults to the tone words' settings."""
    controller = make_controller(
        tmp_path,
        source_factory,
        devices,
        stream_config,
        settings,
        decoder_config,
        store,
        training_budget,
    )
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    controller.start(model_path, device_name, autostart)
    return window


def window_from_flags(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, settings: AppSettings, model_path: Path, *flags: str
) -> MainWindow:
    """The window as `kws-app` builds it from its command line (saved settings, then flags), on a
    quiet fake microphone, not listening yet."""
    from kws_app.cli import build_parser
    from kws_app.ui.app import create_window

    args = build_parser().parse_args(
        ["--model", str(model_path), "--words-store", str(tmp_path / "words"), *flags]
    )
    window = create_window(
        args,
        settings,
        source_factory=silence_factory(),
        device_lister=lambda: [FAKE_MIC],
        autostart=False,
    )
    qtbot.addWidget(window)
    return window
