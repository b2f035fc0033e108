"""Knowledge distillation: a teacher model's soft targets as a second training signal.

Two models of one recipe, averaged (`python -m training ensemble`), find more words on the
validation streams than either alone, because each is confident on different fragments of speech;
but the average costs twice the CPU per stride and, for two full-width members, more parameters
than the streaming model may have. Distillation (Hinton, Vinyals and Dean 2015, "Distilling the
Knowledge in a Neural Network") trains one model of the allowed size to match the averaged
model's softened distribution on every training window, so it learns which fragments the pair
finds ambiguous, not only the hard label. The teacher is any exported model file (an ensemble file
included), run through the app's own ONNX runner on exactly the features the student sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as functional

from kws_app.config import FrontendConfig
from kws_app.errors import UserError
from kws_app.inference.model import OnnxModel
from training.ensemble import LOG_FLOOR


class TeacherError(UserError, ValueError):
    """A teacher that cannot teach this run; str() is a one-line message for the user."""


class Teacher:
    """An exported model whose log-probabilities the student learns to match."""

    def __init__(self, path: Path, frontend: FrontendConfig, threads: int) -> None:
        self.model = OnnxModel(path, prefer_gpu=False, cpu_threads=threads)
        if self.model.frontend != frontend:
            raise TeacherError(
                f"{self.model.path.name}: the teacher's front end differs from this run's; "
                "it must hear the features the student is trained on"
            )

    def check_labels(self, labels: list[str] | tuple[str, ...]) -> None:
        """The teacher's classes must be this run's, in the same order."""
        if tuple(labels) != self.model.labels:
            raise TeacherError(
                f"{self.model.path.name}: the teacher's labels {list(self.model.labels)} are not "
                f"this run's {list(labels)}"
            )

    def log_probabilities(self, features: npt.NDArray[np.float32]) -> torch.Tensor:
        """The teacher's log-probabilities for a batch of features, shape (n, labels)."""
        probabilities = self.model.predict(features)
        return torch.from_numpy(np.log(np.maximum(probabilities, LOG_FLOOR)))


def distillation_loss(
    student_logits: torch.Tensor, teacher_log_probabilities: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher || student) of both distributions softened by `temperature`, times its square.

    The square keeps the soft targets' gradients the size of the labels' as the temperature
    grows (Hinton et al.), so the weight means the same at every temperature.
    """
    student = functional.log_softmax(student_logits / temperature, dim=1)
    teacher = functional.log_softmax(teacher_log_probabilities / temperature, dim=1)
    divergence = functional.kl_div(student, teacher, log_target=True, reduction="batchmean")
    return divergence * temperature**2
