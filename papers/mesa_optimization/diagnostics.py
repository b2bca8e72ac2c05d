"""Quantities logged during training and measured at the end, from (W_KQ, W_PV) real pairs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from papers.mesa_optimization.model import Batch, Params, per_sequence_grads, predict, targets


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


def offblock_masks(d: int) -> dict[str, jnp.ndarray]:
    """1 outside the two block diagonals (W_KQ[d:, :d], W_PV[:, :d]), 0 on them."""
    return {
        "kq": 1 - jnp.zeros((2 * d, 2 * d)).at[d:, :d].set(jnp.eye(d)),
        "pv": 1 - jnp.zeros((d, 2 * d)).at[:, :d].set(jnp.eye(d)),
    }


def offblock_ratio(params: Params) -> jnp.ndarray:
    """Norm of every entry outside the two block diagonals over the norm of all entries."""
    off_mask = offblock_masks(params["pv_re"].shape[0])
    off = total = 0.0
    for name, value in params.items():
        sq = value**2
        total = total + jnp.sum(sq)
        off = off + jnp.sum(sq * off_mask[name[:2]])
    return jnp.sqrt(off / total)


def block_part(params: Params) -> Params:
    """The params with every entry outside the two block diagonals set to zero."""
    off_mask = offblock_masks(params["pv_re"].shape[0])
    return {k: v * (1 - off_mask[k[:2]]) for k, v in params.items()}


def prediction_stats(pred: jnp.ndarray, y: jnp.ndarray) -> dict[str, jnp.ndarray]:
    """Relative MSE over all positions and the paper's ratio mean Re(yhat_T / x_T).

    The ratio is averaged over the coordinates where x_T != 0 (a sparse start has one; the
    zero sequences padding the last chunk have none).
    """
    norm2 = y.real**2 + y.imag**2
    rel_mse = jnp.sum(jnp.abs(pred - y) ** 2) / jnp.sum(norm2)
    last, last_y = norm2[..., -1, :], y[..., -1, :]
    use = last > 0
    ratio = jnp.where(use, jnp.real(pred[..., -1, :] * last_y.conj()) / jnp.where(use, last, 1), 0)
    return {"test_rel_mse": rel_mse, "ratio": jnp.sum(ratio) / jnp.sum(use)}


def test_stats(params: Params, batch: Batch) -> dict[str, jnp.ndarray]:
    """``prediction_stats`` of the model on a batch."""
    return prediction_stats(predict(params, batch), targets(batch))


def block_rms(
    block_sums: np.ndarray, block_size: int, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sizes block_size * 2^k (k = 0..levels-1) and the RMS, over the disjoint subsets of
    2^k consecutive blocks, of the norm of each subset's mean; ``block_sums`` (blocks, ...)
    holds each block's sum of the per-sequence values. Falls as size^-1/2 for zero-mean
    noise; every size averages over blocks / 2^k subsets, so the largest size needs many."""
    sums = block_sums.reshape(len(block_sums), -1)
    sizes, rms = [], []
    for k in range(levels):
        groups = len(sums) // 2**k
        size = block_size * 2**k
        means = sums[: groups * 2**k].reshape(groups, 2**k, -1).sum(axis=1) / size
        sizes.append(size)
        rms.append(np.sqrt(np.mean(np.sum(np.abs(means) ** 2, axis=1))))
    return np.array(sizes, float), np.array(rms)


def offblock_gradients(params: Params, batch: Batch) -> np.ndarray:
    """Each sequence's loss gradient restricted to the off-block entries, (m, entries)."""
    g_kq, g_pv = jax.jit(per_sequence_grads)(params, batch)
    off_mask = offblock_masks(params["pv_re"].shape[0])
    m = int(batch["m"])
    flat = {n: np.asarray(g).reshape(-1, *g.shape[2:])[:m] for n, g in (("kq", g_kq), ("pv", g_pv))}
    return np.concatenate([flat[n][:, np.asarray(off_mask[n]) > 0] for n in flat], axis=1)


def weight_stats(params: Params, train_loss: jnp.ndarray) -> dict[str, jnp.ndarray]:
    """The cheap per-epoch log (no pass over the test set)."""
    return {
        "loss": train_loss,
        "ab": ab(params),
        "a2_minus_b2": a2_minus_b2(params),
        "a2_plus_b2": a2_plus_b2(params),
        "offblock_ratio": offblock_ratio(params),
    }
