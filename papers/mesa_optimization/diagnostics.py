"""Quantities logged during training and measured at the end, from (W_KQ, W_PV) real pairs."""

from __future__ import annotations

import jax.numpy as jnp

from papers.mesa_optimization.model import Batch, Params, predict


def block_diagonals(params: Params) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(a_k, b_k): the complex diagonals of the blocks W_KQ[d:, :d] and W_PV[:, :d]."""
    d = params["pv_re"].shape[0]  # W_PV is (d, 2d)
    a = jnp.diagonal(params["kq_re"][d:, :d]) + 1j * jnp.diagonal(params["kq_im"][d:, :d])
    b = jnp.diagonal(params["pv_re"][:, :d]) + 1j * jnp.diagonal(params["pv_im"][:, :d])
    return a, b


def ab(params: Params) -> jnp.ndarray:
    """The paper's ab = mean_k Re[(W_KQ)_{d+k,k} (W_PV)_{k,k}]."""
    a, b = block_diagonals(params)
    return jnp.mean(jnp.real(a * b))


def a2_minus_b2(params: Params) -> jnp.ndarray:
    """mean_k |a_k|^2 - |b_k|^2, conserved by gradient flow on the reduced problem."""
    a, b = block_diagonals(params)
    return jnp.mean(jnp.abs(a) ** 2 - jnp.abs(b) ** 2)


def a2_plus_b2(params: Params) -> jnp.ndarray:
    """mean_k |a_k|^2 + |b_k|^2, the scale against which a^2 - b^2 drift is measured."""
    a, b = block_diagonals(params)
    return jnp.mean(jnp.abs(a) ** 2 + jnp.abs(b) ** 2)


def offblock_ratio(params: Params) -> jnp.ndarray:
    """Norm of every entry outside the two block diagonals over the norm of all entries."""
    d = params["pv_re"].shape[0]
    keep = {
        "kq": jnp.zeros((2 * d, 2 * d)).at[d:, :d].set(jnp.eye(d)),
        "pv": jnp.zeros((d, 2 * d)).at[:, :d].set(jnp.eye(d)),
    }
    off = total = 0.0
    for name, value in params.items():
        sq = value**2
        total = total + jnp.sum(sq)
        off = off + jnp.sum(sq * (1 - keep[name[:2]]))
    return jnp.sqrt(off / total)


def test_stats(params: Params, batch: Batch) -> dict[str, jnp.ndarray]:
    """Relative test MSE over all positions and the paper's ratio mean Re(yhat_T / x_T).

    The ratio is averaged over the coordinates where x_T != 0 (a sparse start has one).
    """
    pr, pi = predict(params, batch)
    yr, yi = batch["yr"], batch["yi"]
    rel_mse = jnp.sum((pr - yr) ** 2 + (pi - yi) ** 2) / jnp.sum(yr**2 + yi**2)
    last = batch["inv_rho"] == jnp.min(batch["inv_rho"])
    norm2 = yr**2 + yi**2
    use = last[:, None] & (norm2 > 0)
    ratio = jnp.where(use, (pr * yr + pi * yi) / jnp.where(use, norm2, 1.0), 0.0)
    return {"test_rel_mse": rel_mse, "ratio": jnp.sum(ratio) / jnp.sum(use)}


def weight_stats(params: Params, train_loss: jnp.ndarray) -> dict[str, jnp.ndarray]:
    """The cheap per-epoch log (no pass over the test set)."""
    return {
        "loss": train_loss,
        "ab": ab(params),
        "a2_minus_b2": a2_minus_b2(params),
        "a2_plus_b2": a2_plus_b2(params),
        "offblock_ratio": offblock_ratio(params),
    }
