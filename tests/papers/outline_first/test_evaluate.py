"""Evaluation helpers of outline_first: the null path of claim C4a, the claims file."""

import numpy as np

from common.claims import load_claims
from papers.outline_first import theory as th
from papers.outline_first.evaluate import random_path
from papers.outline_first.sampler import karras_sigmas


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


def test_claims_have_why_and_the_c4a_null():
    claims = {c["id"]: c for c in load_claims("papers/outline_first/claims.yaml")}
    assert all(c["why"] for c in claims.values())
    assert claims["C4a"]["null"] == "top2_share_null"
    assert claims["C2"]["requires"] == ["C1"] and claims["C6"]["requires"] == ["C1"]
