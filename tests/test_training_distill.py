"""Distillation: the soft-target loss, a teacher that cannot teach, and a run that learns from one.

The run trains the smallest network on tones against a teacher that always answers "up": a
student taught only by that teacher must learn to say "up" to every clip, which a student taught
by the labels never does. That pins down that the teacher's targets reach the gradient, on the
features the student sees, with the labels in the run's order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from model_factory import tone_model
from test_training_train import tiny_config
from training_helpers import make_dataset

from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from training.checkpoint import load_checkpoint
from training.config import DistillConfig, TrainConfig
from training.data import VALIDATION
from training.distill import TeacherError, distillation_loss
from training.loop import features_of
from training.models import build_model
from training.train import prepare_data, train

FAVOURITE = "up"
# The teacher's logit for its favourite word: softmax gives it ~0.99 against four others at 0.
FAVOURITE_LOGIT = 6.0


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny") / "data", speakers=16)


def constant_teacher(
    path: Path, labels: list[str], favourite: str, frontend: FrontendConfig | None = None
) -> Path:
    """An exported model (the app's format) that gives `favourite` ~0.99 whatever it hears."""
    return tone_model(
        path, config=frontend, labels=tuple(labels), logit_bias={favourite: FAVOURITE_LOGIT}
    )


def run_labels(config: TrainConfig) -> list[str]:
    return list(prepare_data(config, FrontendConfig(), progress=False).index.labels)


def validation_answers(config: TrainConfig, checkpoint_path: Path) -> list[str]:
    """The trained model's answer for every validation clip."""
    frontend = FrontendConfig()
    data = prepare_data(config, frontend, progress=False)
    checkpoint = load_checkpoint(checkpoint_path)
    labels = list(checkpoint["labels"])
    model = build_model(config.model_name, len(labels), *frontend.input_shape)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    features = features_of(data.splits[VALIDATION].waves, FeatureExtractor(frontend))
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(features))
    return [labels[index] for index in logits.argmax(dim=1).tolist()]


def test_a_student_that_agrees_with_its_teacher_pays_nothing() -> None:
    teacher = torch.log_softmax(torch.randn(6, 5), dim=1)
    for temperature in (1.0, 2.0, 4.0):
        assert float(distillation_loss(teacher.clone(), teacher, temperature)) == pytest.approx(
            0.0, abs=1e-6
        )


def test_the_loss_pulls_the_student_towards_the_teacher() -> None:
    torch.manual_seed(0)
    teacher = torch.log_softmax(torch.randn(6, 5) * 3, dim=1)
    student = torch.zeros(6, 5, requires_grad=True)
    before = float(distillation_loss(student.detach(), teacher, 2.0))
    distillation_loss(student, teacher, 2.0).backward()
    assert student.grad is not None
    stepped = (student - 1.0 * student.grad).detach()
    assert float(distillation_loss(stepped, teacher, 2.0)) < before


def test_settings_outside_their_range_are_refused() -> None:
    with pytest.raises(ValueError, match="distillation"):
        DistillConfig(teacher="t.onnx", weight=1.5)
    with pytest.raises(ValueError, match="distillation"):
        DistillConfig(teacher="t.onnx", temperature=0.0)


def test_a_teacher_with_other_labels_is_refused_in_one_line(
    tiny_data: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_data, tmp_path / "run")
    labels = run_labels(config)
    shuffled = [labels[-1], *labels[:-1]]
    teacher = constant_teacher(tmp_path / "teacher.onnx", shuffled, FAVOURITE)
    with pytest.raises(TeacherError, match="labels") as caught:
        train(replace(config, distill=DistillConfig(teacher=str(teacher))), progress=False)
    assert "\n" not in str(caught.value)


def test_a_teacher_that_hears_other_features_is_refused(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data, tmp_path / "run")
    other = replace(FrontendConfig(), num_mel_bins=FrontendConfig().num_mel_bins // 2)
    teacher = constant_teacher(tmp_path / "t.onnx", run_labels(config), FAVOURITE, other)
    with pytest.raises(TeacherError, match="front end"):
        train(replace(config, distill=DistillConfig(teacher=str(teacher))), progress=False)


def test_a_missing_teacher_fails_before_the_data_loads(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "no-data-here", tmp_path / "run")
    with pytest.raises(Exception, match="missing.onnx"):
        train(
            replace(config, distill=DistillConfig(teacher=str(tmp_path / "missing.onnx"))),
            progress=False,
        )


@pytest.mark.slow
def test_a_student_taught_only_by_its_teacher_answers_as_the_teacher_does(
    tiny_data: Path, tmp_path: Path
) -> None:
    config = tiny_config(tiny_data, tmp_path / "labels", epochs=3)
    teacher = constant_teacher(tmp_path / "teacher.onnx", run_labels(config), FAVOURITE)
    taught = replace(
        config,
        output_dir=str(tmp_path / "taught"),
        distill=DistillConfig(teacher=str(teacher), weight=1.0, temperature=1.0),
    )
    by_labels = validation_answers(config, train(config, progress=False).best_checkpoint)
    by_teacher = validation_answers(taught, train(taught, progress=False).best_checkpoint)
    assert by_teacher.count(FAVOURITE) / len(by_teacher) > 0.9
    assert by_labels.count(FAVOURITE) / len(by_labels) < 0.5
    saved = TrainConfig.from_dict(load_checkpoint(tmp_path / "taught" / "last.pt")["config"])
    assert saved.distill == taught.distill
