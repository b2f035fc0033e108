"""Asking the user for a model file (File > Open model... and the problem banner's button)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from kws_app.ui.controller import AppController

MODEL_FILTER = "ONNX models (*.onnx);;All files (*)"


def ask_and_open_model(parent: QWidget, controller: AppController) -> None:
    model = controller.model
    start_dir = str(Path(model.path).parent) if model is not None else ""
    path, _ = QFileDialog.getOpenFileName(parent, "Open model", start_dir, MODEL_FILTER)
    if path:
        controller.reopen_model(Path(path))
