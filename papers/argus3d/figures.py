"""Figures and tables: samples per category, the ablation tables, scaling curves (entry point).

python -m papers.argus3d.figures scale=cpu run.out_dir=results/cpu/argus3d
Reads ``<out_dir>/metrics.json``, the stage-1 training logs, the seed-0 row-order runs' samples,
logs and summaries, and the test shapes in ``run.data_dir``; writes into ``<out_dir>/figures/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import load_npz, read_csv, read_json, read_metrics
from common.plotting import plt, save_table, savefig, set_theme
from papers.argus3d.runs import BASE_ORDER, Run, base_width
from papers.argus3d.runtime import load_data

SCRIPT = "papers/argus3d/figures.py"
PAPER_TABLE6 = {"grid": ("88.87", "not trainable"), "triplane": ("87.81", "73.67"),
                "latent": ("88.01", "59.95")}  # fmt: skip
SHOWN = 6  # samples per category in the sample grids


def _points(ax, pts: np.ndarray, title: str = "") -> None:
    """A point rendering: x right, y up, depth (z) shaded."""
    ax.scatter(pts[:, 0], pts[:, 2], pts[:, 1], s=0.6, c=pts[:, 2], cmap="viridis",
               vmin=-0.5, vmax=0.5, linewidths=0)  # fmt: skip
    ax.set(xlim=(-0.5, 0.5), ylim=(-0.5, 0.5), zlim=(-0.5, 0.5))
    ax.view_init(elev=20, azim=-60)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)


def fig_samples(out: Path, cfg: DictConfig, run: Run) -> plt.Figure:
    """Rows: categories; columns: generated shapes of one run, last column a test shape."""
    gen = load_npz(out / "gen" / run.name / "samples.npz")
    test = load_data(cfg, "test", n_query=1)
    cats = list(cfg.data.categories)
    fig = plt.figure(figsize=(1.5 * (SHOWN + 1) + 0.6, 1.5 * len(cats) + 0.3))
    for i, cat in enumerate(cats):
        pts = gen["points"][gen["category"] == i]
        for j in range(min(SHOWN, len(pts))):
            ax = fig.add_subplot(len(cats), SHOWN + 1, i * (SHOWN + 1) + j + 1, projection="3d")
            _points(ax, pts[j], "generated" if i == 0 and j == 0 else "")
        ax = fig.add_subplot(len(cats), SHOWN + 1, (i + 1) * (SHOWN + 1), projection="3d")
        _points(ax, test.surface[test.category == i][0], "test shape" if i == 0 else "")
        _row_header(fig, i, len(cats), cat)
    return fig


def _row_header(fig: plt.Figure, row: int, n_rows: int, text: str) -> None:
    """A bold label left of one row of a grid of subplots."""
    fig.text(0.01, 1 - (row + 0.5) / n_rows, text, rotation=90, va="center", ha="left",
             fontsize=10, fontweight="bold")  # fmt: skip


def fig_by_rep(out: Path, cfg: DictConfig) -> plt.Figure:
    """Rows: representations; columns: one generated shape per category (seed 0, row order)."""
    reps, cats = list(cfg.sweep.reps), list(cfg.data.categories)
    w, s = base_width(cfg), cfg.sweep.seeds[0]
    fig = plt.figure(figsize=(1.6 * 2 * len(cats) + 0.6, 1.6 * len(reps) + 0.3))
    cols = 2 * len(cats)
    for r, rep in enumerate(reps):
        gen = load_npz(out / "gen" / Run(rep, BASE_ORDER, w, s).name / "samples.npz")
        for c in range(cols):
            pts = gen["points"][gen["category"] == c // 2][c % 2]
            ax = fig.add_subplot(len(reps), cols, r * cols + c + 1, projection="3d")
            _points(ax, pts, cats[c // 2] if r == 0 else "")
        _row_header(fig, r, len(reps), rep)
    return fig


def _mean_std(values) -> str:
    v = np.atleast_1d(np.asarray(values, dtype=float))
    return f"{v.mean():.2f}" + (f" ± {v.std(ddof=1):.2f}" if v.size > 1 else "")


def table_representation(m: dict, cfg: DictConfig) -> pd.DataFrame:
    rows = []
    for rep in cfg.sweep.reps:
        paper = PAPER_TABLE6.get(rep, ("", ""))
        rows.append({
            "representation": rep, "tokens": int(m[f"tokens_{rep}"]),
            "IoU (%)": f"{100 * m[f'iou_{rep}']:.2f}", "paper IoU": paper[0],
            "codebook usage (%)": f"{100 * m[f'codebook_usage_{rep}']:.1f}",
            "1-NNA-CD": _mean_std(m[f"nna_cd_{rep}"]), "paper 1-NNA": paper[1],
            "val NLL": _mean_std(m[f"val_nll_{rep}"]),
        })  # fmt: skip
    return pd.DataFrame(rows)


def table_generation(m: dict, cfg: DictConfig) -> pd.DataFrame:
    rows = []
    for rep in cfg.sweep.reps:
        row = {"representation": rep}
        for d, mmd_scale, label in (("cd", 1e3, "x1e3"), ("emd", 1e2, "x1e2")):
            row[f"COV-{d.upper()}"] = _mean_std(m[f"cov_{d}_{rep}"])
            row[f"MMD-{d.upper()} {label}"] = _mean_std(mmd_scale * np.asarray(m[f"mmd_{d}_{rep}"]))
            row[f"1-NNA-{d.upper()}"] = _mean_std(m[f"nna_{d}_{rep}"])
        rows.append(row)
    return pd.DataFrame(rows)


def table_order(m: dict, cfg: DictConfig) -> pd.DataFrame:
    rows = []
    for rep in cfg.sweep.order_reps:
        for order, suffix in ((BASE_ORDER, ""), ("col", "_col")):
            rows.append({
                "representation": rep, "coupling": "yes" if rep == "latent" else "no",
                "order": {"row": "row-major", "col": "column-major"}[order],
                "1-NNA-CD": _mean_std(m[f"nna_cd_{rep}{suffix}"]),
                "1-NNA-EMD": _mean_std(m[f"nna_emd_{rep}{suffix}"]),
                "|row - col| 1-NNA-CD": f"{m[f'order_gap_{rep}']:.2f}",
            })  # fmt: skip
    return pd.DataFrame(rows)


def table_scaling(m: dict, cfg: DictConfig) -> pd.DataFrame:
    return pd.DataFrame([{
        "width": int(w), "GPT parameters": int(m[f"scaling_params_w{w}"]),
        "val NLL (nats/token)": f"{m[f'scaling_val_nll_w{w}']:.4f}",
        "1-NNA-CD": f"{m[f'scaling_nna_cd_w{w}']:.2f}",
    } for w in cfg.sweep.widths])  # fmt: skip


def _params_label(n: float) -> str:
    return f"{n / 1e6:.3g}M" if n >= 1e6 else f"{n / 1e3:.3g}k"


def fig_scaling(m: dict, cfg: DictConfig) -> plt.Figure:
    widths = list(cfg.sweep.widths)
    params = [m[f"scaling_params_w{w}"] for w in widths]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
    axes[0].plot(params, [m[f"scaling_val_nll_w{w}"] for w in widths], "o-")
    axes[0].set(ylabel="validation NLL (nats/token)")
    axes[1].plot(params, [m[f"scaling_nna_cd_w{w}"] for w in widths], "o-")
    axes[1].axhline(50, ls=":", c="gray")
    axes[1].set(ylabel="1-NNA-CD (%)")
    for ax in axes:  # one labelled tick per width (log-axis minor labels overlapped)
        ax.set(xscale="log", xlabel="GPT parameters")
        ax.minorticks_off()
        ax.set_xticks(params, [_params_label(p) for p in params], rotation=30, fontsize=8)
    for w, p in zip(widths, params, strict=True):
        axes[0].annotate(f"w{w}", (p, m[f"scaling_val_nll_w{w}"]), fontsize=7)
    return fig


def fig_training(out: Path, cfg: DictConfig) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for rep in cfg.sweep.reps:
        log = read_csv(out / "stage1" / rep / "train_log.csv")
        axes[0].plot(log["step"], log["bce"], label=rep)
        run = Run(rep, BASE_ORDER, base_width(cfg), cfg.sweep.seeds[0])
        log2 = read_csv(out / "gen" / run.name / "train_log.csv")
        axes[1].plot(log2["step"], log2["val_nll"], label=rep)
    axes[0].set(xlabel="stage-1 step", ylabel="occupancy BCE", yscale="log")
    axes[1].set(xlabel="stage-2 step", ylabel="validation NLL (nats/token)")
    axes[0].legend()
    return fig


CAPTIONS = {
    "samples": "Category-conditioned samples of the latent-vector GPT (rows: categories; seed 0, "
    "row-major order, base width): surface points of the marching-cubes meshes; the last column "
    "is a test shape.",
    "samples_by_rep": "Samples of the three generators (rows: latent vector, tri-plane, grid; "
    "columns: two per category), seed 0, row-major order.",
    "representation": "Representation ablation in the style of the paper's Table 6: stage-1 IoU "
    "and codebook usage on the test split, 1-NNA-CD (%, mean ± std over seeds) and validation NLL "
    "of the generators; paper values for reference.",
    "generation": "Generation metrics per representation (row-major order, mean ± std over seeds, "
    "category means): COV and 1-NNA (%), MMD with Chamfer distance (x1e3) and EMD (x1e2).",
    "token_order": "Token-order ablation: 1-NNA (%) of generators trained on row-major and "
    "column-major sequences, with coupling (latent vector) and without (tri-plane tokens).",
    "scaling": "Scaling the GPT width (latent vector, seed 0): validation NLL per code token and "
    "1-NNA-CD against the number of parameters (dotted: the ideal 50%).",
    "scaling_table": "Scaling sweep: widths, parameters, validation NLL and 1-NNA-CD.",
    "training": "Training curves: stage-1 occupancy BCE per representation, and the stage-2 "
    "validation NLL of the seed-0 generators.",
}


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    set_theme()
    out = Path(cfg.run.out_dir)
    figs = out / "figures"
    h = config_hash(cfg)
    m, _ = read_metrics(out / "metrics.json")
    base = Run("latent", BASE_ORDER, base_width(cfg), cfg.sweep.seeds[0])
    read_json(out / "gen" / base.name / "stage2.json")  # a clear error if the run is missing
    items = [
        ("samples", lambda: fig_samples(out, cfg, base)),
        ("samples_by_rep", lambda: fig_by_rep(out, cfg)),
        ("representation", lambda: table_representation(m, cfg)),
        ("generation", lambda: table_generation(m, cfg)),
        ("token_order", lambda: table_order(m, cfg)),
        ("scaling", lambda: fig_scaling(m, cfg)),
        ("scaling_table", lambda: table_scaling(m, cfg)),
        ("training", lambda: fig_training(out, cfg)),
    ]
    for order, (stem, make) in enumerate(items):
        obj = make()
        if isinstance(obj, pd.DataFrame):
            save_table(obj, figs / stem, CAPTIONS[stem], SCRIPT, h, order)
        else:
            savefig(obj, figs / stem, CAPTIONS[stem], SCRIPT, h, order)


if __name__ == "__main__":
    main()
