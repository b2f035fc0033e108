"""The one base of every error whose message is meant for a user.

Each module keeps its own error class (ModelError, DeviceError, WordStoreError...) so callers can
catch what they can handle, and each derives from `UserError`, so an entry point catches one class
and prints one line instead of listing every module's errors (and missing the next one). Classes
that were ValueErrors stay ValueErrors too, so existing `except ValueError` clauses still work.
"""

from __future__ import annotations

import errno

# What went wrong, in words, for the errors a user meets when a file cannot be opened or read.
_OS_ERROR_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "the path is too long",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EIO: "input/output error (a damaged disk or a disconnected drive?)",
    errno.ENXIO: "no such device (a disconnected drive?)",
}


class UserError(Exception):
    """A problem the user can act on; str() is a one-line message, shown without a traceback."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message (its class name when the message is empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def os_error_reason(error: OSError) -> str:
    """Plain words for a failed open or read; the errno's name when there are none."""
    reason = _OS_ERROR_REASONS.get(error.errno or 0)
    if reason is not None:
        return reason
    name = errno.errorcode.get(error.errno or 0, "unknown error")
    return f"{error.strerror or 'operating system error'} ({name})"
