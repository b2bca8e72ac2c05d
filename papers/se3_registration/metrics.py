"""Pose errors and the recall metrics of the paper's tables.

Translation recalls use the paper's absolute 1/2/5 cm; as an extra column (``_scaled``) the
thresholds are scaled by the object's size (``k cm * diameter / ref_diameter``). The released
code compares the *squared* translation error (in cm) with the thresholds; we report that
variant too, labelled ``released_sq``.
"""

from __future__ import annotations

import numpy as np
import roma
import torch
from scipy.spatial import cKDTree

from papers.se3_registration import lie


def rotation_error_deg(H_pred: torch.Tensor, H_true: torch.Tensor) -> np.ndarray:
    """Geodesic angle between the rotations, degrees."""
    ang = roma.rotmat_geodesic_distance(H_pred[..., :3, :3], H_true[..., :3, :3])
    return np.degrees(ang.numpy())


def translation_error_cm(H_pred: torch.Tensor, H_true: torch.Tensor) -> np.ndarray:
    """Euclidean distance between the translations, cm (poses in metres)."""
    return 100 * torch.linalg.norm(H_pred[..., :3, 3] - H_true[..., :3, 3], dim=-1).numpy()


def add_error(H_pred, H_true, points: np.ndarray, symmetric: np.ndarray) -> np.ndarray:
    """ADD (mean distance of corresponding model points), metres; for symmetric objects ADD-S
    (Hinterstoisser et al., BOP): over the model points under the true pose, the mean distance
    to the nearest model point under the predicted pose."""
    P = torch.from_numpy(np.asarray(points, np.float64))
    pred, true = lie.transform(H_pred, P).numpy(), lie.transform(H_true, P).numpy()
    out = np.linalg.norm(pred - true, axis=-1).mean(-1)
    for i in np.flatnonzero(symmetric):
        out[i] = cKDTree(pred[i]).query(true[i])[0].mean()
    return out


def summarise(prefix: str, rot_deg, trans_cm, add_m, diameter_m, cfg_eval) -> dict[str, float]:
    """Medians and recalls (percent) of one method: translation at absolute cm (the paper's),
    the released squared criterion, and thresholds scaled by object size (``_scaled``)."""
    scaled = trans_cm * cfg_eval.ref_diameter_mm / (1000 * diameter_m)
    out = {
        f"{prefix}_rot_median_deg": float(np.median(rot_deg)),
        f"{prefix}_trans_median_cm": float(np.median(trans_cm)),
        f"{prefix}_add": 100 * float(np.mean(add_m < cfg_eval.add_frac * diameter_m)),
    }
    for k in cfg_eval.rot_deg:
        out[f"{prefix}_recall_rot{k:g}"] = 100 * float(np.mean(rot_deg < k))
    for k in cfg_eval.trans_cm:
        out[f"{prefix}_recall_trans{k:g}"] = 100 * float(np.mean(trans_cm < k))
        out[f"{prefix}_recall_trans{k:g}_released_sq"] = 100 * float(np.mean(trans_cm**2 < k))
        out[f"{prefix}_recall_trans{k:g}_scaled"] = 100 * float(np.mean(scaled < k))
    return out
