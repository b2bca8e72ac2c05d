"""Pieces shared by the entry points: data loading and torch model files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from common.cli import UserError
from common.config import require
from common.io import atomic_path
from papers.argus3d.data import ShapeSet, load_split


def load_data(cfg: DictConfig, split: str, n_query: int | None = None) -> ShapeSet:
    """One split of the dataset in ``run.data_dir`` (fixed subsampling seed per split)."""
    dc = cfg.data
    require(cfg, {"run.data_dir": (bool(cfg.run.data_dir), "must name the dataset folder")})
    return load_split(
        cfg.run.data_dir, list(dc.categories), split, dc.n_surface, n_query or dc.n_query,
        seed=("train", "val", "test").index(split),
    )  # fmt: skip


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """torch.save atomically (final model files; training checkpoints use common.checkpoint)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: str | os.PathLike) -> Any:
    """torch.load of tensors and plain containers only (weights_only)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"missing file {path} (run the rule that writes it first)")
    return torch.load(path, weights_only=True)
