"""Karras schedule and Heun sampler of outline_first, checked against the Gaussian closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from papers.outline_first import theory as th
from papers.outline_first.sampler import heun_sample, karras_sigmas

jax.config.update("jax_enable_x64", True)

LAM = np.logspace(0.5, -2, 6)


@pytest.fixture(scope="module")
def gauss():
    """(model, jitted exact denoiser, x_T (5, 6) at sigma 80)."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    model = th.GaussianModel(rng.standard_normal(6), LAM, q)
    den = jax.jit(lambda x, s: th.gaussian_denoiser(model, x, s))
    x_T = model.mean + 80.0 * rng.standard_normal((5, 6))
    return model, den, x_T


def rel_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)))


def test_karras_schedule():
    s = karras_sigmas(51, 0.002, 80.0, 7.0)
    assert s.shape == (52,) and s.dtype == np.float64
    assert s[0] == 80.0 and s[50] == 0.002 and s[51] == 0.0 and np.all(np.diff(s) < 0)
    i = 20  # EDM eq. (5)
    want = (80 ** (1 / 7) + i / 50 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    assert s[i] == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(karras_sigmas(5, 1.0, 5.0, 1.0), [5, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(karras_sigmas(1, 0.1, 3.0, 7.0), [3.0, 0.0])
    with pytest.raises(ValueError, match="num_steps"):
        karras_sigmas(0, 0.002, 80.0, 7.0)
    with pytest.raises(ValueError, match="sigma_min"):
        karras_sigmas(10, 1.0, 0.5, 7.0)
    with pytest.raises(ValueError, match="rho"):
        karras_sigmas(10, 0.002, 80.0, 0.0)


def test_heun_is_second_order_and_euler_first_order(gauss):
    model, den, x_T = gauss
    exact = th.closed_form(model, x_T, 80.0, 0.0)
    steps = np.array([16, 32, 64, 128, 256])
    slopes = {}
    for second in (True, False):
        errs = [
            rel_err(heun_sample(den, x_T, karras_sigmas(n), second_order=second).final, exact)
            for n in steps
        ]
        slopes[second] = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
        if second:
            assert errs[-1] < 5e-4
    assert 1.7 < slopes[True] < 2.3, slopes
    assert 0.8 < slopes[False] < 1.2, slopes


def test_trajectory_contract_and_evaluation_count(gauss):
    model, den, x_T = gauss
    calls = []

    def counting(x, s):
        calls.append(float(s))
        return den(x, s)

    sig = karras_sigmas(11)
    out = heun_sample(counting, x_T, sig)
    assert len(calls) == 2 * 11 - 1  # EDM Heun: 2N - 1 evaluations
    assert 0.0 not in calls
    final, states, denoised, levels = out  # unpacks like a tuple
    assert states.shape == denoised.shape == (12, 5, 6)
    np.testing.assert_array_equal(levels, sig)
    np.testing.assert_array_equal(states[0], x_T)
    np.testing.assert_array_equal(states[-1], final)
    np.testing.assert_array_equal(denoised[-1], final)
    for i in (0, 5, 10):
        np.testing.assert_allclose(denoised[i], den(states[i], sig[i]), atol=1e-12)
    np.testing.assert_allclose(final, denoised[-2], atol=1e-12)  # Euler step to 0 = D(x; t_N-1)
    assert rel_err(states, th.closed_form(model, x_T, 80.0, sig)) < 0.2  # 11 coarse steps
    short = heun_sample(den, x_T, sig, return_trajectory=False)
    assert short.states is None and short.denoised is None
    np.testing.assert_array_equal(short.final, final)
    # a schedule that stops above 0: every step is Heun and the last level is denoised too
    calls.clear()
    trunc = heun_sample(counting, x_T, sig[:-1])
    assert len(calls) == 2 * 10 + 1
    assert rel_err(trunc.final, th.closed_form(model, x_T, 80.0, sig[-2])) < 0.2


def test_kick_matches_restart_and_gaussian_gain(gauss):
    model, den, x_T = gauss
    sig = karras_sigmas(101)
    base = heun_sample(den, x_T, sig)
    for k, j in [(30, 0), (60, 1), (90, 3)]:
        v = 0.5 * model.eigvecs[:, j]
        kicked = heun_sample(den, x_T, sig, kick=(k, v))
        np.testing.assert_array_equal(kicked.states[:k], base.states[:k])
        np.testing.assert_allclose(kicked.states[k], base.states[k] + v, atol=1e-12)
        restart = heun_sample(den, None, sig, start_index=k, x_start=base.states[k] + v)
        np.testing.assert_allclose(kicked.final, restart.final, atol=1e-12)
        moved = np.asarray(kicked.final - base.final)
        gain = float(th.edm_kick_gain(LAM[j], sig[k]))
        np.testing.assert_allclose(moved @ model.eigvecs[:, j], 0.5 * gain, rtol=2e-3)
        off = moved - np.outer(moved @ model.eigvecs[:, j], model.eigvecs[:, j])
        assert np.abs(off).max() < 1e-10  # the linear Gaussian flow keeps directions apart
    per_sample = np.zeros_like(x_T)
    per_sample[2] = 1.0
    out = heun_sample(den, x_T, sig, kick=(50, per_sample), return_trajectory=False)
    changed = np.abs(np.asarray(out.final - base.final)).max(axis=1) > 0
    np.testing.assert_array_equal(changed, [False, False, True, False, False])


def test_skipping_with_closed_form_start(gauss):
    model, den, x_T = gauss
    sig = karras_sigmas(51)
    k = 20
    x_k = th.closed_form(model, x_T, 80.0, sig[k])
    out = heun_sample(den, None, sig, start_index=k, x_start=x_k)
    assert out.states.shape == (52 - k, 5, 6)
    np.testing.assert_array_equal(out.sigmas, sig[k:])
    np.testing.assert_array_equal(out.states[0], x_k)
    full = heun_sample(den, x_T, sig)
    exact = th.closed_form(model, x_T, 80.0, 0.0)
    assert rel_err(out.final, exact) <= rel_err(full.final, exact) + 1e-12
    with pytest.raises(ValueError, match="x_start"):
        heun_sample(den, x_T, sig, start_index=k)
    with pytest.raises(ValueError, match="kick"):
        heun_sample(den, None, sig, start_index=k, x_start=x_k, kick=(k - 1, 1.0))
    with pytest.raises(ValueError, match="decreasing"):
        heun_sample(den, x_T, sig[::-1])


def test_euler_is_ddim_in_vp_coordinates(gauss):
    """Deterministic DDIM (eta = 0) on x_vp equals the Euler sampler on x = x_vp / sqrt(ab)."""
    model, den, x_T = gauss
    ab = th.ddpm_alpha_bar()[::-50]  # 20 DDPM timesteps, noisy -> clean
    sig = np.asarray(th.alpha_bar_to_sigma(ab))
    x_vp, _ = th.edm_to_vp(x_T, sig[0])
    for i in range(len(ab) - 1):
        x0_hat = den(x_vp / jnp.sqrt(ab[i]), sig[i])
        eps = (x_vp - jnp.sqrt(ab[i]) * x0_hat) / jnp.sqrt(1 - ab[i])
        x_vp = jnp.sqrt(ab[i + 1]) * x0_hat + jnp.sqrt(1 - ab[i + 1]) * eps
    euler = heun_sample(den, x_T, sig, second_order=False, return_trajectory=False)
    np.testing.assert_allclose(th.vp_to_edm(x_vp, ab[-1])[0], euler.final, rtol=1e-10)
