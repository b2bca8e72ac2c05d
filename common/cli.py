"""Command-line plumbing: turn expected user errors into one clear line and exit code 2.

One handler for every entry point: bad values (``UserError``, ``ValueError``, ...) and the I/O
failures users meet (missing or unreadable files, permission denied, a full disk, a path that
is a file or a folder) end with ``error: <what>: <file> (<what to do>)`` on stderr, no
traceback. Outputs are written atomically (``common.io``), so nothing half-written is left.
"""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: Exceptions that mean "bad input" (a wrong override, a missing or malformed file).
USER_ERRORS = (FileNotFoundError, ValueError, TypeError, KeyError)

#: What to do about an OS error, by errno.
IO_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and rerun",
    errno.EDQUOT: "the disk quota is exceeded: free some space and rerun",
    errno.EACCES: "permission denied: make the location writable (or readable) and rerun",
    errno.EPERM: "operation not permitted: check the location's permissions and rerun",
    errno.EROFS: "read-only file system: choose a writable output location",
    errno.EISDIR: "a folder is in the way of a file: remove or rename it",
    errno.ENOTDIR: "a file is in the way of a folder: remove or rename it",
    errno.EEXIST: "a file is in the way: remove or rename it",
    errno.ENOENT: "no such file or folder: check the path (or run the step that writes it)",
}


class UserError(Exception):
    """Bad input that should end the program with one line, no traceback."""


def describe(err: BaseException) -> str:
    """One line for an expected error: the message, and for OS errors the file and a hint."""
    if isinstance(err, OSError) and err.errno in IO_HINTS and err.filename is not None:
        names = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
        msg = f"{names}: {IO_HINTS[err.errno]}"
    elif isinstance(err, OSError) and err.filename is not None:
        msg = f"{err.filename}: {err.strerror or err}"
    elif isinstance(err, KeyError) and err.args:
        msg = str(err.args[0])
    else:
        msg = str(err) or type(err).__name__
    return " ".join(msg.split())


def one_line_errors(func: F) -> F:
    """Run ``func``; on a user or I/O error print ``error: <message>`` to stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (UserError, OSError, *USER_ERRORS) as err:
            print(f"error: {describe(err)}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]
