"""Work that must never run on the GUI thread (training words, checking a word file), each on a
daemon thread of its own.

Every job is registered while it runs, so the entry point can tell whether the interpreter's
shutdown is safe: tearing down a model or a half-written store file under a running job is not,
and the app then leaves with os._exit (the store survives a kill at any point).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

_running_lock = threading.Lock()
_running: set[BackgroundJob] = set()  # type: ignore[type-arg]


def jobs_running() -> bool:
    """True while any job still runs."""
    with _running_lock:
        return bool(_running)


class BackgroundJob(Generic[Result]):
    """`work()` on a daemon thread; `on_done(result)` is called on that thread unless cancelled.

    `work` turns its own failures into a result (a one-line message for the user): whatever it
    lets escape is a bug, logged, and `on_done` is then not called. `cancel` only withholds the
    result; work that can stop early polls `cancelled` itself.
    """

    def __init__(
        self, name: str, work: Callable[[], Result], on_done: Callable[[Result], None]
    ) -> None:
        self._work = work
        self._on_done = on_done
        self._cancelled = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        with _running_lock:
            _running.add(self)
        self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self.finished.wait(timeout_s)

    def _run(self) -> None:
        try:
            result = self._work()
        except Exception:
            logger.exception("background job %r failed", self._thread.name)
            return
        finally:
            self.finished.set()
            with _running_lock:
                _running.discard(self)
        if not self._cancelled.is_set():
            self._on_done(result)
