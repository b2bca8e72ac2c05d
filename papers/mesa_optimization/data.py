"""Sequences of a complex linear dynamical system x_{t+1} = W x_t with W = diag(e^{i theta}).

Three families of starting points x_1 (all real): Gaussian N(0, sigma^2 I), sparse
+-c e_k (k and sign uniform, the paper's Example 4.1) and the all-ones vector
(outside the theorem's assumption). Deterministic from the seed; the test set uses
an independent stream of the same seed.
"""

from __future__ import annotations

import numpy as np

X1_KINDS = ("gaussian", "sparse", "ones")


def sample_x1(rng: np.random.Generator, m: int, d: int, kind: str, scale: float) -> np.ndarray:
    """m starting points in R^d of the given family; ``scale`` is sigma or c."""
    if kind == "gaussian":
        return scale * rng.standard_normal((m, d))
    if kind == "sparse":
        x1 = np.zeros((m, d))
        k = rng.integers(0, d, size=m)
        sign = rng.choice([-1.0, 1.0], size=m)
        x1[np.arange(m), k] = sign * scale
        return x1
    if kind == "ones":
        return np.full((m, d), scale)
    raise ValueError(f"data.x1 must be one of {X1_KINDS}, got {kind!r}")


#: split -> random stream of the seed; "noise" draws the extra sets of C1a's slope (by block)
SPLITS = {"train": 0, "test": 1, "noise": 2}


def sample_sequences(
    seed: int, split: str, m: int, T: int, d: int, kind: str, scale: float, block: int = 0
) -> np.ndarray:
    """Complex array (m, T, d): x_1..x_T of m sequences with independent random rotations.

    ``block`` selects one of independent sets of the "noise" split (ignored otherwise).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)}, got {split!r}")
    extra = [block] if split == "noise" else []
    rng = np.random.default_rng([seed, SPLITS[split], *extra])
    theta = rng.uniform(0.0, 2.0 * np.pi, size=(m, d))
    x1 = sample_x1(rng, m, d, kind, scale)
    powers = np.exp(1j * theta[:, None, :] * np.arange(T)[None, :, None])  # W^{t-1}
    return powers * x1[:, None, :]


def embed(x: np.ndarray) -> np.ndarray:
    """Tokens e_t = [x_t; x_{t-1}] with x_0 = 0: (m, T, d) -> (m, T, 2d)."""
    prev = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
    return np.concatenate([x, prev], axis=-1)
