"""Importing a word file, as a result rather than an exception, for a background job.

Checking a large valid file reads and decodes every take (seconds), so the window runs this off
the GUI thread (`ImportJob`). The store is never half-changed: `import_words` installs every word
of the file or none, whether or not anyone still waits for the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kws_app.errors import one_line
from kws_app.session.jobs import BackgroundJob
from kws_app.words.archive import ArchiveError, import_words
from kws_app.words.store import WordStore, WordStoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    path: Path
    names: tuple[str, ...]  # the words installed (none when the file was refused)
    problem: str | None  # why nothing was installed, one line


def import_word_file(store: WordStore, path: Path, reserved: Sequence[str]) -> ImportResult:
    """Check and install every word of `path`, or none; a refusal is one line, never a raise."""
    try:
        installed = import_words(store, path, reserved=tuple(reserved))
    except (ArchiveError, WordStoreError, OSError) as error:
        return ImportResult(path, (), one_line(error))
    except Exception as error:  # noqa: BLE001 - a bug in the checks must not end the window
        logger.exception("importing %s failed", path)
        return ImportResult(path, (), f"import failed: {one_line(error)}")
    return ImportResult(path, tuple(word.name for word in installed), None)


class ImportJob(BackgroundJob[ImportResult]):
    """`import_word_file` on a daemon thread; `on_done(result)` is called on that thread."""

    def __init__(
        self,
        store: WordStore,
        path: Path,
        reserved: Sequence[str],
        on_done: Callable[[ImportResult], None],
    ) -> None:
        self.path = path
        super().__init__("import", lambda: import_word_file(store, path, reserved), on_done)
