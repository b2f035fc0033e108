"""One dark theme for every widget and plot, so colours are named once."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

WINDOW = "#15181e"
PANEL = "#1d2129"
PANEL_BORDER = "#2b313c"
PLOT_BACKGROUND = "#0f1115"
TEXT = "#e6e9ef"
TEXT_DIM = "#98a1b3"
GRID = "#3a4150"
ACCENT = "#4fc3f7"
ACCENT_FILL = "#1f5f7a"
LIT = "#ffb74d"
LIT_TEXT = "#1b1205"
OK = "#66bb6a"
WARNING_FILL = "#4a2c12"
WARNING_BORDER = "#f0a04b"
BAR = "#5c6bc0"
BAR_ABOVE = "#ffb74d"
LEVEL_LOW = "#66bb6a"
LEVEL_HIGH = "#ef5350"

STYLESHEET = f"""
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QMainWindow, QDialog {{ background: {WINDOW}; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {PANEL_BORDER}; border-radius: 8px; }}
QLabel#panelTitle {{ color: {TEXT_DIM}; font-size: 9pt; font-weight: bold;
    letter-spacing: 1px; }}
QLabel#lastWord {{ font-size: 30pt; font-weight: bold; color: {LIT}; }}
QLabel#lastScore {{ font-size: 12pt; color: {TEXT_DIM}; }}
QLabel#tile {{ background: #262b35; border: 1px solid {PANEL_BORDER}; border-radius: 6px;
    font-size: 13pt; font-weight: bold; color: {TEXT_DIM}; padding: 6px; }}
QLabel#tile[lit="true"] {{ background: {LIT}; color: {LIT_TEXT}; border: 1px solid {LIT}; }}
QFrame#banner {{ background: {WARNING_FILL}; border: 1px solid {WARNING_BORDER};
    border-radius: 6px; }}
QLabel#bannerText {{ color: #ffe0b2; font-weight: bold; }}
QPushButton, QToolButton {{ background: #2a303b; border: 1px solid #3a4150; border-radius: 5px;
    padding: 4px 12px; }}
QPushButton:hover, QToolButton:hover {{ background: #343b48; }}
QPushButton:disabled {{ color: #5d6575; }}
QPushButton#primary {{ background: {ACCENT_FILL}; border-color: {ACCENT}; font-weight: bold; }}
QComboBox, QSpinBox {{ background: #232832; border: 1px solid #3a4150; border-radius: 5px;
    padding: 3px 6px; }}
QTableWidget {{ background: #191c23; gridline-color: {PANEL_BORDER}; border: none;
    alternate-background-color: #1e222a; }}
QHeaderView::section {{ background: {PANEL}; color: {TEXT_DIM}; border: none;
    border-bottom: 1px solid {PANEL_BORDER}; padding: 4px; }}
QSlider::groove:horizontal {{ height: 6px; background: #2f3542; border-radius: 3px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 3px; }}
QSlider::handle:horizontal {{ background: {TEXT}; width: 16px; margin: -6px 0;
    border-radius: 8px; }}
QStatusBar {{ background: {PANEL}; color: {TEXT_DIM}; border-top: 1px solid {PANEL_BORDER}; }}
QStatusBar QLabel {{ color: {TEXT_DIM}; padding: 0 8px; }}
QMenuBar {{ background: {PANEL}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: {ACCENT_FILL}; }}
QMenu {{ background: {PANEL}; border: 1px solid {PANEL_BORDER}; }}
"""


def apply(app: QApplication) -> None:
    """Fusion everywhere (native styles ignore parts of the stylesheet), plus the palette."""
    app.setStyle("Fusion")
    app.setPalette(palette())
    app.setStyleSheet(STYLESHEET)


def apply_to(widget: QWidget) -> None:
    """The theme on one window, for hosts (tests, embedding) that own the QApplication."""
    widget.setPalette(palette())
    widget.setStyleSheet(STYLESHEET)


def palette() -> QPalette:
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(WINDOW))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Base, QColor("#191c23"))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#1e222a"))
    palette.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Button, QColor("#2a303b"))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT_FILL))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(PANEL))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor(TEXT))
    return palette
