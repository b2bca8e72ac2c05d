"""Math of the mesa-optimization package: gradients, GD equivalence, reduced theory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from papers.mesa_optimization import diagnostics as dg
from papers.mesa_optimization import theory
from papers.mesa_optimization.data import embed, sample_sequences
from papers.mesa_optimization.model import (
    gd_one_step_prediction,
    init_weights,
    loss,
    predict,
    prepare,
    split_complex,
)

jax.config.update("jax_enable_x64", True)


def test_prediction_matches_direct_complex_formula():
    """predict() equals yhat_t = W_PV E_t E_t^H W_KQ e_t / (t-1), computed naively in complex."""
    rng = np.random.default_rng(0)
    x = sample_sequences(1, "train", 3, 7, 2, "gaussian", 1.0)
    kq = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    pv = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    pr, pi = predict(split_complex(kq, pv), prepare(x))
    e = embed(x)
    expected = []
    for s in range(3):
        for t in range(1, 6):  # 0-based index of t = 2..T-1
            big_e = e[s, : t + 1].T
            expected.append(pv @ big_e @ big_e.conj().T @ kq @ e[s, t] / t)
    np.testing.assert_allclose(pr + 1j * pi, np.array(expected), rtol=1e-12)


def test_real_pair_gradient_matches_finite_differences():
    """GD on (Re, Im) pairs: the gradient is (d loss / d Re, d loss / d Im), checked numerically."""
    rng = np.random.default_rng(1)
    x = sample_sequences(2, "train", 4, 8, 2, "gaussian", 1.0)
    batch = prepare(x)
    kq = 0.3 * (rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4)))
    pv = 0.3 * (rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4)))
    params = split_complex(kq, pv)
    grads = jax.grad(loss)(params, batch)
    h = 1e-6
    for name in ("kq_re", "kq_im", "pv_re", "pv_im"):
        for idx in [(0, 1), (1, 2), (1, 0)]:
            up = {**params, name: params[name].at[idx].add(h)}
            down = {**params, name: params[name].at[idx].add(-h)}
            numeric = (loss(up, batch) - loss(down, batch)) / (2 * h)
            assert float(grads[name][idx]) == pytest.approx(float(numeric), rel=1e-6, abs=1e-8)


def test_jax_complex_gradient_is_the_conjugate_pitfall():
    """Why real pairs: JAX's gradient w.r.t. a complex weight is conj of the real-pair step."""
    z = jnp.asarray(0.3 + 0.4j)
    target = 1.0 - 2.0j

    def f(w):
        return jnp.abs(w * z - target) ** 2

    w0 = 0.5 + 0.1j
    g_complex = jax.grad(f)(jnp.asarray(w0))
    g_re = jax.grad(lambda a, b: f(a + 1j * b), argnums=(0, 1))(w0.real, w0.imag)
    assert complex(g_complex) == pytest.approx(complex(g_re[0] - 1j * g_re[1]))


def test_hand_built_model_is_one_gd_step():
    """With W_KQ[d:, :d] = a I and W_PV[:, :d] = b I the model equals one GD step at eta = ab."""
    x = sample_sequences(3, "train", 5, 10, 3, "gaussian", 1.0)
    batch = prepare(x)
    kq, pv = init_weights(3, "diagonal", 0.7, 1.3, 1.0, 0)
    params = split_complex(kq, pv)
    pr, pi = predict(params, batch)
    gr, gi = gd_one_step_prediction(batch, float(dg.ab(params)))
    np.testing.assert_allclose(np.asarray(pr), gr, atol=1e-12)
    np.testing.assert_allclose(np.asarray(pi), gi, atol=1e-12)
    # and the GD step is the least-squares gradient step written from the sequence itself
    w1 = sum(np.outer(x[0, i], x[0, i - 1].conj()) for i in range(1, 4))  # i = 2..t, t = 4
    np.testing.assert_allclose(
        (gr + 1j * gi)[2], 0.7 * 1.3 * w1 @ x[0, 3] / 3, atol=1e-12
    )  # row 2 = sequence 0, t = 4 (rho = 3)


def test_reduced_flow_conserves_a2_minus_b2_and_reaches_optimum():
    mom = theory.analytic_moments("gaussian", 1.0, 5, 50)
    flow = theory.reduced_flow(0.5, 1.5, mom, 5, np.linspace(0, 0.1, 200))
    np.testing.assert_allclose(flow["a2_minus_b2"], 0.5**2 - 1.5**2, atol=1e-8)
    assert flow["ab"][-1] == pytest.approx(theory.optimum(mom), rel=1e-6)


def test_finite_T_optimum_limits():
    """Sparse: exactly 1/c^2. Gaussian: below 1/(5 sigma^2), approaching it as T grows."""
    assert theory.optimum(theory.analytic_moments("sparse", 2.0, 5, 50)) == pytest.approx(0.25)
    opts = [
        theory.optimum(theory.analytic_moments("gaussian", 1.0, 5, T)) for T in (50, 500, 50000)
    ]
    assert opts[0] < opts[1] < opts[2] < 0.2
    assert opts[2] == pytest.approx(0.2, rel=1e-3)


def test_analytic_moments_match_monte_carlo():
    """Population N, D agree with the same sums on many sampled sequences."""
    x = sample_sequences(4, "train", 20000, 12, 3, "gaussian", 1.0)
    batch = prepare(x)
    gr, gi = gd_one_step_prediction(batch, 1.0)
    n_emp = np.sum(gr * np.asarray(batch["yr"]) + gi * np.asarray(batch["yi"])) / 20000
    d_emp = np.sum(gr**2 + gi**2) / 20000
    mom = theory.analytic_moments("gaussian", 1.0, 3, 12)
    assert n_emp == pytest.approx(mom["N"], rel=0.05)
    assert d_emp == pytest.approx(mom["D"], rel=0.08)


def test_data_families():
    sparse = sample_sequences(0, "train", 50, 4, 5, "sparse", 2.0)[:, 0].real
    assert np.all(np.count_nonzero(sparse, axis=1) == 1) and set(np.abs(sparse[sparse != 0])) == {
        2.0
    }
    ones = sample_sequences(0, "train", 3, 4, 5, "ones", 1.0)
    np.testing.assert_allclose(np.abs(ones), 1.0)
    a = sample_sequences(9, "train", 4, 5, 2, "gaussian", 1.0)
    assert np.array_equal(a, sample_sequences(9, "train", 4, 5, 2, "gaussian", 1.0))
    assert not np.allclose(a, sample_sequences(9, "test", 4, 5, 2, "gaussian", 1.0))
    with pytest.raises(ValueError, match="data.x1"):
        sample_sequences(0, "train", 2, 3, 2, "laplace", 1.0)
