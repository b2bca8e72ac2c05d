"""One-layer linear causal self-attention with complex weights stored as real/imaginary pairs.

yhat_t = W_PV C_t W_KQ e_t / rho_t with C_t = sum_{i<=t} e_i e_i^H and rho_t = t - 1.
Positions t = 2..T-1 predict x_3..x_T. Gradient descent runs on the real and
imaginary parts separately: that is gradient flow on C^n seen as R^{2n}, the same
step a PyTorch complex optimizer takes (JAX's complex gradient would be conjugated).

An epoch streams the precomputed C_t once forward and once backward, so it is
memory-bound: arrays are kept as real pairs (float32 at laptop scale) with the
N = m * (T - 2) positions flattened on the leading axis (C: (N, 2d, 2d)), the
layout XLA's CPU batched matmul reads without a transpose.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, jax.Array]
Batch = dict[str, jax.Array]


def complex_weights(params: Params) -> tuple[np.ndarray, np.ndarray]:
    """(W_KQ, W_PV) as complex NumPy arrays (float64)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    return p["kq_re"] + 1j * p["kq_im"], p["pv_re"] + 1j * p["pv_im"]


def split_complex(kq: np.ndarray, pv: np.ndarray, dtype=np.float64) -> Params:
    """Real/imaginary pairs from complex (W_KQ, W_PV)."""
    parts = {"kq_re": kq.real, "kq_im": kq.imag, "pv_re": pv.real, "pv_im": pv.imag}
    return {k: jnp.asarray(v, dtype=dtype) for k, v in parts.items()}


def init_weights(d: int, kind: str, a0: float, b0: float, std: float, seed: int):
    """Complex (W_KQ, W_PV): diagonal init (W_KQ[d:, :d] = a0 I, W_PV[:, :d] = b0 I, rest 0)
    or every entry i.i.d. N(0, std^2) (real at initialization, like the diagonal one)."""
    if kind == "diagonal":
        kq = np.zeros((2 * d, 2 * d), complex)
        pv = np.zeros((d, 2 * d), complex)
        kq[d:, :d] = a0 * np.eye(d)
        pv[:, :d] = b0 * np.eye(d)
        return kq, pv
    if kind == "gaussian":
        rng = np.random.default_rng([seed, 2])
        return (std * rng.standard_normal((2 * d, 2 * d)) + 0j,
                std * rng.standard_normal((d, 2 * d)) + 0j)  # fmt: skip
    raise ValueError(f"init.kind must be 'diagonal' or 'gaussian', got {kind!r}")


def prepare(x: np.ndarray, dtype=np.float64) -> Batch:
    """Precompute tokens, running sums C_t, 1/rho_t and targets for the T - 2 predicting positions.

    Positions flattened on the leading axis: index n = sequence * (T - 2) + (t - 2).
    """
    from papers.mesa_optimization.data import embed

    m, T, _ = x.shape
    e = embed(x)
    c = np.cumsum(e[:, :, :, None] * e[:, :, None, :].conj(), axis=1)
    pos = np.arange(1, T - 1)  # 0-based index of t = 2..T-1; rho_t = t - 1 = index

    def flat(a):  # (m, P, ...) -> (m * P, ...)
        return a.reshape(m * len(pos), *a.shape[2:])

    cp, ep, yp = flat(c[:, pos]), flat(e[:, pos]), flat(x[:, pos + 1])
    arrays = {
        "cr": cp.real, "ci": cp.imag, "er": ep.real, "ei": ep.imag, "yr": yp.real, "yi": yp.imag,
        "inv_rho": np.tile(1.0 / pos, m),
    }  # fmt: skip
    return {k: jnp.asarray(v, dtype=dtype) for k, v in arrays.items()}


def _matvec(a_re, a_im, v_re, v_im):
    """Complex product of a fixed (i, j) matrix with an (N, j) array of vectors."""
    return v_re @ a_re.T - v_im @ a_im.T, v_im @ a_re.T + v_re @ a_im.T


def predict(params: Params, batch: Batch) -> tuple[jax.Array, jax.Array]:
    """(Re, Im) of yhat, each (N, d)."""
    ur, ui = _matvec(params["kq_re"], params["kq_im"], batch["er"], batch["ei"])
    cr, ci = batch["cr"], batch["ci"]
    vr = jnp.einsum("nij,nj->ni", cr, ur) - jnp.einsum("nij,nj->ni", ci, ui)
    vi = jnp.einsum("nij,nj->ni", cr, ui) + jnp.einsum("nij,nj->ni", ci, ur)
    pr, pi = _matvec(params["pv_re"], params["pv_im"], vr, vi)
    return pr * batch["inv_rho"][:, None], pi * batch["inv_rho"][:, None]


def loss(params: Params, batch: Batch) -> jax.Array:
    """1/2 sum_t sum_k |yhat - x_{t+1}|^2 averaged over sequences (the paper's loss)."""
    pr, pi = predict(params, batch)
    m = jnp.sum(batch["inv_rho"] == 1.0)  # one position with rho_t = 1 per sequence
    return 0.5 * jnp.sum((pr - batch["yr"]) ** 2 + (pi - batch["yi"]) ** 2) / m


def gd_one_step_prediction(batch: Batch, eta) -> tuple[jax.Array, jax.Array]:
    """Prediction after one GD step from W=0 on sum_{i<t} ||x_{i+1} - W x_i||^2, step eta/rho_t.

    W_1 x_t = (eta / rho_t) sum_{i=2}^{t} x_i x_{i-1}^H x_t, read off the top-right block of C_t.
    ``eta`` is a scalar or a per-coordinate vector (d,). Returns (Re, Im), each (N, d).
    """
    d = batch["yr"].shape[1]
    br, bi = batch["cr"][:, :d, d:], batch["ci"][:, :d, d:]
    xr, xi = batch["er"][:, :d], batch["ei"][:, :d]
    sr = jnp.einsum("nij,nj->ni", br, xr) - jnp.einsum("nij,nj->ni", bi, xi)
    si = jnp.einsum("nij,nj->ni", br, xi) + jnp.einsum("nij,nj->ni", bi, xr)
    scale = jnp.reshape(jnp.asarray(eta), (1, -1)) * batch["inv_rho"][:, None]
    return sr * scale, si * scale
