"""Gather every run's metrics.json into the paper's metrics.json (per-seed lists).

python -m papers.reversal_curse.aggregate --out results/cpu/reversal_curse/metrics.json \
    results/cpu/reversal_curse/runs/*/seed*/metrics.json
Keys: ``<variant>.<metric>.<set>``, one value per seed (seeds in increasing order).
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

RUN_DIR = re.compile(r"^(?P<variant>[a-z_]+)/seed(?P<seed>\d+)$")


def parse_run(path: Path) -> tuple[str, int]:
    """(variant, seed) from ``.../<variant>/seed<n>/metrics.json``."""
    match = RUN_DIR.match(f"{path.parent.parent.name}/{path.parent.name}")
    if match is None:
        raise ValueError(f"run directory {path.parent} is not named <variant>/seed<n>")
    return match["variant"], int(match["seed"])


def aggregate(paths: list[Path]) -> dict[str, list[float]]:
    """Every run's metrics under ``<variant>.``, as lists over the seeds."""
    runs = defaultdict(dict)  # (variant, seed) -> metrics
    for path in paths:
        runs[parse_run(path)] = read_metrics(path)[0]
    seeds = sorted({seed for _, seed in runs})
    variants = sorted({variant for variant, _ in runs})
    out = {}
    for variant in variants:
        missing = [s for s in seeds if (variant, s) not in runs]
        if missing:
            raise ValueError(f"variant {variant} has no run for seed(s) {missing}")
        names = set().union(*(runs[variant, s] for s in seeds))
        for name in sorted(names):
            values = [runs[variant, s].get(name) for s in seeds]
            out[f"{variant}.{name}"] = [np.nan if v is None else float(v) for v in values]
    return out


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("metrics", nargs="+", type=Path)
    args = parser.parse_args(argv)
    metrics = aggregate(args.metrics)
    finite = {k: v for k, v in metrics.items() if np.all(np.isfinite(v))}
    seeds = sorted({parse_run(p)[1] for p in args.metrics})
    write_metrics(
        args.out, finite, {**provenance.collect(), "runs": len(args.metrics), "seeds": seeds}
    )
    if len(finite) < len(metrics):
        print(f"warning: non-finite metrics left out: {sorted(set(metrics) - set(finite))}")


if __name__ == "__main__":
    main()
