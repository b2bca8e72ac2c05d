"""The training loss, its gradient and the test statistics in one fused pass (Numba).

Same model and loss as ``model.py`` (yhat_t = W_PV C_t W_KQ e_t / rho_t, loss 1/2 sum |r|^2 / m),
computed per position with the running sum S_{t-1} carried along the sequence instead of read
from memory: the JAX version streams the stored S (400 MB at paper size) through memory twice
per epoch and materialises every intermediate, which leaves it memory-bound (0.42 s per epoch,
two jobs at once no faster than one after the other). Here the sequences are processed in
blocks whose state (S, the tokens, the intermediates) stays in cache, every product runs over
the block's sequences as a contiguous inner loop that the compiler vectorises, and only the
data x (read once) touch memory. Real and imaginary parts are separate (planar) arrays, so
each complex product is plain vectorisable float arithmetic.

Arrays are planar: x (T, d, m) real and imaginary parts, weights (rows, cols).
"""

from __future__ import annotations

import numba
import numpy as np

#: sequences per block: the block's state (about 60 rows of BLOCK floats, 120 kB) stays in L2
BLOCK = 256
_FLAGS = {"contract", "reassoc"}  # FMA and reordered sums (vectorised reductions), no other
# Reordered sums make the last bits depend on the compilation: a pass loaded from Numba's on-disk
# cache can round differently from a fresh one (float32: visibly after training; float64: at
# rounding), so runs agree to rounding, not to the bit.


@numba.njit(fastmath=_FLAGS, cache=True)
def _c_times(x1r, x1i, rr, ri, sr, si, vr, vi, rho, outr, outi, wr, wi, fr, fi, zr, zi):
    """out = C_t vec / rho for a block: C_t = e_1 e_1^H + A S A^H, A = [D; I], e_1 = [x_1; 0].

    vec (2d, B) -> out (2d, B); wr/wi (d, B), fr/fi and zr/zi (B,) are scratch."""
    d, n = x1r.shape
    for k in range(n):
        fr[k] = 0.0
        fi[k] = 0.0
    for a in range(d):
        for k in range(n):
            tr, ti = vr[a, k], vi[a, k]
            fr[k] += x1r[a, k] * tr + x1i[a, k] * ti  # e_1^H vec = sum conj(x1) top
            fi[k] += x1r[a, k] * ti - x1i[a, k] * tr
            # A^H vec = conj(D) top + bottom
            wr[a, k] = rr[a, k] * tr + ri[a, k] * ti + vr[d + a, k]
            wi[a, k] = rr[a, k] * ti - ri[a, k] * tr + vi[d + a, k]
    inv = 1.0 / rho
    for a in range(d):
        for k in range(n):
            zr[k] = 0.0
            zi[k] = 0.0
        for b in range(d):
            for k in range(n):
                zr[k] += sr[a, b, k] * wr[b, k] - si[a, b, k] * wi[b, k]
                zi[k] += sr[a, b, k] * wi[b, k] + si[a, b, k] * wr[b, k]
        for k in range(n):
            outr[d + a, k] = zr[k] * inv
            outi[d + a, k] = zi[k] * inv
            top_r = x1r[a, k] * fr[k] - x1i[a, k] * fi[k] + rr[a, k] * zr[k] - ri[a, k] * zi[k]
            top_i = x1r[a, k] * fi[k] + x1i[a, k] * fr[k] + rr[a, k] * zi[k] + ri[a, k] * zr[k]
            outr[a, k] = top_r * inv
            outi[a, k] = top_i * inv


@numba.njit(fastmath=_FLAGS, cache=True)
def _matvec(mr, mi, vr, vi, outr, outi, adjoint):
    """out = M vec (or M^H vec) over a block: M (rows, cols), vec (cols or rows, B)."""
    rows, cols = mr.shape
    n = vr.shape[1]
    if adjoint:
        for j in range(cols):
            for k in range(n):
                outr[j, k] = 0.0
                outi[j, k] = 0.0
            for i in range(rows):
                ar, ai = mr[i, j], -mi[i, j]
                for k in range(n):
                    outr[j, k] += ar * vr[i, k] - ai * vi[i, k]
                    outi[j, k] += ar * vi[i, k] + ai * vr[i, k]
    else:
        for i in range(rows):
            for k in range(n):
                outr[i, k] = 0.0
                outi[i, k] = 0.0
            for j in range(cols):
                ar, ai = mr[i, j], mi[i, j]
                for k in range(n):
                    outr[i, k] += ar * vr[j, k] - ai * vi[j, k]
                    outi[i, k] += ar * vi[j, k] + ai * vr[j, k]


@numba.njit(fastmath=_FLAGS, cache=True)
def _gram_add(ar, ai, br, bi, gr, gi):
    """g += sum over the block of a b^H: a (p, B), b (q, B), g (p, q)."""
    p, n = ar.shape
    q = br.shape[0]
    for i in range(p):
        for j in range(q):
            sr = 0.0
            si = 0.0
            for k in range(n):
                sr += ar[i, k] * br[j, k] + ai[i, k] * bi[j, k]
                si += ai[i, k] * br[j, k] - ar[i, k] * bi[j, k]
            gr[i, j] += sr
            gi[i, j] += si


@numba.njit(fastmath=_FLAGS, cache=True)
def _pass(xr, xi, kqr, kqi, pvr, pvi, grad, block):
    """Sums over all sequences and positions: (sum |r|^2, sum |y|^2, sum over the last
    position's nonzero target coordinates of Re(yhat conj(y)) / |y|^2, their count,
    dL/dW_KQ and dL/dW_PV before the 1/2 and 1/m factors, as planar pairs)."""
    T, d, m = xr.shape
    dd = 2 * d
    sq = 0.0
    ynorm = 0.0
    ratio = 0.0
    count = 0.0
    gkr = np.zeros((dd, dd), xr.dtype)
    gki = np.zeros((dd, dd), xr.dtype)
    gpr = np.zeros((d, dd), xr.dtype)
    gpi = np.zeros((d, dd), xr.dtype)
    for n0 in range(0, m, block):
        n = min(block, m - n0)
        x1r = np.ascontiguousarray(xr[0, :, n0 : n0 + n])
        x1i = np.ascontiguousarray(xi[0, :, n0 : n0 + n])
        # D per sequence and coordinate: x_2 / x_1 where x_1 != 0 (1 elsewhere: x stays 0)
        rr = np.ones((d, n), xr.dtype)
        ri = np.zeros((d, n), xr.dtype)
        for a in range(d):
            for k in range(n):
                den = x1r[a, k] * x1r[a, k] + x1i[a, k] * x1i[a, k]
                if den > 0:
                    ur, ui = xr[1, a, n0 + k], xi[1, a, n0 + k]
                    rr[a, k] = (ur * x1r[a, k] + ui * x1i[a, k]) / den
                    ri[a, k] = (ui * x1r[a, k] - ur * x1i[a, k]) / den
        sr = np.zeros((d, d, n), xr.dtype)
        si = np.zeros((d, d, n), xr.dtype)
        er = np.empty((dd, n), xr.dtype)
        ei = np.empty((dd, n), xr.dtype)
        ur_ = np.empty((dd, n), xr.dtype)
        ui_ = np.empty((dd, n), xr.dtype)
        vr = np.empty((dd, n), xr.dtype)
        vi = np.empty((dd, n), xr.dtype)
        qr = np.empty((dd, n), xr.dtype)
        qi = np.empty((dd, n), xr.dtype)
        hr = np.empty((d, n), xr.dtype)
        hi = np.empty((d, n), xr.dtype)
        wr = np.empty((d, n), xr.dtype)
        wi = np.empty((d, n), xr.dtype)
        fr = np.empty(n, xr.dtype)
        fi = np.empty(n, xr.dtype)
        zr = np.empty(n, xr.dtype)
        zi = np.empty(n, xr.dtype)
        for p in range(T - 2):
            rho = p + 1.0
            for a in range(d):  # S_{t-1} += x_{t-1} x_{t-1}^H; e_t = [x_t; x_{t-1}]
                for b in range(d):
                    for k in range(n):
                        ar_, ai_ = xr[p, a, n0 + k], xi[p, a, n0 + k]
                        br_, bi_ = xr[p, b, n0 + k], xi[p, b, n0 + k]
                        sr[a, b, k] += ar_ * br_ + ai_ * bi_
                        si[a, b, k] += ai_ * br_ - ar_ * bi_
                for k in range(n):
                    er[a, k] = xr[p + 1, a, n0 + k]
                    ei[a, k] = xi[p + 1, a, n0 + k]
                    er[d + a, k] = xr[p, a, n0 + k]
                    ei[d + a, k] = xi[p, a, n0 + k]
            _matvec(kqr, kqi, er, ei, ur_, ui_, False)  # W_KQ e
            _c_times(x1r, x1i, rr, ri, sr, si, ur_, ui_, rho, vr, vi, wr, wi, fr, fi, zr, zi)  # v
            _matvec(pvr, pvi, vr, vi, hr, hi, False)  # yhat
            for a in range(d):  # r = yhat - x_{t+1}
                for k in range(n):
                    yr, yi = xr[p + 2, a, n0 + k], xi[p + 2, a, n0 + k]
                    if p == T - 3:
                        y2 = yr * yr + yi * yi
                        if y2 > 0:
                            ratio += (hr[a, k] * yr + hi[a, k] * yi) / y2
                            count += 1.0
                    hr[a, k] -= yr
                    hi[a, k] -= yi
                    sq += hr[a, k] * hr[a, k] + hi[a, k] * hi[a, k]
                    ynorm += yr * yr + yi * yi
            if grad:
                _matvec(pvr, pvi, hr, hi, ur_, ui_, True)  # W_PV^H r
                _c_times(x1r, x1i, rr, ri, sr, si, ur_, ui_, rho, qr, qi, wr, wi, fr, fi, zr, zi)
                _gram_add(qr, qi, er, ei, gkr, gki)  # sum q e^H
                _gram_add(hr, hi, vr, vi, gpr, gpi)  # sum r v^H
    return sq, ynorm, ratio, count, gkr, gki, gpr, gpi


def planar(x: np.ndarray, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Sequences (m, T, d) complex -> real and imaginary parts, each (T, d, m) contiguous.

    Checks that they follow x_{t+1} = D x_t with D diagonal (the fused pass relies on it)."""
    m, T, d = x.shape
    if T < 3:
        raise ValueError(f"sequences need T >= 3 positions, got {T}")
    start = np.where(x[:, 0] != 0, x[:, 0], 1.0)
    rot = np.where(x[:, 0] != 0, x[:, 1] / start, 1.0)
    if not np.allclose(x[:, 1:], rot[:, None] * x[:, :-1], rtol=0, atol=1e-9 * np.abs(x).max()):
        raise ValueError("sequences must follow x_{t+1} = D x_t with D diagonal")
    t = np.transpose(x, (1, 2, 0))
    return np.ascontiguousarray(t.real, dtype=dtype), np.ascontiguousarray(t.imag, dtype=dtype)


def _weights(params: dict, dtype) -> tuple[np.ndarray, ...]:
    return tuple(
        np.ascontiguousarray(params[k], dtype=dtype) for k in ("kq_re", "kq_im", "pv_re", "pv_im")
    )


def loss_and_grad(params: dict, data: tuple[np.ndarray, np.ndarray]) -> tuple[float, dict]:
    """The loss (1/2 sum |r|^2 / m) and its gradient with respect to the real/imaginary pairs
    (``model.loss_and_grad``'s convention), from ``planar`` data."""
    xr, xi = data
    sq, _, _, _, gkr, gki, gpr, gpi = _pass(xr, xi, *_weights(params, xr.dtype), True, BLOCK)
    m = xr.shape[2]
    grads = {"kq_re": gkr, "kq_im": gki, "pv_re": gpr, "pv_im": gpi}
    return 0.5 * sq / m, {k: g / m for k, g in grads.items()}


def loss(params: dict, data: tuple[np.ndarray, np.ndarray]) -> float:
    """The loss alone (no gradient)."""
    xr, xi = data
    return 0.5 * _pass(xr, xi, *_weights(params, xr.dtype), False, BLOCK)[0] / xr.shape[2]


def test_stats(params: dict, data: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """``diagnostics.test_stats`` (relative MSE, the last position's mean Re(yhat / x_T))."""
    xr, xi = data
    sq, ynorm, ratio, count, *_ = _pass(xr, xi, *_weights(params, xr.dtype), False, BLOCK)
    return {"test_rel_mse": sq / ynorm, "ratio": ratio / count}
