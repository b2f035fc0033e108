"""`kws-app` with no mode flag: builds the QApplication, the settings and the main window."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from kws_app.config import DecoderConfig, StreamConfig
from kws_app.config_flags import DECODER_FLAGS, STREAM_FLAGS, given_options
from kws_app.inference.loading import load_model
from kws_app.paths import default_model_path
from kws_app.ui import theme
from kws_app.ui.controller import AppController, ModelLoader
from kws_app.ui.main_window import MainWindow
from kws_app.ui.settings import APPLICATION_NAME, ORGANIZATION_NAME, AppSettings, user_settings
from kws_app.words.store import WordStore

logger = logging.getLogger(__name__)


def make_model_loader(provider: str) -> ModelLoader:
    """A loader honouring --provider; load_model refuses 'cuda' where CUDA cannot run. The
    controller adds the custom words itself, in the background."""
    return lambda path: load_model(path, provider)


def _decoder_from(args: argparse.Namespace, settings: AppSettings) -> DecoderConfig:
    """The saved decoder values, with each decoder flag the user actually gave laid over them."""
    return replace(settings.decoder_config(), **given_options(args, DECODER_FLAGS))


def create_window(
    args: argparse.Namespace, settings: AppSettings, autostart: bool = True, **overrides: Any
) -> MainWindow:
    """The controller, the window around it and the Words menu; then devices, model and listening.

    `overrides` go to the controller (tests and benchmarks hand in sources and device listers).
    """
    stream = replace(StreamConfig(), **given_options(args, STREAM_FLAGS))
    model_path: Path = args.model or settings.model_path or default_model_path()
    if args.model is None and not model_path.exists():
        model_path = default_model_path()
    store = WordStore(getattr(args, "words_store", None))
    controller = AppController(
        settings,
        make_model_loader(getattr(args, "provider", "auto")),
        stream_config=stream,
        decoder_config=_decoder_from(args, settings),
        pinned_decoder_fields=given_options(args, DECODER_FLAGS).keys(),
        store=store,
        **overrides,
    )
    window = MainWindow(controller)
    window.add_words_menu()
    controller.start(model_path, args.device, autostart)
    return window


def ensure_application(argv: Sequence[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName(ORGANIZATION_NAME)
    app.setApplicationName(APPLICATION_NAME)
    app.setApplicationDisplayName("kws")
    theme.apply(app)
    return app


def run_app(args: argparse.Namespace) -> int:
    app = ensure_application()
    window = create_window(args, AppSettings(user_settings()))
    window.show()
    return app.exec()
