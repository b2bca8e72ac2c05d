"""EDM-preconditioned MLP denoiser for flat images (Karras et al. 2022) in Flax.

D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma)), with
c_skip = sd^2 / (sigma^2 + sd^2), c_out = sigma sd / sqrt(sigma^2 + sd^2),
c_in = 1 / sqrt(sigma^2 + sd^2), c_noise = ln(sigma) / 4 and sd = sigma_data.
F is an MLP (``depth`` SiLU layers of width ``hidden``) that sees c_in x and sinusoidal
features of c_noise, both at its input and as a per-layer bias. Training minimises
lambda(sigma) |D(x + sigma n; sigma) - x|^2 with lambda = (sigma^2 + sd^2) / (sigma sd)^2
and ln(sigma) ~ N(p_mean, p_std^2).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from common.io import load_npz, save_npz

Params = Any  # a Flax parameter pytree (nested dicts of arrays)

#: Frequencies of the sinusoidal noise features; c_noise spans about [-1.6, 1.1] for
#: sigma in [0.002, 80], so these resolve it from coarse (1) to fine (~64 per unit).
NOISE_FREQS = np.pi * 2.0 ** np.arange(-1, 6, 0.5)


def precondition(sigma, sigma_data: float):
    """EDM's (c_skip, c_out, c_in, c_noise) for noise level(s) ``sigma``."""
    sigma = jnp.asarray(sigma)
    var = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / var
    c_out = sigma * sigma_data / jnp.sqrt(var)
    c_in = 1.0 / jnp.sqrt(var)
    c_noise = jnp.log(sigma) / 4.0
    return c_skip, c_out, c_in, c_noise


def loss_weight(sigma, sigma_data: float):
    """EDM's loss weight lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2 (= 1 / c_out^2)."""
    sigma = jnp.asarray(sigma)
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def noise_features(c_noise):
    """Sinusoidal features of c_noise, shape (N,) -> (N, 2 len(NOISE_FREQS) + 1)."""
    c = c_noise[:, None]
    arg = c * jnp.asarray(NOISE_FREQS, dtype=c.dtype)
    return jnp.concatenate([c, jnp.sin(arg), jnp.cos(arg)], axis=-1)


class MLP(nn.Module):
    """The raw network F(c_in x, c_noise) -> R^dim."""

    dim: int
    hidden: int = 256
    depth: int = 3

    @nn.compact
    def __call__(self, x_in, c_noise):
        emb = noise_features(c_noise.astype(x_in.dtype))
        h = jnp.concatenate([x_in, emb], axis=-1)
        for i in range(self.depth):
            h = nn.Dense(self.hidden, name=f"dense{i}")(h)
            if i > 0:  # per-layer noise conditioning (layer 0 already sees emb in its input)
                h = h + nn.Dense(self.hidden, use_bias=False, name=f"noise{i}")(emb)
            h = nn.silu(h)
        return nn.Dense(self.dim, kernel_init=nn.initializers.zeros, name="out")(h)


class Denoiser(nn.Module):
    """EDM-preconditioned denoiser D(x; sigma); x (N, dim), sigma scalar or (N,)."""

    dim: int
    hidden: int = 256
    depth: int = 3
    sigma_data: float = 0.5

    @nn.compact
    def __call__(self, x, sigma):
        sigma = jnp.broadcast_to(jnp.asarray(sigma, dtype=x.dtype), x.shape[:1])
        c_skip, c_out, c_in, c_noise = precondition(sigma, self.sigma_data)
        f = MLP(self.dim, self.hidden, self.depth, name="net")(c_in[:, None] * x, c_noise)
        return c_skip[:, None] * x + c_out[:, None] * f


def build_model(cfg_model, dim: int) -> Denoiser:
    """The denoiser for ``cfg.model`` (hidden, depth, sigma_data) on vectors of size ``dim``."""
    return Denoiser(
        dim=int(dim),
        hidden=int(cfg_model.hidden),
        depth=int(cfg_model.depth),
        sigma_data=float(cfg_model.sigma_data),
    )


def init_params(key, cfg_model, dim: int) -> Params:
    """Fresh float32 parameters of the denoiser."""
    model = build_model(cfg_model, dim)
    x = jnp.zeros((1, int(dim)), jnp.float32)
    return model.init(key, x, jnp.ones((1,), jnp.float32))["params"]


def edm_loss(model: Denoiser, params: Params, x0, key, p_mean: float, p_std: float):
    """Mean EDM loss on a batch ``x0`` (N, dim): lambda(sigma) |D(x0 + sigma n) - x0|^2 / dim."""
    k_sigma, k_noise = jax.random.split(key)
    sigma = jnp.exp(p_mean + p_std * jax.random.normal(k_sigma, x0.shape[:1], x0.dtype))
    noisy = x0 + sigma[:, None] * jax.random.normal(k_noise, x0.shape, x0.dtype)
    denoised = model.apply({"params": params}, noisy, sigma)
    per_sample = jnp.mean((denoised - x0) ** 2, axis=-1)
    return jnp.mean(loss_weight(sigma, model.sigma_data) * per_sample)


def make_denoiser(params: Params, cfg_model, dim: int) -> Callable:
    """Jitted ``denoiser(x, sigma) -> D(x; sigma)``; x (N, dim), sigma scalar or (N,).

    Computes in float32 (the parameters' dtype) and returns x's dtype as JAX holds it
    (float64 only under ``jax_enable_x64``).
    """
    model = build_model(cfg_model, dim)
    params = jax.tree_util.tree_map(jnp.asarray, params)

    @jax.jit
    def apply(params, x, sigma):
        out = model.apply({"params": params}, x.astype(jnp.float32), sigma)
        return out.astype(x.dtype)

    def denoiser(x, sigma):
        return apply(params, jnp.asarray(x), jnp.asarray(sigma))

    return denoiser


def flatten_params(params: Params) -> dict[str, np.ndarray]:
    """Flax pytree -> {"net/dense0/kernel": array, ...}."""
    return {k: np.asarray(v) for k, v in traverse_util.flatten_dict(params, sep="/").items()}


def unflatten_params(flat: dict[str, np.ndarray], template: Params) -> Params:
    """Inverse of ``flatten_params``, checked against ``template`` (keys, shapes, dtypes)."""
    want = traverse_util.flatten_dict(template, sep="/")
    missing, extra = sorted(set(want) - set(flat)), sorted(set(flat) - set(want))
    if missing or extra:
        raise ValueError(f"parameter keys do not match the model: missing {missing}, extra {extra}")
    for key, ref in want.items():
        if flat[key].shape != ref.shape:
            raise ValueError(f"parameter {key}: shape {flat[key].shape}, model wants {ref.shape}")
    tree = {k: jnp.asarray(flat[k], dtype=want[k].dtype) for k in want}
    return traverse_util.unflatten_dict(tree, sep="/")


def save_params(path: str | os.PathLike, params: Params) -> None:
    """Write the parameter pytree to an NPZ with path-like keys (atomic, no pickle)."""
    save_npz(path, **flatten_params(params))


def load_params(path: str | os.PathLike, template: Params) -> Params:
    """Read parameters written by ``save_params`` into the structure of ``template``."""
    return unflatten_params(load_npz(path), template)


def load_denoiser(path: str | os.PathLike, cfg_model, dim: int) -> Callable:
    """``make_denoiser`` for the parameters in ``path`` (a run's ``params.npz``)."""
    template = init_params(jax.random.key(0), cfg_model, dim)
    return make_denoiser(load_params(path, template), cfg_model, dim)
