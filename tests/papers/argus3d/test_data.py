"""Loaders of the ConvONet / ShapeNet layout: procedural files and ShapeNet-style files."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from common.cli import UserError
from papers.argus3d.data import load_split, read_queries, write_procedural
from papers.argus3d.shapes import make_shape, occupancy

DC = SimpleNamespace(categories=["chair", "lamp"], n_train=3, n_val=1, n_test=2, n_surface=256,
                     n_query=300, near_fraction=0.5, near_sigma=0.02)  # fmt: skip


def test_procedural_files_match_analytic_occupancy(tmp_path):
    write_procedural(tmp_path, DC, seed=0)
    assert (tmp_path / "chair" / "train.lst").read_text().split() == [
        "train_00000", "train_00001", "train_00002"]  # fmt: skip
    model = tmp_path / "lamp" / "test_00001"
    prims = np.load(model / "primitives.npz")["primitives"]
    for name in ("points.npz", "points_iou.npz"):
        pts, occ = read_queries(model / name)
        assert pts.shape == (300, 3)
        assert np.array_equal(occ, occupancy(prims, pts))
    data = load_split(tmp_path, DC.categories, "train", n_surface=128, n_query=100)
    assert data.surface.shape == (6, 128, 3) and data.occ.shape == (6, 100)
    assert data.category.tolist() == [0, 0, 0, 1, 1, 1]
    assert 0 < data.occ.mean() < 1


def test_shapenet_style_directory(tmp_path):
    """ConvONet's ShapeNet files: float16 points, packed occupancies, no points_iou.npz."""
    rng = np.random.default_rng(0)
    cat = tmp_path / "03001627"
    for name in ("a1", "b2"):
        (cat / name).mkdir(parents=True)
        prims = make_shape("chair", rng)
        q = rng.uniform(-0.55, 0.55, (1001, 3)).astype(np.float16)
        np.savez(cat / name / "points.npz", points=q,
                 occupancies=np.packbits(occupancy(prims, q.astype(np.float64))))  # fmt: skip
        np.savez(cat / name / "pointcloud.npz", points=rng.normal(size=(500, 3)).astype(np.float16),
                 normals=rng.normal(size=(500, 3)).astype(np.float16))  # fmt: skip
    (cat / "test.lst").write_text("a1\nb2\n")
    data = load_split(tmp_path, ["03001627"], "test", n_surface=64, n_query=200)
    assert data.surface.dtype == np.float32 and data.iou_query.shape == (2, 200, 3)
    assert data.names == ["03001627/a1", "03001627/b2"]


def test_malformed_dataset_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_split(tmp_path / "nowhere", ["chair"], "train", 8, 8)
    (tmp_path / "chair").mkdir()
    with pytest.raises(UserError, match="missing split list"):
        load_split(tmp_path, ["chair"], "train", 8, 8)
    (tmp_path / "chair" / "train.lst").write_text("m\n")
    (tmp_path / "chair" / "m").mkdir()
    np.savez(tmp_path / "chair" / "m" / "pointcloud.npz", points=np.zeros((4, 3)))
    with pytest.raises(UserError, match="lacks key 'normals'"):
        load_split(tmp_path, ["chair"], "train", 8, 8)
