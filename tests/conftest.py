"""Shared test set-up: Qt without a display, and where the shared recordings live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
SHARED_DATA_DIR = REPO_DIR.parent / "shared" / "data"

sys.path.insert(0, str(TESTS_DIR))  # lets tests import model_factory and other helpers


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA_DIR / "speech_commands").is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA_DIR} (a fresh checkout has none)")
    return SHARED_DATA_DIR


@pytest.fixture
def tone_model_path(tmp_path: Path) -> Path:
    from model_factory import tone_model

    return tone_model(tmp_path / "tone.onnx")
