"""Karras noise schedule and the deterministic Heun sampler (EDM Algorithm 1, no churn).

EDM / variance-exploding form: x = x0 + sigma n, PF-ODE dx/dsigma = (x - D(x; sigma)) / sigma.
Schedule convention (EDM): ``num_steps`` = N noise levels t_0 = sigma_max > ... >
t_{N-1} = sigma_min, followed by t_N = 0, so N + 1 levels and N ODE steps; Heun uses
2N - 1 denoiser evaluations (the last step, to sigma = 0, is a plain Euler step, whose
result is the denoised estimate D(x_{N-1}; t_{N-1})).
The Euler variant (``second_order=False``) is exactly deterministic DDIM (eta = 0) written
in EDM coordinates x = x_vp / sqrt(alpha_bar).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

Denoiser = Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray]


def karras_sigmas(
    num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> np.ndarray:
    """N = num_steps Karras levels from sigma_max to sigma_min, then 0: float64 (N + 1,).

    t_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
    i = 0..N-1; t_N = 0. num_steps = 1 gives [sigma_max, 0].
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"sampler.num_steps must be an integer >= 1, got {num_steps}")
    if not 0.0 < sigma_min <= sigma_max:
        raise ValueError(
            f"sampler.sigma_min / sigma_max must satisfy 0 < sigma_min <= sigma_max, "
            f"got {sigma_min} / {sigma_max}"
        )
    if not rho > 0:
        raise ValueError(f"sampler.rho must be > 0, got {rho}")
    n = int(num_steps)
    ramp = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    levels = (hi + ramp * (lo - hi)) ** rho
    levels[0], levels[-1] = sigma_max, (sigma_min if n > 1 else sigma_max)  # exact endpoints
    return np.concatenate([levels, [0.0]])


class SampleResult(NamedTuple):
    """Output of heun_sample; unpacks as (final, states, denoised, sigmas).

    final (N, D): the sample at sigmas[-1]. sigmas (S,): the levels covered, i.e. the
    schedule from start_index on. states (S, N, D): the state at each of these levels
    (states[0] is the start, states[-1] is final; a kicked level holds the kicked state).
    denoised (S, N, D): D(states[i]; sigmas[i]); at a level sigma = 0 it is the state
    itself. states and denoised are None unless return_trajectory.
    """

    final: jnp.ndarray
    states: jnp.ndarray | None
    denoised: jnp.ndarray | None
    sigmas: np.ndarray


@jax.jit
def _euler(x, den, s, s_next):
    slope = (x - den) / s
    return x + (s_next - s) * slope, slope


@jax.jit
def _heun(x, slope, x_pred, den_pred, s, s_next):
    slope_pred = (x_pred - den_pred) / s_next
    return x + (s_next - s) * 0.5 * (slope + slope_pred)


def _check_sigmas(sigmas: ArrayLike) -> np.ndarray:
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 1 or sigmas.size < 1:
        raise ValueError(f"sigmas must be a non-empty 1-D array, got shape {sigmas.shape}")
    if np.any(sigmas < 0) or np.any(np.diff(sigmas) >= 0) or not np.all(np.isfinite(sigmas)):
        raise ValueError("sigmas must be finite, >= 0 and strictly decreasing")
    return sigmas


def heun_sample(
    denoiser: Denoiser,
    x_T: ArrayLike | None,
    sigmas: ArrayLike,
    *,
    return_trajectory: bool = True,
    kick: tuple[int, ArrayLike] | None = None,
    start_index: int = 0,
    x_start: ArrayLike | None = None,
    second_order: bool = True,
) -> SampleResult:
    """Integrate the PF-ODE along ``sigmas`` with Heun's method (EDM Algorithm 1, no churn).

    denoiser(x (N, D), sigma 0-d array) -> D(x; sigma) (N, D); it may be a jitted closure.
    x_T (N, D): the state at sigmas[0], e.g. sigma_max * randn as in EDM (or mu + sigma_max
    * randn). sigmas: decreasing levels, typically karras_sigmas(...) ending in 0;
    every step is Euler + 2nd-order correction except a step to sigma = 0 (Euler only).
    kick = (i, v): v ((D,) or (N, D)) is added to the state at level sigmas[i] before
    stepping from it (start_index <= i < len(sigmas)).
    start_index = k with x_start (state at sigmas[k]): start at level k (step skipping);
    x_T is then ignored and may be None; the trajectory covers sigmas[k:].
    second_order=False: Euler steps only (= DDIM, eta = 0).
    """
    sigmas = _check_sigmas(sigmas)
    if not 0 <= start_index < sigmas.size:
        raise ValueError(f"start_index must be in [0, {sigmas.size - 1}], got {start_index}")
    if start_index > 0 and x_start is None:
        raise ValueError(
            "x_start (the state at sigmas[start_index]) is required when start_index > 0"
        )
    x = jnp.asarray(x_start if x_start is not None else x_T)
    if x.ndim < 1:
        raise ValueError(f"the start state must have shape (N, D), got {x.shape}")
    if kick is not None:
        kick_index, kick_vec = int(kick[0]), jnp.asarray(kick[1], dtype=x.dtype)
        if not start_index <= kick_index < sigmas.size:
            raise ValueError(
                f"kick step index must be in [{start_index}, {sigmas.size - 1}], got {kick_index}"
            )
    levels = sigmas[start_index:]
    dtype = x.dtype
    states, denoised = [], []
    for j, s in enumerate(levels):
        if kick is not None and start_index + j == kick_index:
            x = x + kick_vec
        s_arr = jnp.asarray(s, dtype=dtype)
        last = j == levels.size - 1
        if last:
            if return_trajectory:
                states.append(x)
                denoised.append(x if s == 0 else denoiser(x, s_arr))
            break
        den = denoiser(x, s_arr)
        if return_trajectory:
            states.append(x)
            denoised.append(den)
        s_next = levels[j + 1]
        s_next_arr = jnp.asarray(s_next, dtype=dtype)
        x_next, slope = _euler(x, den, s_arr, s_next_arr)
        if second_order and s_next > 0:
            x_next = _heun(x, slope, x_next, denoiser(x_next, s_next_arr), s_arr, s_next_arr)
        x = x_next
    if not return_trajectory:
        return SampleResult(x, None, None, levels)
    return SampleResult(x, jnp.stack(states), jnp.stack(denoised), levels)
