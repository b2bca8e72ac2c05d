"""One-layer linear causal self-attention with complex weights stored as real/imaginary pairs.

yhat_t = W_PV C_t W_KQ e_t / rho_t with C_t = sum_{i<=t} e_i e_i^H and rho_t = t - 1.
Positions t = 2..T-1 predict x_3..x_T. Gradient descent runs on the real and
imaginary parts separately: that is gradient flow on C^n seen as R^{2n}, the same
step a PyTorch complex optimizer takes (JAX's complex gradient would be conjugated).

The data follow x_{t+1} = D x_t with D diagonal, so e_t = [D x_{t-1}; x_{t-1}] = A x_{t-1}
for t >= 2 and C_t = e_1 e_1^H + A S_{t-1} A^H with S_t = sum_{i<=t} x_i x_i^H (d x d, a
quarter of C_t). Only S is stored; the sequences are scanned in chunks (a few MB each).
This JAX version serves evaluation (predictions, per-sequence gradients, the GD references);
training uses the fused pass of ``fused.py``, which the tests check against ``loss``'s
jax.grad. Products with a weight matrix are real matrix products; the per-position ones are
broadcast multiply-and-sum, which XLA's CPU backend fuses (its complex dot is slow here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, jax.Array]
Batch = dict[str, jax.Array]

#: entries of S per chunk of sequences (2**18 complex128 = 4 MB)
CHUNK_ENTRIES = 2**18


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
    """Chunked sequences x (m, T, d), the running sums S_{t-1} of the T - 2 predicting
    positions (m, T - 2, d, d) and the rotations D (m, d).

    Leading axes (chunk, sequence in chunk); the last chunk is padded with zero sequences,
    which add nothing to any sum. ``m`` holds the number of real sequences.
    """
    m, T, d = x.shape
    start = np.where(x[:, 0] != 0, x[:, 0], 1.0)
    rot = np.where(x[:, 0] != 0, x[:, 1] / start, 1.0)  # D, per sequence
    if not np.allclose(x[:, 1:], rot[:, None] * x[:, :-1], rtol=0, atol=1e-9 * np.abs(x).max()):
        raise ValueError("prepare: sequences must follow x_{t+1} = D x_t with D diagonal")
    positions = T - 2
    size = max(1, min(m, CHUNK_ENTRIES // (positions * d * d)))
    chunks = -(-m // size)
    pad = chunks * size - m
    cdtype = np.result_type(dtype, np.complex64)

    def chunked(a):
        a = np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)]) if pad else a
        return jnp.asarray(a.reshape(chunks, size, *a.shape[1:]), dtype=cdtype)

    # s is the largest array of a run: built in place, padding included, no copy but JAX's
    s = np.zeros((chunks * size, positions, d, d), complex)
    np.multiply(x[:, :positions, :, None], x[:, :positions, None, :].conj(), out=s[:m])
    np.cumsum(s[:m], axis=1, out=s[:m])
    s = jnp.asarray(s.reshape(chunks, size, positions, d, d), dtype=cdtype)
    return {"s": s, "x": chunked(x), "rot": chunked(rot), "m": jnp.asarray(m, dtype)}


def _tokens_and_targets(c: Batch) -> tuple[jax.Array, jax.Array]:
    """e_t = [x_t; x_{t-1}] and x_{t+1} at the predicting positions of one chunk."""
    x = c["x"]
    return jnp.concatenate([x[:, 1:-1], x[:, :-2]], axis=-1), x[:, 2:]


def _complex(params: Params) -> tuple[jax.Array, jax.Array]:
    return params["kq_re"] + 1j * params["kq_im"], params["pv_re"] + 1j * params["pv_im"]


def _mv(mat: jax.Array, vec: jax.Array) -> jax.Array:
    """mat @ vec over the trailing axis, broadcast over leading ones (fused by XLA)."""
    return jnp.sum(mat * vec[..., None, :], axis=-1)


def _times(mat: jax.Array, vec: jax.Array) -> jax.Array:
    """mat @ vec over the trailing axis for one matrix shared by all positions, as real
    matrix products (XLA's CPU backend runs those as BLAS-like kernels)."""
    mr, mi, vr, vi = mat.real, mat.imag, vec.real, vec.imag
    return (vr @ mr.T - vi @ mi.T) + 1j * (vr @ mi.T + vi @ mr.T)


def targets(batch: Batch) -> jax.Array:
    """x_{t+1} at the predicting positions, shaped like ``predict``'s output."""
    return batch["x"][:, :, 2:]


def _running_sum_times(c: Batch, vec: jax.Array) -> jax.Array:
    """C_t vec_t / rho_t for one chunk: vec (size, T - 2, 2d) -> same shape."""
    d = c["x"].shape[-1]
    x1, rot = c["x"][:, :1], c["rot"][:, None, :]
    top, bottom = vec[..., :d], vec[..., d:]
    first = jnp.sum(x1.conj() * top, axis=-1, keepdims=True)  # e_1^H vec (e_1 = [x_1; 0])
    z = _mv(c["s"], rot.conj() * top + bottom)  # S_{t-1} A^H vec
    inv_rho = 1.0 / jnp.arange(1, vec.shape[1] + 1, dtype=vec.real.dtype)[:, None]
    return jnp.concatenate([x1 * first + rot * z, z], axis=-1) * inv_rho


def _chunk_prediction(kq: jax.Array, pv: jax.Array, c: Batch) -> tuple[jax.Array, jax.Array]:
    """(yhat, v) of one chunk, v_t = C_t W_KQ e_t / rho_t."""
    v = _running_sum_times(c, _times(kq, _tokens_and_targets(c)[0]))
    return _times(pv, v), v


def predict(params: Params, batch: Batch) -> jax.Array:
    """Complex yhat, (chunks, sequences per chunk, T - 2, d)."""
    kq, pv = _complex(params)
    return jax.lax.map(lambda c: _chunk_prediction(kq, pv, c)[0], _per_chunk(batch))


def loss(params: Params, batch: Batch) -> jax.Array:
    """1/2 sum_t sum_k |yhat - x_{t+1}|^2 averaged over sequences (the paper's loss)."""
    r = predict(params, batch) - targets(batch)
    return 0.5 * jnp.sum(r.real**2 + r.imag**2) / batch["m"]


def _chunk_terms(kq: jax.Array, pv: jax.Array, c: Batch):
    """Residual r, v, q = C_t W_PV^H r_t / rho_t and tokens e of one chunk (the gradient's
    factors: dL/dW_PV = sum r v^H, dL/dW_KQ = sum q e^H, before dividing by m)."""
    e, y = _tokens_and_targets(c)
    pred, v = _chunk_prediction(kq, pv, c)
    r = pred - y
    return r, v, _running_sum_times(c, _times(pv.conj().T, r)), e


def per_sequence_grads(params: Params, batch: Batch) -> tuple[jax.Array, jax.Array]:
    """Complex gradient of each sequence's loss: (chunks, size, 2d, 2d) for W_KQ and
    (chunks, size, d, 2d) for W_PV (their mean over the m sequences is the loss gradient)."""
    kq, pv = _complex(params)

    def chunk(c):
        r, v, q, e = _chunk_terms(kq, pv, c)
        return jnp.einsum("spi,spj->sij", q, e.conj()), jnp.einsum("spi,spj->sij", r, v.conj())

    return jax.lax.map(chunk, _per_chunk(batch))


def gd_one_step_prediction(batch: Batch, eta) -> jax.Array:
    """Prediction after one GD step from W=0 on sum_{i<t} ||x_{i+1} - W x_i||^2, step eta/rho_t.

    W_1 x_t = (eta / rho_t) sum_{i=2}^{t} x_i x_{i-1}^H x_t = (eta / rho_t) D S_{t-1} x_t.
    ``eta`` is a scalar or a per-coordinate vector (d,). Complex, shaped like ``predict``.
    """
    xt = batch["x"][:, :, 1:-1]
    inv_rho = 1.0 / jnp.arange(1, xt.shape[2] + 1, dtype=xt.real.dtype)[:, None]
    return jnp.asarray(eta) * batch["rot"][:, :, None, :] * _mv(batch["s"], xt) * inv_rho


def _per_chunk(batch: Batch) -> Batch:
    return {k: v for k, v in batch.items() if k != "m"}
