"""The framed, titled box every panel of the main window sits in (styled by theme.py)."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

MARGINS_PX = (12, 10, 12, 12)
SPACING_PX = 8


def panel_layout(frame: QFrame, title: str | None = None) -> QVBoxLayout:
    """Make `frame` a panel (object name "panel", the theme's margins) and return its layout."""
    frame.setObjectName("panel")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(*MARGINS_PX)
    layout.setSpacing(SPACING_PX)
    if title:
        heading = QLabel(title.upper())
        heading.setObjectName("panelTitle")
        layout.addWidget(heading)
    return layout
