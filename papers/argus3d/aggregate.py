"""Merge the stage-1 summaries and the stage-2 runs' metrics into the paper's metrics.json.

python -m papers.argus3d.aggregate scale=cpu run.out_dir=results/cpu/argus3d
Claim metrics are in percentage points where they compare 1-NNA or IoU; values that the
claims average over seeds are per-seed lists (in the order of ``sweep.seeds``). The 1-NNA
comparisons get bootstrap 95% intervals (``*_ci``): test shapes (shared by all runs) and
every run's generated shapes are resampled per category, and each comparison is recomputed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point
from common.io import load_npz, read_json, read_metrics, write_metrics
from papers.argus3d.metrics import one_nna
from papers.argus3d.runs import BASE_ORDER, Run, base_width, stage2_runs


def _masked(d: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows a, columns b of d; copies of one shape (same index) are not neighbours."""
    sub = d[np.ix_(a, b)].copy()
    sub[a[:, None] == b[None, :]] = np.inf
    return sub


def bootstrap_nna(mats: dict[Run, dict], cats: list[str], n_boot: int, seed: int = 0):
    """1-NNA-CD (%, category mean) of every run under ``n_boot`` resamples: (run -> (n_boot,))."""
    rng = np.random.default_rng(seed)
    out = {r: np.zeros(n_boot) for r in mats}
    for b in range(n_boot):
        for cat in cats:
            n_ref = len(next(iter(mats.values()))[f"d_rr_{cat}"])
            ri = rng.integers(0, n_ref, n_ref)
            for r, m in mats.items():
                gg, gr, rr = m[f"d_gg_{cat}"], m[f"d_gr_{cat}"], m[f"d_rr_{cat}"]
                gi = rng.integers(0, len(gg), len(gg))
                nna = one_nna(_masked(gg, gi, gi), gr[np.ix_(gi, ri)], _masked(rr, ri, ri))
                out[r][b] += 100 * nna / len(cats)
    return out


def interval(samples: np.ndarray) -> list[float]:
    return [float(x) for x in np.percentile(samples, [2.5, 97.5])]


def collect(cfg: DictConfig, out: Path) -> dict:
    sw, w = cfg.sweep, base_width(cfg)
    m: dict = {}
    s1 = {rep: read_json(out / "stage1" / rep / "stage1.json") for rep in sw.reps}
    for rep, s in s1.items():
        m[f"iou_{rep}"] = s["iou_test"]
        m[f"codebook_usage_{rep}"] = s["codebook_usage"]
        m[f"tokens_{rep}"] = s["tokens"]
        m[f"final_bce_{rep}"] = s["final_bce"]
    if "latent" in s1:
        m["iou_gap_latent_to_best"] = 100 * (max(s["iou_test"] for s in s1.values())
                                             - s1["latent"]["iou_test"])  # fmt: skip
    runs = {r: read_metrics(out / "gen" / r.name / "metrics.json")[0] for r in stage2_runs(cfg)}
    mats = {r: load_npz(out / "gen" / r.name / "distances.npz") for r in runs}
    boot = bootstrap_nna(mats, list(cfg.data.categories), cfg.eval.n_boot)
    base = Run("latent", BASE_ORDER, w, sw.seeds[0])
    m["iou_latent_random_codes"] = s1["latent"]["iou_test_random_codes"]
    m["iou_gap_random_codes"] = 100 * (max(s["iou_test"] for s in s1.values())
                                       - m["iou_latent_random_codes"])  # fmt: skip
    for key, value in runs[base].items():
        if key.startswith("control_"):
            m[key] = value

    def per_seed(rep: str, order: str, key: str) -> list[float]:
        seeds = sw.seeds if order == BASE_ORDER else sw.order_seeds
        return [runs[Run(rep, order, w, s)][key] for s in seeds]

    for rep in sw.reps:
        for key in ("nna_cd", "nna_emd", "cov_cd", "cov_emd", "mmd_cd", "mmd_emd", "val_nll",
                    "has_surface"):  # fmt: skip
            m[f"{key}_{rep}"] = per_seed(rep, BASE_ORDER, key)
    others = [rep for rep in sw.reps if rep != "latent"]

    def margin(nna) -> np.ndarray:
        """Per seed: the better baseline's 1-NNA minus the latent vector's."""
        by_rep = {rep: np.array([nna(Run(rep, BASE_ORDER, w, s)) for s in sw.seeds])
                  for rep in sw.reps}  # fmt: skip
        return np.min([by_rep[rep] for rep in others], axis=0) - by_rep["latent"]

    if "latent" in sw.reps and others:
        m["nna_cd_margin_latent"] = margin(lambda r: runs[r]["nna_cd"]).tolist()
        m["nna_cd_margin_latent_ci"] = interval(margin(lambda r: boot[r]).mean(axis=0))
        best_other = np.mean(m["nna_cd_margin_latent"]) + np.mean(m["nna_cd_latent"])
        for name in ("memoriser", "random_codes"):  # the margin of a reference generator
            m[f"nna_cd_margin_{name}"] = best_other - m[f"control_{name}_nna_cd"]

    def order_gap(rep: str, nna) -> np.ndarray:
        row = np.mean([nna(Run(rep, BASE_ORDER, w, s)) for s in sw.order_seeds], axis=0)
        return np.abs(np.mean([nna(Run(rep, "col", w, s)) for s in sw.order_seeds], axis=0) - row)

    for rep in sw.order_reps:
        for key in ("nna_cd", "nna_emd"):
            m[f"{key}_{rep}_col"] = per_seed(rep, "col", key)
        m[f"order_gap_{rep}"] = float(order_gap(rep, lambda r: runs[r]["nna_cd"]))
        m[f"order_gap_{rep}_ci"] = interval(order_gap(rep, lambda r: boot[r]))
    widths = [int(x) for x in sw.widths]
    seed0 = sw.seeds[0]
    nll = [runs[Run("latent", BASE_ORDER, x, seed0)]["val_nll"] for x in widths]
    nna = [runs[Run("latent", BASE_ORDER, x, seed0)]["nna_cd"] for x in widths]
    for x, a, b in zip(widths, nll, nna, strict=True):
        m[f"scaling_val_nll_w{x}"], m[f"scaling_nna_cd_w{x}"] = a, b
        m[f"scaling_params_w{x}"] = runs[Run("latent", BASE_ORDER, x, seed0)]["gpt_params"]
    m["scaling_nll_max_step_change"] = float(np.max(np.diff(nll)))
    other = Run("latent", BASE_ORDER, w, sw.seeds[-1])  # null: same width, another seed
    m["scaling_nll_null_step_change"] = float(runs[other]["val_nll"] - runs[base]["val_nll"])
    small, large = (Run("latent", BASE_ORDER, x, seed0) for x in (widths[0], widths[-1]))
    m["scaling_nna_gain"] = float(nna[0] - nna[-1])
    m["scaling_nna_gain_ci"] = interval(boot[small] - boot[large])
    m["scaling_nna_gain_null"] = float(runs[base]["nna_cd"] - runs[other]["nna_cd"])
    m["novelty_ratio"] = per_seed("latent", BASE_ORDER, "novelty_ratio")
    m["novelty_gen_median"] = per_seed("latent", BASE_ORDER, "novelty_gen_median")
    m["novelty_test_recon_median"] = per_seed("latent", BASE_ORDER, "novelty_test_recon_median")
    return m


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.run.out_dir)
    metrics = collect(cfg, out)
    meta = provenance.collect(config_hash=config_hash(cfg))
    meta["runs"] = [r.name for r in stage2_runs(cfg)]
    write_metrics(out / "metrics.json", metrics, meta)


if __name__ == "__main__":
    main()
