"""SE(3) as 4x4 homogeneous matrices; se(3) twists as 6-vectors (rotation omega, then rho).

Rotations go through roma (so(3) exp/log); the translation part uses the left Jacobian
V(omega) of SO(3), with Taylor series for small angles so that float64 stays exact near
the identity. Every function works on batches (leading dimensions) and on any float dtype.
"""

from __future__ import annotations

import roma
import torch

SMALL_ANGLE = 1e-3  # below this angle (rad) the Jacobian coefficients use their Taylor series


def hat3(w: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) skew-symmetric matrix [w]_x."""
    z = torch.zeros_like(w[..., 0])
    x, y, zc = w.unbind(-1)
    rows = (torch.stack([z, -zc, y], -1), torch.stack([zc, z, -x], -1), torch.stack([-y, x, z], -1))
    return torch.stack(rows, -2)


def _jacobian_coeffs(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a = (1 - cos t)/t^2 and b = (t - sin t)/t^3, series below SMALL_ANGLE."""
    small = theta < SMALL_ANGLE
    t = torch.where(small, torch.ones_like(theta), theta)  # safe denominators
    t2 = theta * theta
    a = torch.where(small, 0.5 - t2 / 24 + t2 * t2 / 720, (1 - torch.cos(t)) / (t * t))
    b = torch.where(small, 1 / 6 - t2 / 120 + t2 * t2 / 5040, (t - torch.sin(t)) / (t * t * t))
    return a, b


def left_jacobian(w: torch.Tensor) -> torch.Tensor:
    """Left Jacobian V(w) = I + a [w]_x + b [w]_x^2 of SO(3), (..., 3) -> (..., 3, 3)."""
    a, b = _jacobian_coeffs(torch.linalg.norm(w, dim=-1))
    W = hat3(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand_as(W)
    return eye + a[..., None, None] * W + b[..., None, None] * (W @ W)


def make_pose(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3), (..., 3) -> (..., 4, 4)."""
    H = torch.zeros(*R.shape[:-2], 4, 4, dtype=R.dtype, device=R.device)
    H[..., :3, :3] = R
    H[..., :3, 3] = t
    H[..., 3, 3] = 1
    return H


def identity(*batch: int, dtype=torch.float64) -> torch.Tensor:
    """Identity poses of shape (*batch, 4, 4)."""
    return torch.eye(4, dtype=dtype).expand(*batch, 4, 4).clone()


def exp(xi: torch.Tensor) -> torch.Tensor:
    """se(3) -> SE(3): (..., 6) twist (omega, rho) -> (..., 4, 4)."""
    w, rho = xi[..., :3], xi[..., 3:]
    R = roma.rotvec_to_rotmat(w)
    t = (left_jacobian(w) @ rho[..., None])[..., 0]
    return make_pose(R, t)


def log(H: torch.Tensor) -> torch.Tensor:
    """SE(3) -> se(3): (..., 4, 4) -> (..., 6) twist (omega, rho), rotation angle in [0, pi]."""
    w = roma.rotmat_to_rotvec(H[..., :3, :3])
    rho = torch.linalg.solve(left_jacobian(w), H[..., :3, 3:])[..., 0]
    return torch.cat([w, rho], -1)


def inverse(H: torch.Tensor) -> torch.Tensor:
    """Closed-form inverse of rigid transforms."""
    Rt = H[..., :3, :3].transpose(-1, -2)
    return make_pose(Rt, -(Rt @ H[..., :3, 3:])[..., 0])


def interpolate(H_a: torch.Tensor, H_b: torch.Tensor, s) -> torch.Tensor:
    """Geodesic from H_a (s = 0) to H_b (s = 1): exp(s log(H_b H_a^-1)) H_a."""
    s = torch.as_tensor(s, dtype=H_a.dtype)
    xi = log(H_b @ inverse(H_a))
    return exp(s[..., None] * xi) @ H_a


def transform(H: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply (..., 4, 4) poses to (..., N, 3) points."""
    return points @ H[..., :3, :3].transpose(-1, -2) + H[..., None, :3, 3]
