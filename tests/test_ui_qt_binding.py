"""The Qt binding must not leak references to None or True (PySide6 6.12.0 on Python 3.11 does,
and the window aborts with "none_dealloc" after a minute of listening)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, QTimer, Signal

CALLS = 200


class _Emitter(QObject):
    fired = Signal(object)


@pytest.mark.gui
def test_qt_calls_keep_none_and_true_alive(qapp):  # type: ignore[no-untyped-def]
    timer = QTimer()
    emitter = _Emitter()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(CALLS):
        timer.stop()  # a void method returns None
        emitter.fired.emit(1)  # emit returns True
    qapp.processEvents()
    assert sys.getrefcount(None) - none_before > -CALLS // 2, "the Qt binding leaks None"
    assert sys.getrefcount(True) - true_before > -CALLS // 2, "the Qt binding leaks True"
