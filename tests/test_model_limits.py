"""Model files that are too large, unreadable or carry absurd front-end settings are refused in one
line that says what is wrong, before they cost memory; onnxruntime never writes on stdout."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import soundfile
from model_factory import tone_model

from kws_app.config import (
    FRONTEND_CLIP_RANGE_MS,
    FRONTEND_FFT_SIZE_RANGE,
    FRONTEND_HOP_RANGE_MS,
    FRONTEND_MEL_BINS_RANGE,
    FRONTEND_SAMPLE_RATE_RANGE_HZ,
    FRONTEND_WINDOW_RANGE_MS,
    ConfigError,
    FrontendConfig,
)
from kws_app.inference import model as model_module
from kws_app.inference.model import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    MAX_MODEL_MB,
    ModelError,
    OnnxModel,
)

HUGE_MODEL_BYTES = 3 << 30  # the 3 GB file of the fault campaign (sparse: no disk, no memory)
# Reading the huge file would raise the peak resident size by gigabytes; refusing it, by nothing.
PEAK_GROWTH_LIMIT_KB = 256 * 1024
CLI_TIMEOUT_S = 120


def one_line(error: pytest.ExceptionInfo[ModelError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kws_app", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert text in result.stderr
    assert result.stdout == ""  # stdout carries detections only


@pytest.fixture
def short_wav(tmp_path: Path) -> Path:
    path = tmp_path / "quiet.wav"
    soundfile.write(path, np.zeros(16000, np.float32), 16000)
    return path


def frontend_json(**changes: Any) -> str:
    values = json.loads(FrontendConfig().to_json())
    values.update(changes)
    return json.dumps(values)


# ----- front-end settings -----------------------------------------------------------------------

ABSURD_FRONT_ENDS = [
    ({"fft_size": 2**30}, "FFT size 1073741824 is outside"),
    ({"fft_size": FRONTEND_FFT_SIZE_RANGE[1] * 2}, "FFT size"),
    ({"sample_rate": 0}, "sample rate 0 Hz is outside"),
    ({"sample_rate": 10**9}, "sample rate"),
    ({"window_ms": 0}, "window 0 ms is outside"),
    ({"window_ms": FRONTEND_WINDOW_RANGE_MS[1] + 1}, "window"),
    ({"hop_ms": -10}, "hop -10 ms is outside"),
    ({"hop_ms": 10**6}, "hop"),
    ({"num_mel_bins": 10**6}, "number of mel bins 1000000 is outside"),
    ({"num_mel_bins": 0}, "number of mel bins"),
    ({"clip_ms": 10**8}, "clip length 100000000 ms is outside"),
    ({"clip_ms": 1}, "clip length"),
    ({"log_offset": float("nan")}, "log_offset"),
    ({"log_offset": float("inf")}, "log_offset"),
    ({"upper_hz": float("inf")}, "finite"),
]


@pytest.mark.parametrize(("changes", "reason"), ABSURD_FRONT_ENDS)
def test_absurd_front_end_settings_are_a_config_error(changes: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        FrontendConfig.from_json(frontend_json(**changes))


@pytest.mark.parametrize(("changes", "reason"), ABSURD_FRONT_ENDS)
def test_a_model_with_absurd_front_end_settings_is_refused_in_one_line(
    tmp_path: Path, changes: dict, reason: str
) -> None:
    path = tone_model(tmp_path / "absurd.onnx", metadata={"kws.frontend": frontend_json(**changes)})
    with pytest.raises(ModelError) as error:
        OnnxModel(path, prefer_gpu=False)
    message = one_line(error)
    assert "cannot reproduce its front end" in message and reason in message


def test_the_limits_themselves_are_accepted() -> None:
    """The ranges bound damage, not useful models: each end of each range still builds."""
    FrontendConfig(sample_rate=FRONTEND_SAMPLE_RATE_RANGE_HZ[1], fft_size=8192)
    FrontendConfig(sample_rate=8000, upper_hz=4000.0, fft_size=FRONTEND_FFT_SIZE_RANGE[0] * 16)
    FrontendConfig(fft_size=FRONTEND_FFT_SIZE_RANGE[1])
    FrontendConfig(num_mel_bins=FRONTEND_MEL_BINS_RANGE[0])
    FrontendConfig(num_mel_bins=FRONTEND_MEL_BINS_RANGE[1])
    FrontendConfig(hop_ms=FRONTEND_HOP_RANGE_MS[0])
    FrontendConfig(clip_ms=FRONTEND_CLIP_RANGE_MS[1])
    FrontendConfig(window_ms=FRONTEND_WINDOW_RANGE_MS[0], fft_size=FRONTEND_FFT_SIZE_RANGE[0])


@pytest.mark.slow
def test_the_cli_refuses_a_2_to_the_30_fft_in_one_line(tmp_path: Path, short_wav: Path) -> None:
    path = tone_model(
        tmp_path / "fft.onnx", metadata={"kws.frontend": frontend_json(fft_size=2**30)}
    )
    result = run_cli("--wav", str(short_wav), "--model", str(path))
    assert_one_line_error(result, "FFT size 1073741824 is outside")


def test_an_absurd_parameter_count_is_ignored(tmp_path: Path) -> None:
    """Informational metadata: int() of 5,000 digits would raise; the model still loads."""
    path = tone_model(tmp_path / "count.onnx", metadata={"kws.parameter_count": "9" * 5000})
    assert OnnxModel(path, prefer_gpu=False).info.parameter_count is None


# ----- size -------------------------------------------------------------------------------------


def huge_file(path: Path) -> Path:
    with path.open("wb") as file:
        file.truncate(HUGE_MODEL_BYTES)
    return path


def test_a_huge_model_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = huge_file(tmp_path / "huge.onnx")
    peak_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError) as error:
        OnnxModel(path)
    peak_growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before_kb
    message = one_line(error)
    assert "huge.onnx is 3072 MB" in message and f"{MAX_MODEL_MB} MB limit" in message
    assert peak_growth_kb < PEAK_GROWTH_LIMIT_KB


def test_a_model_at_the_size_limit_loads_and_one_byte_more_is_refused(
    tone_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = tone_model_path.stat().st_size
    monkeypatch.setattr(model_module, "MAX_MODEL_BYTES", size)
    OnnxModel(tone_model_path, prefer_gpu=False)
    monkeypatch.setattr(model_module, "MAX_MODEL_BYTES", size - 1)
    with pytest.raises(ModelError, match="MB limit"):
        OnnxModel(tone_model_path, prefer_gpu=False)


@pytest.mark.slow
def test_the_cli_refuses_a_huge_model_in_one_line(tmp_path: Path, short_wav: Path) -> None:
    path = huge_file(tmp_path / "huge.onnx")
    result = run_cli("--wav", str(short_wav), "--model", str(path))
    assert_one_line_error(result, f"over the {MAX_MODEL_MB} MB limit")


def test_onnxruntime_says_nothing_on_stdout_when_cuda_fails(
    tone_model_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """onnxruntime's own fallback prints an "EP Error" banner on stdout (where JSON detections
    go) and parses the model again; the app falls back to the CPU itself, quietly."""
    session_class = onnxruntime.InferenceSession
    create = session_class._create_inference_session

    def cuda_fails(self: Any, providers: Any, *args: Any, **kwargs: Any) -> Any:
        if CUDA_PROVIDER in providers:
            raise RuntimeError("simulated CUDA failure")
        return create(self, providers, *args, **kwargs)

    monkeypatch.setattr(session_class, "_create_inference_session", cuda_fails)
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: [CUDA_PROVIDER, CPU_PROVIDER]
    )
    model = OnnxModel(tone_model_path, prefer_gpu=True)
    assert model.provider == CPU_PROVIDER
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "EP Error" not in captured.err


# ----- unreadable files -------------------------------------------------------------------------


def refuse_open(monkeypatch: pytest.MonkeyPatch, target: Path, code: int) -> None:
    """Opening `target` fails with `code` (as root, chmod cannot make a file unreadable)."""
    original = Path.open

    def fake_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == target:
            raise OSError(code, os.strerror(code), str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", fake_open)


def test_a_model_without_read_permission_says_permission_denied(
    tone_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:
        refuse_open(monkeypatch, tone_model_path, errno.EACCES)
    else:
        tone_model_path.chmod(0)
    with pytest.raises(ModelError) as error:
        OnnxModel(tone_model_path)
    assert f"cannot read model file {tone_model_path}: permission denied" == one_line(error)


def test_a_read_error_is_named(tone_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_open(monkeypatch, tone_model_path, errno.EIO)
    with pytest.raises(ModelError) as error:
        OnnxModel(tone_model_path)
    assert "input/output error" in one_line(error)


def test_an_unlisted_error_still_names_its_cause(
    tone_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_open(monkeypatch, tone_model_path, errno.EMFILE)
    with pytest.raises(ModelError) as error:
        OnnxModel(tone_model_path)
    assert "Too many open files (EMFILE)" in one_line(error)


def special_path(kind: str, tmp_path: Path, model: Path) -> Path:
    if kind == "folder":
        return tmp_path
    if kind == "pipe":
        path = tmp_path / "pipe.onnx"
        os.mkfifo(path)  # opening it would block forever: it must be refused before
        return path
    if kind == "broken link":
        path = tmp_path / "link.onnx"
        path.symlink_to(tmp_path / "gone.onnx")
        return path
    if kind == "file as folder":
        return model / "model.onnx"
    if kind == "long name":
        return tmp_path / ("m" * 300 + ".onnx")
    return Path("/dev/null")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("folder", "is a folder, not a file"),
        ("pipe", "not a regular file"),
        ("device", "not a regular file"),
        ("broken link", "a link to a missing file"),
        ("file as folder", "a part of the path is a file, not a folder"),
        ("long name", "the path is too long"),
    ],
)
def test_paths_that_are_not_model_files_say_what_they_are(
    tmp_path: Path, tone_model_path: Path, kind: str, reason: str
) -> None:
    with pytest.raises(ModelError) as error:
        OnnxModel(special_path(kind, tmp_path, tone_model_path))
    assert reason in one_line(error)


def test_a_model_that_grows_while_it_is_read_is_refused(
    tone_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the size checked before reading is ever read: a growing file cannot pass the limit."""
    smaller = tone_model_path.stat().st_size - 1
    monkeypatch.setattr(model_module, "_model_file_size", lambda path: smaller)
    with pytest.raises(ModelError) as error:
        OnnxModel(tone_model_path, prefer_gpu=False)
    assert "changed while it was read" in one_line(error)
