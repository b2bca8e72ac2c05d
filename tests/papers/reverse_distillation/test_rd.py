"""Invariants of reverse distillation: nesting, dimensions, decorrelation, affinity, noise rank."""

import numpy as np
import pytest

from papers.reverse_distillation.rd import (
    apply_chain,
    fit_chain,
    fit_naive_chain,
    fit_step,
    load_chain,
    noise_rank,
    save_chain,
)

DIMS = (6, 10, 16)


def family(n=600, seed=0):
    """Correlated embeddings of increasing width sharing a latent signal."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 20))
    return [z @ rng.normal(size=(20, d)) + 0.3 * rng.normal(size=(n, d)) + 5.0 for d in DIMS]


@pytest.mark.parametrize("kind", ["pcr", "ols", "ridge"])
def test_chain_nests_exactly_with_raw_dimensions(kind):
    embs = family()
    rd = apply_chain(fit_chain(embs, kind), family(n=50, seed=1))
    assert [r.shape[1] for r in rd] == list(DIMS)
    for k in range(len(rd)):
        for j in range(k):
            assert np.array_equal(rd[k][:, : DIMS[j]], rd[j])


def test_ols_prefix_and_new_block_uncorrelated_on_fitting_set():
    embs = family()
    X = embs[0]
    out = fit_step(X, embs[1], "ols").transform(X, embs[1])
    corr = np.corrcoef(out, rowvar=False)[: DIMS[0], DIMS[0] :]
    assert np.abs(corr).max() <= 1e-4
    # not true for a non-least-squares map: the check can fail
    shifted = fit_step(X, embs[1], "ridge", alpha=1e5).transform(X, embs[1])
    assert np.abs(np.corrcoef(shifted, rowvar=False)[: DIMS[0], DIMS[0] :]).max() > 1e-2


@pytest.mark.parametrize("kind", ["pcr", "ols", "ridge"])
def test_rd_of_mean_equals_mean_of_rd(kind):
    steps = fit_chain(family(), kind)
    residues = family(n=37, seed=2)  # one protein's per-residue rows
    rd_of_mean = apply_chain(steps, [e.mean(axis=0, keepdims=True) for e in residues])[-1]
    mean_of_rd = apply_chain(steps, residues)[-1].mean(axis=0, keepdims=True)
    np.testing.assert_allclose(rd_of_mean, mean_of_rd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("r", [1, 3, 7])
def test_noise_threshold_keeps_exactly_the_planted_spikes(r):
    rng = np.random.default_rng(r)
    n, p = 4000, 60
    X = rng.normal(size=(n, p))  # white noise, variance 1
    basis = np.linalg.qr(rng.normal(size=(p, p)))[0][:, :r]
    X += rng.normal(size=(n, r)) * np.sqrt(np.linspace(2.0, 6.0, r)) @ basis.T if r else 0.0
    eig = np.linalg.eigvalsh(np.cov(X, rowvar=False))
    # every spike, and at most the largest noise eigenvalue, which the reference's asymptotic
    # Marchenko-Pastur edge (no finite-n Tracy-Widom margin) lets through now and then
    assert r <= noise_rank(eig, n) <= r + 1


def test_noise_rank_is_the_references_median_rule_on_a_decaying_spectrum():
    """Geometric spectrum 0.8^i, p=40, n large (edge ~1): the eigenvalues below mean * edge are
    0.8^10 ... 0.8^39, their median 0.8^24.5 sets sigma^2 and 25 components clear it. A
    mean-of-the-bulk noise estimate (the package's former rule) would keep 19."""
    eig = 0.8 ** np.arange(40)
    n = 10**9
    assert noise_rank(eig, n) == 25
    edge = (1 + np.sqrt(40 / n)) ** 2
    assert int(np.sum(eig > eig[10:].mean() * edge)) == 19  # the rules differ here


def test_noise_rank_falls_back_to_95_percent_of_the_variance():
    eig = np.ones(10)  # flat: nothing clears sigma^2 * edge
    assert noise_rank(eig, 1000) == 10


def test_pcr_keeps_few_components_on_low_rank_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3)) @ rng.normal(size=(3, 12)) * 3 + rng.normal(size=(2000, 12))
    Y = np.concatenate([X, rng.normal(size=(2000, 8))], axis=1)
    assert int(fit_step(X, Y, "pcr").kept) == 3


def test_scaler_round_trip(tmp_path):
    embs = family()
    steps = fit_chain(embs, "pcr")
    save_chain(tmp_path / "s.npz", steps)
    loaded = load_chain(tmp_path / "s.npz")
    for a, b in zip(apply_chain(steps, embs), apply_chain(loaded, embs), strict=True):
        assert np.array_equal(a, b)
    assert not list(tmp_path.glob(".*tmp"))


def test_naive_baseline_has_equal_dimension_but_does_not_nest():
    embs = family()
    steps = fit_naive_chain(embs)
    X = embs[0]
    outs = []
    for step, Y in zip(steps, embs[1:], strict=True):
        X = step.transform(X, Y)
        outs.append(X)
    assert [o.shape[1] for o in outs] == list(DIMS[1:])
    assert not np.allclose(outs[1][:, : DIMS[1]], outs[0])


def test_bad_inputs_are_clear_errors():
    embs = family()
    with pytest.raises(ValueError, match="rd.regressor must be one of"):
        fit_step(embs[0], embs[1], "lasso")
    with pytest.raises(ValueError, match="must be wider"):
        fit_step(embs[1], embs[0])
    with pytest.raises(ValueError, match="need 3 embeddings"):
        apply_chain(fit_chain(embs), embs[:2])
