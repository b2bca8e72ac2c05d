"""Codes or feature maps -> occupancy grid -> marching cubes mesh -> surface points."""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from skimage.measure import marching_cubes

from common.progress import Progress
from papers.argus3d.model import ShapeAutoencoder

QUERY_CHUNK = 8192


def grid_points(res: int) -> torch.Tensor:
    """(res^3, 3) cell centres of the unit cube [-0.5, 0.5]^3, x slowest."""
    ax = (torch.arange(res, dtype=torch.float32) + 0.5) / res - 0.5
    return torch.stack(torch.meshgrid(ax, ax, ax, indexing="ij"), dim=-1).reshape(-1, 3)


@torch.no_grad()
def occupancy_grids(model: ShapeAutoencoder, feats: torch.Tensor, res: int) -> np.ndarray:
    """Occupancy probabilities (B, res, res, res) from decoded feature maps."""
    pts = grid_points(res)
    out = []
    for s in range(0, len(pts), QUERY_CHUNK):
        q = pts[s : s + QUERY_CHUNK].expand(feats.shape[0], -1, -1)
        out.append(torch.sigmoid(model.query(feats, q)))
    return torch.cat(out, dim=1).reshape(-1, res, res, res).numpy()


def mesh_from_grid(prob: np.ndarray, threshold: float) -> trimesh.Trimesh | None:
    """Marching cubes at ``threshold`` (padded with empty space: closed meshes); None if empty."""
    res = prob.shape[0]
    padded = np.pad(prob, 1, constant_values=0.0)
    if padded.max() <= threshold:
        return None
    verts, faces, _, _ = marching_cubes(padded, level=threshold)
    verts = (verts - 0.5) / res - 0.5  # padded index -> cell centre coordinates
    return trimesh.Trimesh(verts, faces, process=False)


def surface_points(
    prob: np.ndarray, threshold: float, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """n points on the extracted surface; a shape without a surface gives uniform noise (False)."""
    mesh = mesh_from_grid(prob, threshold)
    if mesh is None or mesh.area <= 0:
        return rng.uniform(-0.5, 0.5, (n, 3)).astype(np.float32), False
    pts, _ = trimesh.sample.sample_surface(mesh, n, seed=int(rng.integers(2**31)))
    return np.asarray(pts, dtype=np.float32), True


@torch.no_grad()
def decode_codes(
    model: ShapeAutoencoder,
    codes: np.ndarray,
    sc,
    n_points: int,
    rng: np.random.Generator,
    batch: int = 16,
    desc: str = "decode",
) -> tuple[np.ndarray, np.ndarray]:
    """Codes (S, T) -> (surface points (S, n, 3), has-surface flags (S,))."""
    pts, ok = [], []
    bar = Progress(len(codes), desc)
    for s in range(0, len(codes), batch):
        bar.update(s)
        feats = model.codes_to_features(torch.as_tensor(codes[s : s + batch], dtype=torch.long))
        for prob in occupancy_grids(model, feats, sc.mc_res):
            p, good = surface_points(prob, sc.threshold, n_points, rng)
            pts.append(p)
            ok.append(good)
    bar.update(len(codes))
    return np.stack(pts), np.array(ok)
