"""Generation metrics between point-cloud sets: Chamfer distance, EMD, COV, MMD, 1-NNA.

Chamfer distance: mean squared distance to the nearest point, summed over both directions.
EMD: mean matched distance of the optimal one-to-one assignment between equal-size sets
(exact, scipy's ``linear_sum_assignment``). COV, MMD and 1-NNA follow PointFlow's
definitions: COV is the share of reference shapes that are the nearest reference of some
generated shape; MMD the mean over reference shapes of the distance to the nearest
generated shape; 1-NNA the leave-one-out accuracy of the 1-nearest-neighbour classifier
telling generated from reference shapes (50% is ideal).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


@torch.no_grad()
def chamfer_matrix(
    a: np.ndarray, b: np.ndarray, chunk: int = 64, symmetric: bool = False
) -> np.ndarray:
    """(n, m) Chamfer distances between point sets a (n, P, 3) and b (m, Q, 3);
    ``symmetric`` (a is b) computes the upper triangle once. Squared distances come from
    |x|^2 + |y|^2 - 2 x.y in one batched matrix product per chunk (cheaper than squaring
    ``torch.cdist``)."""
    ta, tb = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    na, nb = ta.square().sum(-1), tb.square().sum(-1)
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for s in range(i if symmetric else 0, len(b), chunk):
            y = tb[s : s + chunk]
            norms = na[i][None, :, None] + nb[s : s + chunk][:, None, :]
            d = torch.baddbmm(norms, ta[i].expand(len(y), -1, -1), y.transpose(1, 2), alpha=-2)
            d = d.clamp_(min=0)
            out[i, s : s + chunk] = (d.amin(2).mean(1) + d.amin(1).mean(1)).numpy()
    return np.triu(out) + np.triu(out, 1).T if symmetric else out


def emd(x: np.ndarray, y: np.ndarray) -> float:
    """Exact EMD (mean matched Euclidean distance) between equal-size point sets."""
    if len(x) != len(y):
        raise ValueError(f"EMD needs equal-size point sets, got {len(x)} and {len(y)}")
    cost = cdist(x, y)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def emd_matrix(a: np.ndarray, b: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """(n, m) EMDs; ``symmetric`` (a is b) computes the upper triangle once."""
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(i + 1 if symmetric else 0, len(b)):
            out[i, j] = emd(a[i], b[j])
            if symmetric:
                out[j, i] = out[i, j]
    return out


def coverage_mmd(d_gr: np.ndarray) -> tuple[float, float]:
    """(COV, MMD) from generated x reference distances."""
    cov = len(np.unique(d_gr.argmin(axis=1))) / d_gr.shape[1]
    mmd = float(d_gr.min(axis=0).mean())
    return float(cov), mmd


def one_nna(d_gg: np.ndarray, d_gr: np.ndarray, d_rr: np.ndarray) -> float:
    """Leave-one-out 1-NN accuracy over generated (label 0) and reference (label 1) shapes."""
    n_g = len(d_gg)
    full = np.block([[d_gg, d_gr], [d_gr.T, d_rr]]).astype(float)
    np.fill_diagonal(full, np.inf)
    labels = np.r_[np.zeros(n_g), np.ones(len(d_rr))]
    return float((labels[full.argmin(axis=1)] == labels).mean())


def set_metrics(gen: np.ndarray, ref: np.ndarray, dist: str) -> dict:
    """COV, MMD and 1-NNA (fractions) between generated and reference point sets, and the
    distance matrices ``d_gg``, ``d_gr``, ``d_rr``."""
    if dist == "cd":
        d_gg = chamfer_matrix(gen, gen, symmetric=True)
        d_rr = chamfer_matrix(ref, ref, symmetric=True)
        d_gr = chamfer_matrix(gen, ref)
    elif dist == "emd":
        d_gg, d_rr = emd_matrix(gen, gen, symmetric=True), emd_matrix(ref, ref, symmetric=True)
        d_gr = emd_matrix(gen, ref)
    else:
        raise ValueError(f"dist must be 'cd' or 'emd', got {dist!r}")
    cov, mmd = coverage_mmd(d_gr)
    return {"cov": cov, "mmd": mmd, "nna": one_nna(d_gg, d_gr, d_rr),
            "d_gg": d_gg, "d_gr": d_gr, "d_rr": d_rr}  # fmt: skip


def nearest_distance(a: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Chamfer distance of every set in a to its nearest set in pool."""
    return chamfer_matrix(a, pool).min(axis=1)
