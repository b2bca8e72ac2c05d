"""Gather every run's metrics.json into the paper's metrics.json (per-seed lists).

python -m papers.mesa_optimization.aggregate --out results/cpu/mesa_optimization/metrics.json \
    results/cpu/mesa_optimization/runs/*/metrics.json
Keys: ``<experiment>.<init>.<metric>`` for every run, and the claim-level summaries
``<stat>.<family>`` (max or min over the diagonal-init runs of a family) and the all-ones vs
Gaussian ratios of ``RATIOS``, one value per seed.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from common import provenance
from common.cli import one_line_errors
from common.io import read_metrics, write_metrics

RUN_DIR = re.compile(r"^(?P<exp>[a-z0-9_]+)-(?P<init>[a-z]+)-seed(?P<seed>\d+)$")
DIAGONAL_INITS = ("small", "medium", "large")


def _dev_from_half(reduce):
    """Reduction of |slope + 1/2| (the distance of a log-log slope from -1/2)."""
    return lambda v: float(reduce(np.abs(np.add(v, 0.5))))


#: summary key -> (run metric, reduction, families); over the diagonal-init runs. A family is
#: an experiment's prefix (gauss, sparse, ones) or a whole experiment name (gauss_s1). A claim's
#: null is reduced like its metric (max with max, min with min): the same statistic of the
#: null system.
SUMMARIES = {
    "offgrad_slope_dev_max.diagonal": ("offgrad_slope", _dev_from_half(max), ("gauss", "sparse")),
    "offgrad_slope_dev_max.ones": ("offgrad_slope", _dev_from_half(max), ("ones",)),
    "phase_slope_dev_max.diagonal": ("phase_mean_slope", _dev_from_half(max), ("gauss", "sparse")),
    "offblock_ratio_max.sparse": ("offblock_ratio", max, ("sparse",)),
    "offblock_ratio_max.gaussian": ("offblock_ratio", max, ("gauss",)),
    "offblock_ratio_max.balanced": ("offblock_ratio", max, ("balanced",)),
    "offblock_ratio_min.gauss_s1": ("offblock_ratio", min, ("gauss_s1",)),
    "ab_rel_err_finite_T_max.gaussian": ("ab_rel_err_finite_T", max, ("gauss",)),
    "ab_rel_err_train_max.gaussian": ("ab_rel_err_train", max, ("gauss",)),
    "ab_rel_err_finite_T_max.sparse": ("ab_rel_err_finite_T", max, ("sparse",)),
    "ab_discrete_rel_err_train_max.gaussian": ("ab_discrete_rel_err_train", max, ("gauss",)),
    "ab_discrete_rel_err_train_max.sparse": ("ab_discrete_rel_err_train", max, ("sparse",)),
    "ab_converged_rel_err_train_max.gaussian": ("ab_converged_rel_err_train", max, ("gauss",)),
    "ab_converged_rel_err_train_max.sparse": ("ab_converged_rel_err_train", max, ("sparse",)),
    "converged_epochs_max.sparse": ("converged_epochs", max, ("sparse",)),
    "converged_epochs_max.gaussian": ("converged_epochs", max, ("gauss",)),
    "ab_init_rel_err_train_max.gaussian": ("ab_init_rel_err_train", max, ("gauss",)),
    "ab_init_rel_err_train_max.sparse": ("ab_init_rel_err_train", max, ("sparse",)),
    "gd_rel_err_max.sparse": ("gd_rel_err", max, ("sparse",)),
    "gd_rel_err_max.gaussian": ("gd_rel_err", max, ("gauss",)),
    "gd_rel_err_reduced_max.sparse": ("gd_rel_err_reduced", max, ("sparse",)),
    "gd_rel_err_reduced_max.gaussian": ("gd_rel_err_reduced", max, ("gauss",)),
    "gd_rel_err_min.gauss_s1": ("gd_rel_err", min, ("gauss_s1",)),
    "test_rel_mse_max.sparse": ("test_rel_mse", max, ("sparse",)),
    "test_rel_mse_discrete_max.sparse": ("test_rel_mse_discrete", max, ("sparse",)),
    "test_rel_mse_converged_max.sparse": ("test_rel_mse_converged", max, ("sparse",)),
    "test_rel_mse_init_max.sparse": ("test_rel_mse_init", max, ("sparse",)),
    "ratio_rel_dev_finite_T_max.gaussian": ("ratio_rel_dev_finite_T", max, ("gauss",)),
    "ratio_rel_dev_finite_T_gd_max.gaussian": ("ratio_rel_dev_finite_T_gd", max, ("gauss",)),
    "ratio_rel_dev_finite_T_exact_max.gaussian": ("ratio_rel_dev_finite_T_exact", max, ("gauss",)),
    "ratio_rel_dev_from_ab_var_max.gaussian": ("ratio_rel_dev_from_ab_var", max, ("gauss",)),
    "ratio_rel_dev_from_ab_var_gd_max.gaussian": ("ratio_rel_dev_from_ab_var_gd", max, ("gauss",)),
    "ratio_rel_dev_from_ab_var_exact_max.gaussian": (
        "ratio_rel_dev_from_ab_var_exact", max, ("gauss",)),
    "test_mse_over_floor_min.gaussian": ("test_mse_over_floor", min, ("gauss",)),
    "test_mse_over_floor_gd_min.gaussian": ("test_mse_over_floor_gd", min, ("gauss",)),
    "test_mse_over_floor_exact_min.gaussian": ("test_mse_over_floor_exact", min, ("gauss",)),
    "a2b2_drift_max.diagonal": ("a2b2_drift", max, ("gauss", "sparse")),
    "a2b2_dev_discrete_max.diagonal": ("a2b2_dev_discrete", max, ("gauss", "sparse")),
    "a2b2_dev_discrete_max.balanced": ("a2b2_dev_discrete", max, ("balanced",)),
    "offblock_ratio_min.ones": ("offblock_ratio", min, ("ones",)),
    "gd_rel_err_min.ones": ("gd_rel_err", min, ("ones",)),
    "theory_max_dev_max.diagonal": ("theory_max_dev", max, ("gauss", "sparse")),
    "discrete_max_dev_max.diagonal": ("discrete_max_dev", max, ("gauss", "sparse")),
    "discrete_max_dev_max.balanced": ("discrete_max_dev", max, ("balanced",)),
    "frozen_max_dev_max.diagonal": ("frozen_max_dev", max, ("gauss", "sparse")),
    "discrete_dev_first_step_max.diagonal": ("discrete_dev_first_step", max, ("gauss", "sparse")),
    "offblock_ratio_first_step_max.diagonal": (
        "offblock_ratio_first_step", max, ("gauss", "sparse")),
}  # fmt: skip
#: comparative key -> (numerator summary, denominator summary): all-ones vs Gaussian starts,
#: and the null that puts a Gaussian start (gauss_s1) in the all-ones place
RATIOS = {
    "offblock_ones_over_gauss": ("offblock_ratio_min.ones", "offblock_ratio_max.gaussian"),
    "offblock_gauss_s1_over_gauss": ("offblock_ratio_min.gauss_s1", "offblock_ratio_max.gaussian"),
    "gd_err_ones_over_gauss": ("gd_rel_err_min.ones", "gd_rel_err_max.gaussian"),
    "gd_err_gauss_s1_over_gauss": ("gd_rel_err_min.gauss_s1", "gd_rel_err_max.gaussian"),
}


def parse_run(path: Path) -> tuple[str, str, int]:
    """(experiment, init, seed) from ``.../runs/<experiment>-<init>-seed<seed>/metrics.json``."""
    match = RUN_DIR.match(path.parent.name)
    if match is None:
        raise ValueError(f"run directory {path.parent} is not named <experiment>-<init>-seed<n>")
    return match["exp"], match["init"], int(match["seed"])


def aggregate(paths: list[Path]) -> dict[str, list[float]]:
    """Per-run metrics as per-seed lists, plus the claim-level summaries per seed."""
    runs = defaultdict(dict)  # seed -> (exp, init) -> metrics
    for path in paths:
        exp, init, seed = parse_run(path)
        runs[seed][(exp, init)] = read_metrics(path)[0]
    out: dict[str, list[float]] = defaultdict(list)
    for seed in sorted(runs):
        for (exp, init), metrics in sorted(runs[seed].items()):
            for name, value in metrics.items():
                out[f"{exp}.{init}.{name}"].append(np.nan if value is None else value)
        summary = {}
        for key, (name, reduce, families) in SUMMARIES.items():
            values = [
                np.nan if m[name] is None else m[name]
                for (exp, init), m in runs[seed].items()
                if init in DIAGONAL_INITS
                and (exp.split("_")[0] in families or exp in families)
                and name in m
            ]
            if values:  # a diverged run (NaN) makes the summary NaN, hence MISSING in the claims
                summary[key] = float(reduce(values)) if np.all(np.isfinite(values)) else np.nan
        for key, (num, den) in RATIOS.items():
            if num in summary and den in summary:
                summary[key] = summary[num] / summary[den]
        for key, value in summary.items():
            out[key].append(value)
    return dict(out)


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("metrics", nargs="+", type=Path)
    args = parser.parse_args(argv)
    metrics = aggregate(args.metrics)
    seeds = sorted({parse_run(p)[2] for p in args.metrics})
    meta = {**provenance.collect(), "runs": len(args.metrics), "seeds": seeds}
    write_metrics(args.out, {k: v for k, v in metrics.items() if np.all(np.isfinite(v))}, meta)
    dropped = sorted(k for k, v in metrics.items() if not np.all(np.isfinite(v)))
    if dropped:
        print(f"warning: non-finite metrics left out (diverged runs?): {dropped}")


if __name__ == "__main__":
    main()
