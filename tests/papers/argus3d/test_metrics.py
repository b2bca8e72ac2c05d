"""Metric sanity: COV / MMD / 1-NNA with Chamfer distance and exact EMD."""

from __future__ import annotations

import numpy as np
import pytest

from papers.argus3d.aggregate import bootstrap_nna, interval
from papers.argus3d.evaluate import head_per_category
from papers.argus3d.metrics import chamfer_matrix, emd, one_nna, set_metrics
from papers.argus3d.shapes import make_shape, sample_surface


@pytest.fixture(scope="module")
def chairs() -> np.ndarray:
    """Surface points (64 per shape) of 40 procedural chairs."""
    rng = np.random.default_rng(0)
    return np.stack([sample_surface(make_shape("chair", rng), 64, rng)[0] for _ in range(40)])


@pytest.mark.parametrize("dist", ["cd", "emd"])
def test_identical_sets_full_coverage_zero_mmd(chairs, dist):
    m = set_metrics(chairs[:12], chairs[:12], dist)
    assert m["cov"] == 1.0
    assert m["mmd"] == pytest.approx(0.0, abs=1e-6)  # float32 cdist rounding


def test_halves_of_one_distribution_are_indistinguishable(chairs):
    m = set_metrics(chairs[:20], chairs[20:], "cd")
    assert 0.3 <= m["nna"] <= 0.7


@pytest.mark.parametrize("dist", ["cd", "emd"])
def test_noise_is_told_apart(chairs, dist):
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, chairs[:16].shape)
    m = set_metrics(noise, chairs[:16], dist)
    assert m["nna"] >= 0.95
    assert m["cov"] < 0.5


def test_emd_of_a_translated_set_is_the_translation():
    x = np.random.default_rng(2).normal(size=(50, 3))
    shift = np.array([0.3, -0.1, 0.2])
    assert emd(x, x + shift) == pytest.approx(np.linalg.norm(shift), rel=1e-6)
    with pytest.raises(ValueError, match="equal-size"):
        emd(x, x[:10])


def test_chamfer_is_symmetric_and_zero_on_the_diagonal(chairs):
    d = chamfer_matrix(chairs[:5], chairs[:5])
    assert np.allclose(d, d.T, atol=1e-6)
    assert np.allclose(np.diag(d), 0.0, atol=1e-6)
    assert np.allclose(chamfer_matrix(chairs[:5], chairs[:5], chunk=2, symmetric=True), d)


def test_chamfer_matches_its_definition(chairs):
    """Mean squared nearest-point distance both ways, computed directly in float64."""
    a, b = chairs[:3].astype(np.float64), chairs[3:7, :50].astype(np.float64)
    sq = ((a[:, None, :, None] - b[None, :, None]) ** 2).sum(-1)  # (3, 4, 64, 50)
    want = sq.min(3).mean(2) + sq.min(2).mean(2)
    assert np.allclose(chamfer_matrix(chairs[:3], chairs[3:7, :50], chunk=3), want, atol=1e-7)


def test_head_per_category_takes_the_first_shapes_of_each_category():
    category = np.array([0, 1, 0, 1, 0, 2])
    assert head_per_category(category, 2).tolist() == [0, 2, 1, 3, 5]
    assert sorted(head_per_category(category, None)) == list(range(6))


def test_one_nna_counts_leave_one_out_neighbours():
    # two tight clusters far apart: each sample's neighbour is in its own set
    d_gg = np.array([[0, 1.0], [1.0, 0]])
    d_rr = d_gg.copy()
    d_gr = np.full((2, 2), 10.0)
    assert one_nna(d_gg, d_gr, d_rr) == 1.0
    assert one_nna(d_gr, d_gg, d_gr) == 0.0  # every sample's neighbour is in the other set


def test_bootstrap_interval_covers_the_point_value_and_ignores_copies(chairs):
    """Halves of one distribution: 1-NNA ~50% and the bootstrap interval around it; a resampled
    copy of a shape is never its own neighbour (else 1-NNA would drift towards 100%)."""
    m = set_metrics(chairs[:20], chairs[20:], "cd")
    mats = {"run": {f"{k}_chair": m[k] for k in ("d_gg", "d_gr", "d_rr")}}
    boot = bootstrap_nna(mats, ["chair"], n_boot=200)["run"]
    low, high = interval(boot)
    assert low < 100 * m["nna"] < high
    assert 30 < np.median(boot) < 70
