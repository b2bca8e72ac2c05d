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
from common.io import load_npz, read_csv, read_json, write_csv, write_metrics
from common.threads import set_threads
from papers.mesa_optimization import theory
from papers.mesa_optimization.schema import validate
from papers.mesa_optimization.train import effective_schedule, load_batches


def empirical_moments(batch: dict) -> dict[str, float]:
    """N, D, K of the reduced problem on a finite set of sequences (mean over sequences)."""
    import jax
    import jax.numpy as jnp

    from papers.mesa_optimization.model import gd_one_step_prediction, targets

    @jax.jit
    def sums(batch):
        g, y, m = gd_one_step_prediction(batch, 1.0), targets(batch), batch["m"]
        return {"N": jnp.real(g * y.conj()).sum() / m, "D": (jnp.abs(g) ** 2).sum() / m,
                "K": (jnp.abs(y) ** 2).sum() / m}  # fmt: skip

    return {k: float(v) for k, v in sums(batch).items()}


def model_outputs(params: dict, batch: dict, s_pop) -> dict:
    """Everything measured on the trained weights, and on the one-step GD predictors that
    serve as references (at the trained ab, at the population optimum), in one call.

    ``gd_rel_err_reduced`` is C3's oracle: the block-diagonal model a = ab, b = 1 (every
    off-block entry zero, every a_k b_k equal), one GD step with step ab by construction."""
    import jax.numpy as jnp

    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization.model import gd_one_step_prediction, predict, targets

    ab = dg.ab(params)
    y = targets(batch)

    def gd_err(p, gd):
        return ((abs(predict(p, batch) - gd) ** 2).sum() / (abs(gd) ** 2).sum()) ** 0.5

    gd_ab, gd_opt = gd_one_step_prediction(batch, ab), gd_one_step_prediction(batch, s_pop)
    d = params["pv_re"].shape[0]
    eye, zero_kq, zero_pv = jnp.eye(d), jnp.zeros((2 * d, 2 * d)), jnp.zeros((d, 2 * d))
    reduced = {"kq_re": zero_kq.at[d:, :d].set(ab * eye), "kq_im": zero_kq,
               "pv_re": zero_pv.at[:, :d].set(eye), "pv_im": zero_pv}  # fmt: skip
    exact = batch["rot"][:, :, None, :] * batch["x"][:, :, 1:-1]  # x_{t+1} = D x_t
    return {
        "ab": ab, "gd_rel_err": gd_err(params, gd_ab), "offblock_ratio": dg.offblock_ratio(params),
        "gd_rel_err_block_part": gd_err(dg.block_part(params), gd_ab),
        "gd_rel_err_reduced": gd_err(reduced, gd_ab),
        **dg.test_stats(params, batch),
        **{f"gd_ab_{k}": v for k, v in dg.prediction_stats(gd_ab, y).items()},
        **{f"gd_opt_{k}": v for k, v in dg.prediction_stats(gd_opt, y).items()},
        "exact_test_rel_mse": dg.prediction_stats(exact, y)["test_rel_mse"],
    }  # fmt: skip


#: C1a's slope: independent sets of the largest size (the RMS at each size averages over at
#: least this many subsets), and the largest size (the run's m up to this cap: the m^-1/2 law
#: holds at any m, and the cap keeps the paper scale's evaluation as cheap as the cpu one)
NOISE_REPEATS, NOISE_MAX_SIZE = 16, 1000


def gradient_noise_slopes(params0: dict, cfg: DictConfig) -> dict[str, float]:
    """Slopes in log-log, against the number of sequences, of the off-block gradient at the
    initial weights (its population value is 0 under Theorem 4.1's assumption: slope -1/2)
    and of the mean phase e^{i theta} (zero-mean by construction: the oracle).

    Measured on NOISE_REPEATS fresh sets (the data's "noise" stream) of sizes m, m/2, ...,
    built block by block from per-block sums, so a size's RMS is never one draw.
    """
    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization.data import sample_sequences
    from papers.mesa_optimization.model import prepare

    dc = cfg.data
    m = min(int(dc.m_train), NOISE_MAX_SIZE)
    levels = max(2, min(5, int(np.log2(m / 8)) + 1))
    size = m // 2 ** (levels - 1)
    grads, phases = [], []
    for block in range(NOISE_REPEATS * 2 ** (levels - 1)):
        x = sample_sequences(cfg.seed, "noise", size, dc.T, dc.d, dc.x1, dc.x1_scale, block)
        grads.append(dg.offblock_gradients(params0, prepare(x, np.float64)).sum(axis=0))
        active = x[:, 0] != 0  # theta_j where x_1j != 0
        phases.append(np.where(active, x[:, 1] / np.where(active, x[:, 0], 1), 0).sum(axis=0))
    return {
        "offgrad_slope": theory.log_slope(*dg.block_rms(np.array(grads), size, levels)),
        "phase_mean_slope": theory.log_slope(*dg.block_rms(np.array(phases), size, levels)),
    }


def max_rel_dev(values, reference) -> float:
    """Largest pointwise |values / reference - 1| of two curves (both away from 0): the
    curves overlap on a log axis at every scale the trajectory passes through."""
    return float(np.max(np.abs(np.asarray(values) / np.asarray(reference) - 1.0)))


def reduced_references(s0, log, disc, limit, test_emp, s_train) -> dict[str, float]:
    """The trained run against plain GD on the reduced problem at the same step size and
    epochs (``disc``: the oracle of the dynamics claims, the prediction beside the convergence
    claims), against that GD run until it settles (``limit``: (ab, epochs), the convergence
    claims' oracle), and against the frozen initial ab = s0 (the null); the gap and
    off-block ratio after the first step."""
    epochs = log["epoch"].to_numpy(int)
    s_disc, (s_lim, lim_epochs) = float(disc["ab"][-1]), limit
    scale = log["a2_plus_b2"].max()
    return {
        "ab_discrete": s_disc,
        "ab_discrete_rel_err_train": abs(s_disc - s_train) / s_train,
        "ab_converged": s_lim,
        "ab_converged_rel_err_train": abs(s_lim - s_train) / s_train,
        "converged_epochs": float(lim_epochs),
        "ab_init_rel_err_train": abs(s0 - s_train) / s_train,
        "discrete_max_dev": max_rel_dev(log["ab"], disc["ab"][epochs]),
        "discrete_dev_first_step": max_rel_dev(log["ab"][epochs == 1], disc["ab"][1]),
        "offblock_ratio_first_step": float(log["offblock_ratio"][epochs == 1].iloc[0]),
        "frozen_max_dev": max_rel_dev(np.full(len(epochs), s0), disc["ab"][epochs]),
        "a2b2_dev_discrete": float(
            np.max(np.abs(log["a2_minus_b2"] - disc["a2_minus_b2"][epochs])) / scale
        ),
        "test_rel_mse_discrete": theory.reduced_rel_loss(test_emp, s_disc),
        "test_rel_mse_converged": theory.reduced_rel_loss(test_emp, s_lim),
        "test_rel_mse_init": theory.reduced_rel_loss(test_emp, s0),
    }


def measure(cfg: DictConfig, run_dir: Path) -> tuple[dict[str, float], pd.DataFrame]:
    """All metrics of one run, and its theory curves (reduced flow and reduced GD)."""
    import jax

    from papers.mesa_optimization.model import init_weights, split_complex

    validate(cfg)
    jax.config.update("jax_enable_x64", True)
    weights = load_npz(run_dir / "params.npz")
    log = read_csv(run_dir / "log.csv")
    train_b, test_b = load_batches(cfg, np.float64)
    params = split_complex(weights["kq"], weights["pv"], np.float64)
    dc, ic = cfg.data, cfg.init

    emp, test_emp = empirical_moments(train_b), empirical_moments(test_b)
    pop = theory.analytic_moments(dc.x1, dc.x1_scale, dc.d, dc.T)
    s_train, s_pop = theory.optimum(emp), theory.optimum(pop)
    out = {k: float(v) for k, v in jax.jit(model_outputs)(params, test_b, s_pop).items()}
    ab = out["ab"]

    lr, _ = effective_schedule(cfg)
    curve = pd.DataFrame({"epoch": log["epoch"], "ab_theory": np.nan, "ab_discrete": np.nan,
                          "ab_trained": log["ab"]})  # fmt: skip
    drift = np.abs(log["a2_minus_b2"] - log["a2_minus_b2"].iloc[0]).max() / log["a2_plus_b2"].max()
    metrics = {
        "ab": ab,
        "ab_opt_finite_T": s_pop,
        "ab_opt_train": s_train,
        "ab_rel_err_finite_T": abs(ab - s_pop) / s_pop,
        "ab_rel_err_train": abs(ab - s_train) / s_train,
        "gd_rel_err": out["gd_rel_err"],
        "gd_rel_err_block_part": out["gd_rel_err_block_part"],
        "gd_rel_err_reduced": out["gd_rel_err_reduced"],
        "offblock_ratio": out["offblock_ratio"],
        "test_rel_mse": out["test_rel_mse"],
        "test_rel_mse_at_opt": theory.relative_loss_at_optimum(pop),
        "ratio": out["ratio"],
        "a2b2_drift": float(drift),
        "train_wall_time_s": read_json(run_dir / "train.json")["wall_time_s"],
    }
    if ic.kind == "diagonal":  # the reduced dynamics start from (a0, b0)
        taus = lr * log["epoch"].to_numpy(float)
        curve["ab_theory"] = theory.reduced_flow(ic.a0, ic.b0, emp, dc.d, taus)["ab"]
        disc = theory.reduced_gd(ic.a0, ic.b0, emp, dc.d, lr, int(log["epoch"].iloc[-1]))
        curve["ab_discrete"] = disc["ab"][log["epoch"].to_numpy(int)]
        metrics["theory_max_dev"] = max_rel_dev(curve["ab_trained"], curve["ab_theory"])
        limit = theory.reduced_gd_limit(ic.a0, ic.b0, emp, dc.d, lr)
        metrics.update(reduced_references(ic.a0 * ic.b0, log, disc, limit, test_emp, s_train))
        if theory.reduced_rel_loss(emp, ic.a0 * ic.b0) > 1e-12:  # else every gradient is 0
            kq0, pv0 = init_weights(dc.d, ic.kind, ic.a0, ic.b0, ic.std, cfg.seed)
            metrics.update(gradient_noise_slopes(split_complex(kq0, pv0, np.float64), cfg))
    if dc.x1 != "ones":
        metrics["ab_limit_T_inf"] = theory.limit_infinite_T(dc.x1, dc.x1_scale)
    if dc.x1 == "gaussian":  # the paper: ratio ~ ab * sigma^2 (in expectation, at finite T too)
        var, target = dc.x1_scale**2, s_pop * dc.x1_scale**2
        metrics.update({
            "ratio_rel_dev_from_ab_var": abs(out["ratio"] / (ab * var) - 1.0),
            "ratio_rel_dev_from_ab_var_gd": abs(out["gd_ab_ratio"] / (ab * var) - 1.0),
            "ratio_rel_dev_from_ab_var_exact": abs(1.0 / (ab * var) - 1.0),
            "ratio_finite_T": target,
            "ratio_rel_dev_finite_T": abs(out["ratio"] / target - 1.0),
            "ratio_rel_dev_finite_T_gd": abs(out["gd_opt_ratio"] / target - 1.0),
            "ratio_rel_dev_finite_T_exact": abs(1.0 / target - 1.0),
            "test_mse_over_floor": out["test_rel_mse"] / metrics["test_rel_mse_at_opt"],
            "test_mse_over_floor_gd": out["gd_opt_test_rel_mse"] / metrics["test_rel_mse_at_opt"],
            "test_mse_over_floor_exact": out["exact_test_rel_mse"] / metrics["test_rel_mse_at_opt"],
        })  # fmt: skip
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
