"""Periodic save and resume for long training loops (NPZ, no pickle).

A job killed mid-training and rerun by Snakemake continues from its last checkpoint
instead of starting over. The state is a flat dict of arrays; ``extra`` is any
JSON-serializable data (e.g. the training log so far), stored as a JSON string.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from common.io import load_npz, save_npz

_STEP, _EXTRA = "__step__", "__extra__"


class Checkpointer:
    """Save ``state`` every ``every`` steps to ``path``; ``load`` returns the last one or None."""

    def __init__(self, path: str | os.PathLike, every: int) -> None:
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1, got {every}")
        self.path, self.every = Path(path), every

    def load(self) -> tuple[int, dict[str, np.ndarray], Any] | None:
        """(step, state, extra) of the last checkpoint, or None if there is none."""
        if not self.path.exists():
            return None
        data = load_npz(self.path)
        step = int(data.pop(_STEP))
        extra = json.loads(str(data.pop(_EXTRA)))
        return step, data, extra

    def save(self, step: int, state: dict[str, np.ndarray], extra: Any = None) -> None:
        """Write a checkpoint now (atomically)."""
        arrays = {k: np.asarray(v) for k, v in state.items()}
        save_npz(
            self.path, **arrays, **{_STEP: np.array(step), _EXTRA: np.array(json.dumps(extra))}
        )

    def maybe_save(self, step: int, state: dict[str, np.ndarray], extra: Any = None) -> bool:
        """Save if ``step`` is a multiple of the interval; return whether it saved."""
        if step % self.every:
            return False
        self.save(step, state, extra)
        return True

    def remove(self) -> None:
        """Delete the checkpoint once the final outputs are written."""
        self.path.unlink(missing_ok=True)
