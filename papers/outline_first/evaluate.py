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


def closed_form_error(gauss, x_T: np.ndarray, sigmas: np.ndarray) -> float:
    """Max relative error of the closed form against solve_ivp with the exact denoiser."""
    from scipy.integrate import solve_ivp

    from papers.outline_first.theory import closed_form

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
    exact = np.asarray(closed_form(gauss, x_T, levels[0], levels))
    err = np.linalg.norm(numeric - exact, axis=-1) / np.linalg.norm(exact, axis=-1)
    return float(err.max())


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
    run = heun_sample(learned, x_T, sigmas)
    states, denoised = np.asarray(run.states), np.asarray(run.denoised)
    final = states[-1]
    closed = np.asarray(th.closed_form(gauss, x_T, sigmas[0], sigmas))
    label = predict(clf, final)

    # 1. learned vs closed-form trajectory, same x_T
    dev = rel_sq_dev(states, closed)
    early = sigmas**2 > 2 * lam[0]
    # 2. commitment per principal direction (denoised estimates along u_k)
    k = min(mc.top_k, len(lam))
    commit = np.median(th.empirical_commitment(sigmas, (denoised - gauss.mean) @ u, COMMIT_FRAC), 0)
    gauss_den = np.asarray(th.gaussian_denoiser(gauss, closed, sigmas[:, None]))
    commit_g = np.median(
        th.empirical_commitment(sigmas, (gauss_den - gauss.mean) @ u, COMMIT_FRAC), 0
    )
    # 3. geometry of the learned trajectories
    traj = np.swapaxes(states, 0, 1)
    null_path = random_path(x_T, final, sigmas, cfg.seed)  # the null of the top-2 share
    span_err = th.span_projection_error(traj)
    rot_err = th.rotation_error(sigmas, traj)
    # 4. fixed-norm kicks (variance-preserving units) at several steps
    scale = mc.kick_norm * np.sqrt(np.mean(np.sum((train.x - gauss.mean) ** 2, -1)))
    kick_idx = np.unique(np.linspace(0, sc.num_steps - 1, N_KICKS).astype(int))
    direction = rng.standard_normal(x_T.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    flips, top_share, change = [], [], []
    for i in progress(kick_idx, desc="kicks"):
        kick = direction * scale * np.sqrt(1 + sigmas[i] ** 2)
        moved = np.asarray(heun_sample(learned, x_T, sigmas, return_trajectory=False,
                                       kick=(int(i), kick)).final) - final  # fmt: skip
        flips.append(np.mean(predict(clf, final + moved) != label))
        top_share.append(np.mean(np.sum((moved @ u[:, :k]) ** 2, -1) / np.sum(moved**2, -1)))
        change.append(np.mean(np.linalg.norm(moved, axis=-1)))
    flips, top_share = np.array(flips), np.array(top_share)
    gain2 = np.asarray(th.perturbation_gain(lam[None, :], sigmas[kick_idx, None])) ** 2
    top_share_theory = gain2[:, :k].sum(1) / gain2.sum(1)
    half = kick_idx < sc.num_steps / 2
    # 5. skip the first steps with the closed form, finish with the network
    target = 2 * np.sqrt(lam[0])
    skip_targets = np.array([*mc.skip_sigmas, target])
    skip_idx = np.array([int(np.argmin(np.abs(sigmas[:-1] - s))) for s in skip_targets])
    kept, nn_skip = [], []
    for i in progress(skip_idx, desc="skips"):
        start = np.asarray(th.closed_form(gauss, x_T, sigmas[0], sigmas[i]))
        out = np.asarray(heun_sample(learned, None, sigmas, return_trajectory=False,
                                     start_index=int(i), x_start=start).final)  # fmt: skip
        kept.append(np.mean(predict(clf, out) == label))
        nn_skip.append(np.mean(nearest_neighbor_distance(out, train.x)))

    metrics = {
        "classifier_test_accuracy": accuracy(clf, test.x, test.labels),
        "closed_form_max_rel_err": closed_form_error(gauss, x_T[:N_ODE_CHECK], sigmas),
        "learned_vs_gauss_dev_early_max": float(dev[early].max()),
        "learned_vs_gauss_dev_final": float(dev[-1]),
        "commit_spearman_learned": float(spearmanr(lam[:k], commit[:k])[0]),
        "commit_spearman_gauss": float(spearmanr(lam[:k], commit_g[:k])[0]),
        "top2_share_mean": float(np.mean(th.top2_variance_share(traj))),
        "top2_share_null": float(np.mean(th.top2_variance_share(null_path))),
        "span_proj_err_null": float(np.mean(th.span_projection_error(null_path))),
        "span_proj_err_mean": float(np.mean(span_err)),
        "span_proj_err_gauss_mean": float(
            np.mean(th.span_projection_error(np.swapaxes(closed, 0, 1)))
        ),
        "rotation_err_mean": float(np.mean(rot_err)),
        "flip_rate_early": float(flips[half].mean()),
        "flip_rate_late": float(flips[~half].mean()),
        "flip_rate_early_minus_late": float(flips[half].mean() - flips[~half].mean()),
        "top_share_early_minus_late": float(top_share[half].mean() - top_share[~half].mean()),
        "skip_class_kept_2sqrt_lmax": float(kept[-1]),
        "skip_sigma_2sqrt_lmax": float(sigmas[skip_idx[-1]]),
        "skip_steps_saved_2sqrt_lmax": float(skip_idx[-1] / sc.num_steps),
        "nn_dist_learned": float(np.mean(nearest_neighbor_distance(final, train.x))),
        "nn_dist_gauss": float(np.mean(nearest_neighbor_distance(closed[-1], train.x))),
        "nn_dist_test": float(np.mean(nearest_neighbor_distance(test.x, train.x))),
        "lambda_max": float(lam[0]),
    }
    curves = {
        "sigmas": sigmas, "dev": dev, "lambdas": lam, "commit_learned": commit,
        "commit_gauss": commit_g,
        "commit_theory": np.asarray(th.commitment_sigma(lam, COMMIT_FRAC)),
        "span_err": span_err.mean(0), "rot_err": rot_err.mean(0),
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
