"""Evaluation helpers of outline_first: null systems, deviation measures, the claims file."""

import jax
import numpy as np
import pytest

from common.claims import load_claims
from papers.outline_first import theory as th
from papers.outline_first.evaluate import (
    closed_form_error,
    cov_dev_curve,
    cov_part_dev,
    early_minus_late,
    random_path,
)
from papers.outline_first.sampler import karras_sigmas

jax.config.update("jax_enable_x64", True)


def test_random_path_runs_from_x_T_to_x_0_and_leaves_the_plane():
    sigmas = karras_sigmas(21, 0.002, 80.0, 7.0)
    rng = np.random.default_rng(0)
    x_T, x_0 = 80.0 * rng.standard_normal((12, 16)), rng.uniform(-1, 1, (12, 16))
    path = random_path(x_T, x_0, sigmas, seed=3)
    assert path.shape == (12, len(sigmas), 16)
    np.testing.assert_allclose(path[:, 0], x_T)
    np.testing.assert_allclose(path[:, -1], x_0)
    np.testing.assert_array_equal(path, random_path(x_T, x_0, sigmas, seed=3))
    # far from span{x_T, x_0}, unlike an exact (planar) rotation
    assert th.span_projection_error(path).mean() > 0.1
    t = np.linspace(0, np.pi / 2, len(sigmas))[None, :, None]
    planar = np.cos(t) * x_T[:, None] + np.sin(t) * x_0[:, None]
    assert th.span_projection_error(planar).max() < 1e-8


def test_claims_require_the_closed_form_where_they_compare_with_it():
    claims = {c["id"]: c for c in load_claims("papers/outline_first/claims.yaml")}
    assert claims["C4a"]["null"] == "top2_share_vp_null"
    assert claims["C2"]["requires"] == ["C1"] and claims["C6"]["requires"] == ["C1"]


def test_covariance_part_deviation_is_zero_on_the_closed_form_and_one_on_the_point_mass():
    rng = np.random.default_rng(1)
    lam = np.geomspace(3.0, 0.01, 8)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    model = th.GaussianModel(rng.standard_normal(8), lam, q)
    sigmas = karras_sigmas(11)
    x_T = 80.0 * rng.standard_normal((5, 8))
    closed = np.asarray(th.closed_form(model, x_T, sigmas[0], sigmas))
    point = model.mean + (sigmas / sigmas[0])[:, None, None] * (x_T - model.mean)[None]
    levels = np.arange(len(sigmas)) > 0
    assert cov_part_dev(closed, closed, point, levels) == 0.0
    assert cov_part_dev(point, closed, point, levels) == pytest.approx(1.0)
    iso = np.asarray(th.closed_form(th.isotropic(model), x_T, sigmas[0], sigmas))
    assert cov_part_dev(iso, closed, point, levels) > 0.1
    np.testing.assert_allclose(cov_dev_curve(point, closed, point)[1:], 1.0)


def test_closed_form_error_separates_the_exact_formula_from_the_isotropic_null():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    model = th.GaussianModel(rng.standard_normal(6), np.geomspace(3.0, 0.05, 6), q)
    exact, null = closed_form_error(model, 80.0 * rng.standard_normal((2, 6)), karras_sigmas(11))
    assert exact < 1e-8 and null > 1e-2


def test_early_minus_late():
    values, early = np.array([0.5, 0.3, 0.1, 0.1]), np.array([True, True, False, False])
    assert early_minus_late(values, early) == pytest.approx(0.3)
    ties = np.full(10, 0.7)  # a plain difference of means gives 1.1e-16 here
    assert early_minus_late(ties, np.arange(10) < 6) == 0.0  # exactly: no sign from rounding


def test_every_claim_has_a_null_and_the_theory_oracles():
    claims = load_claims("papers/outline_first/claims.yaml")
    assert all(c["why"] and c["null"] for c in claims)
    oracles = {c["id"]: c["oracle"] for c in claims if c["oracle"]}
    assert set(oracles) == {"C2", "C3", "C4a", "C4b", "C5b", "C6"}
