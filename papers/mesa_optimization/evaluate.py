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
from papers.mesa_optimization.schema import validate
from papers.mesa_optimization.train import effective_schedule, load_batches


def empirical_moments(batch: dict) -> dict[str, float]:
    """N, D, K of the reduced problem on a finite set of sequences (mean over sequences)."""
    import jax

    from papers.mesa_optimization.model import gd_one_step_prediction

    @jax.jit
    def sums(batch):
        gr, gi = gd_one_step_prediction(batch, 1.0)
        yr, yi = batch["yr"], batch["yi"]
        m = (batch["inv_rho"] == 1.0).sum()
        return {"N": (gr * yr + gi * yi).sum() / m, "D": (gr**2 + gi**2).sum() / m,
                "K": (yr**2 + yi**2).sum() / m}  # fmt: skip

    return {k: float(v) for k, v in sums(batch).items()}


def model_outputs(params: dict, batch: dict) -> dict:
    """Everything measured on the trained weights, in one compiled call."""
    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization.model import gd_one_step_prediction, predict

    ab = dg.ab(params)
    pr, pi = predict(params, batch)
    gr, gi = gd_one_step_prediction(batch, ab)
    gd_err = ((pr - gr) ** 2 + (pi - gi) ** 2).sum() / (gr**2 + gi**2).sum()
    return {"ab": ab, "gd_rel_err": gd_err**0.5, "offblock_ratio": dg.offblock_ratio(params),
            **dg.test_stats(params, batch)}  # fmt: skip


def measure(cfg: DictConfig, run_dir: Path) -> tuple[dict[str, float], pd.DataFrame]:
    """All metrics of one run, and its theory curve."""
    import jax

    from papers.mesa_optimization.model import split_complex

    validate(cfg)
    jax.config.update("jax_enable_x64", True)
    weights = load_npz(run_dir / "params.npz")
    log = pd.read_csv(run_dir / "log.csv")
    train_b, test_b = load_batches(cfg, np.float64)
    params = split_complex(weights["kq"], weights["pv"], np.float64)
    dc = cfg.data

    out = {k: float(v) for k, v in jax.jit(model_outputs)(params, test_b).items()}
    ab = out["ab"]
    emp = empirical_moments(train_b)
    pop = theory.analytic_moments(dc.x1, dc.x1_scale, dc.d, dc.T)
    s_train, s_pop = theory.optimum(emp), theory.optimum(pop)

    lr, _ = effective_schedule(cfg)
    curve = pd.DataFrame({"epoch": log["epoch"], "ab_theory": np.nan, "ab_trained": log["ab"]})
    if cfg.init.kind == "diagonal":  # the reduced flow starts from (a0, b0)
        taus = lr * log["epoch"].to_numpy(float)
        curve["ab_theory"] = theory.reduced_flow(cfg.init.a0, cfg.init.b0, emp, dc.d, taus)["ab"]
    drift = np.abs(log["a2_minus_b2"] - log["a2_minus_b2"].iloc[0]).max() / log["a2_plus_b2"].max()

    metrics = {
        "ab": ab,
        "ab_opt_finite_T": s_pop,
        "ab_opt_train": s_train,
        "ab_rel_err_finite_T": abs(ab - s_pop) / s_pop,
        "ab_rel_err_train": abs(ab - s_train) / s_train,
        "gd_rel_err": out["gd_rel_err"],
        "offblock_ratio": out["offblock_ratio"],
        "test_rel_mse": out["test_rel_mse"],
        "test_rel_mse_at_opt": theory.relative_loss_at_optimum(pop),
        "ratio": out["ratio"],
        "a2b2_drift": float(drift),
        "train_wall_time_s": read_json(run_dir / "train.json")["wall_time_s"],
    }
    if cfg.init.kind == "diagonal":
        dev = np.max(np.abs(curve["ab_trained"] - curve["ab_theory"])) / s_train
        metrics["theory_max_dev"] = float(dev)
    if dc.x1 != "ones":
        metrics["ab_limit_T_inf"] = theory.limit_infinite_T(dc.x1, dc.x1_scale)
    if dc.x1 == "gaussian":  # the paper: ratio ~ ab * sigma^2
        metrics["ratio_rel_dev_from_ab_var"] = abs(out["ratio"] / (ab * dc.x1_scale**2) - 1.0)
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
