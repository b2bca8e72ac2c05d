"""Measure a trained run against the theory (Hydra entry point, same overrides as train.py).

python -m papers.mesa_optimization.evaluate scale=cpu experiment=gauss_s1 init=small seed=0 \
    run.out_dir=results/cpu/mesa_optimization/runs/gauss_s1-small-seed0
Reads ``params.npz`` and ``log.csv``; writes ``metrics.json`` and ``theory.csv`` (the
reduced gradient flow on the run's own training set, per logged epoch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point
from common.io import load_npz, read_json, write_csv, write_metrics
from common.threads import set_threads
from papers.mesa_optimization import theory
from papers.mesa_optimization.train import effective_schedule, load_batches


def empirical_moments(batch: dict) -> dict[str, float]:
    """N, D, K of the reduced problem on a finite set of sequences (mean over sequences)."""
    from papers.mesa_optimization.model import gd_one_step_prediction

    gr, gi = gd_one_step_prediction(batch, 1.0)
    yr, yi = np.asarray(batch["yr"]), np.asarray(batch["yi"])
    m = int(np.sum(np.asarray(batch["inv_rho"]) == 1.0))
    return {
        "N": float(np.sum(gr * yr + gi * yi)) / m,
        "D": float(np.sum(gr**2 + gi**2)) / m,
        "K": float(np.sum(yr**2 + yi**2)) / m,
    }


def measure(cfg: DictConfig, run_dir: Path) -> tuple[dict[str, float], pd.DataFrame]:
    """All metrics of one run, and its theory curve."""
    import jax

    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization.model import gd_one_step_prediction, predict, split_complex

    jax.config.update("jax_enable_x64", True)
    weights = load_npz(run_dir / "params.npz")
    log = pd.read_csv(run_dir / "log.csv")
    train_b, test_b = load_batches(cfg, np.float64)
    params = split_complex(weights["kq"], weights["pv"], np.float64)
    dc = cfg.data

    ab = float(dg.ab(params))
    emp = empirical_moments(train_b)
    pop = theory.analytic_moments(dc.x1, dc.x1_scale, dc.d, dc.T)
    s_train, s_pop = theory.optimum(emp), theory.optimum(pop)

    pr, pi = (np.asarray(v) for v in predict(params, test_b))
    gr, gi = gd_one_step_prediction(test_b, ab)
    gd_rel_err = np.sqrt(np.sum((pr - gr) ** 2 + (pi - gi) ** 2) / np.sum(gr**2 + gi**2))

    lr, _ = effective_schedule(cfg)
    ic = cfg.init
    flow = theory.reduced_flow(ic.a0, ic.b0, emp, dc.d, lr * log["epoch"].to_numpy(float))
    curve = pd.DataFrame({"epoch": log["epoch"], "ab_theory": flow["ab"], "ab_trained": log["ab"]})
    drift = np.abs(log["a2_minus_b2"] - log["a2_minus_b2"].iloc[0]).max() / log["a2_plus_b2"].max()

    stats = {k: float(v) for k, v in dg.test_stats(params, test_b).items()}
    metrics = {
        "ab": ab,
        "ab_opt_finite_T": s_pop,
        "ab_opt_train": s_train,
        "ab_rel_err_finite_T": abs(ab - s_pop) / s_pop,
        "ab_rel_err_train": abs(ab - s_train) / s_train,
        "gd_rel_err": float(gd_rel_err),
        "offblock_ratio": float(dg.offblock_ratio(params)),
        "test_rel_mse": stats["test_rel_mse"],
        "test_rel_mse_at_opt": theory.relative_loss_at_optimum(pop),
        "ratio": stats["ratio"],
        "a2b2_drift": float(drift),
        "theory_max_dev": float(np.max(np.abs(curve["ab_trained"] - curve["ab_theory"])) / s_train),
        "train_wall_time_s": read_json(run_dir / "train.json")["wall_time_s"],
    }
    if dc.x1 != "ones":
        metrics["ab_limit_T_inf"] = theory.limit_infinite_T(dc.x1, dc.x1_scale)
    if dc.x1 == "gaussian":  # the paper: ratio ~ ab * sigma^2
        metrics["ratio_rel_dev_from_ab_var"] = abs(stats["ratio"] / (ab * dc.x1_scale**2) - 1.0)
    return metrics, curve


@entry_point("mesa_optimization")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    run_dir = Path(cfg.run.out_dir)
    metrics, curve = measure(cfg, run_dir)
    write_csv(run_dir / "theory.csv", curve)
    meta = provenance.collect(config_hash=config_hash(cfg), seed=cfg.seed)
    write_metrics(run_dir / "metrics.json", metrics, meta)


if __name__ == "__main__":
    main()
