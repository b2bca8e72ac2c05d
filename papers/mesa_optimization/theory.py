"""The reduced two-parameter problem: W_KQ block = a I, W_PV block = b I, prediction ab * GD step.

With s = ab, the loss is 1/2 (s^2 D - 2 s N + K) where, summed over positions
t = 2..T-1 with yhat0_t the one-step-GD prediction at step 1/rho_t,
N = E sum_t Re<yhat0_t, x_{t+1}> and D = E sum_t |yhat0_t|^2. Averaging over the
random phases leaves moments of x_1 and a harmonic sum over positions:
N = (T-2) sum_j E x_j^4,  D = (T-2) sum_j E x_j^6 + H_{T-2} sum_{j != k} E x_j^2 x_k^4.
Each diagonal entry sees 1/d of the gradient, so gradient flow on (a, b) is
da/dtau = -b (sD - N)/d, db/dtau = -a (sD - N)/d, which conserves a^2 - b^2.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


def x1_moments(kind: str, scale: float, d: int) -> tuple[float, float, float, float]:
    """Moments of a family of x_1.

    Returns (sum_j E x_j^2, sum_j E x_j^4, sum_j E x_j^6, sum_{j!=k} E x_j^2 x_k^4).
    ``balanced`` is the Gaussian family (only its training set is arranged symmetrically).
    """
    if kind in ("gaussian", "balanced"):
        s2 = scale**2
        return d * s2, 3 * d * s2**2, 15 * d * s2**3, 3 * d * (d - 1) * s2**3
    if kind == "sparse":  # exactly one non-zero coordinate: no cross terms
        return scale**2, scale**4, scale**6, 0.0
    if kind == "ones":
        return d * scale**2, d * scale**4, d * scale**6, d * (d - 1) * scale**6
    raise ValueError(f"unknown x1 kind {kind!r}")


def analytic_moments(kind: str, scale: float, d: int, T: int) -> dict[str, float]:
    """Population N, D, K (= E sum_t |x_{t+1}|^2) of the reduced problem at finite T."""
    m2, m4, m6, cross = x1_moments(kind, scale, d)
    positions = T - 2
    harmonic = float(np.sum(1.0 / np.arange(1, positions + 1)))
    return {"N": positions * m4, "D": positions * m6 + harmonic * cross, "K": positions * m2}


def limit_infinite_T(kind: str, scale: float) -> float:
    """The paper's T -> infinity limit of ab: 1/(5 sigma^2) (Gaussian) or 1/c^2 (sparse)."""
    if kind in ("gaussian", "balanced"):
        return 1.0 / (5.0 * scale**2)
    if kind == "sparse":
        return 1.0 / scale**2
    raise ValueError(f"no closed-form limit for x1 kind {kind!r}")


def optimum(moments: dict[str, float]) -> float:
    """Minimizer s* = N / D of the reduced loss."""
    return moments["N"] / moments["D"]


def relative_loss_at_optimum(moments: dict[str, float]) -> float:
    """Loss at s* relative to the zero predictor: 1 - N^2 / (D K)."""
    return 1.0 - moments["N"] ** 2 / (moments["D"] * moments["K"])


def reduced_flow(
    a0: float, b0: float, moments: dict[str, float], d: int, taus: np.ndarray
) -> dict[str, np.ndarray]:
    """Integrate the reduced gradient flow; return a, b, ab and a^2 - b^2 at times ``taus``."""
    n, dd = moments["N"], moments["D"]

    def rhs(_, y):
        g = (y[0] * y[1] * dd - n) / d
        return [-y[1] * g, -y[0] * g]

    sol = solve_ivp(
        rhs, (0.0, float(taus[-1])), [a0, b0], t_eval=taus, method="DOP853", rtol=1e-10, atol=1e-12
    )
    if not sol.success:
        raise RuntimeError(f"reduced flow failed: {sol.message}")
    a, b = sol.y
    return {"a": a, "b": b, "ab": a * b, "a2_minus_b2": a**2 - b**2}


def max_curvature(
    a0: float, b0: float, moments: dict[str, float], d: int, taus: np.ndarray
) -> float:
    """Largest Hessian eigenvalue of the reduced loss (per diagonal entry) along the flow.

    Gradient descent tracks the flow only while step size x this number is well below 2.
    """
    n, dd = moments["N"], moments["D"]
    flow = reduced_flow(a0, b0, moments, d, taus)
    a, b = flow["a"], flow["b"]
    diag_sum, diag_diff = (a**2 + b**2) * dd, (b**2 - a**2) * dd
    off = 2 * a * b * dd - n
    return float(np.max(0.5 * diag_sum + np.sqrt(0.25 * diag_diff**2 + off**2)) / d)


def _reduced_step(a, b, n: float, dd: float, d: int, lr: float):
    """One plain GD step on the reduced problem: (a, b) -> (a, b) - lr grad."""
    g = (a * b * dd - n) / d
    return a - lr * b * g, b - lr * a * g


def reduced_gd(
    a0: float, b0: float, moments: dict[str, float], d: int, lr: float, epochs: int
) -> dict[str, np.ndarray]:
    """Plain gradient descent on the reduced problem (the flow's right-hand side times lr):
    a, b, ab and a^2 - b^2 after 0..epochs steps. Unlike the flow it does not conserve
    a^2 - b^2: one step multiplies it by 1 - lr^2 g^2, g = (ab D - N) / d."""
    n, dd = moments["N"], moments["D"]
    a, b = np.empty(epochs + 1), np.empty(epochs + 1)
    a[0], b[0] = a0, b0
    for k in range(epochs):
        a[k + 1], b[k + 1] = _reduced_step(a[k], b[k], n, dd, d, lr)
    return {"a": a, "b": b, "ab": a * b, "a2_minus_b2": a**2 - b**2}


def reduced_gd_limit(
    a0: float, b0: float, moments: dict[str, float], d: int, lr: float, max_epochs: int = 10**6
) -> tuple[float, int]:
    """Where `reduced_gd` at step ``lr`` settles: iterate until ab moves by at most 1e-12 of
    itself in a step (or ``max_epochs`` pass); the final ab and the epochs taken. A run that
    has converged by construction, whatever the epochs a trained run is given."""
    n, dd = moments["N"], moments["D"]
    a, b = a0, b0
    for k in range(1, max_epochs + 1):
        ab = a * b
        a, b = _reduced_step(a, b, n, dd, d, lr)
        if abs(a * b - ab) <= 1e-12 * abs(a * b):
            return a * b, k
    return a * b, max_epochs


def reduced_rel_loss(moments: dict[str, float], s: float) -> float:
    """Loss of the one-step GD predictor with step s relative to the zero predictor's."""
    return (s**2 * moments["D"] - 2 * s * moments["N"] + moments["K"]) / moments["K"]


def log_slope(sizes: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of log(values) against log(sizes)."""
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])
