"""Progress lines for long loops: step/total, values (e.g. loss), elapsed and ETA, written to
the log at least every 30 s, with or without a terminal, so ``tail -f`` on any Snakemake log
shows life (paper-scale jobs run for hours)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("progress")


def _clock(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


class Progress:
    """Log ``desc done/total values elapsed ETA`` at the first update, every ``every_s``
    seconds after it and at the last step."""

    def __init__(self, total: int, desc: str = "", initial: int = 0, every_s: float = 30.0):
        self.total, self.desc, self.initial, self.every_s = int(total), desc, int(initial), every_s
        self.start = time.monotonic()
        self.last = -float("inf")

    def update(self, done: int, **values: float) -> None:
        """Record that ``done`` steps are finished; log a line if one is due."""
        now = time.monotonic()
        if now - self.last < self.every_s and done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        rate = (done - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - done) / rate) if rate > 0 else "?"
        shown = " ".join(f"{k} {v:.4g}" for k, v in values.items())
        log.info(
            "%s %d/%d %s elapsed %s ETA %s",
            self.desc, done, self.total, shown, _clock(elapsed), eta,
        )  # fmt: skip


def progress(
    iterable: Iterable[T], desc: str = "", total: int | None = None, initial: int = 0
) -> Iterator[T]:
    """Iterate ``iterable``, logging progress lines as :class:`Progress` does."""
    total = len(iterable) + initial if total is None else total  # type: ignore[arg-type]
    bar = Progress(total, desc, initial)
    done = initial
    bar.update(done)
    for item in iterable:
        yield item
        done += 1
        bar.update(done)
