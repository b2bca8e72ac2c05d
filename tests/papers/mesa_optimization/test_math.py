"""Math of the mesa-optimization package: gradients, GD equivalence, reduced theory."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from papers.mesa_optimization import diagnostics as dg
from papers.mesa_optimization import fused, theory
from papers.mesa_optimization.data import embed, sample_sequences
from papers.mesa_optimization.model import (
    gd_one_step_prediction,
    init_weights,
    loss,
    predict,
    prepare,
    split_complex,
    targets,
)

jax.config.update("jax_enable_x64", True)


def _reference_loss(params, x):
    """The loss from the running sums C_t built explicitly (the earlier, memory-bound layout)."""
    e = embed(x)
    c = jnp.cumsum(e[:, :, :, None] * e[:, :, None, :].conj(), axis=1)[:, 1:-1]
    kq = params["kq_re"] + 1j * params["kq_im"]
    pv = params["pv_re"] + 1j * params["pv_im"]
    inv_rho = 1.0 / jnp.arange(1, x.shape[1] - 1)[:, None]
    v = jnp.einsum("mtij,jk,mtk->mti", c, kq, e[:, 1:-1]) * inv_rho
    r = v @ pv.T - x[:, 2:]
    return 0.5 * jnp.sum(jnp.abs(r) ** 2) / x.shape[0]


def _random_params(rng, d, scale=0.3):
    kq = scale * (rng.standard_normal((2 * d, 2 * d)) + 1j * rng.standard_normal((2 * d, 2 * d)))
    pv = scale * (rng.standard_normal((d, 2 * d)) + 1j * rng.standard_normal((d, 2 * d)))
    return split_complex(kq, pv)


def test_prediction_matches_direct_complex_formula():
    """predict() equals yhat_t = W_PV E_t E_t^H W_KQ e_t / (t-1), computed naively in complex."""
    rng = np.random.default_rng(0)
    x = sample_sequences(1, "train", 3, 7, 2, "sparse", 1.0)
    kq = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    pv = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    pred = np.asarray(predict(split_complex(kq, pv), prepare(x))).reshape(-1, 5, 2)[:3]
    e = embed(x)
    expected = np.zeros_like(pred)
    for s in range(3):
        for t in range(1, 6):  # 0-based index of t = 2..T-1
            big_e = e[s, : t + 1].T
            expected[s, t - 1] = pv @ big_e @ big_e.conj().T @ kq @ e[s, t] / t
    np.testing.assert_allclose(pred, expected, rtol=1e-12)


def _fused_grads(params, x, dtype=np.float64):
    numpy_params = {k: np.asarray(v) for k, v in params.items()}
    return fused.loss_and_grad(numpy_params, fused.planar(x, dtype))


@pytest.mark.parametrize("kind", ["gaussian", "sparse", "ones"])
def test_loss_and_gradient_match_explicit_running_sums(monkeypatch, kind):
    """The fused pass (blocks of 3 sequences: 7 = 3 + 3 + 1) and the chunked JAX loss (chunks
    of 3, the last one padded) equal the explicit-C_t loss and its jax.grad."""
    import papers.mesa_optimization.model as model

    monkeypatch.setattr(model, "CHUNK_ENTRIES", 3 * 10 * 9)
    monkeypatch.setattr(fused, "BLOCK", 3)
    x = sample_sequences(5, "train", 7, 12, 3, kind, 1.5)
    params = _random_params(np.random.default_rng(2), 3)
    batch = prepare(x)
    assert batch["s"].shape[:2] == (3, 3)
    value, grads = _fused_grads(params, x)
    ref_value, ref_grads = jax.value_and_grad(_reference_loss)(params, jnp.asarray(x))
    assert value == pytest.approx(float(ref_value), rel=1e-12)
    assert float(loss(params, batch)) == pytest.approx(float(ref_value), rel=1e-12)
    scale = max(float(jnp.abs(g).max()) for g in ref_grads.values())
    for name, g in ref_grads.items():
        np.testing.assert_allclose(grads[name], g, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("kind", ["gaussian", "sparse"])
def test_fused_test_statistics_match_the_model(kind):
    x = sample_sequences(3, "test", 9, 10, 3, kind, 1.0)
    params = _random_params(np.random.default_rng(3), 3)
    expected = dg.test_stats(params, prepare(x))
    got = fused.test_stats({k: np.asarray(v) for k, v in params.items()}, fused.planar(x))
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), rel=1e-12)


def test_fused_single_precision_follows_double():
    x = sample_sequences(4, "train", 20, 15, 3, "gaussian", 1.0)
    params = _random_params(np.random.default_rng(5), 3)
    v64, g64 = _fused_grads(params, x)
    v32, g32 = _fused_grads(params, x, np.float32)
    assert v32 == pytest.approx(v64, rel=1e-5)
    for name, g in g64.items():
        assert g32[name].dtype == np.float32
        np.testing.assert_allclose(g32[name], g, rtol=0, atol=1e-5 * np.abs(g).max())


def test_planar_rejects_sequences_of_another_system():
    x = sample_sequences(1, "train", 3, 6, 2, "gaussian", 1.0)
    x[1, 4] += 0.1
    with pytest.raises(ValueError, match="x_.t\\+1. = D x_t"):
        fused.planar(x)


def test_prepare_rejects_sequences_of_another_system():
    x = sample_sequences(1, "train", 3, 6, 2, "gaussian", 1.0)
    x[1, 4] += 0.1
    with pytest.raises(ValueError, match="x_.t\\+1. = D x_t"):
        prepare(x)


def test_real_pair_gradient_matches_finite_differences():
    """GD on (Re, Im) pairs: the gradient is (d loss / d Re, d loss / d Im), checked numerically."""
    x = sample_sequences(2, "train", 4, 8, 2, "gaussian", 1.0)
    batch = prepare(x)
    params = _random_params(np.random.default_rng(1), 2)
    grads = _fused_grads(params, x)[1]
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
    gd = np.asarray(gd_one_step_prediction(batch, float(dg.ab(params))))
    np.testing.assert_allclose(np.asarray(predict(params, batch)), gd, atol=1e-12)
    # and the GD step is the least-squares gradient step written from the sequence itself
    w1 = sum(np.outer(x[0, i], x[0, i - 1].conj()) for i in range(1, 4))  # i = 2..t, t = 4
    np.testing.assert_allclose(gd[0, 0, 2], 0.7 * 1.3 * w1 @ x[0, 3] / 3, atol=1e-12)
    # position 2 of sequence 0 is t = 4 (rho = 3)


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
    gd, y = np.asarray(gd_one_step_prediction(batch, 1.0)), np.asarray(targets(batch))
    n_emp = np.sum(np.real(gd * y.conj())) / 20000
    d_emp = np.sum(np.abs(gd) ** 2) / 20000
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


def test_reduced_gd_step_scales_a2_minus_b2_and_tracks_the_flow():
    """Plain GD multiplies a^2 - b^2 by 1 - lr^2 g^2 per step; at small steps it is the flow."""
    mom = theory.analytic_moments("gaussian", 1.0, 5, 40)
    lr = 0.5 / theory.max_curvature(2.0, 2.0, mom, 5, np.linspace(0, 1, 50))
    gd = theory.reduced_gd(2.0, 2.0 + 1e-3, mom, 5, lr, 3)
    g = (gd["ab"][:-1] * mom["D"] - mom["N"]) / 5
    np.testing.assert_allclose(gd["a2_minus_b2"][1:], gd["a2_minus_b2"][:-1] * (1 - lr**2 * g**2))
    assert theory.reduced_gd(0.5, 1.5, mom, 5, lr, 2000)["ab"][-1] == pytest.approx(
        theory.optimum(mom), rel=1e-9
    )
    small = lr / 100
    fine = theory.reduced_gd(0.5, 1.5, mom, 5, small, 1000)["ab"]
    flow = theory.reduced_flow(0.5, 1.5, mom, 5, small * np.arange(1001))["ab"]
    assert np.max(np.abs(fine - flow)) < 1e-2 * np.max(np.abs(flow - flow[0]))


def test_reduced_gd_limit_settles_at_the_optimum_where_the_epochs_stop_short():
    """The convergence claims' oracle: GD on the reduced problem iterated until ab stops moving
    reaches the optimum, where the same GD cut off at a few epochs (a short run) does not."""
    mom = theory.analytic_moments("sparse", 1.0, 5, 40)
    lr = 0.5 / theory.max_curvature(0.01, 0.01, mom, 5, np.linspace(0, 1, 50))
    ab, epochs = theory.reduced_gd_limit(0.01, 0.01, mom, 5, lr)
    assert ab == pytest.approx(theory.optimum(mom), rel=1e-9) and epochs > 50
    assert theory.reduced_gd(0.01, 0.01, mom, 5, lr, epochs)["ab"][-1] == pytest.approx(ab)
    short = theory.reduced_gd(0.01, 0.01, mom, 5, lr, 20)["ab"][-1]
    assert abs(short / theory.optimum(mom) - 1) > 0.05


def _noise_slope_dev(seed: int, repeats: int, mean: float = 0.0) -> float:
    """|slope + 1/2| of ``block_rms`` on zero-mean complex terms (plus ``mean``), in blocks
    of 16, sizes 16..256, with ``repeats`` independent sets of the largest size."""
    rng = np.random.default_rng(seed)
    shape = (repeats * 16, 16, 6)
    terms = rng.standard_normal(shape) + 1j * rng.standard_normal(shape) + mean
    return abs(theory.log_slope(*dg.block_rms(terms.sum(axis=1), 16, 5)) + 0.5)


def test_block_rms_slope_tells_zero_mean_noise_from_a_mean():
    """The C1a instrument: slope -1/2 for zero-mean terms, about 0 once a mean dominates."""
    assert _noise_slope_dev(3, 16) < 0.1
    assert _noise_slope_dev(3, 16, mean=2.0) == pytest.approx(0.5, abs=0.1)


def test_block_rms_repeats_make_the_zero_mean_slope_precise():
    """One set of the largest size (the old instrument) lets a zero-mean slope stray past
    C1a's 0.1; sixteen sets keep every one of 20 draws within it."""
    assert max(_noise_slope_dev(s, 1) for s in range(20)) > 0.1
    assert max(_noise_slope_dev(s, 16) for s in range(20)) < 0.1


def test_noise_split_is_independent_and_leaves_train_and_test_unchanged():
    train = sample_sequences(2, "train", 4, 3, 2, "gaussian", 1.0)
    rng = np.random.default_rng([2, 0])
    theta = rng.uniform(0.0, 2.0 * np.pi, size=(4, 2))
    np.testing.assert_allclose(train[:, 0].real, rng.standard_normal((4, 2)))
    np.testing.assert_allclose(train[:, 1] / train[:, 0], np.exp(1j * theta))
    blocks = [sample_sequences(2, "noise", 4, 3, 2, "gaussian", 1.0, b) for b in (0, 1)]
    assert not np.allclose(blocks[0], blocks[1]) and not np.allclose(blocks[0], train)
    with pytest.raises(ValueError, match="split must be"):
        sample_sequences(2, "valid", 4, 3, 2, "gaussian", 1.0)


def test_trajectory_gap_is_relative_to_the_reference_curve():
    """C7: a trained ab 1% off the reduced GD all along a trajectory that starts 100 times
    above the optimum is a 1% gap (the gap over the optimum would read 1.0)."""
    from papers.mesa_optimization.evaluate import reduced_references

    mom = {"N": 1.0, "D": 1.0, "K": 2.0}
    disc = theory.reduced_gd(10.0, 10.0, mom, 5, 0.01, 400)
    epochs = np.r_[0, 1, np.arange(20, 401, 20)]
    log = pd.DataFrame({"epoch": epochs, "ab": 1.01 * disc["ab"][epochs], "a2_minus_b2": 0.0,
                        "a2_plus_b2": 1.0, "offblock_ratio": 0.0})  # fmt: skip
    limit = theory.reduced_gd_limit(10.0, 10.0, mom, 5, 0.01)
    refs = reduced_references(100.0, log, disc, limit, mom, theory.optimum(mom))
    assert refs["discrete_max_dev"] == pytest.approx(0.01)
    assert refs["discrete_dev_first_step"] == pytest.approx(0.01)
    assert refs["frozen_max_dev"] > 10


def test_offblock_gradient_is_the_mean_of_per_sequence_terms():
    x = sample_sequences(6, "train", 5, 9, 2, "ones", 1.0)
    batch = prepare(x)
    params = _random_params(np.random.default_rng(4), 2)
    per_seq = dg.offblock_gradients(params, batch)
    grads = _fused_grads(params, x)[1]
    masks = dg.offblock_masks(2)
    full = [
        np.asarray(grads[f"{n}_re"] + 1j * grads[f"{n}_im"])[np.asarray(masks[n]) > 0]
        for n in ("kq", "pv")
    ]
    np.testing.assert_allclose(per_seq.mean(axis=0), np.concatenate(full), atol=1e-12)


@pytest.mark.parametrize("balanced", [True, False])
def test_balanced_set_zeroes_the_offblock_gradient(balanced):
    """On the balanced set the off-block gradient at block-diagonal weights vanishes and every
    coordinate's block gradient is the same; on an i.i.d. set of the same size it does not."""
    d, T = 3, 12
    kind = "balanced" if balanced else "gaussian"
    x = sample_sequences(0, "train", 700, T, d, kind, 1.0)
    assert x.shape[0] == (648 if balanced else 700)
    params = split_complex(*init_weights(d, "diagonal", 0.7, 0.3, 1.0, 0))
    grads = _fused_grads(params, x)[1]
    masks = dg.offblock_masks(d)
    off = sum(float(jnp.sum(grads[k] ** 2 * masks[k[:2]])) for k in grads)
    total = sum(float(jnp.sum(grads[k] ** 2)) for k in grads)
    block = np.diagonal(np.asarray(grads["kq_re"])[d:, :d])
    if balanced:
        assert off < 1e-24 * total
        np.testing.assert_allclose(block, block[0], rtol=1e-12)
    else:
        assert off > 1e-3 * total


def test_balanced_family_only_arranges_the_training_set():
    train = sample_sequences(1, "train", 1300, 5, 3, "balanced", 1.0)
    assert train.shape[0] == 2 * 648
    np.testing.assert_array_equal(
        sample_sequences(1, "test", 50, 5, 3, "balanced", 1.0),
        sample_sequences(1, "test", 50, 5, 3, "gaussian", 1.0),
    )
