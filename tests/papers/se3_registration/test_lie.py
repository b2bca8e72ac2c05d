"""se(3) exp/log against scipy's matrix exponential / logarithm, round trips, interpolation."""

import numpy as np
import pytest
import scipy.linalg
import torch

from papers.se3_registration import lie


def twists(n: int, seed: int = 0, max_angle: float = 3.0) -> torch.Tensor:
    """Random twists with angles in [0, max_angle], including tiny ones near the identity."""
    g = torch.Generator().manual_seed(seed)
    xi = torch.randn(n, 6, generator=g, dtype=torch.float64)
    axis = xi[:, :3] / xi[:, :3].norm(dim=1, keepdim=True)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_angle
    angle[:5] = torch.tensor([0.0, 1e-12, 1e-8, 1e-5, 9e-4], dtype=torch.float64)[:, None]
    return torch.cat([axis * angle, xi[:, 3:]], 1)


def twist_matrix(xi: np.ndarray) -> np.ndarray:
    w, rho = xi[:3], xi[3:]
    M = np.zeros((4, 4))
    M[:3, :3] = [[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]]
    M[:3, 3] = rho
    return M


def test_exp_log_round_trip_float64():
    xi = twists(500)
    assert (lie.log(lie.exp(xi)) - xi).abs().max() < 1e-6
    H = lie.exp(xi)
    assert (lie.exp(lie.log(H)) - H).abs().max() < 1e-10


def test_exp_and_log_match_scipy_matrix_exponential():
    xi = twists(60, seed=1)
    H = lie.exp(xi).numpy()
    for x, h in zip(xi.numpy(), H, strict=True):
        np.testing.assert_allclose(h, scipy.linalg.expm(twist_matrix(x)), atol=1e-12)
    for x, h in zip(xi.numpy()[5:20], H[5:20], strict=True):  # scipy's logm: not at the identity
        np.testing.assert_allclose(scipy.linalg.logm(h).real, twist_matrix(x), atol=1e-8)


def test_left_jacobian_is_the_integral_of_the_rotation():
    """V(w) = int_0^1 exp(s [w]_x) ds, checked with a fine trapezoid rule."""
    w = torch.tensor([[0.3, -1.2, 0.8], [1e-6, 2e-6, 0.0]], dtype=torch.float64)
    s = torch.linspace(0, 1, 4001, dtype=torch.float64)
    for wi, V in zip(w, lie.left_jacobian(w), strict=True):
        R = lie.exp(torch.cat([s[:, None] * wi, torch.zeros(len(s), 3, dtype=torch.float64)], 1))
        integral = torch.trapezoid(R[:, :3, :3], s, dim=0)
        assert (integral - V).abs().max() < 1e-7


def test_small_angle_series_is_continuous_at_the_switch():
    eps = lie.SMALL_ANGLE
    w = torch.tensor([[eps * (1 - 1e-9), 0, 0], [eps * (1 + 1e-9), 0, 0]], dtype=torch.float64)
    V = lie.left_jacobian(w)
    assert (V[0] - V[1]).abs().max() < 1e-12


def test_inverse_interpolation_and_one_parameter_subgroup():
    xi = twists(50, seed=2, max_angle=1.5)
    H = lie.exp(xi)
    eye = torch.eye(4, dtype=torch.float64)
    assert (lie.inverse(H) @ H - eye).abs().max() < 1e-12
    H2 = lie.exp(twists(50, seed=3, max_angle=1.5))
    assert (lie.interpolate(H, H2, 0.0) - H).abs().max() < 1e-10
    assert (lie.interpolate(H, H2, 1.0) - H2).abs().max() < 1e-10
    # exp(a xi) exp(b xi) = exp((a + b) xi): geodesics from the identity are one-parameter groups
    assert (lie.exp(0.3 * xi) @ lie.exp(0.5 * xi) - lie.exp(0.8 * xi)).abs().max() < 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_transform_matches_homogeneous_product(dtype):
    H = lie.exp(twists(8, seed=4)[4:]).to(dtype)
    P = torch.randn(4, 10, 3, dtype=dtype)
    homo = torch.cat([P, torch.ones(4, 10, 1, dtype=dtype)], -1) @ H.transpose(1, 2)
    assert torch.allclose(lie.transform(H, P), homo[..., :3], atol=1e-5)
