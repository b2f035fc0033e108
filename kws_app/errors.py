"""The one base of every error whose message is meant for a user.

Each module keeps its own error class (ModelError, DeviceError, WordStoreError...) so callers can
catch what they can handle, and each derives from `UserError`, so an entry point catches one class
and prints one line instead of listing every module's errors (and missing the next one). Classes
that were ValueErrors stay ValueErrors too, so existing `except ValueError` clauses still work.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can act on; str() is a one-line message, shown without a traceback."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message (its class name when the message is empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
