"""The desktop window (PySide6 + pyqtgraph); nothing outside kws_app.ui imports Qt."""
