"""Measure the five effects on the trained network and the Gaussian theory (Hydra entry point).

python -m papers.outline_first.evaluate scale=cpu seed=0 run.out_dir=results/cpu/outline_first/seed0
Reads the run's ``params.npz``; writes ``metrics.json`` and ``curves.npz`` (per-level curves,
per-direction commitment, kick and skip results, example trajectories for the figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point
from common.io import save_npz, write_metrics
from common.progress import progress
from common.threads import set_threads

COMMIT_FRAC = 2**-0.5  # committed: within 1 - 1/sqrt(2) of the final value (sigma* = sqrt(lambda))
N_KICKS = 10  # kick positions spread over the steps
N_ODE_CHECK = 4  # trajectories checked against a fine numerical ODE solve


def closed_form_error(
    gauss, x_T: np.ndarray, sigmas: np.ndarray, candidate=None
) -> tuple[float, float]:
    """Max relative error of the closed form against solve_ivp with the exact denoiser, and that
    of the closed form of ``candidate`` (default: the isotropic null) against the same solve."""
    from scipy.integrate import solve_ivp

    from papers.outline_first.theory import closed_form, isotropic

    mean, lam, u = (np.asarray(a) for a in gauss)
    shape = x_T.shape

    def rhs(sigma, flat):
        x = flat.reshape(shape)
        c = (x - mean) @ u
        den = mean + (c * lam / (lam + sigma**2)) @ u.T
        return ((x - den) / sigma).ravel()

    levels = sigmas[sigmas > 0]
    sol = solve_ivp(rhs, (levels[0], levels[-1]), x_T.ravel(), t_eval=levels, method="DOP853",
                    rtol=1e-11, atol=1e-12)  # fmt: skip
    numeric = sol.y.T.reshape(len(levels), *shape)
    errors = []
    for model in (gauss, isotropic(gauss) if candidate is None else candidate):
        exact = np.asarray(closed_form(model, x_T, levels[0], levels))
        errors.append(np.linalg.norm(numeric - exact, axis=-1) / np.linalg.norm(numeric, axis=-1))
    return float(errors[0].max()), float(errors[1].max())


def random_path(x_T: np.ndarray, x_0: np.ndarray, sigmas: np.ndarray, seed: int) -> np.ndarray:
    """A null for the top-2 share: a non-planar path with a sampling trajectory's noise scale.

    State i is ``x_0 + sigma_i n_i``. The noise direction starts at ``(x_T - x_0) / sigma_max``
    (so the path runs from x_T to x_0) and drifts by a Brownian motion in all D dimensions (as
    much variance again by the end, so it leaves span{x_T, x_0} in every direction), keeping
    the norm of the starting noise. (N, D) ends -> (N, S, D) states.
    """
    rng = np.random.default_rng([seed, 0x4E11])
    n_T = (x_T - x_0) / sigmas[0]
    steps = rng.standard_normal((len(sigmas), *x_T.shape)) / np.sqrt(len(sigmas))
    walk = n_T[None] + np.cumsum(steps, axis=0) - steps[0]  # W_0 = 0
    walk *= np.linalg.norm(n_T, axis=-1)[None, :, None] / np.linalg.norm(walk, axis=-1)[..., None]
    return np.swapaxes(x_0[None] + sigmas[:, None, None] * walk, 0, 1)


def rel_sq_dev(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean over trajectories of ||a - b||^2 / ||b||^2, per level: (S, N, D) -> (S,)."""
    return np.mean(np.sum((a - b) ** 2, -1) / np.sum(b**2, -1), axis=1)


def cov_part_dev(a: np.ndarray, closed: np.ndarray, point: np.ndarray, levels) -> float:
    """sum ||a - closed||^2 / sum ||closed - point||^2 over the given levels and trajectories.

    ``point`` is the closed form of a point mass at the mean, so the denominator is the part of
    the closed-form state that the data covariance determines. (S, N, D) arrays, levels a mask.
    """
    num = np.sum((a[levels] - closed[levels]) ** 2)
    return float(num / np.sum((closed[levels] - point[levels]) ** 2))


def cov_dev_curve(a: np.ndarray, closed: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Per level: sum over trajectories of ||a - closed||^2 / ||closed - point||^2 (S,)."""
    num = np.sum((a - closed) ** 2, axis=(1, 2))
    den = np.sum((closed - point) ** 2, axis=(1, 2))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def early_minus_late(values: np.ndarray, early: np.ndarray) -> float:
    """Mean over the early kick positions minus mean over the late ones.

    Taken relative to the first value, so that equal values give exactly 0 (no rounding sign).
    """
    rel = values - values[0]
    return float(rel[early].mean() - rel[~early].mean())


def measure(cfg: DictConfig, run_dir: Path) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """All metrics of one seed and the curves behind the figures."""
    import jax
    from scipy.stats import spearmanr

    from papers.outline_first import theory as th
    from papers.outline_first.classifier import (
        accuracy,
        nearest_neighbor_distance,
        predict,
        train_classifier,
    )
    from papers.outline_first.model import load_denoiser
    from papers.outline_first.sampler import heun_sample, karras_sigmas
    from papers.outline_first.train import load_training_data, validate

    validate(cfg)
    jax.config.update("jax_enable_x64", True)
    train, test = load_training_data(cfg)
    gauss = th.fit_gaussian(train.x)
    lam, u = np.asarray(gauss.eigvals), np.asarray(gauss.eigvecs)
    clf = train_classifier(train.x, train.labels, cfg.seed)
    sc, mc = cfg.sampler, cfg.measure
    sigmas = karras_sigmas(sc.num_steps, sc.sigma_min, sc.sigma_max, sc.rho)
    rng = np.random.default_rng([cfg.seed, 7])
    x_T = sc.sigma_max * rng.standard_normal((sc.n_traj, train.dim))

    learned = load_denoiser(run_dir / "params.npz", cfg.model, train.dim)
    iso = th.isotropic(gauss)  # the null model: right mean and total variance, no covariance

    def exact_denoiser(model):
        return jax.jit(lambda x, s: th.gaussian_denoiser(model, x, s))

    gauss_net, iso_net = exact_denoiser(gauss), exact_denoiser(iso)
    run = heun_sample(learned, x_T, sigmas)
    states, denoised = np.asarray(run.states), np.asarray(run.denoised)
    final = states[-1]
    closed = np.asarray(th.closed_form(gauss, x_T, sigmas[0], sigmas))
    closed_iso = np.asarray(th.closed_form(iso, x_T, sigmas[0], sigmas))
    point = gauss.mean + (sigmas / sigmas[0])[:, None, None] * (x_T - gauss.mean)[None]
    gauss_run = heun_sample(gauss_net, x_T, sigmas)
    gauss_states = np.asarray(gauss_run.states)
    label = predict(clf, final)

    # 1. learned vs closed-form trajectory, same x_T
    dev = rel_sq_dev(states, closed)
    dev_iso = rel_sq_dev(closed_iso, closed)
    early = sigmas**2 > 2 * lam[0]
    # 2. commitment per principal direction (denoised estimates along u_k)
    k = min(mc.top_k, len(lam))
    commit = np.median(th.empirical_commitment(sigmas, (denoised - gauss.mean) @ u, COMMIT_FRAC), 0)
    gauss_den = np.asarray(th.gaussian_denoiser(gauss, closed, sigmas[:, None]))
    commit_g = np.median(
        th.empirical_commitment(sigmas, (gauss_den - gauss.mean) @ u, COMMIT_FRAC), 0
    )
    shuf = th.shuffled(gauss, cfg.seed)
    shuf_den = np.asarray(
        th.gaussian_denoiser(shuf, th.closed_form(shuf, x_T, sigmas[0], sigmas), sigmas[:, None])
    )
    commit_null = np.median(
        th.empirical_commitment(sigmas, (shuf_den - gauss.mean) @ u, COMMIT_FRAC), 0
    )
    # 3. geometry of the learned trajectories (the paper's VP coordinates for the top-2 share)
    traj = np.swapaxes(states, 0, 1)
    traj_gauss = np.swapaxes(closed, 0, 1)
    null_path = random_path(x_T, final, sigmas, cfg.seed)  # the null of C4a and C4b
    vp = 1.0 / np.sqrt(1.0 + sigmas**2)[:, None]
    span_err = th.span_projection_error(traj)
    span_err_gauss = th.span_projection_error(traj_gauss)
    span_err_null = th.span_projection_error(null_path)
    rot_err = th.rotation_error(sigmas, traj)
    # 4. fixed-norm kicks (variance-preserving units) at several steps
    scale = mc.kick_norm * np.sqrt(np.mean(np.sum((train.x - gauss.mean) ** 2, -1)))
    kick_idx = np.unique(np.linspace(0, sc.num_steps - 1, N_KICKS).astype(int))
    direction = rng.standard_normal(x_T.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    iso_final = np.asarray(heun_sample(iso_net, x_T, sigmas, return_trajectory=False).final)
    gauss_final = gauss_states[-1]

    def kicked_flips(net, base: np.ndarray, i: int, kick: np.ndarray) -> tuple[np.ndarray, float]:
        moved = np.asarray(heun_sample(net, x_T, sigmas, return_trajectory=False,
                                       kick=(i, kick)).final) - base  # fmt: skip
        return moved, float(np.mean(predict(clf, base + moved) != predict(clf, base)))

    flips, flips_g, flips_iso, top_share, change = [], [], [], [], []
    for i in progress(kick_idx, desc="kicks"):
        kick = direction * scale * np.sqrt(1 + sigmas[i] ** 2)
        moved, flip = kicked_flips(learned, final, int(i), kick)
        flips.append(flip)
        flips_g.append(kicked_flips(gauss_net, gauss_final, int(i), kick)[1])
        flips_iso.append(kicked_flips(iso_net, iso_final, int(i), kick)[1])
        top_share.append(np.mean(np.sum((moved @ u[:, :k]) ** 2, -1) / np.sum(moved**2, -1)))
        change.append(np.mean(np.linalg.norm(moved, axis=-1)))
    flips, top_share = np.array(flips), np.array(top_share)
    gain2 = np.asarray(th.perturbation_gain(lam[None, :], sigmas[kick_idx, None])) ** 2
    top_share_theory = gain2[:, :k].sum(1) / gain2.sum(1)
    # the null passes each kick to the sample unchanged: its share is the kick's own, every time
    kick_share = np.mean(np.sum((direction @ u[:, :k]) ** 2, -1))
    half = kick_idx < sc.num_steps / 2
    # 5. skip the first steps with the closed form, finish with the network
    target = 2 * np.sqrt(lam[0])
    skip_targets = np.array([*mc.skip_sigmas, target])
    skip_idx = np.array([int(np.argmin(np.abs(sigmas[:-1] - s))) for s in skip_targets])

    def finish(net, start: np.ndarray, i: int) -> np.ndarray:
        """Start ``net`` at level i from ``start``; the final samples."""
        return np.asarray(heun_sample(net, None, sigmas, return_trajectory=False,
                                      start_index=i, x_start=start).final)  # fmt: skip

    def closed_start(model, i: int) -> np.ndarray:
        return np.asarray(th.closed_form(model, x_T, sigmas[0], sigmas[i]))

    kept, nn_skip = [], []
    for i in progress(skip_idx, desc="skips"):
        out = finish(learned, closed_start(gauss, int(i)), int(i))
        kept.append(np.mean(predict(clf, out) == label))
        nn_skip.append(np.mean(nearest_neighbor_distance(out, train.x)))
    i_skip = int(skip_idx[-1])
    # null: the first steps dropped, not replaced: fresh noise at the skip level, blind to x_T
    fresh = gauss.mean + sigmas[i_skip] * np.random.default_rng([cfg.seed, 11]).standard_normal(
        x_T.shape
    )
    skip_null = finish(learned, fresh, i_skip)
    skip_iso = finish(learned, closed_start(iso, i_skip), i_skip)
    skip_gauss = finish(gauss_net, closed_start(gauss, i_skip), i_skip)
    cov_levels = early & (np.arange(len(sigmas)) > 0)  # level 0 is x_T for every sampler
    edge = np.arange(len(sigmas)) == np.flatnonzero(early)[-1]  # the last early level
    top_level = np.arange(len(sigmas)) == 1  # the first level after x_T

    flips_g, flips_iso = np.array(flips_g), np.array(flips_iso)
    closed_err, closed_err_null = closed_form_error(gauss, x_T[:N_ODE_CHECK], sigmas)
    metrics = {
        "classifier_test_accuracy": accuracy(clf, test.x, test.labels),
        "closed_form_max_rel_err": closed_err,
        "closed_form_max_rel_err_null": closed_err_null,
        "learned_vs_gauss_cov_dev_early": cov_part_dev(states, closed, point, cov_levels),
        "iso_vs_gauss_cov_dev_early": cov_part_dev(closed_iso, closed, point, cov_levels),
        "gaussheun_vs_gauss_cov_dev_early": cov_part_dev(gauss_states, closed, point, cov_levels),
        "learned_vs_gauss_cov_dev_top": cov_part_dev(states, closed, point, top_level),
        "learned_vs_gauss_cov_dev_edge": cov_part_dev(states, closed, point, edge),
        "iso_vs_gauss_cov_dev_edge": cov_part_dev(closed_iso, closed, point, edge),
        "learned_vs_gauss_dev_early_max": float(dev[early].max()),
        "iso_vs_gauss_dev_early_max": float(dev_iso[early].max()),
        "learned_vs_gauss_dev_final": float(dev[-1]),
        "iso_vs_gauss_dev_final": float(dev_iso[-1]),
        "commit_spearman_learned": float(spearmanr(lam[:k], commit[:k])[0]),
        "commit_spearman_gauss": float(spearmanr(lam[:k], commit_g[:k])[0]),
        "commit_spearman_null": float(spearmanr(lam[:k], commit_null[:k])[0]),
        "top2_share_vp_mean": float(np.mean(th.top2_variance_share(traj * vp))),
        "top2_share_vp_gauss": float(np.mean(th.top2_variance_share(traj_gauss * vp))),
        "top2_share_vp_null": float(np.mean(th.top2_variance_share(null_path * vp))),
        "top2_share_mean": float(np.mean(th.top2_variance_share(traj))),
        "top2_share_null": float(np.mean(th.top2_variance_share(null_path))),
        "span_resid_var_mean": float(np.mean(span_err**2)),
        "span_resid_var_gauss": float(np.mean(span_err_gauss**2)),
        "span_resid_var_null": float(np.mean(span_err_null**2)),
        "span_proj_err_mean": float(np.mean(span_err)),
        "span_proj_err_gauss_mean": float(np.mean(span_err_gauss)),
        "x0_plane_resid_mean": float(np.mean(th.x0_plane_residual(traj)[:, 1:])),
        "x0_plane_resid_gauss": float(np.mean(th.x0_plane_residual(traj_gauss)[:, 1:])),
        "rotation_err_mean": float(np.mean(rot_err)),
        "flip_rate_early": float(flips[half].mean()),
        "flip_rate_late": float(flips[~half].mean()),
        "flip_rate_early_minus_late": early_minus_late(flips, half),
        "flip_rate_early_minus_late_gauss": early_minus_late(flips_g, half),
        "flip_rate_early_minus_late_null": early_minus_late(flips_iso, half),
        "top_share_early_minus_late": early_minus_late(top_share, half),
        "top_share_early_minus_late_theory": early_minus_late(top_share_theory, half),
        "top_share_early_minus_late_null": early_minus_late(np.full(len(half), kick_share), half),
        "skip_class_kept_2sqrt_lmax": float(kept[-1]),
        "skip_class_kept_null": float(np.mean(predict(clf, skip_null) == label)),
        "skip_class_kept_iso": float(np.mean(predict(clf, skip_iso) == label)),
        "skip_class_kept_gauss": float(
            np.mean(predict(clf, skip_gauss) == predict(clf, gauss_final))
        ),
        "skip_sigma_2sqrt_lmax": float(sigmas[skip_idx[-1]]),
        "skip_steps_saved_2sqrt_lmax": float(skip_idx[-1] / sc.num_steps),
        "nn_dist_learned": float(np.mean(nearest_neighbor_distance(final, train.x))),
        "nn_dist_gauss": float(np.mean(nearest_neighbor_distance(closed[-1], train.x))),
        "nn_dist_test": float(np.mean(nearest_neighbor_distance(test.x, train.x))),
        "lambda_max": float(lam[0]),
        "sigma_first_step": float(sigmas[1]),
    }
    curves = {
        "sigmas": sigmas, "dev": dev, "lambdas": lam, "commit_learned": commit,
        "commit_gauss": commit_g,
        "commit_theory": np.asarray(th.commitment_sigma(lam, COMMIT_FRAC)),
        "rot_err": rot_err.mean(0),
        "span_resid_var": (span_err**2).mean(0),
        "span_resid_var_gauss": (span_err_gauss**2).mean(0),
        "span_resid_var_null": (span_err_null**2).mean(0),
        "cov_dev": cov_dev_curve(states, closed, point),
        "cov_dev_iso": cov_dev_curve(closed_iso, closed, point),
        "cov_dev_gaussheun": cov_dev_curve(gauss_states, closed, point),
        "kick_sigmas": sigmas[kick_idx], "flip_rate": flips, "top_share": top_share,
        "top_share_theory": top_share_theory, "change_norm": np.array(change),
        "skip_sigmas": sigmas[skip_idx], "skip_kept": np.array(kept), "skip_nn": np.array(nn_skip),
        "skip_saved": skip_idx / sc.num_steps, "examples_learned": denoised[:, :6],
        "examples_closed": gauss_den[:, :6], "image_shape": np.array(train.image_shape),
    }  # fmt: skip
    return metrics, curves


@entry_point("outline_first")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    run_dir = Path(cfg.run.out_dir)
    metrics, curves = measure(cfg, run_dir)
    save_npz(run_dir / "curves.npz", **curves)
    write_metrics(run_dir / "metrics.json", metrics, provenance.collect(config_hash(cfg), cfg.seed))


if __name__ == "__main__":
    main()
