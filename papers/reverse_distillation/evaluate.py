"""Reverse-distil the family and probe every embedding on the DMS assays (Hydra entry point).

python -m papers.reverse_distillation.evaluate scale=cpu run.data_dir=... embeddings_dir=... \
    run.out_dir=results/cpu/reverse_distillation/evaluate
Reads ``<embeddings_dir>/<size>.npz`` for every member of ``model.family``; fits the RD chain
(``rd.regressor``, and the other two regressors as an ablation) and the naive concat+PCA
chain on the per-residue scaler-fitting rows and applies them to the pooled assay embeddings.
Probes (``probe.standardize`` picks the claim's probe): raw, RD, naive and the rotation null
(``rot``: raw-k in a random orthonormal basis) and the block-permuted null (``rd_perm``: RD-k
with the rows of the block it adds to RD-(k-1) permuted within each assay); raw and RD under
the other probe (kinds ``*_alt``); RD on shuffled fitness labels (``rd_shuf``, size 1 =
``raw_shuf``); the regressor ablation (``rd_ols`` ..., random split); the oracle family
(oracle.py: ``orc_raw`` and its RD chain ``orc_rd``, random split, on the assays' variants
with the oracle's fitness).
Writes ``scalers_<regressor>.npz``, ``per_assay.csv`` (assay, kind, size, split, spearman),
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
from common.io import load_npz, read_csv, write_csv, write_metrics
from common.progress import progress
from common.threads import set_threads
from papers.reverse_distillation.oracle import oracle_family
from papers.reverse_distillation.probe import SPLITS, fold_ids, probe_spearman
from papers.reverse_distillation.rd import (
    REGRESSORS,
    apply_chain,
    fit_chain,
    fit_naive_chain,
    save_chain,
)

ABLATION_SPLIT = "random"  # the regressor ablation uses this split only
ABLATION_KINDS = tuple(f"rd_{kind}" for kind in REGRESSORS)
ORACLE_SPLIT = "random"  # the oracle's variants are exchangeable: the random split suffices
ORACLE_FIT_ROWS = 4000  # the oracle's scaler-fitting rows


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


def split_folds(group: pd.DataFrame, split: str, folds: int, seed: int) -> np.ndarray:
    """Fold of each variant of one assay (-1: left out): the released ``fold_<split>`` column
    when the assay has one (ProteinGym), else computed from the first mutated position, with
    modulo / contiguous folds for single mutants only, as ProteinGym does."""
    column = f"fold_{split}"
    if column in group.columns and group[column].notna().any():
        return group[column].fillna(-1).to_numpy(dtype=int)
    positions = group["positions"].astype(str)
    first = np.array([int(p.split()[0]) for p in positions])
    if split == "random":
        return fold_ids(first, split, folds, seed)
    single = ~positions.str.contains(" ").to_numpy()
    out = np.full(len(group), -1)
    out[single] = fold_ids(first[single], split, folds, seed)
    return out


def probe_all(
    assays: pd.DataFrame,
    feats: dict[tuple[str, int], np.ndarray],
    splits,
    cfg: DictConfig,
    standardize: bool,
    shuffle: bool = False,
) -> pd.DataFrame:
    """Spearman per (assay, kind, size, split) for every feature matrix in ``feats``; with
    ``shuffle`` the fitness labels are permuted within each assay first (a null)."""
    rng = np.random.default_rng(cfg.seed + 1)
    rows = []
    groups = assays.groupby("assay", sort=True)
    for name, group in progress(groups, f"probe {'/'.join(splits)}", groups.ngroups):
        idx, y = group.index.to_numpy(), group["fitness"].to_numpy()
        if shuffle:
            y = rng.permutation(y)
        for split in splits:
            folds = split_folds(group, split, cfg.probe.folds, cfg.seed)
            keep = folds >= 0
            for (kind, k), X in feats.items():
                rho = probe_spearman(
                    X[idx][keep], y[keep], folds[keep], cfg.probe.alphas, standardize
                )
                rows.append(
                    {"assay": name, "kind": kind, "size": k, "split": split, "spearman": rho}
                )
    return pd.DataFrame(rows)


def rotations(pooled: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Null: raw-k in a random orthonormal basis, RD's change of basis with no information
    from the smaller model (a rotation-invariant probe scores it exactly like raw-k)."""
    rng = np.random.default_rng(seed)
    out = []
    for X in pooled:
        q, r = np.linalg.qr(rng.normal(size=(X.shape[1], X.shape[1])))
        out.append(X @ (q * np.sign(np.diag(r))))
    return out


def block_permuted(
    rd: list[np.ndarray], assay: np.ndarray, seed: int
) -> dict[tuple[str, int], np.ndarray]:
    """Null of the size claims: RD-k with the rows of its newest block (the dimensions it adds
    to RD-(k-1)) permuted among the variants of each assay. Same dimensions and variances as
    RD-k, but what the step adds carries no information about the variants."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(assay == a) for a in np.unique(assay)]
    out = {}
    for k in range(1, len(rd)):
        X = rd[k].copy()
        d = rd[k - 1].shape[1]
        for rows in groups:
            X[rows, d:] = X[rng.permutation(rows), d:]
        out[("rd_perm", k + 1)] = X
    return out


def compare(m: dict, wide: pd.DataFrame, a: str, b: str, sizes: range, tag: str) -> None:
    """Add ``<tag>_minus_<b>_{k}`` (mean Spearman of kind a minus b at size k), the share of
    assays where a beats b, and their minima over sizes k > 1 to ``m``."""
    for k in sizes[1:]:
        m[f"{tag}_minus_{b}_{k}"] = m[f"spearman_{a}_{k}"] - m[f"spearman_{b}_{k}"]
        m[f"{tag}_beats_{b}_share_{k}"] = float((wide[(a, k)] > wide[(b, k)]).mean())
    m[f"{tag}_minus_{b}_min"] = min(m[f"{tag}_minus_{b}_{k}"] for k in sizes[1:])
    m[f"{tag}_beats_{b}_share_min"] = min(m[f"{tag}_beats_{b}_share_{k}"] for k in sizes[1:])


def scaling(m: dict, wide: pd.DataFrame, kind: str, sizes: range, tag: str) -> None:
    """Add the size comparisons of one kind: per-step gains and their minimum, the share of
    assays where size k beats k-1, and the largest size minus the best smaller one."""
    s = [m[f"spearman_{kind}_{k}"] for k in sizes]
    for k in sizes[1:]:
        m[f"{tag}_step_gain_{k}"] = s[k - 1] - s[k - 2]
        m[f"{tag}_beats_prev_share_{k}"] = float((wide[(kind, k)] > wide[(kind, k - 1)]).mean())
    m[f"{tag}_step_gain_min"] = min(m[f"{tag}_step_gain_{k}"] for k in sizes[1:])
    m[f"{tag}_largest_minus_best"] = s[-1] - max(s[:-1])


def summarise(per_assay: pd.DataFrame, n_sizes: int) -> dict[str, float]:
    """Flat metrics: mean Spearman per kind / size (/ split), the claims' comparisons under
    the claim's probe, under the other probe (suffix ``_alt``), on the nulls and on the
    oracle family (``orc_raw``, its RD chain ``orc_rd``)."""
    m: dict[str, float] = {}
    for (kind, k), g in per_assay.groupby(["kind", "size"]):
        m[f"spearman_{kind}_{k}"] = float(g["spearman"].mean())
        for split, gs in g.groupby("split"):
            m[f"spearman_{kind}_{k}_{split}"] = float(gs["spearman"].mean())
    # per assay: mean over splits
    wide = per_assay.groupby(["assay", "kind", "size"])["spearman"].mean()
    wide = wide.unstack(["kind", "size"])
    sizes = range(1, n_sizes + 1)
    compare(m, wide, "rd", "raw", sizes, "rd")
    compare(m, wide, "rd", "naive", sizes, "rd")
    compare(m, wide, "rot", "raw", sizes, "rot")
    compare(m, wide, "rd_alt", "raw_alt", sizes, "rd_alt")
    compare(m, wide, "orc_rd", "orc_raw", sizes, "orc_rd")
    for kind in ("rd", "raw", "rd_shuf", "orc_rd", "orc_raw"):
        scaling(m, wide, kind, sizes, kind)
    # the block-permuted null against the real chain: RD-(k-1) and the smaller RD models
    for k in sizes[1:]:
        m[f"rd_perm_step_gain_{k}"] = m[f"spearman_rd_perm_{k}"] - m[f"spearman_rd_{k - 1}"]
    m["rd_perm_step_gain_min"] = min(m[f"rd_perm_step_gain_{k}"] for k in sizes[1:])
    m["rd_perm_largest_minus_best"] = m[f"spearman_rd_perm_{sizes[-1]}"] - max(
        m[f"spearman_rd_{k}"] for k in sizes[:-1]
    )
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
    assays = read_csv(assays_csv)
    fit = [e["fit_residues"].astype(np.float64) for e in emb]
    pooled = [e["assay_pooled"].astype(np.float64) for e in emb]
    out = Path(cfg.run.out_dir)

    K = len(family)
    raw = {("raw", k + 1): pooled[k] for k in range(K)}
    rot = {("rot", k + 1): r for k, r in enumerate(rotations(pooled, cfg.seed)) if k}
    rd_feats, chains = {}, {}
    for kind in REGRESSORS:
        chains[kind] = fit_chain(fit, kind, cfg.rd.ridge_alpha)
        save_chain(out / f"scalers_{kind}.npz", chains[kind])
        rd = apply_chain(chains[kind], pooled)
        name = "rd" if kind == cfg.rd.regressor else f"rd_{kind}"
        rd_feats.update({(name, k + 1): rd[k] for k in range(1, K)})
        if kind == cfg.rd.regressor:
            nesting = nesting_table(rd)
            perm = block_permuted(rd, assays["assay"].to_numpy(), cfg.seed + 2)
    naive, X = {}, pooled[0]
    for k, step in enumerate(fit_naive_chain(fit), start=2):
        X = naive[("naive", k)] = step.transform(X, pooled[k - 1])
    main_rd = {key: v for key, v in rd_feats.items() if key[0] == "rd"}
    ablation = {key: v for key, v in rd_feats.items() if key[0] != "rd"}
    alt = {(f"{kind}_alt", k): v for (kind, k), v in {**raw, **main_rd}.items()}
    shuf = {(f"{kind}_shuf", k): v for (kind, k), v in {("raw", 1): pooled[0], **main_rd}.items()}
    std, splits = cfg.probe.standardize, cfg.probe.splits
    orc_fit, orc_pooled, orc_y = oracle_family(
        cfg.seed, ORACLE_FIT_ROWS, len(assays), [m.dim for m in family]
    )
    orc_rd = apply_chain(fit_chain(orc_fit, cfg.rd.regressor, cfg.rd.ridge_alpha), orc_pooled)
    orc = {("orc_raw", k + 1): x for k, x in enumerate(orc_pooled)}
    orc.update({("orc_rd", k + 1): orc_rd[k] for k in range(1, K)})
    per_assay = pd.concat(
        [
            probe_all(assays, {**raw, **main_rd, **naive, **rot, **perm}, splits, cfg, std),
            probe_all(assays, alt, splits, cfg, not std),
            probe_all(assays, shuf, splits, cfg, std, shuffle=True),
            probe_all(assays, ablation, [ABLATION_SPLIT], cfg, std),
            probe_all(assays.assign(fitness=orc_y), orc, [ORACLE_SPLIT], cfg, std),
        ],
        ignore_index=True,
    )
    # size 1: RD-1, naive-1 and rot-1 are the smallest raw model itself
    first = per_assay[per_assay["size"] == 1]
    same = {
        "raw": ("rd", "naive", "rot"),
        "raw_alt": ("rd_alt",),
        "raw_shuf": ("rd_shuf",),
        "orc_raw": ("orc_rd",),
    }
    copies = [first[first["kind"] == r].assign(kind=k) for r, ks in same.items() for k in ks]
    per_assay = pd.concat([per_assay, *copies], ignore_index=True)
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
    is_ablation = per_assay["kind"].isin(ABLATION_KINDS)
    metrics = summarise(per_assay[~is_ablation], K)
    for (kind, k), g in per_assay[is_ablation].groupby(["kind", "size"]):
        metrics[f"spearman_{kind}_{k}_{ABLATION_SPLIT}"] = float(g["spearman"].mean())
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
