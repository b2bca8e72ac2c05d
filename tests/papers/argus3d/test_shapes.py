"""Procedural shapes: analytic occupancy, surface samples, and the files written to disk."""

from __future__ import annotations

import numpy as np
import pytest

from papers.argus3d.shapes import (
    BOX,
    CATEGORIES,
    CYL,
    ELL,
    make_shape,
    occupancy,
    prim,
    sample_surface,
)


def test_primitive_occupancy_against_analytic_inside_outside():
    shape = np.stack([
        prim(BOX, (0.2, 0, 0), (0.1, 0.05, 0.2)),
        prim(CYL, (-0.2, 0, 0), (0.05, 0.2, 0.05), axis=1),
        prim(ELL, (0, 0.3, 0), (0.1, 0.05, 0.1)),
    ])  # fmt: skip
    pts = np.array([
        [0.2, 0, 0.19], [0.31, 0, 0],  # box: inside, outside in x
        [-0.2, 0.19, 0.03], [-0.2, 0, 0.051], [-0.2, 0.21, 0],  # cylinder
        [0, 0.34, 0], [0.09, 0.3, 0.09],  # ellipsoid: inside, outside (radius 0.127)
    ])  # fmt: skip
    assert occupancy(shape, pts).tolist() == [True, False, True, False, False, True, False]


@pytest.mark.parametrize("category", CATEGORIES)
def test_surface_points_lie_on_the_union_boundary(category):
    rng = np.random.default_rng(3)
    shape = make_shape(category, rng)
    pts, nrm = sample_surface(shape, 500, rng)
    assert pts.shape == (500, 3) and np.abs(pts).max() <= 0.5
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-5)
    inner, outer = occupancy(shape, pts - 2e-3 * nrm), occupancy(shape, pts + 2e-3 * nrm)
    assert inner.mean() > 0.97 and (~outer).mean() > 0.97
    # a shape fills a small but non-trivial part of the unit cube
    frac = occupancy(shape, rng.uniform(-0.5, 0.5, (4000, 3))).mean()
    assert 0.003 < frac < 0.3
