"""Pieces shared by the entry points: data loading."""

from __future__ import annotations

from omegaconf import DictConfig

from common.config import require
from papers.argus3d.data import ShapeSet, load_split


def load_data(cfg: DictConfig, split: str, n_query: int | None = None) -> ShapeSet:
    """One split of the dataset in ``run.data_dir`` (fixed subsampling seed per split)."""
    dc = cfg.data
    require(cfg, {"run.data_dir": (bool(cfg.run.data_dir), "must name the dataset folder")})
    return load_split(
        cfg.run.data_dir, list(dc.categories), split, dc.n_surface, n_query or dc.n_query,
        seed=("train", "val", "test").index(split),
    )  # fmt: skip
