"""Forward-process noise statistics, posterior coefficients, the reverse process with an oracle."""

import math

import numpy as np
import pytest
import roma
import torch

from papers.se3_registration import diffusion, lie


@pytest.fixture(scope="module")
def alpha_bar():
    return diffusion.cosine_alpha_bar(200)


def test_cosine_schedule(alpha_bar):
    assert alpha_bar[0] == 1 and len(alpha_bar) == 201
    assert np.all(np.diff(alpha_bar) < 0) and alpha_bar[-1] < 1e-4
    assert (
        abs(
            alpha_bar[100]
            - math.cos((0.5 + 0.008) / 1.008 * math.pi / 2) ** 2
            / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
        )
        < 1e-9
    )


@pytest.mark.parametrize("t", [20, 120, 200])
def test_forward_noise_std_matches_formula(alpha_bar, t):
    """log(H_t mean^-1) = eps has per-component std sqrt(1 - abar_t) (sigma_r, sigma_t), 5%."""
    n = 10_000
    g = torch.Generator().manual_seed(t)
    H0 = lie.exp(torch.tensor([0.4, -0.2, 0.9, 0.05, 0.1, -0.08], dtype=torch.float64)).expand(
        n, 4, 4
    )
    sigma = diffusion.scales(0.05, 0.03)
    ab = torch.full((n,), float(alpha_bar[t]), dtype=torch.float64)
    Ht = diffusion.q_sample(H0, ab, sigma, g)
    mean = lie.exp(math.sqrt(alpha_bar[t]) * lie.log(H0[:1]))  # geodesic towards the identity
    eps = lie.log(Ht @ lie.inverse(mean))
    want = sigma * math.sqrt(1 - alpha_bar[t])
    assert torch.all((eps.std(0) / want - 1).abs() < 0.05)
    assert torch.all(eps.mean(0).abs() < 4 * want / math.sqrt(n))


def test_forward_mean_interpolates_towards_the_identity(alpha_bar):
    H0 = lie.exp(torch.tensor([[0.3, 0.2, -0.5, 0.1, 0.0, 0.2]], dtype=torch.float64))
    ab = torch.tensor([0.25], dtype=torch.float64)
    Ht = diffusion.q_sample(H0, ab, diffusion.scales(0.0, 0.0))
    assert (lie.log(Ht) - 0.5 * lie.log(H0)).abs().max() < 1e-12  # sqrt(abar) = 0.5


def test_posterior_coefficients_are_gaussian_conditioning(alpha_bar):
    """E[x_t' | x_t, x_0] and Var for x_t = sqrt(abar) x_0 + sqrt(1 - abar) e, from the joint."""
    for step in diffusion.reverse_steps(alpha_bar, 7):
        a_t, a_p = alpha_bar[step.t], alpha_bar[step.t_prev]
        cov = math.sqrt(a_t / a_p) * (1 - a_p)  # Cov(x_t', x_t | x_0) of the Markov chain
        g1 = cov / (1 - a_t)
        g0 = math.sqrt(a_p) - g1 * math.sqrt(a_t)
        var = (1 - a_p) - cov**2 / (1 - a_t)
        assert step.g0 == pytest.approx(g0, rel=1e-9, abs=1e-12)
        assert step.g1 == pytest.approx(g1, rel=1e-9, abs=1e-12)
        assert step.var == pytest.approx(var, rel=1e-6, abs=1e-12)
    last = diffusion.reverse_steps(alpha_bar, 7)[-1]
    assert last.t_prev == 0 and last.g0 == pytest.approx(1) and last.g1 == 0 and last.var == 0


@pytest.mark.parametrize("noise", [False, True])
def test_oracle_denoiser_reaches_the_truth(alpha_bar, noise):
    n = 64
    g = torch.Generator().manual_seed(0)
    H0 = lie.exp(torch.randn(n, 6, generator=g, dtype=torch.float64) * 0.5)

    def oracle(H, t):
        return H0

    sigma = diffusion.scales(0.1, 0.01) if noise else None
    H, path = diffusion.sample(oracle, n, diffusion.reverse_steps(alpha_bar, 5), sigma, g)
    assert len(path) == 6 and torch.equal(path[0], lie.identity(n))
    rot = roma.rotmat_geodesic_distance(H[:, :3, :3], H0[:, :3, :3])
    assert rot.max() < 1e-3 and (H[:, :3, 3] - H0[:, :3, 3]).abs().max() < 1e-3
    if not noise:  # the deterministic path approaches the truth monotonically
        errs = [lie.log(h @ lie.inverse(H0)).norm(dim=1).mean() for h in path]
        assert all(b < a for a, b in zip(errs[:-1], errs[1:], strict=True))


def test_one_reverse_step_is_one_call_from_the_identity(alpha_bar):
    calls = []
    target = lie.exp(torch.tensor([[0.2, 0.1, 0.0, 0.01, 0.02, 0.03]], dtype=torch.float64))

    def den(H, t):
        calls.append((H.clone(), t))
        return target

    H, _ = diffusion.sample(
        den, 1, diffusion.reverse_steps(alpha_bar, 1), diffusion.scales(0.1, 0.01)
    )
    assert len(calls) == 1 and calls[0][1] == 200 and torch.equal(calls[0][0], lie.identity(1))
    assert (H - target).abs().max() < 1e-12


def test_reverse_steps_rejects_bad_counts(alpha_bar):
    with pytest.raises(ValueError, match="reverse steps"):
        diffusion.reverse_steps(alpha_bar, 0)
