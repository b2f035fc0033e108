"""The banner under the device bar: the current problem, with Retry and (for a model) Open."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from kws_app.ui.controller import AppController, Problem
from kws_app.ui.model_file import ask_and_open_model

MARGINS_PX = (12, 8, 12, 8)


class ProblemBanner(QFrame):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self.setObjectName("banner")
        row = QHBoxLayout(self)
        row.setContentsMargins(*MARGINS_PX)
        self.label = QLabel("")
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
        self.open_button = QPushButton("Open model...")
        self.open_button.clicked.connect(lambda: ask_and_open_model(self, controller))
        row.addWidget(self.open_button)
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(controller.retry)
        row.addWidget(self.retry_button)
        controller.problem_changed.connect(self._show)
        self._show(controller.problem)

    @property
    def message(self) -> str | None:
        """The problem the user sees, None when the banner is hidden."""
        return None if self.isHidden() else self.label.text()

    @Slot(object)
    def _show(self, problem: Problem | None) -> None:
        if problem is None:
            self.hide()
            return
        self.label.setText(problem.message)
        self.retry_button.setVisible(problem.retry is not None)
        self.open_button.setVisible(problem.offer_model)
        self.show()
