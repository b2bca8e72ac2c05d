"""Merge the per-seed metrics and add paired-bootstrap 95% intervals of the claims' metrics.

python -m papers.se3_registration.aggregate --out results/cpu/se3_registration/metrics.json \
    results/cpu/se3_registration/seed*/metrics.json
Each metric becomes a per-seed list (``common.aggregate``). Each claim metric gets
``<name>_ci95`` = [low, high]: the 2.5 / 97.5 percentiles of its mean over seeds when the test
instances are resampled with replacement, the same draw for every method and seed (paired),
read from the ``errors.npz`` beside each ``metrics.json``. It covers the test-set sampling, not
the spread between training seeds (the per-seed values show that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common import aggregate
from common.io import load_npz

RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def _median(a: np.ndarray) -> np.ndarray:
    return np.median(a, axis=-1)


def _recall5(a: np.ndarray) -> np.ndarray:
    return 100 * np.mean(a < 5.0, axis=-1)


#: claim metric -> its value from per-instance rotation errors (deg) of the methods
STATISTICS = {
    "dcp_over_identity_rot_median": lambda e: _median(e["dcp"]) / _median(e["identity"]),
    "diff_vs_dcp_rot_median_reduction": lambda e: 1 - _median(e["diff"]) / _median(e["dcp"]),
    "diff_minus_dcp_recall_rot5": lambda e: _recall5(e["diff"]) - _recall5(e["dcp"]),
    "diff1_over_dcp_rot_median": lambda e: _median(e["diff_s1_noise1"]) / _median(e["dcp"]),
    "diff_steps_rot_median_change_deg": lambda e: _median(e["diff"]) - _median(e["diff_s1_noise1"]),
}
METHODS = ("identity", "dcp", "diff", "diff_s1_noise1")


def bootstrap(errors: list[dict], resamples: int = RESAMPLES) -> dict[str, list[float]]:
    """``<metric>_ci95`` of every statistic from the seeds' per-instance errors."""
    n = len(errors[0]["dcp/rot_deg"])
    if any(len(e["dcp/rot_deg"]) != n for e in errors):
        raise ValueError("the seeds' errors.npz hold different numbers of test instances")
    idx = np.random.default_rng(BOOTSTRAP_SEED).integers(0, n, size=(resamples, n))
    per_seed = [{m: e[f"{m}/rot_deg"][idx] for m in METHODS} for e in errors]
    out = {}
    for name, stat in STATISTICS.items():
        values = np.mean([stat(e) for e in per_seed], axis=0)
        out[f"{name}_ci95"] = [float(v) for v in np.percentile(values, [2.5, 97.5])]
    return out


def seed_bootstrap(metrics: list[Path]) -> dict[str, list[float]]:
    """The intervals, from the ``errors.npz`` beside each seed's ``metrics.json``."""
    return bootstrap([load_npz(path.parent / "errors.npz") for path in metrics])


def main(argv: list[str] | None = None) -> None:
    aggregate.main(argv, extend=seed_bootstrap, description=__doc__)


if __name__ == "__main__":
    main()
