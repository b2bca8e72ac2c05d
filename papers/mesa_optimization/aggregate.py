"""Gather every run's metrics.json into the paper's metrics.json (per-seed lists).

python -m papers.mesa_optimization.aggregate --out results/cpu/mesa_optimization/metrics.json \
    results/cpu/mesa_optimization/runs/*/metrics.json
Keys: ``<experiment>.<init>.<metric>`` for every run, and the claim-level summaries
``<stat>.<family>`` (max or min over the diagonal-init runs of a family), one value per seed.
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

#: summary key -> (run metric, reduction, families); over the diagonal-init runs.
SUMMARIES = {
    "offblock_ratio_max.sparse": ("offblock_ratio", max, ("sparse",)),
    "offblock_ratio_max.gaussian": ("offblock_ratio", max, ("gauss",)),
    "ab_rel_err_finite_T_max.gaussian": ("ab_rel_err_finite_T", max, ("gauss",)),
    "ab_rel_err_finite_T_max.sparse": ("ab_rel_err_finite_T", max, ("sparse",)),
    "gd_rel_err_max.sparse": ("gd_rel_err", max, ("sparse",)),
    "gd_rel_err_max.gaussian": ("gd_rel_err", max, ("gauss",)),
    "test_rel_mse_max.sparse": ("test_rel_mse", max, ("sparse",)),
    "ratio_max_abs_dev_from_0p2.gaussian": ("ratio", lambda v: np.max(np.abs(np.subtract(v, 0.2))),
                                            ("gauss",)),
    "ratio_rel_dev_from_ab_var_max.gaussian": ("ratio_rel_dev_from_ab_var", max, ("gauss",)),
    "test_rel_mse_min.gaussian": ("test_rel_mse", min, ("gauss",)),
    "a2b2_drift_max.diagonal": ("a2b2_drift", max, ("gauss", "sparse")),
    "offblock_ratio_min.ones": ("offblock_ratio", min, ("ones",)),
    "gd_rel_err_min.ones": ("gd_rel_err", min, ("ones",)),
    "theory_max_dev_max.diagonal": ("theory_max_dev", max, ("gauss", "sparse")),
}  # fmt: skip


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
        for key, (name, reduce, families) in SUMMARIES.items():
            values = [
                np.nan if m[name] is None else m[name]
                for (exp, init), m in runs[seed].items()
                if init in DIAGONAL_INITS and exp.split("_")[0] in families and name in m
            ]
            if values:  # a diverged run (NaN) makes the summary NaN, hence MISSING in the claims
                out[key].append(float(reduce(values)) if np.all(np.isfinite(values)) else np.nan)
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
