"""Accuracy, confusion matrix and per-class precision/recall, shared by training and evaluation.

Two accuracies are reported because they answer different questions: over all labels (the
Speech Commands "12-class" figure) and over the clips of the wanted words only (how often a
spoken command is recognised as itself).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
# Labels starting with this are the non-word classes (_silence_, _unknown_).
SPECIAL_LABEL_PREFIX = "_"


@dataclass(frozen=True)
class Evaluation:
    labels: tuple[str, ...]
    confusion: IntArray  # rows: true label, columns: predicted label

    @classmethod
    def from_predictions(
        cls, labels: tuple[str, ...], targets: IntArray, predictions: IntArray
    ) -> Evaluation:
        size = len(labels)
        confusion = np.zeros((size, size), dtype=np.int64)
        np.add.at(confusion, (targets, predictions), 1)
        return cls(labels, confusion)

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.count, 1))

    @property
    def word_accuracy(self) -> float:
        words = [
            i for i, label in enumerate(self.labels) if not label.startswith(SPECIAL_LABEL_PREFIX)
        ]
        rows = self.confusion[words]
        correct = sum(int(self.confusion[i, i]) for i in words)
        return float(correct / max(int(rows.sum()), 1))

    def per_class(self) -> dict[str, dict[str, float]]:
        predicted = self.confusion.sum(axis=0)
        actual = self.confusion.sum(axis=1)
        result = {}
        for i, label in enumerate(self.labels):
            hits = int(self.confusion[i, i])
            result[label] = {
                "precision": hits / int(predicted[i]) if predicted[i] else 0.0,
                "recall": hits / int(actual[i]) if actual[i] else 0.0,
                "support": int(actual[i]),
            }
        return result

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "accuracy_12" if len(self.labels) == 12 else "accuracy": self.accuracy,
            "accuracy_words": self.word_accuracy,
            "clips": self.count,
            "labels": list(self.labels),
            "per_class": self.per_class(),
            "confusion_matrix": self.confusion.tolist(),
        }

    def accuracy_summary(self) -> dict[str, float]:
        """The figures stored in a model's `kws.test_accuracy` metadata."""
        key = "accuracy_12" if len(self.labels) == 12 else "accuracy"
        return {key: round(self.accuracy, 4), "accuracy_words": round(self.word_accuracy, 4)}

    def format_confusion(self) -> str:
        width = max(7, max(len(label) for label in self.labels) + 1)
        header = " " * width + "".join(f"{label[:6]:>7}" for label in self.labels)
        lines = ["rows: true label, columns: predicted", header]
        for i, label in enumerate(self.labels):
            lines.append(f"{label:<{width}}" + "".join(f"{v:>7d}" for v in self.confusion[i]))
        return "\n".join(lines)

    def save_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json_dict(), indent=2))

    def save_png(self, path: Path, title: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        size = len(self.labels)
        figure, axes = plt.subplots(figsize=(1.0 + 0.6 * size, 0.6 * size + 0.8))
        axes.imshow(self.confusion, cmap="Blues")
        axes.set_xticks(range(size), self.labels, rotation=60, ha="right")
        axes.set_yticks(range(size), self.labels)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(title)
        threshold = self.confusion.max() / 2
        for row in range(size):
            for column in range(size):
                value = int(self.confusion[row, column])
                colour = "white" if value > threshold else "black"
                axes.text(
                    column, row, str(value), ha="center", va="center", fontsize=7, color=colour
                )
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
