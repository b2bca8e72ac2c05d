"""Training schedule, resume from a checkpoint, aggregation of runs."""

import json

import numpy as np
import pytest

from common.config import compose_config
from common.io import write_metrics
from papers.mesa_optimization import theory
from papers.mesa_optimization.aggregate import aggregate
from papers.mesa_optimization.train import effective_schedule, train


def test_step_cap_keeps_flow_time_and_bounds_curvature():
    base = ["scale=cpu", "experiment=gauss_s2", "init=large"]
    uncapped = compose_config("mesa_optimization", [*base, "train.max_step_curvature=0"])
    capped = compose_config("mesa_optimization", base)
    lr0, ep0 = effective_schedule(uncapped)
    lr, ep = effective_schedule(capped)
    assert lr < lr0 and ep > ep0
    assert lr * ep >= lr0 * ep0 * (1 - 1e-9)  # the same flow time, at least
    dc = capped.data
    moments = theory.analytic_moments(dc.x1, dc.x1_scale, dc.d, dc.T)
    lam = theory.max_curvature(2.0, 2.0, moments, dc.d, lr0 * np.arange(ep0 + 1))
    assert lr * lam == pytest.approx(capped.train.max_step_curvature)
    assert lr0 * lam > 2  # the authors' step is unstable at the start: why the cap exists


def test_resume_from_checkpoint_matches_uninterrupted_run(tmp_path):
    over = ["scale=smoke", "experiment=sparse_c1", "init=medium"]
    full = compose_config("mesa_optimization", over)
    epochs = effective_schedule(full)[1]
    half = compose_config(
        "mesa_optimization",
        [*over, f"train.epochs_multiplier={0.1 / 2}", "train.checkpoint_every=1"],
    )
    assert 0 < effective_schedule(half)[1] < epochs
    train(half, tmp_path / "resumed")  # leaves checkpoint.npz at its last epoch
    assert (tmp_path / "resumed" / "checkpoint.npz").exists()
    w_resumed, log_resumed = train(full, tmp_path / "resumed")
    w_fresh, log_fresh = train(full, tmp_path / "fresh")
    np.testing.assert_array_equal(w_resumed["kq"], w_fresh["kq"])
    np.testing.assert_array_equal(w_resumed["pv"], w_fresh["pv"])
    assert log_resumed["epoch"].tolist() == log_fresh["epoch"].tolist()


def _run(root, name, **metrics):
    write_metrics(root / name / "metrics.json", metrics, {})
    return root / name / "metrics.json"


def test_aggregate_summaries_per_seed_and_nan(tmp_path):
    paths = [
        _run(tmp_path, "sparse_c1-small-seed0", offblock_ratio=1e-3, gd_rel_err=0.1),
        _run(tmp_path, "sparse_c2-large-seed0", offblock_ratio=3e-3, gd_rel_err=0.2),
        _run(tmp_path, "sparse_c2-gaussian-seed0", offblock_ratio=0.5, gd_rel_err=0.9),
        _run(tmp_path, "sparse_c1-small-seed1", offblock_ratio=2e-3, gd_rel_err=float("nan")),
    ]
    out = aggregate(paths)
    assert out["sparse_c1.small.offblock_ratio"] == [1e-3, 2e-3]
    assert out["offblock_ratio_max.sparse"] == [3e-3, 2e-3]  # Gaussian init excluded
    assert out["gd_rel_err_max.sparse"][0] == 0.2 and np.isnan(out["gd_rel_err_max.sparse"][1])
    with pytest.raises(ValueError, match="not named"):
        aggregate([_run(tmp_path, "badname", x=1.0)])


def test_aggregate_cli_writes_only_finite_metrics(tmp_path):
    from papers.mesa_optimization.aggregate import main

    paths = [_run(tmp_path, "ones-small-seed0", offblock_ratio=float("nan"), gd_rel_err=0.3)]
    main(["--out", str(tmp_path / "m.json"), *map(str, paths)])
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["gd_rel_err_min.ones"] == [0.3] and "offblock_ratio_min.ones" not in data
