"""Merge the stage-1 summaries and the stage-2 runs' metrics into the paper's metrics.json.

python -m papers.argus3d.aggregate scale=cpu run.out_dir=results/cpu/argus3d
Claim metrics are in percentage points where they compare 1-NNA or IoU; values that the
claims average over seeds are per-seed lists (in the order of ``sweep.seeds``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point
from common.io import read_json, read_metrics, write_metrics
from papers.argus3d.runs import BASE_ORDER, Run, base_width, stage2_runs


def collect(cfg: DictConfig, out: Path) -> dict:
    sw, w = cfg.sweep, base_width(cfg)
    m: dict = {}
    s1 = {rep: read_json(out / "stage1" / rep / "stage1.json") for rep in sw.reps}
    for rep, s in s1.items():
        m[f"iou_{rep}"] = s["iou_test"]
        m[f"codebook_usage_{rep}"] = s["codebook_usage"]
        m[f"tokens_{rep}"] = s["tokens"]
    if "latent" in s1:
        m["iou_gap_latent_to_best"] = 100 * (max(s["iou_test"] for s in s1.values())
                                             - s1["latent"]["iou_test"])  # fmt: skip
    runs = {r: read_metrics(out / "gen" / r.name / "metrics.json")[0] for r in stage2_runs(cfg)}

    def per_seed(rep: str, order: str, key: str) -> list[float]:
        seeds = sw.seeds if order == BASE_ORDER else sw.order_seeds
        return [runs[Run(rep, order, w, s)][key] for s in seeds]

    for rep in sw.reps:
        for key in ("nna_cd", "nna_emd", "cov_cd", "cov_emd", "mmd_cd", "mmd_emd", "val_nll",
                    "has_surface"):  # fmt: skip
            m[f"{key}_{rep}"] = per_seed(rep, BASE_ORDER, key)
    others = [rep for rep in sw.reps if rep != "latent"]
    if "latent" in sw.reps and others:
        nna = {rep: np.array(per_seed(rep, BASE_ORDER, "nna_cd")) for rep in sw.reps}
        best_other = np.min([nna[rep] for rep in others], axis=0)
        m["nna_cd_margin_latent"] = (best_other - nna["latent"]).tolist()
    for rep in sw.order_reps:
        for key in ("nna_cd", "nna_emd"):
            m[f"{key}_{rep}_col"] = per_seed(rep, "col", key)
        row = [runs[Run(rep, BASE_ORDER, w, s)]["nna_cd"] for s in sw.order_seeds]
        gap = np.mean(per_seed(rep, "col", "nna_cd")) - np.mean(row)
        m[f"order_gap_{rep}"] = float(abs(gap))
    widths = [int(x) for x in sw.widths]
    seed0 = sw.seeds[0]
    nll = [runs[Run("latent", BASE_ORDER, x, seed0)]["val_nll"] for x in widths]
    nna = [runs[Run("latent", BASE_ORDER, x, seed0)]["nna_cd"] for x in widths]
    for x, a, b in zip(widths, nll, nna, strict=True):
        m[f"scaling_val_nll_w{x}"], m[f"scaling_nna_cd_w{x}"] = a, b
        m[f"scaling_params_w{x}"] = runs[Run("latent", BASE_ORDER, x, seed0)]["gpt_params"]
    m["scaling_nll_max_step_change"] = float(np.max(np.diff(nll)))
    m["scaling_nna_max_step_worsening"] = float(np.max(np.diff(nna)))
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
