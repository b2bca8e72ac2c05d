"""Closed-form Gaussian theory of outline_first: denoiser, PF-ODE solution, gains, geometry."""

import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.stats import spearmanr

from papers.outline_first import theory as th
from papers.outline_first.sampler import karras_sigmas

jax.config.update("jax_enable_x64", True)


def random_model(seed: int, lam, k: int | None = None, mean_scale: float = 1.0):
    """Gaussian with eigenvalues ``lam`` along a random orthonormal basis (first k kept)."""
    rng = np.random.default_rng(seed)
    lam = np.asarray(lam, dtype=np.float64)
    d = lam.size
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    k = d if k is None else k
    return th.GaussianModel(mean_scale * rng.standard_normal(d), lam[:k], q[:, :k])


def conditioning_formula(model, x, sigma):
    """mu + Sigma (Sigma + sigma^2 I)^-1 (x - mu), dense."""
    cov = th.covariance(model)
    gain = cov @ np.linalg.inv(cov + sigma**2 * np.eye(cov.shape[0]))
    return model.mean + (np.asarray(x) - model.mean) @ gain.T


# ---------------------------------------------------------------- fit and denoiser


def test_fit_gaussian_full_and_rank_deficient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 5)) @ rng.standard_normal((5, 5)) + 3.0
    m = th.fit_gaussian(x)
    assert m.eigvecs.shape == (5, 5) and np.all(np.diff(m.eigvals) <= 0)
    np.testing.assert_allclose(m.mean, x.mean(0), atol=1e-12)
    np.testing.assert_allclose(th.covariance(m), np.cov(x, rowvar=False), atol=1e-10)
    np.testing.assert_allclose(m.eigvecs.T @ m.eigvecs, np.eye(5), atol=1e-12)
    low = rng.standard_normal((300, 2)) @ rng.standard_normal((2, 6))  # rank 2 in D = 6
    ml = th.fit_gaussian(low)
    assert ml.eigvals.shape == (6,) and np.all(ml.eigvals >= 0)
    assert ml.eigvals[2:].max() < 1e-12 * ml.eigvals[0] and ml.eigvals[1] > 1e-3
    assert th.fit_gaussian(low, rank=2).eigvecs.shape == (6, 2)
    with pytest.raises(ValueError, match="rank"):
        th.fit_gaussian(low, rank=7)


@pytest.mark.parametrize("case", ["full", "zero_eigvals", "k_less_than_d"])
def test_denoiser_matches_gaussian_conditioning(case):
    lam = {"full": [3.0, 1.0, 0.3, 0.05, 0.01], "zero_eigvals": [2.0, 0.5, 0.1, 0.0, 0.0]}
    model = (
        random_model(1, [2.0, 0.5, 0.1, 9.0, 9.0], k=3)
        if case == "k_less_than_d"
        else random_model(1, lam[case])
    )
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5)) * 2.0
    for sigma in (0.05, 0.7, 12.0):
        np.testing.assert_allclose(
            th.gaussian_denoiser(model, x, sigma), conditioning_formula(model, x, sigma), atol=1e-11
        )
    # per-sample sigma with shape a prefix of x.shape[:-1], and under jit
    sig = np.array([0.1, 1.0])
    got = jax.jit(lambda x, s: th.gaussian_denoiser(model, x, s))(x, sig)
    for i, s in enumerate(sig):
        np.testing.assert_allclose(got[i], conditioning_formula(model, x[i], s), atol=1e-11)


def test_denoiser_is_posterior_mean_monte_carlo():
    """Self-normalised importance sampling of E[x0 | x]; tolerance = 5 delta-method SEs."""
    model = random_model(3, [2.0, 1.0, 0.5])
    sigma = 1.0
    rng = np.random.default_rng(4)
    n = 400_000
    x0 = model.mean + (rng.standard_normal((n, 3)) * np.sqrt(model.eigvals)) @ model.eigvecs.T
    x = model.mean + np.array([1.2, -0.8, 0.5])  # a typical noisy point
    logw = -0.5 * np.sum((x - x0) ** 2, axis=1) / sigma**2
    w = np.exp(logw - logw.max())
    w /= w.sum()
    est = w @ x0
    se = np.sqrt(np.sum(w[:, None] ** 2 * (x0 - est) ** 2, axis=0))
    ess = 1.0 / np.sum(w**2)
    assert ess > 5_000  # a sample size that makes the SE meaningful
    exact = np.asarray(th.gaussian_denoiser(model, x, sigma))
    assert np.all(np.abs(est - exact) < 5 * se), (est, exact, se)
    # the check has power: the common slip sigma instead of sigma^2 is far outside it
    wrong = np.asarray(th.gaussian_denoiser(model, x, np.sqrt(sigma * 0.5)))
    assert np.max(np.abs(est - wrong) / se) > 20


# ---------------------------------------------------------------- closed form


@pytest.mark.parametrize(
    "lam, k",
    [
        (np.logspace(0.5, -2, 6), None),  # full rank
        ([3.0, 1.0, 0.1, 0.02, 0.0, 0.0], None),  # singular, all D directions kept
        ([3.0, 0.5, 0.01, 1.0, 1.0, 1.0], 3),  # K = 3 < D = 6: complement scales as sigma
    ],
)
def test_closed_form_matches_numerical_ode(lam, k):
    """Solve dx/dlog(sigma) = x - D(x; sigma) (= sigma dx/dsigma) from 80 to 0.01, DOP853."""
    model = random_model(5, lam, k=k, mean_scale=0.5)
    rng = np.random.default_rng(6)
    sigma_T = 80.0
    x_T = model.mean + sigma_T * rng.standard_normal((3, 6))
    sigmas = np.geomspace(sigma_T, 0.01, 40)

    def rhs(t, y):
        x = y.reshape(3, 6)
        return (x - np.asarray(th.gaussian_denoiser(model, x, np.exp(t)))).ravel()

    sol = solve_ivp(
        rhs,
        (np.log(sigma_T), np.log(0.01)),
        x_T.ravel(),
        t_eval=np.log(sigmas),
        method="DOP853",
        rtol=1e-10,
        atol=1e-12,
    )
    assert sol.success
    numeric = sol.y.T.reshape(40, 3, 6)
    exact = np.asarray(th.closed_form(model, x_T, sigma_T, sigmas))
    assert exact.shape == (40, 3, 6)
    rel = np.linalg.norm(exact - numeric, axis=-1) / np.linalg.norm(numeric, axis=-1)
    assert rel.max() < 1e-4, rel.max()


def test_closed_form_identity_semigroup_and_shapes():
    model = random_model(7, [2.0, 0.4, 0.05, 0.0], k=3)  # zero variance + a complement
    rng = np.random.default_rng(8)
    x_T = rng.standard_normal((5, 4)) * 10
    np.testing.assert_allclose(th.closed_form(model, x_T, 10.0, 10.0), x_T, atol=1e-12)
    mid = th.closed_form(model, x_T, 10.0, 1.5)
    np.testing.assert_allclose(
        th.closed_form(model, mid, 1.5, 0.2), th.closed_form(model, x_T, 10.0, 0.2), atol=1e-12
    )
    assert th.closed_form(model, x_T[0], 10.0, 1.0).shape == (4,)
    assert th.closed_form(model, x_T, 10.0, np.array([3.0, 1.0])).shape == (2, 5, 4)
    # at sigma = 0 the sample lies in mu + span(U) (the complement is gone)
    end = np.asarray(th.closed_form(model, x_T, 10.0, 0.0)) - model.mean
    np.testing.assert_allclose(end - end @ model.eigvecs @ model.eigvecs.T, 0.0, atol=1e-12)


# ---------------------------------------------------------------- outline first, kicks


@pytest.mark.parametrize("frac", [2**-0.5, 0.9])
def test_commitment_of_closed_form_denoised_estimates(frac):
    lam = np.logspace(1, -3, 8)
    model = random_model(9, lam)
    sigmas = karras_sigmas(51, 0.002, 80.0, 7.0)
    rng = np.random.default_rng(10)
    x_T = model.mean + 80.0 * rng.standard_normal((4, 8))
    states = th.closed_form(model, x_T, 80.0, sigmas)  # (S, N, D)
    den = th.gaussian_denoiser(model, states, sigmas)
    coeffs = np.asarray(th.pca_coefficients(model, den))  # (S, N, K)
    true = np.asarray(th.commitment_sigma(lam, frac))
    if frac == 2**-0.5:
        np.testing.assert_allclose(true, np.sqrt(lam), rtol=1e-12)
    grid = th.empirical_commitment(sigmas, coeffs, frac, interpolate=False)
    interp = th.empirical_commitment(sigmas, coeffs, frac)
    assert grid.shape == interp.shape == (4, 8)
    first = np.argmax(sigmas[None, :] <= true[:, None], axis=1)  # first level below sigma*
    np.testing.assert_array_equal(grid, np.broadcast_to(sigmas[first], (4, 8)))
    assert np.all((interp >= sigmas[first]) & (interp <= sigmas[first - 1]))
    cell = np.log(sigmas[first - 1] / sigmas[first])
    assert np.all(np.abs(np.log(interp / true)) < cell)
    # larger variance commits earlier (higher sigma), in every sample
    assert np.all(np.diff(interp, axis=1) < 0)
    assert spearmanr(lam, interp[0]).statistic == pytest.approx(1.0)


def test_empirical_commitment_must_stay_committed():
    sigmas = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    c = np.array([0.0, 0.95, 0.3, 0.92, 0.99, 1.0])  # enters the 10% band, leaves, re-enters
    assert th.empirical_commitment(sigmas, c, 0.9, interpolate=False) == 2.0
    # interpolation between sigma 3 (gap 0.6) and 2 (gap -0.02): 3 - 0.6 / 0.62
    assert th.empirical_commitment(sigmas, c, 0.9) == pytest.approx(3.0 - 0.6 / 0.62)
    assert th.empirical_commitment(sigmas, np.ones(6), 0.9) == 5.0  # committed throughout
    with pytest.raises(ValueError, match="frac"):
        th.empirical_commitment(sigmas, c, 1.5)
    assert float(th.commitment_sigma(2.0, 1.0)) == 0.0


def test_kick_gains_match_closed_form():
    lam = np.array([4.0, 0.5, 0.01, 0.0])
    model = random_model(11, lam)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4))
    for sigma in (20.0, 1.0, 0.05):
        base = th.closed_form(model, x, sigma, 0.0)
        for k in range(4):
            moved = th.closed_form(model, x + model.eigvecs[:, k], sigma, 0.0) - base
            gain = float(th.edm_kick_gain(lam[k], sigma))
            np.testing.assert_allclose(
                moved, np.broadcast_to(gain * model.eigvecs[:, k], (3, 4)), atol=1e-12
            )
    s = np.array([0.0, 0.5, 3.0, 1e4])
    np.testing.assert_allclose(
        th.perturbation_gain(2.0, s), np.sqrt(1 + s**2) * th.edm_kick_gain(2.0, s), rtol=1e-12
    )
    np.testing.assert_allclose(th.perturbation_gain(np.array([2.0, 0.3]), 0.0), 1.0)
    np.testing.assert_allclose(th.perturbation_gain(2.0, 1e6), np.sqrt(2.0), rtol=1e-6)
    assert float(th.edm_kick_gain(0.0, 0.0)) == 1.0 and float(th.edm_kick_gain(0.0, 1.0)) == 0.0


# ---------------------------------------------------------------- VP <-> EDM


def test_vp_edm_conversions_and_forward_marginal():
    rng = np.random.default_rng(13)
    x0, n = rng.standard_normal((2, 3, 4))
    sigma = np.array([0.3, 2.0])
    x_vp, ab = th.edm_to_vp(x0[None] + sigma[:, None, None] * n, sigma)
    # the DDPM marginal: sqrt(ab) x0 + sqrt(1 - ab) n (square roots, not ab itself)
    want = np.sqrt(ab)[:, None, None] * x0 + np.sqrt(1 - ab)[:, None, None] * n
    np.testing.assert_allclose(x_vp, want, atol=1e-12)
    back, sig = th.vp_to_edm(x_vp, ab)
    np.testing.assert_allclose(sig, sigma, rtol=1e-12)
    np.testing.assert_allclose(back, x0[None] + sigma[:, None, None] * n, atol=1e-12)
    ab_t = th.ddpm_alpha_bar()
    assert ab_t.shape == (1000,) and np.all(np.diff(ab_t) < 0)
    assert 80 < float(th.alpha_bar_to_sigma(ab_t[-1])) < 160  # DDPM's sigma_max ~ 157


# ---------------------------------------------------------------- geometry


def test_rotation_formula():
    c, s = th.rotation_coefficients(np.array([0.0, 1.0, 80.0]))
    np.testing.assert_allclose(c**2 + s**2, 1.0)
    np.testing.assert_allclose(c, np.sqrt(th.sigma_to_alpha_bar(np.array([0.0, 1.0, 80.0]))))
    # a point mass: the PF-ODE path is x0 + sigma n, a rotation in VP coordinates
    rng = np.random.default_rng(14)
    x0, noise = rng.standard_normal((2, 2, 16))
    sigmas = karras_sigmas(20, 0.002, 80.0, 7.0)
    traj = x0[:, None, :] + sigmas[None, :, None] * noise[:, None, :]  # (B, S, D)
    exact = th.rotation_error(sigmas, traj, exact_endpoints=True)
    assert exact.shape == (2, 21) and exact.max() < 1e-12
    approx = th.rotation_error(sigmas, traj)  # n = x_T / sigma_T: O(|x0| / |x_T|) error
    assert 1e-4 < approx.max() < 3 * np.linalg.norm(x0, axis=-1).max() / 80
    # a state off the rotation is detected
    bent = traj.copy()
    bent[:, 10] += 0.5 * rng.standard_normal((2, 16))
    assert th.rotation_error(sigmas, bent, exact_endpoints=True)[:, 10].min() > 0.05


def test_geometry_edge_cases():
    t = np.linspace(0, np.pi / 2, 30)
    a, b, c = np.eye(3)
    arc = np.cos(t)[:, None] * a + np.sin(t)[:, None] * b  # a rotation from a to b
    assert th.top2_variance_share(arc) == pytest.approx(1.0)
    assert th.span_projection_error(arc).max() < 1e-12
    helix = np.stack([np.cos(4 * t), np.sin(4 * t), t], axis=1)
    share = th.top2_variance_share(helix)
    sv = np.linalg.svd(helix - helix.mean(0), compute_uv=False) ** 2
    assert share == pytest.approx(sv[:2].sum() / sv.sum()) and share < 0.99
    line = np.linspace(0, 1, 10)[:, None] * (a + b)
    assert th.top2_variance_share(line) == pytest.approx(1.0)
    assert th.top2_variance_share(np.ones((5, 3))) == 1.0
    # an orthogonal bump of known size in the middle state
    bumped = arc.copy()
    bumped[15] += 0.3 * c
    err = th.span_projection_error(bumped)
    assert err[15] == pytest.approx(0.3 / np.linalg.norm(bumped[15]))
    assert np.delete(err, 15).max() < 1e-12
    # parallel endpoints: the span is a line; a zero state has error 0
    par = np.stack([a, 0 * a, b, 2 * a])
    np.testing.assert_allclose(th.span_projection_error(par), [0.0, 0.0, 1.0, 0.0], atol=1e-12)
    batch = np.stack([arc, bumped])
    assert th.top2_variance_share(batch).shape == (2,)
    assert th.span_projection_error(batch).shape == (2, 30)


def test_geometry_of_gaussian_trajectories():
    """Concentrated data (small variance around a nonzero mean): near-planar trajectories."""
    lam = np.logspace(0, -2, 8)
    sigmas = karras_sigmas(51, 0.002, 80.0, 7.0)
    errs = {}
    for spread in (1.0, 0.1):
        model = random_model(15, spread**2 * lam, mean_scale=3.0)
        rng = np.random.default_rng(16)
        x_T = model.mean + 80.0 * rng.standard_normal((6, 8))
        traj = np.swapaxes(np.asarray(th.closed_form(model, x_T, 80.0, sigmas)), 0, 1)
        assert np.all(th.top2_variance_share(traj) > 0.99)
        errs[spread] = th.span_projection_error(traj).max()
    assert errs[0.1] < 0.02
    assert errs[1.0] > 2 * errs[0.1]  # less concentrated data bend out of the plane more


# ---------------------------------------------------------------- null models and x_0 residual


def test_isotropic_and_shuffled_nulls_keep_mean_and_total_variance():
    model = random_model(4, [5.0, 2.0, 1.0, 0.5, 0.1])
    iso, shuf = th.isotropic(model), th.shuffled(model, seed=1)
    for null in (iso, shuf):
        np.testing.assert_array_equal(null.mean, model.mean)
        np.testing.assert_array_equal(null.eigvecs, model.eigvecs)
        assert np.trace(th.covariance(null)) == pytest.approx(np.trace(th.covariance(model)))
    np.testing.assert_allclose(iso.eigvals, np.full(5, 1.72))
    np.testing.assert_array_equal(np.sort(shuf.eigvals), np.sort(model.eigvals))
    assert not np.array_equal(shuf.eigvals, model.eigvals)
    np.testing.assert_array_equal(shuf.eigvals, th.shuffled(model, seed=1).eigvals)


def test_x0_plane_residual_is_zero_for_a_planar_rotation_and_not_for_a_gaussian():
    rng = np.random.default_rng(5)
    x_T, x_0 = 80.0 * rng.standard_normal((6, 16)), rng.standard_normal((6, 16))
    t = np.linspace(0.0, np.pi / 2, 11)[None, :, None]
    planar = np.cos(t) * x_T[:, None] + np.sin(t) * x_0[:, None]
    res = th.x0_plane_residual(planar)
    assert res.shape == (6, 11)
    cos2 = np.sum(x_T * x_0, -1) ** 2 / (np.sum(x_T**2, -1) * np.sum(x_0**2, -1))
    np.testing.assert_allclose(res[:, 0], 1 - cos2, rtol=1e-9)  # x_T alone spans a line
    assert res[:, 1:].max() < 1e-12
    model = random_model(2, np.geomspace(4.0, 0.01, 16))
    sig = karras_sigmas(21)
    gauss = np.swapaxes(np.asarray(th.closed_form(model, x_T, sig[0], sig)), 0, 1)
    assert th.x0_plane_residual(gauss)[:, 1:-1].mean() > 1e-3  # the target is set gradually
    assert th.x0_plane_residual(gauss)[:, -1].max() < 1e-12
