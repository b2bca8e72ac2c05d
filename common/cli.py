"""Command-line plumbing: turn expected user errors into one clear line and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

#: Exceptions that mean "bad input" (a wrong override, a missing or malformed file).
USER_ERRORS = (FileNotFoundError, ValueError, TypeError, KeyError)


class UserError(Exception):
    """Bad input that should end the program with one line, no traceback."""


def one_line_errors(func: F) -> F:
    """Run ``func``; on a user error print ``error: <message>`` to stderr and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (UserError, *USER_ERRORS) as err:
            msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
            print(f"error: {' '.join(msg.split())}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]
