"""Diffusion on SE(3): cosine schedule, forward process towards the identity, reverse process.

Forward (Jiang et al. 2023, as released): H_t = exp(eps) exp((1 - sqrt(abar_t)) log(H_T H_0^-1)) H_0
with H_T = identity and eps ~ N(0, (1 - abar_t) diag(sigma_r^2 I3, sigma_t^2 I3)) in se(3).
Reverse: start at H = identity; at each step a denoiser predicts H0hat from H_t and
H_{t'} = exp(g0 log H0hat + g1 log H_t), the DDPM posterior mean taken in the Lie algebra,
optionally left-multiplied by exp of posterior-variance noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from papers.se3_registration import lie

Denoiser = Callable[[torch.Tensor, int], torch.Tensor]  # (H_t (B, 4, 4), t) -> H0hat (B, 4, 4)


def cosine_alpha_bar(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """abar_0 .. abar_T (abar_0 = 1) of the cosine schedule (Nichol & Dhariwal), betas clipped."""
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * math.pi / 2) ** 2
    betas = np.clip(1 - f[1:] / f[:-1], 0, max_beta)
    return np.concatenate([[1.0], np.cumprod(1 - betas)])


def scales(sigma_r: float, sigma_t: float, dtype=torch.float64) -> torch.Tensor:
    """Per-component noise scale of a twist: sigma_r for omega, sigma_t for rho."""
    return torch.tensor([sigma_r] * 3 + [sigma_t] * 3, dtype=dtype)


def noise_scales(dc, test: bool = False) -> torch.Tensor:
    """The twist noise scales of config section ``diffusion`` with the translation in metres.

    sigma_t is given in the released code's length unit (``length_unit_mm``, 256 mm).
    """
    sigma_r, sigma_t = (dc.test_sigma_r, dc.test_sigma_t) if test else (dc.sigma_r, dc.sigma_t)
    return scales(sigma_r, sigma_t * dc.length_unit_mm / 1000)


def q_sample(
    H0: torch.Tensor,
    abar: torch.Tensor,
    sigma: torch.Tensor,
    gen: torch.Generator | None = None,
    HT: torch.Tensor | None = None,
) -> torch.Tensor:
    """Noisy poses H_t for clean poses H0 (B, 4, 4) at levels abar (B,)."""
    HT = lie.identity(*H0.shape[:-2], dtype=H0.dtype) if HT is None else HT
    mean = lie.interpolate(H0, HT, 1 - torch.sqrt(abar))
    eps = torch.randn(*H0.shape[:-2], 6, generator=gen, dtype=H0.dtype)
    return lie.exp(eps * sigma * torch.sqrt(1 - abar)[..., None]) @ mean


@dataclass(frozen=True)
class PosteriorStep:
    """Coefficients of one reverse step t -> t_prev: mean g0 x0 + g1 x_t, variance var."""

    t: int
    t_prev: int
    g0: float
    g1: float
    var: float


def reverse_steps(alpha_bar: np.ndarray, n_steps: int) -> list[PosteriorStep]:
    """n_steps evenly strided steps from T to 0, each with its DDPM posterior coefficients."""
    T = len(alpha_bar) - 1
    if not 1 <= n_steps <= T:
        raise ValueError(f"number of reverse steps must be in [1, {T}], got {n_steps}")
    ts = np.round(np.linspace(T, 0, n_steps + 1)).astype(int)
    steps = []
    for t, tp in zip(ts[:-1], ts[1:], strict=True):
        a_t, a_p = float(alpha_bar[t]), float(alpha_bar[tp])
        alpha = a_t / a_p
        beta = 1 - alpha
        g0 = math.sqrt(a_p) * beta / (1 - a_t)
        g1 = math.sqrt(alpha) * (1 - a_p) / (1 - a_t)
        steps.append(PosteriorStep(int(t), int(tp), g0, g1, (1 - a_p) / (1 - a_t) * beta))
    return steps


def sample(
    denoiser: Denoiser,
    batch: int,
    steps: list[PosteriorStep],
    sigma: torch.Tensor | None = None,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run the reverse process from the identity; return the final poses and every H_t.

    ``sigma`` (the per-component test-time noise scale) None: deterministic (no noise).
    """
    H = lie.identity(batch)
    path = [H]
    for step in steps:
        H0hat = denoiser(H, step.t)
        xi = step.g0 * lie.log(H0hat) + step.g1 * lie.log(H)
        if sigma is not None and step.var > 0:
            eps = torch.randn(batch, 6, generator=gen, dtype=H.dtype)
            xi_noise = eps * sigma * math.sqrt(step.var)
            H = lie.exp(xi_noise) @ lie.exp(xi)
        else:
            H = lie.exp(xi)
        path.append(H)
    return H, path
