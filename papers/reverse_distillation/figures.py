"""Figures and tables of the reverse-distillation evaluation (Hydra entry point).

python -m papers.reverse_distillation.figures scale=cpu models_dir=... \
    run.out_dir=results/cpu/reverse_distillation
Reads ``per_assay.csv`` and ``steps.csv`` from ``run.data_dir`` (the evaluate step's folder of
one seed) and the tiny models' training logs from ``models_dir``; writes ``<out_dir>/figures/``.
The nesting of the chain is a unit test, not a figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import read_csv
from common.plotting import plt, save_table, savefig, set_theme

SCRIPT = "papers/reverse_distillation/figures.py"
KINDS = {"raw": "raw embedding", "rd": "reverse-distilled (RD)", "naive": "naive concat+PCA"}
CAPTIONS = {
    "scaling": (
        "Mean Spearman over assays of a ridge probe on mean-pooled embeddings against the "
        "embedding dimension of each model: raw, reverse-distilled (RD) and the naive "
        "concat+PCA baseline at equal dimension, per split type and averaged over the three; "
        "first seed."
    ),
    "per_assay": (
        "Per-assay Spearman (mean over the three split types) of RD-k against the raw "
        "embedding of the same model k, one panel per size k > 1; points above the diagonal "
        "are assays where RD wins; first seed."
    ),
    "explained": (
        "Each RD step on the per-residue scaler-fitting rows: left, share of the larger "
        "model's variance explained by the regression on the smaller (RD) embedding, per "
        "regressor; right, cumulative share of the residual's variance in the kept principal "
        "components (regressor {reg})."
    ),
    "training": "Masked-LM training loss (cross-entropy on masked residues) of the tiny models.",
}


def read(out: Path, name: str) -> pd.DataFrame:
    path = out / name
    if not path.exists():
        raise FileNotFoundError(f"missing {path} (run evaluate first)")
    return read_csv(path)


def fig_scaling(per: pd.DataFrame, dims: list[int]) -> plt.Figure:
    main = per[per["kind"].isin(KINDS)]
    splits = list(dict.fromkeys(main["split"]))
    fig, axes = plt.subplots(
        1, len(splits) + 1, figsize=(3.4 * (len(splits) + 1), 3.2), sharey=True
    )
    panels = [(s, main[main["split"] == s]) for s in splits] + [("mean of splits", main)]
    for ax, (title, df) in zip(axes, panels, strict=True):
        table = df.groupby(["kind", "size"])["spearman"].mean()
        for kind, label in KINDS.items():
            ks = sorted(table[kind].index)
            ax.plot([dims[k - 1] for k in ks], table[kind].values, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.minorticks_off()
        ax.set_title(title)
        ax.set_xlabel("embedding dimension")
    axes[0].set_ylabel("mean Spearman over assays")
    axes[-1].legend(fontsize=8)
    return fig


def fig_per_assay(per: pd.DataFrame, dims: list[int]) -> plt.Figure:
    wide = (
        per[per["kind"].isin(["raw", "rd"])].groupby(["assay", "kind", "size"])["spearman"].mean()
    )
    wide = wide.unstack("kind")
    sizes = sorted(k for k in wide.index.get_level_values("size").unique() if k > 1)
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.2 * len(sizes), 3.2), squeeze=False)
    lo, hi = float(np.nanmin(wide.values)) - 0.02, float(np.nanmax(wide.values)) + 0.02
    for ax, k in zip(axes[0], sizes, strict=True):
        d = wide.xs(k, level="size")
        ax.scatter(d["raw"], d["rd"], s=18)
        ax.plot([lo, hi], [lo, hi], color="gray", lw=0.8, ls="--")
        share = float((d["rd"] > d["raw"]).mean())
        ax.set_title(f"size {k} (d={dims[k - 1]}): RD > raw on {share:.0%}")
        ax.set_xlabel("raw Spearman")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    axes[0, 0].set_ylabel("RD Spearman")
    return fig


def fig_explained(steps: pd.DataFrame, reg: str) -> plt.Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.6, 3.2), gridspec_kw={"wspace": 0.35})
    labels = list(dict.fromkeys(steps["step"]))
    width = 0.8 / steps["regressor"].nunique()
    for n, (kind, df) in enumerate(steps.groupby("regressor", sort=False)):
        a.bar(np.arange(len(df)) + n * width, df["r2"], width, label=kind)
    a.set_xticks(
        np.arange(len(labels)) + 0.4 - width / 2, [f"step {i + 1}" for i in range(len(labels))]
    )
    a.set_ylabel("R^2 of regression")
    a.set_ylim(0, 1)
    a.legend(fontsize=8)
    for row in steps[steps["regressor"] == reg].itertuples():
        ratio = np.array([float(v) for v in row.residual_ratio.split()])
        b.plot(np.arange(1, len(ratio) + 1), np.cumsum(ratio), marker=".", label=row.step)
    b.set_xlabel("kept residual components")
    b.set_ylabel("cumulative share of residual variance")
    b.legend(fontsize=7)
    return fig


def fig_training(models: Path, names: list[str]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name in names:
        log = read(models, f"{name}_train.csv")
        ax.plot(log["step"], log["loss"], label=name)
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.set_ylabel("masked-LM loss (log scale)")
    ax.legend(fontsize=8)
    return fig


def summary_table(per: pd.DataFrame, dims: list[int]) -> pd.DataFrame:
    """Mean Spearman per kind and size, per split and over splits."""
    t = per.groupby(["kind", "size", "split"])["spearman"].mean().unstack("split")
    t["mean"] = per.groupby(["kind", "size"])["spearman"].mean()
    t = t.reset_index()
    t.insert(2, "dim", [dims[k - 1] for k in t["size"]])
    return t


@entry_point("reverse_distillation")
def main(cfg: DictConfig) -> None:
    set_theme()
    out = Path(cfg.run.out_dir)
    evaluated = Path(cfg.run.data_dir)
    per, steps = read(evaluated, "per_assay.csv"), read(evaluated, "steps.csv")
    dims = [m.dim for m in cfg.model.family]
    names = [m.name for m in cfg.model.family]
    h = config_hash(cfg)
    figs = out / "figures"
    save = [
        ("scaling", fig_scaling(per, dims)),
        ("per_assay", fig_per_assay(per, dims)),
        ("explained", fig_explained(steps, cfg.rd.regressor)),
    ]
    if not cfg.model.pretrained:
        save.append(("training", fig_training(Path(cfg.models_dir), names)))
    for order, (stem, fig) in enumerate(save):
        savefig(fig, figs / stem, CAPTIONS[stem].format(reg=cfg.rd.regressor), SCRIPT, h, order)
    main_kinds = per[per["kind"].isin(KINDS)]
    save_table(
        summary_table(main_kinds, dims),
        figs / "spearman",
        "Mean Spearman over assays per embedding kind, model size and split type (first seed).",
        SCRIPT,
        h,
        len(save),
    )
    claim_probe = "standardised" if cfg.probe.standardize else "unstandardised"
    other_probe = "unstandardised" if cfg.probe.standardize else "standardised"
    kinds = ["raw", "rd", "rot", "rd_perm", "raw_alt", "rd_alt", "rd_shuf", "orc_raw", "orc_rd"]
    table = per[per["kind"].isin(kinds)].groupby(["size", "kind"])["spearman"].mean()
    save_table(
        table.unstack("kind")[kinds].reset_index(),
        figs / "probes",
        f"Mean Spearman (over assays and splits) under the claims' probe ({claim_probe} "
        "ridge): raw, RD, the rotation null rot (raw in a random orthonormal basis) and the "
        "block-permuted null rd_perm (RD-k with the rows of the block it adds permuted within "
        "each assay; none at size 1); raw and "
        f"RD under the other probe ({other_probe}; *_alt); RD on shuffled fitness labels "
        "(rd_shuf; size 1 is the smallest raw model); the oracle family (orc_raw, random split "
        "only) and its RD chain (orc_rd). First seed.",
        SCRIPT,
        h,
        len(save) + 1,
    )
    ablation = per[(per["split"] == "random") & per["kind"].str.fullmatch(r"rd(_ols|_ridge|_pcr)?")]
    table = ablation.groupby(["size", "kind"])["spearman"].mean().unstack("kind").reset_index()
    save_table(
        table,
        figs / "ablations",
        f"Regressor ablation, random split: mean Spearman of RD with each regressor (rd = "
        f"{cfg.rd.regressor}).",
        SCRIPT,
        h,
        len(save) + 2,
    )
    save_table(
        steps,
        figs / "steps",
        "RD steps: regression R^2, regressor components kept, residual "
        "variance shares of the kept principal components.",
        SCRIPT,
        h,
        len(save) + 3,
    )


if __name__ == "__main__":
    main()
