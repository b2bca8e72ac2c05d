"""Progress bars that show on a terminal and stay quiet in logs and CI."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str = "", **kwargs) -> Iterator[T]:
    """Wrap ``iterable`` in tqdm, disabled when stderr is not a terminal."""
    return iter(tqdm(iterable, desc=desc, disable=not sys.stderr.isatty(), **kwargs))
