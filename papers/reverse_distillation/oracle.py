"""Oracle: a synthetic embedding family with the paper's effect by construction.

Variants carry K independent latent factors u_1..u_K ~ N(0, 1); fitness = sum_j c_j u_j + noise
with c falling linearly from 1 to 0.4. "Model" k (dimension d_k) encodes its own factor u_k along
a random unit direction with amplitude ``signal`` and the smaller models' factors only as a
trace (amplitude ``trace``), all under isotropic unit-variance nuisance in d_k dimensions. So
the raw family gets worse with size (each larger model trades the fitness-relevant factors of
the smaller ones for nuisance), while RD-k = [RD-(k-1), residual PCA] keeps RD-(k-1) exactly and
adds u_k: RD-k beats raw-k for every k > 1, improves with every step and is best at k = K. The
RD family itself is nested with extra dimensions that carry signal: a family without a plateau.
"""

from __future__ import annotations

import numpy as np

SIGNAL = 3.0  # amplitude of a model's own factor (per-direction SNR 9 over the nuisance)
TRACE = 0.3  # amplitude of the smaller models' factors in a larger model (SNR 0.09)
NOISE = 0.5  # fitness noise std


def oracle_weights(n_sizes: int) -> np.ndarray:
    """Fitness weight c_j of factor j: linear from 1 (smallest model's) to 0.4 (largest's)."""
    return np.linspace(1.0, 0.4, n_sizes)


def oracle_embeddings(rng: np.random.Generator, u: np.ndarray, dims: list[int]) -> list[np.ndarray]:
    """Embeddings (n, d_k) of every size for latent factors ``u`` (n, K); the random directions
    are drawn from ``rng``, so call it with equal seeds for the fitting and the assay rows."""
    out = []
    for k, d in enumerate(dims):
        amp = np.where(np.arange(k + 1) == k, SIGNAL, TRACE)
        directions = rng.normal(size=(k + 1, d))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        out.append((u[:, : k + 1] * amp) @ directions)
    return out


def oracle_family(
    seed: int, n_fit: int, n_variants: int, dims: list[int]
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """(fitting rows per size, assay rows per size, fitness of the assay rows)."""
    rng = np.random.default_rng(seed)
    K = len(dims)
    u_fit, u = rng.normal(size=(n_fit, K)), rng.normal(size=(n_variants, K))
    fitness = u @ oracle_weights(K) + NOISE * rng.normal(size=n_variants)
    sub = rng.integers(2**32)
    fit = oracle_embeddings(np.random.default_rng(sub), u_fit, dims)
    assay = oracle_embeddings(np.random.default_rng(sub), u, dims)
    fit = [x + rng.normal(size=x.shape) for x in fit]
    assay = [x + rng.normal(size=x.shape) for x in assay]
    return fit, assay, fitness
