"""Figures and tables of the registration results (Hydra entry point).

python -m papers.se3_registration.figures scale=cpu run.out_dir=results/cpu/se3_registration \
    run.data_dir=results/cpu/se3_registration/data
Reads ``<out_dir>/seed<n>/{metrics.json,errors.npz,*/train_log.csv}`` and writes into
``<out_dir>/figures/``: the results table (method x metrics, mean +- std over seeds), the step
ablation (table and figure), the error along the reverse chain and by starting angle (tables),
error CDFs, qualitative alignments and training curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import load_npz, read_csv, read_json, read_metrics
from common.plotting import plt, save_table, savefig, set_theme
from papers.se3_registration import lie
from papers.se3_registration.evaluate import START_BINS_DEG

SCRIPT = "papers/se3_registration/figures.py"
METHODS = {
    "icp": "ICP (trimesh)",
    "dcp": "DCP-style surrogate alone",
    "dcp_icp": "surrogate + ICP",
    "diff": "Diff-DCP (diffusion)",
    "diff_icp": "Diff-DCP + ICP",
    "dcp_chain": "surrogate alone through the chain",
}
#: methods of the table by starting angle: (key, label)
BY_START = (
    ("dcp", "surrogate alone"),
    ("diff_s1_noise1", "Diff-DCP, 1 step"),
    ("diff", "Diff-DCP"),
    ("dcp_chain", "surrogate through the chain"),
)


def load_runs(out: Path, seeds) -> list[tuple[int, dict, dict]]:
    """(seed, metrics, errors) per seed; a missing run is a one-line error."""
    runs = []
    for seed in seeds:
        run = out / f"seed{seed}"
        if not (run / "errors.npz").exists():
            raise FileNotFoundError(f"missing {run / 'errors.npz'} (evaluate seed {seed} first)")
        runs.append((seed, read_metrics(run / "metrics.json")[0], load_npz(run / "errors.npz")))
    return runs


def _mean_std(values: list[float]) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.1f} ± {v.std():.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def results_table(runs, ec) -> pd.DataFrame:
    """The paper-style table: one row per method, recalls in percent, medians."""
    cols = [(f"recall_rot{k:g}", f"{k:g}°") for k in ec.rot_deg]
    cols += [(f"recall_trans{k:g}", f"{k:g} cm") for k in ec.trans_cm]
    cols += [
        (f"recall_trans{k:g}_released_sq", f"{k:g} cm (released, squared)") for k in ec.trans_cm[1:]
    ]
    cols += [(f"recall_trans{ec.trans_cm[0]:g}_scaled", f"{ec.trans_cm[0]:g} cm* (scaled)")]
    cols += [
        ("add", "ADD(-S) 0.1d"),
        ("rot_median_deg", "median rot (°)"),
        ("trans_median_cm", "median trans (cm)"),
    ]
    rows = []
    for key, label in METHODS.items():
        row = {"method": label}
        for metric, name in cols:
            row[name] = _mean_std([m[f"{key}_{metric}"] for _, m, _ in runs])
        rows.append(row)
    return pd.DataFrame(rows)


def steps_table(runs, steps: list[int]) -> pd.DataFrame:
    rows = []
    for n in steps:
        for noise in (0, 1):
            key = f"diff_s{n}_noise{noise}"
            rows.append({
                "reverse steps": n,
                "test-time noise": "on" if noise else "off",
                "median rot (°)": _mean_std([m[f"{key}_rot_median_deg"] for _, m, _ in runs]),
                "recall 5°": _mean_std([m[f"{key}_recall_rot5"] for _, m, _ in runs]),
                "recall 1 cm": _mean_std([m[f"{key}_recall_trans1"] for _, m, _ in runs]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def chain_table(runs, n_steps: int) -> pd.DataFrame:
    """Median rotation error after each reverse step and of that step's H0hat."""
    rows = []
    for i in range(1, n_steps + 1):
        row = {"step": i}
        for key, label in (("diff", "Diff-DCP"), ("dcp_chain", "surrogate through the chain")):
            for what, suffix in (("pose", ""), ("H0hat", "_pred")):
                values = [m[f"{key}_chain{i}{suffix}_rot_median_deg"] for _, m, _ in runs]
                row[f"{label}: {what} (°)"] = _mean_std(values)
        rows.append(row)
    return pd.DataFrame(rows)


def start_table(runs, bins) -> pd.DataFrame:
    """Median rotation error per bin of the starting (identity) error, seeds pooled."""
    start = np.concatenate([e["identity/rot_deg"] for _, _, e in runs])
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        inside = (start >= lo) & (start < hi)
        if not inside.any():
            continue
        row = {"starting error (°)": f"{lo}-{hi}", "instances": int(inside.sum())}
        for key, label in BY_START:
            rot = np.concatenate([e[f"{key}/rot_deg"] for _, _, e in runs])
            row[f"{label} (°)"] = f"{np.median(rot[inside]):.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def fig_steps(runs, steps: list[int]) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (metric, label) in zip(
        axes,
        [("rot_median_deg", "median rotation error (°)"), ("recall_rot5", "recall at 5° (%)")],
        strict=True,
    ):
        for noise, style in ((1, "-o"), (0, "--s")):
            vals = np.array(
                [[m[f"diff_s{n}_noise{noise}_{metric}"] for n in steps] for _, m, _ in runs]
            )
            ax.errorbar(
                steps,
                vals.mean(0),
                yerr=vals.std(0),
                fmt=style,
                capsize=3,
                label=f"Diff-DCP, noise {'on' if noise else 'off'}",
            )
        base = np.mean([m[f"dcp_{metric}"] for _, m, _ in runs])
        ax.axhline(base, color="k", ls=":", label="surrogate alone")
        ax.set_xlabel("reverse steps (surrogate calls)")
        ax.set_ylabel(label)
        ax.set_xticks(steps)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_denoise(runs) -> plt.Figure:
    """Median rotation error before / after one network call from forward-process poses H_t."""
    m0 = runs[0][1]
    ts = sorted((int(k[9:-7]) for k in m0 if k.startswith("denoise_t")), reverse=True)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    series = [
        ("denoise_t{}_in_deg", "input H_t", "k--"),
        ("dcp_denoise_t{}_out_deg", "surrogate alone", "-o"),
    ]
    series.append(("diff_denoise_t{}_out_deg", "diffusion network", "-s"))
    for key, label, style in series:
        vals = np.array([[m[key.format(t)] for t in ts] for _, m, _ in runs])
        ax.errorbar(ts, vals.mean(0), yerr=vals.std(0), fmt=style, capsize=3, label=label)
    ax.set(xlabel="forward-process step t of the input", ylabel="median rotation error (°)")
    ax.set(yscale="log")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_cdf(runs) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, label in METHODS.items():
        rot = np.concatenate([e[f"{key}/rot_deg"] for _, _, e in runs])
        trans = np.concatenate([e[f"{key}/trans_cm"] for _, _, e in runs])
        for ax, v in zip(axes, (rot, trans), strict=True):
            v = np.sort(v)
            ax.plot(v, np.arange(1, len(v) + 1) / len(v), label=label)
    axes[0].set(xscale="log", xlabel="rotation error (°)", ylabel="fraction of test instances")
    axes[1].set(xscale="log", xlabel="translation error (cm)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_examples(errors: dict) -> plt.Figure:
    X, Y = torch.from_numpy(errors["examples/X"]).double(), errors["examples/Y"]
    n = len(Y)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.8), squeeze=False)
    shown = [("H0", "truth", "0.6"), ("dcp", "surrogate", "C3"), ("diff", "Diff-DCP", "C0")]
    for i, ax in enumerate(axes[0]):
        ax.scatter(Y[i, :, 0], Y[i, :, 1], s=4, c="k", label="observed")
        for key, label, color in shown:
            P = lie.transform(torch.from_numpy(errors[f"examples/{key}"][i]), X[i]).numpy()
            ax.scatter(P[:, 0], P[:, 1], s=2, c=color, alpha=0.5, label=label)
        ax.set_aspect("equal")
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    return fig


def fig_training(out: Path, seeds) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for kind, color in (("surrogate", "C3"), ("diffusion", "C0")):
        for j, seed in enumerate(seeds):
            log = read_csv(out / f"seed{seed}" / kind / "train_log.csv")
            ax.plot(
                log["passes"], log["loss"], color=color, alpha=0.7, label=kind if j == 0 else None
            )
    ax.set(xlabel="network passes (samples)", ylabel="training loss (m)", yscale="log")
    ax.legend()
    fig.tight_layout()
    return fig


@entry_point("se3_registration")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.run.out_dir)
    seeds, ec = list(cfg.sweep.seeds), cfg.eval
    runs = load_runs(out, seeds)
    dataset = read_json(Path(cfg.run.data_dir) / "dataset.json")
    steps = sorted({*ec.steps_ablation, cfg.diffusion.test_steps})
    figs = out / "figures"
    h = config_hash(cfg)
    set_theme()
    diam = ", ".join(f"{d:.0f}" for d in dataset["diameter_mm"])
    scale_note = (
        f"Translation thresholds in absolute cm (the paper's); *scaled by object size: k cm x "
        f"diameter / {ec.ref_diameter_mm:g} mm (our objects' diameters: {diam} mm)."
    )
    save_table(
        results_table(runs, ec), figs / "results",
        f"Results on {dataset['n_test']} {cfg.data.name} test instances (percent; mean ± std over "
        f"{len(seeds)} seeds). {scale_note} The 'released, squared' columns apply the released "
        "code's criterion, which compares the squared translation error with the threshold (so "
        "'2 cm' is really sqrt(2) cm). Diff-DCP: {n} reverse steps with test-time noise."
        .replace("{n}", str(cfg.diffusion.test_steps)),
        SCRIPT, h, order=1,
    )  # fmt: skip
    save_table(
        steps_table(runs, steps), figs / "steps_table",
        f"Ablation: number of reverse steps (= surrogate calls) and test-time noise of the "
        f"diffusion model. {scale_note}", SCRIPT, h, order=2,
    )  # fmt: skip
    savefig(
        fig_steps(runs, steps), figs / "steps",
        "Median rotation error and recall at 5° of the diffusion model against the number of "
        "reverse steps, with and without test-time noise (mean ± std over seeds); dotted: the "
        "surrogate trained alone with the same budget.", SCRIPT, h, order=3,
    )  # fmt: skip
    save_table(
        chain_table(runs, cfg.diffusion.test_steps), figs / "chain",
        "Along the reverse chain (test-time noise on): median rotation error of the pose after "
        "each step and of the network's H0hat at that step (mean ± std over seeds), for the "
        "diffusion network and for the surrogate alone run through the same chain.",
        SCRIPT, h, order=4,
    )  # fmt: skip
    save_table(
        start_table(runs, START_BINS_DEG), figs / "start",
        "Median rotation error by the starting (identity) rotation error, all seeds' test "
        "instances pooled.", SCRIPT, h, order=5,
    )  # fmt: skip
    savefig(
        fig_cdf(runs), figs / "cdf",
        "Cumulative distributions of the rotation and translation errors per method (all seeds' "
        "test instances pooled).", SCRIPT, h, order=6,
    )  # fmt: skip
    savefig(
        fig_examples(runs[0][2]), figs / "examples",
        f"Qualitative alignments (seed {seeds[0]}, camera x-y plane): observed points (black) and "
        "the model points moved by the true pose, the surrogate's and the diffusion's estimates.",
        SCRIPT, h, order=7,
    )  # fmt: skip
    savefig(
        fig_denoise(runs), figs / "denoise",
        "One network call from the forward process's H_t (training noise scales) on the test "
        "set: median rotation error of the input and of each network's H0hat. Where the output "
        "error exceeds the input's, a reverse step cannot refine the pose.", SCRIPT, h, order=8,
    )  # fmt: skip
    savefig(
        fig_training(out, seeds), figs / "training",
        "Training loss (L1 point alignment, metres) against network passes: the surrogate alone "
        "and the diffusion network (its loss adds the loss at H_t and the identity-start loss), "
        "same passes and batch size, one line per seed.", SCRIPT, h, order=9,
    )  # fmt: skip
    print(f"figures written to {figs}")


if __name__ == "__main__":
    main()
