"""A job killed right after it wrote a checkpoint, for the resume tests of every paper.

>>> with monkeypatch.context() as patch:
...     kill_after_first_save(patch)
...     with pytest.raises(Killed):
...         train(cfg, out)  # dies with its first checkpoint on disk
>>> train(cfg, out)  # the rerun resumes from that checkpoint
"""

from __future__ import annotations

import pytest

from common.checkpoint import Checkpoint


class Killed(RuntimeError):
    """Stands for SIGKILL right after a checkpoint was written; ``args[0]`` is its step."""

    def __init__(self, step: int) -> None:
        super().__init__(step)
        self.step = step

    def __str__(self) -> str:
        return f"killed after saving step {self.step}"


def kill_after_first_save(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``Checkpoint.maybe_save`` raise `Killed` right after its first actual save."""
    original = Checkpoint.maybe_save

    def maybe_save(self, step, state, extra=None):
        if original(self, step, state, extra):
            raise Killed(step)
        return False

    monkeypatch.setattr(Checkpoint, "maybe_save", maybe_save)
