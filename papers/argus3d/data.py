"""Shape datasets in the ConvONet / ShapeNet layout: the procedural writer and the loaders.

Layout (as ConvONet's preprocessed ShapeNet, read unchanged at paper scale)::

    <root>/<category>/{train,val,test}.lst          one model name per line
    <root>/<category>/<model>/pointcloud.npz        points (N, 3), normals (N, 3)
    <root>/<category>/<model>/points.npz            points (M, 3), occupancies packbits(M)
    <root>/<category>/<model>/points_iou.npz        (optional) uniform IoU queries, same keys

Coordinates live in the unit cube [-0.5, 0.5]^3. ``points.npz`` of the procedural data mixes
uniform and near-surface queries (training); ``points_iou.npz`` holds uniform ones (IoU).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.cli import UserError
from common.io import atomic_path, save_npz
from papers.argus3d.shapes import CATEGORIES, make_shape, occupancy, sample_surface

SPLITS = ("train", "val", "test")


def write_model(path: Path, prims: np.ndarray, dc, rng: np.random.Generator) -> None:
    """Write one procedural shape's three files under ``path``."""
    pts, nrm = sample_surface(prims, dc.n_surface, rng)
    save_npz(path / "pointcloud.npz", points=pts, normals=nrm)
    n_near = int(dc.n_query * dc.near_fraction)
    near = pts[rng.integers(0, len(pts), n_near)] + rng.normal(0, dc.near_sigma, (n_near, 3))
    uni = rng.uniform(-0.5, 0.5, (dc.n_query - n_near, 3))
    query = np.clip(np.concatenate([uni, near]), -0.5, 0.5).astype(np.float32)
    save_npz(path / "points.npz", points=query, occupancies=np.packbits(occupancy(prims, query)))
    iou = rng.uniform(-0.5, 0.5, (dc.n_query, 3)).astype(np.float32)
    save_npz(path / "points_iou.npz", points=iou, occupancies=np.packbits(occupancy(prims, iou)))
    save_npz(path / "primitives.npz", primitives=prims)


def write_procedural(root: str | os.PathLike, dc, seed: int) -> None:
    """Write the procedural dataset (every category and split) under ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for cat in dc.categories:
        if cat not in CATEGORIES:
            raise UserError(f"data.categories: unknown {cat!r}; allowed {', '.join(CATEGORIES)}")
        names = {}
        for split in SPLITS:
            count = int(getattr(dc, f"n_{split}"))
            names[split] = [f"{split}_{i:05d}" for i in range(count)]
            for name in names[split]:
                write_model(root / cat / name, make_shape(cat, rng), dc, rng)
        for split in SPLITS:  # the lists last: a complete list means a complete split
            with atomic_path(root / cat / f"{split}.lst") as tmp:
                tmp.write_text("\n".join(names[split]) + "\n")


def read_list(root: str | os.PathLike, category: str, split: str) -> list[str]:
    """Model names of one category's split."""
    path = Path(root) / category / f"{split}.lst"
    if not path.exists():
        raise UserError(f"dataset {root}: missing split list {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not path.exists():
        raise UserError(f"dataset: missing file {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise UserError(f"dataset: {path} lacks key {missing[0]!r} (needs {keys})")
            return {k: data[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise UserError(f"dataset: cannot read {path}: {err}") from None


def read_queries(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(points float32 (M, 3), occupancies bool (M,)) of a points.npz-style file."""
    d = _npz(path, ("points", "occupancies"))
    pts = d["points"].astype(np.float32)
    occ = np.unpackbits(d["occupancies"])[: len(pts)].astype(bool)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(occ) != len(pts):
        raise UserError(f"dataset: {path} has points {pts.shape} and {len(occ)} occupancies")
    return pts, occ


def read_pointcloud(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(points, normals) float32 of a pointcloud.npz."""
    d = _npz(path, ("points", "normals"))
    pts, nrm = d["points"].astype(np.float32), d["normals"].astype(np.float32)
    if pts.ndim != 2 or pts.shape[1] != 3 or nrm.shape != pts.shape:
        raise UserError(f"dataset: {path} has points {pts.shape} and normals {nrm.shape}")
    return pts, nrm


@dataclass
class ShapeSet:
    """Fixed-size arrays of one split: surface points, training and IoU queries, categories."""

    surface: np.ndarray  # (S, n_surface, 3)
    query: np.ndarray  # (S, n_query, 3)
    occ: np.ndarray  # (S, n_query) bool
    iou_query: np.ndarray
    iou_occ: np.ndarray
    category: np.ndarray  # (S,) index into the categories
    names: list[str]

    def __len__(self) -> int:
        return len(self.category)


def _take(arr: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n rows of ``arr`` (without replacement when possible)."""
    return arr[rng.choice(len(arr), size=n, replace=len(arr) < n)]


def load_split(root, categories, split: str, n_surface: int, n_query: int, seed: int = 0):
    """Read one split of every category into a ShapeSet, subsampling to fixed sizes."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} (run.data_dir) does not exist")
    rng = np.random.default_rng(seed)
    surf, qry, occ, iq, io, cats, names = [], [], [], [], [], [], []
    for ci, cat in enumerate(categories):
        for name in read_list(root, cat, split):
            model = root / cat / name
            pts, _ = read_pointcloud(model / "pointcloud.npz")
            q, o = read_queries(model / "points.npz")
            iou_path = model / "points_iou.npz"
            qi, oi = read_queries(iou_path) if iou_path.exists() else (q, o)
            surf.append(_take(pts, n_surface, rng))
            idx = rng.choice(len(q), size=n_query, replace=len(q) < n_query)
            qry.append(q[idx])
            occ.append(o[idx])
            idx = rng.choice(len(qi), size=n_query, replace=len(qi) < n_query)
            iq.append(qi[idx])
            io.append(oi[idx])
            cats.append(ci)
            names.append(f"{cat}/{name}")
    if not cats:
        raise UserError(f"dataset {root}: split {split!r} is empty for {list(categories)}")
    return ShapeSet(
        np.stack(surf), np.stack(qry), np.stack(occ), np.stack(iq), np.stack(io),
        np.array(cats), names,
    )  # fmt: skip
