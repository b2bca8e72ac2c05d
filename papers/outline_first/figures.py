"""Figures and the per-seed table of the outline-first measurements (Hydra entry point).

python -m papers.outline_first.figures scale=cpu run.out_dir=results/cpu/outline_first
Reads ``<out_dir>/seed<n>/{curves.npz,metrics.json}`` for the seeds of ``cfg.sweep`` and
writes into ``<out_dir>/figures/``. Curves are drawn for every seed (thin) or the first seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import load_npz, read_metrics
from common.plotting import plt, save_table, savefig, set_theme

SCRIPT = "papers/outline_first/figures.py"
SHOWN_LEVELS = 8  # columns of the trajectory figure
CAPTIONS = {
    "trajectories": (
        "Denoised estimates D(x; sigma) along sampling trajectories from the same x_T (two noise "
        "seeds): the trained network (rows 1, 3) and the exact Gaussian denoiser on the "
        "closed-form trajectory (rows 2, 4), from sigma = 80 to the final sample."
    ),
    "deviation": (
        "Left: relative squared deviation between the network's and the closed-form trajectory "
        "from the same x_T, per noise level (mean over trajectories, one line per seed). Right: "
        "the same deviation relative to the covariance-driven part of the closed-form state "
        "(closed form minus that of a point mass at the mean; sums over trajectories), for the "
        "network, the isotropic Gaussian (null) and the Heun sampler with the exact Gaussian "
        "denoiser (oracle), first seed. Claim C2 pools the levels with sigma^2 > 2 lambda_max "
        "(dotted)."
    ),
    "commitment": (
        "Noise level at which the denoised estimate commits along each of the top {k} principal "
        "directions (within 1 - 1/sqrt(2) of its final value; median over trajectories) against "
        "sqrt(lambda_k): the network, the Gaussian model, and the theory sigma_k* = "
        "sqrt(lambda_k)."
    ),
    "geometry": (
        "Trajectory geometry: squared residual of each state outside span{{x_T, x_0}} as a "
        "fraction of its squared norm (the authors' residual-variance ratio) for the network, "
        "the exact Gaussian trajectory (oracle) and a random path (null), and the relative error "
        "of the rotation formula cos(phi) x_0 + sin(phi) x_T/sigma_T for the network in "
        "variance-preserving units, per noise level (mean over trajectories, first seed)."
    ),
    "kicks": (
        "Fixed-norm kicks (variance-preserving units, random directions) injected at one step: "
        "left, the fraction of samples whose class (logistic-regression classifier) flips; "
        "right, the share of the final change in the top {k} principal directions, with the "
        "Gaussian theory's gain sqrt(lambda_k (1 + sigma^2)/(lambda_k + sigma^2))."
    ),
    "skipping": (
        "Skipping the first steps with the closed form, then finishing with the network: "
        "fraction of samples keeping the class of the full network sample, and mean distance to "
        "the nearest training image (dotted: full network sampling; dashed: pure Gaussian "
        "samples)."
    ),
}


def load_runs(out: Path, seeds) -> list[tuple[int, dict, dict]]:
    """(seed, curves, metrics) per seed; a missing run is a one-line error."""
    runs = []
    for seed in seeds:
        run = out / f"seed{seed}"
        if not (run / "curves.npz").exists():
            raise FileNotFoundError(f"missing {run / 'curves.npz'} (train and evaluate it first)")
        runs.append((seed, load_npz(run / "curves.npz"), read_metrics(run / "metrics.json")[0]))
    return runs


def fig_trajectories(curves: dict) -> plt.Figure:
    """Denoised estimates along the network's / the Gaussian trajectories of two noise seeds."""
    sig, shape = curves["sigmas"], tuple(curves["image_shape"])
    cols = np.unique(np.geomspace(1, len(sig), SHOWN_LEVELS).astype(int) - 1)
    fig, axes = plt.subplots(4, len(cols), figsize=(1.2 * len(cols), 5.2))
    rows = [(key, n) for n in (0, 1) for key in ("examples_learned", "examples_closed")]
    for r, (key, n) in enumerate(rows):
        name = "network" if key == "examples_learned" else "Gaussian"
        for c, s in enumerate(cols):
            img = np.clip(curves[key][s, n].reshape(shape), -1, 1)
            axes[r, c].imshow(img, cmap="gray", vmin=-1, vmax=1)
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(f"σ={sig[s]:.2g}", fontsize=8)
        axes[r, 0].set_ylabel(f"{name}\nseed {n}", fontsize=8)
    return fig


def fig_deviation(runs, lam_max: float) -> plt.Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for seed, c, _ in runs:
        a.plot(c["sigmas"][1:-1], c["dev"][1:-1], lw=1, label=f"seed {seed}")  # level 0 is x_T
    c = runs[0][1]
    sig = c["sigmas"][1:-1]
    for key, label in (("cov_dev", "network"), ("cov_dev_iso", "isotropic Gaussian (null)"),
                       ("cov_dev_gaussheun", "Heun + exact Gaussian (oracle)")):  # fmt: skip
        b.plot(sig, c[key][1:-1], lw=1, label=label)
    b.axhline(0.01, color="grey", ls="--", label="claim threshold 0.01")
    for ax, ylabel in ((a, "relative sq. deviation (whole state)"),
                       (b, "relative to the covariance-driven part")):  # fmt: skip
        ax.axvline(np.sqrt(2 * lam_max), color="k", ls=":", label=r"$\sigma^2 = 2\lambda_{max}$")
        ax.set(xscale="log", yscale="log", xlabel=r"noise level $\sigma$", ylabel=ylabel)
        ax.invert_xaxis()
        ax.legend(fontsize=7)
    return fig


def fig_commitment(curves: dict, k: int) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    lam = curves["lambdas"][:k]
    ax.scatter(np.sqrt(lam), curves["commit_learned"][:k], s=18, label="network")
    ax.scatter(np.sqrt(lam), curves["commit_gauss"][:k], s=18, marker="x", label="Gaussian model")
    ax.plot(
        np.sqrt(lam), curves["commit_theory"][:k], "k--", lw=1, label=r"theory $\sqrt{\lambda_k}$"
    )
    ax.set(xscale="log", yscale="log", xlabel=r"$\sqrt{\lambda_k}$",
           ylabel="commitment noise level")  # fmt: skip
    ax.legend(fontsize=7)
    return fig


def fig_geometry(curves: dict) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    sig = curves["sigmas"][1:-1]
    for key, label in (("span_resid_var", "network"), ("span_resid_var_gauss", "exact Gaussian"),
                       ("span_resid_var_null", "random path (null)")):  # fmt: skip
        ax.plot(sig, curves[key][1:-1], label=f"residual fraction, {label}")
    ax.plot(sig, curves["rot_err"][1:-1], "k:", label=r"rotation formula error, network")
    ax.axhline(0.02, color="grey", ls="--", lw=1, label="claim threshold 0.02 (mean)")
    ax.set(xscale="log", xlabel=r"noise level $\sigma$", ylabel="fraction / relative error")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    return fig


def fig_kicks(runs) -> plt.Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for seed, c, _ in runs:
        a.plot(c["kick_sigmas"], c["flip_rate"], "o-", ms=3, lw=1, label=f"seed {seed}")
        b.plot(c["kick_sigmas"], c["top_share"], "o-", ms=3, lw=1, label=f"network, seed {seed}")
    b.plot(runs[0][1]["kick_sigmas"], runs[0][1]["top_share_theory"], "k--", lw=1,
           label="Gaussian theory")  # fmt: skip
    a.set(xscale="log", xlabel=r"kick injected at $\sigma$", ylabel="class-flip rate")
    b.set(xscale="log", xlabel=r"kick injected at $\sigma$", ylabel="share of change in top PCs")
    for ax in (a, b):
        ax.invert_xaxis()
        ax.legend(fontsize=7)
    return fig


def fig_skipping(runs) -> plt.Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for seed, c, m in runs:
        a.plot(c["skip_saved"], c["skip_kept"], "o-", ms=3, lw=1, label=f"seed {seed}")
        b.plot(c["skip_saved"], c["skip_nn"], "o-", ms=3, lw=1, label=f"seed {seed}")
        b.axhline(m["nn_dist_learned"], color="C0", ls=":", lw=1)
    b.axhline(runs[0][2]["nn_dist_gauss"], color="grey", ls="--", lw=1, label="Gaussian samples")
    a.axhline(0.95, color="grey", ls="--", lw=1, label="claim threshold 0.95")
    a.set(xlabel="fraction of steps replaced by the closed form", ylabel="class kept")
    b.set(xlabel="fraction of steps replaced by the closed form",
          ylabel="distance to nearest training image")  # fmt: skip
    for ax in (a, b):
        ax.legend(fontsize=7)
    return fig


@entry_point("outline_first")
def main(cfg: DictConfig) -> None:
    set_theme()
    out = Path(cfg.run.out_dir)
    runs = load_runs(out, cfg.sweep.seeds)
    first = runs[0][1]
    lam_max = float(first["lambdas"][0])
    k = min(cfg.measure.top_k, len(first["lambdas"]))
    h = config_hash(cfg)
    figs = out / "figures"
    save = [
        ("trajectories", fig_trajectories(first)),
        ("deviation", fig_deviation(runs, lam_max)),
        ("commitment", fig_commitment(first, k)),
        ("geometry", fig_geometry(first)),
        ("kicks", fig_kicks(runs)),
        ("skipping", fig_skipping(runs)),
    ]
    for order, (stem, fig) in enumerate(save):
        savefig(fig, figs / stem, CAPTIONS[stem].format(k=k), SCRIPT, h, order)
    table = pd.DataFrame([{"seed": s, **m} for s, _, m in runs])
    save_table(table, figs / "per_seed", "All metrics per seed.", SCRIPT, h, len(save))


if __name__ == "__main__":
    main()
