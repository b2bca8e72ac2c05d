"""Closed-form theory of diffusion sampling for Gaussian data (Wang & Vastola 2023).

Everything is in the EDM / variance-exploding form: x = x0 + sigma n, probability-flow
ODE dx/dsigma = (x - D(x; sigma)) / sigma. With the data mean mu and covariance
Sigma = sum_k lambda_k u_k u_k^T, c_k(x) = u_k^T (x - mu):

- optimal denoiser  D(x; sigma) = mu + sum_k lambda_k / (lambda_k + sigma^2) c_k u_k;
- PF-ODE solution   x(sigma) = mu + sum_k sqrt((sigma^2 + lambda_k) / (sigma_T^2 + lambda_k))
  c_k(x_T) u_k + (sigma / sigma_T) P_perp (x_T - mu), P_perp the projector onto the
  complement of span(U) (empty when all D eigenvectors are kept).

Model-side formulas (denoiser, closed form, gains, VP/EDM conversions) use jax.numpy and
are jit-friendly; their precision follows ``jax_enable_x64``. Measurement functions
(fit, commitment, trajectory geometry) use NumPy in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike


class GaussianModel(NamedTuple):
    """A Gaussian N(mean, U diag(eigvals) U^T); a NamedTuple, hence a JAX pytree.

    mean (D,), eigvals (K,) sorted descending and >= 0, eigvecs (D, K) orthonormal columns.
    K < D means zero variance outside span(eigvecs).
    """

    mean: np.ndarray
    eigvals: np.ndarray
    eigvecs: np.ndarray


def fit_gaussian(x: ArrayLike, rank: int | None = None) -> GaussianModel:
    """Fit mean and sample covariance (ddof=1) of x (N, D); eigh, descending order.

    Tiny negative eigenvalues (round-off) are clipped to 0. ``rank`` keeps only the top
    ``rank`` directions (K = rank); the default keeps all D.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (N >= 2, D), got {x.shape}")
    mean = x.mean(axis=0)
    cov = np.atleast_2d(np.cov(x, rowvar=False))
    lam, vecs = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1]
    lam, vecs = np.clip(lam[order], 0.0, None), vecs[:, order]
    if rank is not None:
        if not 1 <= rank <= x.shape[1]:
            raise ValueError(f"rank must be in [1, D={x.shape[1]}], got {rank}")
        lam, vecs = lam[:rank], vecs[:, :rank]
    return GaussianModel(mean, lam, np.ascontiguousarray(vecs))


def isotropic(model: GaussianModel) -> GaussianModel:
    """The same mean and eigenvectors with every eigenvalue replaced by their mean (a null model
    with the right mean and total variance but no covariance structure)."""
    lam = np.asarray(model.eigvals, dtype=np.float64)
    return GaussianModel(model.mean, np.full_like(lam, lam.mean()), model.eigvecs)


def shuffled(model: GaussianModel, seed: int) -> GaussianModel:
    """The same mean, eigenvectors and spectrum, the eigenvalues randomly reassigned among the
    eigenvectors (a null model whose variance order is unrelated to the data's)."""
    lam = np.asarray(model.eigvals, dtype=np.float64)
    return GaussianModel(model.mean, np.random.default_rng(seed).permutation(lam), model.eigvecs)


def covariance(model: GaussianModel) -> np.ndarray:
    """Sigma = U diag(lambda) U^T, (D, D)."""
    u = np.asarray(model.eigvecs)
    return (u * np.asarray(model.eigvals)) @ u.T


def pca_coefficients(model: GaussianModel, x: ArrayLike) -> jnp.ndarray:
    """c_k = u_k^T (x - mu) for x of shape (..., D) -> (..., K)."""
    x = jnp.asarray(x)
    return (x - model.mean) @ model.eigvecs


def _lead(a: ArrayLike, ndim: int) -> jnp.ndarray:
    """Reshape ``a`` (whose shape is a prefix of a target's shape) to broadcast against it."""
    a = jnp.asarray(a)
    return a.reshape(a.shape + (1,) * (ndim - a.ndim))


def gaussian_denoiser(model: GaussianModel, x: ArrayLike, sigma: ArrayLike) -> jnp.ndarray:
    """Posterior mean E[x0 | x0 + sigma n = x] for x0 ~ N(mu, Sigma): (..., D) -> (..., D).

    sigma is a scalar or an array whose shape is a prefix of x.shape[:-1] (e.g. (N,) for
    x (N, D)). The component of x - mu outside span(U) is dropped (zero variance there).
    At sigma = 0 a zero eigenvalue gets shrinkage 0 (the sigma -> 0+ limit).
    """
    x = jnp.asarray(x)
    lam = jnp.asarray(model.eigvals)
    s2 = _lead(sigma, x.ndim) ** 2
    den = lam + s2
    shrink = lam / jnp.where(den > 0, den, 1.0)
    c = pca_coefficients(model, x)
    return model.mean + (shrink * c) @ jnp.asarray(model.eigvecs).T


def closed_form(
    model: GaussianModel, x_T: ArrayLike, sigma_T: float, sigma: ArrayLike
) -> jnp.ndarray:
    """Exact PF-ODE solution of the Gaussian model from the state x_T at sigma_T to sigma.

    x_T (..., D) (e.g. (N, D)); scalar sigma -> (..., D); a 1-D array of S sigmas ->
    (S, ..., D). Directions outside span(U) (K < D) scale as sigma / sigma_T.
    """
    x_T = jnp.asarray(x_T)
    sig = jnp.asarray(sigma)
    if sig.ndim > 1:
        raise ValueError(f"sigma must be a scalar or 1-D, got shape {sig.shape}")
    u = jnp.asarray(model.eigvecs)
    lam = jnp.asarray(model.eigvals)
    dev = x_T - model.mean
    c = dev @ u
    perp = dev - c @ u.T
    sb = sig.reshape(sig.shape + (1,) * x_T.ndim)
    ratio = jnp.sqrt((sb**2 + lam) / (sigma_T**2 + lam))
    return model.mean + (ratio * c) @ u.T + (sb / sigma_T) * perp


# ---------------------------------------------------------------- outline first, details later


def commitment_sigma(lambda_k: ArrayLike, frac: float = 2**-0.5) -> jnp.ndarray:
    """Noise level at which the denoised estimate along u_k reaches ``frac`` of its final value.

    Along a Gaussian PF-ODE trajectory the denoised coefficient at sigma is
    sqrt(lambda / (lambda + sigma^2)) times its final value, so
    sigma* = sqrt(lambda (1 / frac^2 - 1)); frac = 1/sqrt(2) gives sigma* = sqrt(lambda).
    """
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    return jnp.sqrt(jnp.asarray(lambda_k) * (1.0 / frac**2 - 1.0))


def empirical_commitment(
    sigmas: ArrayLike, coeffs: ArrayLike, frac: float = 2**-0.5, interpolate: bool = True
) -> np.ndarray:
    """Commitment noise level per direction from a trajectory of coefficients.

    sigmas (S,) decreasing; coeffs (S, ...) e.g. (S, K) or (S, N, K): projections onto u_k
    of the denoised estimate (or state) at each level; the final value is coeffs[-1].
    Direction k is committed from the first index i such that
    |coeffs[j] - final| <= (1 - frac) |final| for every j >= i ("and stays so").
    With ``interpolate`` the crossing is placed by linear interpolation in sigma of
    |coeff - final| - (1 - frac)|final| between levels i-1 and i (so the result lies in
    [sigmas[i], sigmas[i-1]]); otherwise sigmas[i] is returned. Committed from the first
    level: sigmas[0]. Returns an array of shape coeffs.shape[1:].
    """
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    sigmas = np.asarray(sigmas, dtype=np.float64)
    coeffs = np.asarray(coeffs, dtype=np.float64)
    if sigmas.ndim != 1 or coeffs.shape[:1] != sigmas.shape:
        raise ValueError(f"coeffs {coeffs.shape} must have sigmas' length {sigmas.shape} first")
    final = coeffs[-1]
    gap = np.abs(coeffs - final) - (1.0 - frac) * np.abs(final)
    ok = gap <= 0.0
    stays = np.flip(np.logical_and.accumulate(np.flip(ok, 0), axis=0), 0)
    first = np.argmax(stays, axis=0)  # stays[-1] is always True
    s_cur = sigmas[first]
    if not interpolate:
        return s_cur
    prev = np.maximum(first - 1, 0)
    g_prev = np.take_along_axis(gap, prev[None], 0)[0]
    g_cur = np.take_along_axis(gap, first[None], 0)[0]
    s_prev = sigmas[prev]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(first > 0, g_prev / (g_prev - g_cur), 0.0)  # g_prev > 0 >= g_cur
    return s_prev + np.clip(t, 0.0, 1.0) * (s_cur - s_prev)


def edm_kick_gain(lambda_k: ArrayLike, sigma: ArrayLike) -> jnp.ndarray:
    """Final displacement along u_k per unit kick along u_k injected at noise level sigma.

    From the closed form with sigma -> 0: sqrt(lambda_k / (sigma^2 + lambda_k)), in EDM
    units (kick added to x = x0 + sigma n). Falls from 1 (late) to ~sqrt(lambda)/sigma (early).
    Directions with lambda = 0 (outside the data's span) get 0 for sigma > 0 and 1 at sigma = 0.
    """
    lam = jnp.asarray(lambda_k)
    s2 = jnp.asarray(sigma) ** 2
    den = lam + s2
    return jnp.sqrt(jnp.where(den > 0, lam / jnp.where(den > 0, den, 1.0), 1.0))


def perturbation_gain(lambda_k: ArrayLike, sigma: ArrayLike) -> jnp.ndarray:
    """The paper's gain for a unit kick measured in variance-preserving units.

    A unit kick on x_vp = x / sqrt(1 + sigma^2) is sqrt(1 + sigma^2) in EDM units, so the
    gain is sqrt(1 + sigma^2) * edm_kick_gain = sqrt(lambda (1 + sigma^2) / (lambda + sigma^2)):
    ~sqrt(lambda) early (sigma^2 >> lambda, 1), 1 at sigma = 0.
    """
    return jnp.sqrt(1.0 + jnp.asarray(sigma) ** 2) * edm_kick_gain(lambda_k, sigma)


# ---------------------------------------------------------------- VP <-> EDM


def sigma_to_alpha_bar(sigma: ArrayLike) -> jnp.ndarray:
    """alpha_bar = 1 / (1 + sigma^2)."""
    return 1.0 / (1.0 + jnp.asarray(sigma) ** 2)


def alpha_bar_to_sigma(alpha_bar: ArrayLike) -> jnp.ndarray:
    """sigma = sqrt((1 - alpha_bar) / alpha_bar)."""
    ab = jnp.asarray(alpha_bar)
    return jnp.sqrt((1.0 - ab) / ab)


def edm_to_vp(x: ArrayLike, sigma: ArrayLike) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(x_vp, alpha_bar) with x_vp = x / sqrt(1 + sigma^2) = sqrt(ab) x0 + sqrt(1 - ab) n.

    sigma: scalar or an array whose shape is a prefix of x.shape (e.g. (S,) for states
    (S, N, D)).
    """
    x = jnp.asarray(x)
    ab = sigma_to_alpha_bar(sigma)
    return x * jnp.sqrt(_lead(ab, x.ndim)), ab


def vp_to_edm(x_vp: ArrayLike, alpha_bar: ArrayLike) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(x, sigma) with x = x_vp / sqrt(alpha_bar); alpha_bar broadcast like edm_to_vp's sigma."""
    x_vp = jnp.asarray(x_vp)
    ab = jnp.asarray(alpha_bar)
    return x_vp / jnp.sqrt(_lead(ab, x_vp.ndim)), alpha_bar_to_sigma(ab)


def ddpm_alpha_bar(
    num_train_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> np.ndarray:
    """alpha_bar_t, t = 1..T, of DDPM's linear beta schedule (float64, (T,))."""
    betas = np.linspace(beta_start, beta_end, num_train_steps, dtype=np.float64)
    return np.cumprod(1.0 - betas)


# ---------------------------------------------------------------- trajectory geometry
# Trajectories here are (..., S, D): S states of one trajectory, optional leading batch axes.
# heun_sample returns (S, N, D): pass np.swapaxes(states, 0, 1).


def rotation_coefficients(sigma: ArrayLike) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(cos phi, sin phi) = (1, sigma) / sqrt(1 + sigma^2); cos phi = sqrt(alpha_bar)."""
    sigma = jnp.asarray(sigma)
    r = jnp.sqrt(1.0 + sigma**2)
    return 1.0 / r, sigma / r


def rotation_error(
    sigmas: ArrayLike,
    traj: ArrayLike,
    x0: ArrayLike | None = None,
    exact_endpoints: bool = False,
) -> np.ndarray:
    """Relative error of the rotation picture in VP coordinates, per state: (..., S).

    y(sigma) = x(sigma) / sqrt(1 + sigma^2) is compared with cos(phi) x0 + sin(phi) n,
    n = x_T / sigma_T (the brief's form; x_T = traj[..., 0, :], sigma_T = sigmas[0]);
    error = ||y - prediction|| / ||y||. x0 defaults to the endpoint traj[..., -1, :]
    (sigmas[-1] should be ~0). With ``exact_endpoints`` n = (x_T - x0) / sigma_T, which
    makes both endpoints exact (and the whole path for a point-mass data distribution);
    the default form has an O(||x0|| / ||x_T||) error at sigma_T.
    """
    sigmas = np.asarray(sigmas, dtype=np.float64)
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim < 2 or traj.shape[-2] != sigmas.shape[0]:
        raise ValueError(f"traj {traj.shape} must be (..., S, D) with S = len(sigmas)")
    x_T = traj[..., 0, :]
    x0 = traj[..., -1, :] if x0 is None else np.asarray(x0, dtype=np.float64)
    n = (x_T - x0 if exact_endpoints else x_T) / sigmas[0]
    r = np.sqrt(1.0 + sigmas**2)[:, None]
    pred = (1.0 / r) * x0[..., None, :] + (sigmas[:, None] / r) * n[..., None, :]
    y = traj / r
    return _safe_ratio(np.linalg.norm(y - pred, axis=-1), np.linalg.norm(y, axis=-1))


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 / 0 -> 0."""
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, 0.0))


def span_projection_error(traj: ArrayLike) -> np.ndarray:
    """||x_s - P x_s|| / ||x_s|| per state, P the projector onto span{x_T, x_0}: (..., S).

    x_T = traj[..., 0, :], x_0 = traj[..., -1, :]; least squares via the pseudo-inverse,
    so parallel endpoints reduce the span to a line; a zero state has error 0.
    """
    traj = np.asarray(traj, dtype=np.float64)
    basis = np.stack([traj[..., 0, :], traj[..., -1, :]], axis=-1)  # (..., D, 2)
    coef = np.linalg.pinv(basis) @ np.swapaxes(traj, -1, -2)  # (..., 2, S)
    resid = traj - np.swapaxes(basis @ coef, -1, -2)
    return _safe_ratio(np.linalg.norm(resid, axis=-1), np.linalg.norm(traj, axis=-1))


def x0_plane_residual(traj: ArrayLike) -> np.ndarray:
    """Squared residual of x_0 outside span{x_T, x_t} over ||x_0||^2, per step t: (..., S).

    The authors' rotation-subspace residual: x_T = traj[..., 0, :], x_0 = traj[..., -1, :]; at
    t = 0 the span is the line of x_T, at the last step the residual is 0.
    """
    traj = np.asarray(traj, dtype=np.float64)
    x_T, x0 = traj[..., :1, :], traj[..., -1:, :]
    basis = np.stack([np.broadcast_to(x_T, traj.shape), traj], axis=-1)  # (..., S, D, 2)
    coef = np.linalg.pinv(basis) @ x0[..., None]  # (..., S, 2, 1)
    resid = x0 - (basis @ coef)[..., 0]
    return _safe_ratio(np.sum(resid**2, -1), np.sum(x0**2, -1))


def top2_variance_share(traj: ArrayLike, k: int = 2) -> np.ndarray:
    """Share of a trajectory's variance in its top-k principal components: (...,).

    The states are centred on their mean over the trajectory (axis -2); a constant
    trajectory has share 1.
    """
    traj = np.asarray(traj, dtype=np.float64)
    centred = traj - traj.mean(axis=-2, keepdims=True)
    sv2 = np.linalg.svd(centred, compute_uv=False) ** 2
    total = sv2.sum(axis=-1)
    top = sv2[..., :k].sum(axis=-1)
    return np.where(total > 0, top / np.where(total > 0, total, 1.0), 1.0)
