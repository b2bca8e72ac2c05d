"""One resume API for every training loop: periodic save, resume under the same config only.

A job killed mid-training and rerun by Snakemake continues from its last checkpoint instead
of starting over. The checkpoint stores the hash of the config that wrote it; a checkpoint
written under another config, or one that cannot be read (truncated, garbage), is set aside
with one log line naming the file, and training starts fresh: never a silent stale resume.

Two formats, chosen by the file suffix, both without pickle:
- ``.npz``: ``state`` is a nested dict of arrays (JAX/NumPy). Flax/optax pytrees become such
  dicts with ``flax.serialization.to_state_dict`` and come back with ``from_state_dict``.
- ``.pt``: ``state`` is any nesting of dicts/lists of tensors and numbers (torch
  ``state_dict``s of models, optimizers, schedulers); read back with ``weights_only=True``.
``extra`` is any JSON-serializable data (e.g. the training log so far).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from common.io import load_npz, load_torch, save_npz, save_torch

log = logging.getLogger(__name__)
_META = "__checkpoint__"
_SEP = "/"


class Resumed(NamedTuple):
    """What a checkpoint holds: steps done, the state and the extra data."""

    step: int
    state: Any
    extra: Any


def _flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    flat = {}
    for key, value in tree.items():
        key = str(key)
        if _SEP in key or key == _META:
            raise ValueError(f"checkpoint state key {key!r} may not contain {_SEP!r}")
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}{_SEP}"))
        else:
            flat[f"{prefix}{key}"] = np.asarray(value)
    return flat


def _unflatten(flat: dict[str, np.ndarray]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        *parents, leaf = path.split(_SEP)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


class Checkpoint:
    """Save ``state`` every ``every`` steps to ``path`` under ``cfg_hash``; resume it if it fits.

    >>> ckpt = Checkpoint(out / "checkpoint.pt", config_hash(cfg), every=100)
    >>> resumed = ckpt.load()            # None: fresh start
    >>> ckpt.maybe_save(step, state, extra=rows)
    >>> ckpt.remove()                    # once the final outputs are written
    """

    def __init__(self, path: str | os.PathLike, cfg_hash: str, every: int) -> None:
        self.path, self.hash, self.every = Path(path), str(cfg_hash), int(every)
        if self.every < 1:
            raise ValueError(f"checkpoint interval must be >= 1, got {every}")
        if self.path.suffix not in (".npz", ".pt"):
            raise ValueError(f"checkpoint {self.path}: suffix must be .npz or .pt")

    def load(self) -> Resumed | None:
        """The last checkpoint if it was written under this config and reads back, else None."""
        if not self.path.exists():
            return None
        try:
            meta, state = self._read()
        except Exception as err:  # any unreadable file: set it aside, start fresh
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            return self._discard(f"unreadable ({reason})")
        if meta.get("config_hash") != self.hash:
            return self._discard(
                f"written under config {meta.get('config_hash')}, this run is {self.hash}"
            )
        log.info("resuming %s at step %d", self.path, meta["step"])
        return Resumed(int(meta["step"]), state, meta.get("extra"))

    def save(self, step: int, state: Any, extra: Any = None) -> None:
        """Write a checkpoint now (atomically, byte-identical for identical state)."""
        meta = {"config_hash": self.hash, "step": int(step), "extra": extra}
        if self.path.suffix == ".npz":
            save_npz(self.path, **_flatten(state), **{_META: np.array(json.dumps(meta))})
            return
        save_torch(self.path, {_META: json.dumps(meta), "state": state})

    def maybe_save(self, step: int, state: Any, extra: Any = None) -> bool:
        """Save if ``step`` is a multiple of the interval; return whether it saved.

        ``state`` may be a zero-argument callable, called only when a save is due.
        """
        if step % self.every:
            return False
        self.save(step, state() if callable(state) else state, extra)
        return True

    def remove(self) -> None:
        """Delete the checkpoint once the final outputs are written."""
        self.path.unlink(missing_ok=True)

    def _read(self) -> tuple[dict, Any]:
        if self.path.suffix == ".npz":
            flat = load_npz(self.path)
            meta = json.loads(str(flat.pop(_META)))
            return meta, _unflatten(flat)
        data = load_torch(self.path)
        return json.loads(data[_META]), data["state"]

    def _discard(self, reason: str) -> None:  # always None: the caller starts fresh
        log.warning("checkpoint %s %s: starting fresh", self.path, reason)
        self.path.unlink(missing_ok=True)
        return None
