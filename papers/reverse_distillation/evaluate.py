"""Reverse-distil the family and probe every embedding on the DMS assays (Hydra entry point).

python -m papers.reverse_distillation.evaluate scale=cpu run.data_dir=... embeddings_dir=... \
    run.out_dir=results/cpu/reverse_distillation/evaluate
Reads ``<embeddings_dir>/<size>.npz`` for every member of ``model.family``; fits the RD chain
(``rd.regressor``, and the other two regressors as an ablation) and the naive concat+PCA
chain on the per-residue scaler-fitting rows, applies them to the pooled assay embeddings,
probes them (plus, as an ablation, raw and RD with a probe on unstandardised features) and
writes ``scalers_<regressor>.npz``, ``per_assay.csv`` (assay, kind, size, split, spearman),
``steps.csv`` (per step: R^2 of the regression, kept components, residual variance shares),
``nesting.csv`` (max |RD-k[:, :d_j] - RD-j|) and ``metrics.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point, require
from common.io import load_npz, write_csv, write_metrics
from common.progress import progress
from common.threads import set_threads
from papers.reverse_distillation.probe import SPLITS, fold_ids, probe_spearman
from papers.reverse_distillation.rd import (
    REGRESSORS,
    apply_chain,
    fit_chain,
    fit_naive_chain,
    save_chain,
)

ABLATION_SPLIT = "random"  # the ablations (regressors, unstandardised probe) use this split only
MAIN_KINDS = ("raw", "rd", "naive")


def validate(cfg: DictConfig) -> None:
    """Reject nonsense evaluation settings with one line naming the field."""
    dims = [m.dim for m in cfg.model.family]
    splits = list(cfg.probe.splits)
    require(
        cfg,
        {
            "model.family": (
                len(dims) >= 2 and all(b > a for a, b in zip(dims, dims[1:], strict=False)),
                "needs >= 2 models of increasing dim",
            ),
            "rd.regressor": (cfg.rd.regressor in REGRESSORS, f"must be one of {REGRESSORS}"),
            "rd.ridge_alpha": (cfg.rd.ridge_alpha > 0, "must be > 0"),
            "probe.splits": (
                bool(splits) and set(splits) <= set(SPLITS),
                f"must be a non-empty list drawn from {SPLITS}",
            ),
            "probe.folds": (cfg.probe.folds >= 2, "must be >= 2"),
            "probe.alphas": (
                len(cfg.probe.alphas) >= 1 and min(cfg.probe.alphas) > 0,
                "must be a non-empty list of values > 0",
            ),
        },
    )


def nesting_table(rd: list[np.ndarray]) -> pd.DataFrame:
    """max |RD-k[:, :d_j] - RD-j| for every pair j < k (exactly 0 when the chain nests)."""
    rows = [
        {
            "j": j + 1,
            "k": k + 1,
            "max_abs_diff": float(np.abs(rd[k][:, : rd[j].shape[1]] - rd[j]).max()),
        }
        for k in range(len(rd))
        for j in range(k)
    ]
    return pd.DataFrame(rows)


def probe_all(
    assays: pd.DataFrame,
    feats: dict[tuple[str, int], np.ndarray],
    splits,
    cfg: DictConfig,
    standardize: bool = True,
) -> pd.DataFrame:
    """Spearman per (assay, kind, size, split) for every feature matrix in ``feats``."""
    first = np.array([int(str(p).split()[0]) for p in assays["positions"]])
    rows = []
    groups = assays.groupby("assay", sort=True)
    for name, group in progress(groups, f"probe {'/'.join(splits)}", groups.ngroups):
        idx, y = group.index.to_numpy(), group["fitness"].to_numpy()
        for split in splits:
            folds = fold_ids(first[idx], split, cfg.probe.folds, cfg.seed)
            for (kind, k), X in feats.items():
                rho = probe_spearman(X[idx], y, folds, cfg.probe.alphas, standardize)
                rows.append(
                    {"assay": name, "kind": kind, "size": k, "split": split, "spearman": rho}
                )
    return pd.DataFrame(rows)


def summarise(per_assay: pd.DataFrame, n_sizes: int, regressor: str) -> dict[str, float]:
    """Flat metrics: mean Spearman per kind / size (/ split), and the claims' comparisons."""
    main = per_assay[per_assay["kind"].isin(MAIN_KINDS)]
    m: dict[str, float] = {}
    for (kind, k), g in main.groupby(["kind", "size"]):
        m[f"spearman_{kind}_{k}"] = float(g["spearman"].mean())
        for split, gs in g.groupby("split"):
            m[f"spearman_{kind}_{k}_{split}"] = float(gs["spearman"].mean())
    ablations = per_assay[~per_assay["kind"].isin(MAIN_KINDS)]
    for (kind, k), g in ablations.groupby(["kind", "size"]):
        m[f"spearman_{kind}_{k}_{ABLATION_SPLIT}"] = float(g["spearman"].mean())
    # per assay: mean over splits
    wide = main.groupby(["assay", "kind", "size"])["spearman"].mean().unstack(["kind", "size"])
    sizes = range(1, n_sizes + 1)
    rd = [m[f"spearman_rd_{k}"] for k in sizes]
    raw = [m[f"spearman_raw_{k}"] for k in sizes]
    for k in sizes[1:]:
        m[f"rd_minus_raw_{k}"] = rd[k - 1] - raw[k - 1]
        m[f"rd_minus_naive_{k}"] = rd[k - 1] - m[f"spearman_naive_{k}"]
        m[f"rd_beats_raw_share_{k}"] = float((wide[("rd", k)] >= wide[("raw", k)]).mean())
        m[f"rd_beats_prev_share_{k}"] = float((wide[("rd", k)] > wide[("rd", k - 1)]).mean())
        m[f"raw_beats_prev_share_{k}"] = float((wide[("raw", k)] > wide[("raw", k - 1)]).mean())
    later = list(sizes[1:])
    m["rd_step_gain_min"] = min(rd[k - 1] - rd[k - 2] for k in later)
    m["rd_minus_raw_min"] = min(m[f"rd_minus_raw_{k}"] for k in later)
    m["rd_beats_raw_share_min"] = min(m[f"rd_beats_raw_share_{k}"] for k in later)
    m["rd_largest_minus_best"] = rd[-1] - max(rd)
    m["rd_minus_raw_unstd_min"] = min(
        m[f"spearman_rd_unstd_{k}_{ABLATION_SPLIT}"] - m[f"spearman_raw_unstd_{k}_{ABLATION_SPLIT}"]
        for k in later
    )
    m["raw_largest_minus_best"] = raw[-1] - max(raw)
    m["rd_minus_naive_mean"] = float(np.mean([m[f"rd_minus_naive_{k}"] for k in later]))
    m["n_assays"] = float(wide.shape[0])
    return m


@entry_point("reverse_distillation")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    validate(cfg)
    t0 = time.time()
    family = list(cfg.model.family)
    emb = [load_npz(Path(cfg.embeddings_dir) / f"{m.name}.npz") for m in family]
    for m, e in zip(family, emb, strict=True):
        if e["fit_residues"].shape[1] != m.dim:
            raise ValueError(
                f"{m.name}: embeddings have dim {e['fit_residues'].shape[1]}, config says {m.dim}"
            )
    assays_csv = Path(cfg.run.data_dir) / "assays.csv"
    if not assays_csv.exists():
        raise FileNotFoundError(f"missing {assays_csv} (run the data step first; set run.data_dir)")
    assays = pd.read_csv(assays_csv)
    fit = [e["fit_residues"].astype(np.float64) for e in emb]
    pooled = [e["assay_pooled"].astype(np.float64) for e in emb]
    out = Path(cfg.run.out_dir)

    K = len(family)
    feats: dict[tuple[str, int], np.ndarray] = {("raw", k + 1): pooled[k] for k in range(K)}
    chains = {}
    for kind in REGRESSORS:
        chains[kind] = fit_chain(fit, kind, cfg.rd.ridge_alpha)
        save_chain(out / f"scalers_{kind}.npz", chains[kind])
        rd = apply_chain(chains[kind], pooled)
        name = "rd" if kind == cfg.rd.regressor else f"rd_{kind}"
        for k in range(1, K):
            feats[(name, k + 1)] = rd[k]
        if kind == cfg.rd.regressor:
            nesting = nesting_table(rd)
    naive, X = fit_naive_chain(fit), pooled[0]
    for k, step in enumerate(naive, start=2):
        X = step.transform(X, pooled[k - 1])
        feats[("naive", k)] = X
    main_feats = {key: v for key, v in feats.items() if key[0] in MAIN_KINDS}
    ablation = {key: v for key, v in feats.items() if key not in main_feats}
    unstd = {(f"{kind}_unstd", k): v for (kind, k), v in feats.items() if kind in ("raw", "rd")}
    per_assay = pd.concat(
        [
            probe_all(assays, main_feats, cfg.probe.splits, cfg),
            probe_all(assays, ablation, [ABLATION_SPLIT], cfg),
            probe_all(assays, unstd, [ABLATION_SPLIT], cfg, standardize=False),
        ],
        ignore_index=True,
    )
    # size 1: RD-1 and naive-1 are the smallest raw model itself
    first = per_assay[(per_assay["kind"] == "raw") & (per_assay["size"] == 1)]
    per_assay = pd.concat(
        [per_assay, first.assign(kind="rd"), first.assign(kind="naive")], ignore_index=True
    )
    steps = pd.DataFrame(
        [
            {
                "step": f"{family[k].name} -> {family[k + 1].name}",
                "regressor": kind,
                "d_in": family[k].dim,
                "d_out": family[k + 1].dim,
                "kept": int(s.kept),
                "r2": float(s.r2),
                "residual_ratio": " ".join(f"{v:.4g}" for v in s.residual_ratio),
            }
            for kind, chain in chains.items()
            for k, s in enumerate(chain)
        ]
    )
    write_csv(out / "per_assay.csv", per_assay)
    write_csv(out / "steps.csv", steps)
    write_csv(out / "nesting.csv", nesting)
    metrics = summarise(per_assay, K, cfg.rd.regressor)
    metrics["nesting_max_abs_diff"] = float(nesting["max_abs_diff"].max())
    for k, s in enumerate(chains[cfg.rd.regressor], start=2):
        metrics[f"step_r2_{k}"] = float(s.r2)
    meta = {
        **provenance.collect(config_hash=config_hash(cfg)),
        "seconds": time.time() - t0,
        "sizes": [m.name for m in family],
        "dims": [m.dim for m in family],
    }
    write_metrics(out / "metrics.json", metrics, meta)


if __name__ == "__main__":
    main()
