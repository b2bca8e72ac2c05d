"""Pieces shared by the entry points: data loading, torch checkpoints, validation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from common.cli import UserError
from common.io import atomic_path
from papers.argus3d.data import ShapeSet, load_split


def load_data(cfg: DictConfig, split: str, n_query: int | None = None) -> ShapeSet:
    """One split of the configured dataset (fixed subsampling seed per split)."""
    dc = cfg.data
    return load_split(
        dc.root, list(dc.categories), split, dc.n_surface, n_query or dc.n_query,
        seed=("train", "val", "test").index(split),
    )  # fmt: skip


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """torch.save atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: str | os.PathLike) -> Any:
    """torch.load of tensors and plain containers only (weights_only)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"missing file {path} (run the rule that writes it first)")
    return torch.load(path, weights_only=True)


def require(checks: dict[str, tuple[bool, str]], cfg: DictConfig) -> None:
    """Raise a one-line UserError for the first failed (ok, rule) check, naming the field."""
    from omegaconf import OmegaConf

    for name, (ok, rule) in checks.items():
        if not ok:
            raise UserError(f"{name} {rule}, got {OmegaConf.select(cfg, name)!r}")


class TrainState:
    """Periodic checkpoint of a model, its optimizer and LR schedule, the step and the log rows.

    A checkpoint is resumed only when it was written under the same config hash, so a killed
    job rerun by Snakemake continues and a changed config starts over.
    """

    def __init__(self, path: Path, cfg_hash: str, every: int, **objs: Any) -> None:
        self.path, self.hash, self.every, self.objs = Path(path), cfg_hash, every, objs

    def load(self) -> tuple[int, list[dict]]:
        """(first step to run, log rows so far)."""
        if not self.path.exists():
            return 0, []
        state = load_torch(self.path)
        if state["hash"] != self.hash:
            return 0, []
        for name, obj in self.objs.items():
            obj.load_state_dict(state[name])
        print(f"resumed at step {state['step']}")
        return int(state["step"]), list(state["rows"])

    def maybe_save(self, done: int, total: int, rows: list[dict]) -> None:
        """Save after ``done`` steps when it is a multiple of the interval (not at the end)."""
        if done % self.every == 0 and done < total:
            objs = {name: obj.state_dict() for name, obj in self.objs.items()}
            save_torch(self.path, {"hash": self.hash, "step": done, "rows": rows, **objs})

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
