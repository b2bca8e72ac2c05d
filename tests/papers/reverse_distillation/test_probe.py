"""Fold splitters and the ridge probe of the supervised ProteinGym protocol."""

import numpy as np
import pytest

from papers.reverse_distillation.probe import fold_ids, out_of_fold, probe_spearman, ridge_loo

POSITIONS = np.repeat(np.arange(48), 19)  # all single mutants of a 48-residue protein


def test_random_split_is_balanced_and_seeded():
    f = fold_ids(POSITIONS, "random", 5, seed=0)
    counts = np.bincount(f)
    assert len(counts) == 5 and counts.max() - counts.min() <= 1
    assert np.array_equal(f, fold_ids(POSITIONS, "random", 5, seed=0))
    assert not np.array_equal(f, fold_ids(POSITIONS, "random", 5, seed=1))


def test_modulo_split_by_position():
    f = fold_ids(POSITIONS, "modulo", 5)
    assert np.array_equal(f, POSITIONS % 5)


def test_contiguous_split_makes_consecutive_blocks():
    f = fold_ids(POSITIONS, "contiguous", 5)
    assert np.all(np.diff(f) >= 0) and set(f) == set(range(5))
    for k in range(5):  # every fold holds a run of whole positions
        pos = np.unique(POSITIONS[f == k])
        assert np.array_equal(pos, np.arange(pos.min(), pos.max() + 1))


def test_unknown_split_is_an_error():
    with pytest.raises(ValueError, match="probe split must be one of"):
        fold_ids(POSITIONS, "leave-one-out", 5)


def test_probe_recovers_a_linear_signal_and_not_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 10))
    y = X @ rng.normal(size=10) + 0.1 * rng.normal(size=400)
    folds = fold_ids(np.arange(400), "random", 5)
    alphas = [0.01, 1.0, 100.0]
    assert probe_spearman(X, y, folds, alphas) > 0.95
    assert abs(probe_spearman(X, rng.normal(size=400), folds, alphas)) < 0.2


def test_rotation_null_scores_as_raw_under_the_unstandardised_probe_only():
    from papers.reverse_distillation.evaluate import rotations

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)) * np.logspace(-2, 1, 12)  # very unequal variances
    y = X @ rng.normal(size=12) + rng.normal(size=300)
    (R,) = rotations([X], seed=1)
    np.testing.assert_allclose(R @ R.T, X @ X.T, rtol=1e-9, atol=1e-9)  # a rotation
    folds = fold_ids(np.arange(300), "random", 5)
    alphas = [0.01, 1.0, 100.0]
    plain = [probe_spearman(Z, y, folds, alphas, standardize=False) for Z in (X, R)]
    assert abs(plain[0] - plain[1]) < 1e-9
    std = [probe_spearman(Z, y, folds, alphas, standardize=True) for Z in (X, R)]
    assert abs(std[0] - std[1]) > 1e-4


def test_block_permuted_null_keeps_the_smaller_model_and_each_assays_rows():
    from papers.reverse_distillation.evaluate import block_permuted

    rng = np.random.default_rng(0)
    rd3 = rng.normal(size=(12, 5))
    rd = [rd3[:, :2], rd3[:, :3], rd3]
    assay = np.repeat(["a", "b", "c"], 4)
    perm = block_permuted(rd, assay, seed=1)
    assert sorted(perm) == [("rd_perm", 2), ("rd_perm", 3)]
    for k, d in ((2, 2), (3, 3)):
        X = perm[("rd_perm", k)]
        assert X.shape == rd[k - 1].shape
        np.testing.assert_array_equal(X[:, :d], rd[k - 2])  # RD-(k-1) untouched
        for a in "abc":  # the new block's rows are a permutation within the assay
            rows = assay == a
            got = sorted(map(tuple, X[rows, d:]))
            assert got == sorted(map(tuple, rd[k - 1][rows, d:]))
        assert not np.array_equal(X[:, d:], rd[k - 1][:, d:])


def test_summary_metrics_of_a_known_table():
    import pandas as pd

    from papers.reverse_distillation.evaluate import summarise

    # two assays, three sizes; RD beats raw by 0.1 at size 2 on one assay only, and by 0.2 at
    # size 3 on both; raw peaks at size 2
    raw = {1: 0.1, 2: 0.3, 3: 0.2}
    rows = []
    for assay in ("a", "b"):
        for k in (1, 2, 3):
            rd = raw[k] + {1: 0.0, 2: 0.1 if assay == "a" else -0.05, 3: 0.2}[k]
            values = {"raw": raw[k], "rd": rd, "naive": raw[k], "rot": raw[k]}
            values |= {"raw_alt": raw[k], "rd_alt": raw[k], "rd_shuf": 0.0}
            values |= {"rd_perm": raw[k] - 0.01} if k > 1 else {}
            values |= {"orc_raw": 0.5 - 0.1 * k, "orc_rd": 0.3 + 0.1 * k}
            rows += [
                {"assay": assay, "kind": kind, "size": k, "split": "random", "spearman": v}
                for kind, v in values.items()
            ]
    m = summarise(pd.DataFrame(rows), 3)
    assert m["rd_minus_raw_2"] == pytest.approx(0.025)
    assert m["rd_minus_raw_min"] == pytest.approx(0.025)
    assert m["rd_beats_raw_share_min"] == 0.5 and m["rd_beats_raw_share_3"] == 1.0
    assert m["rot_minus_raw_min"] == 0.0 and m["rot_beats_raw_share_min"] == 0.0
    assert m["raw_largest_minus_best"] == pytest.approx(-0.1)
    assert m["rd_largest_minus_best"] == pytest.approx(0.4 - 0.325)
    assert m["rd_step_gain_min"] == pytest.approx(0.4 - 0.325)
    # rd_perm-k against the real RD-(k-1): size 2 0.29 - 0.1, size 3 0.19 - 0.325
    assert m["rd_perm_step_gain_min"] == pytest.approx(0.19 - 0.325)
    assert m["rd_perm_largest_minus_best"] == pytest.approx(0.19 - 0.325)
    assert m["orc_raw_largest_minus_best"] == pytest.approx(-0.2)
    assert m["orc_rd_minus_orc_raw_min"] == pytest.approx(0.2)
    assert m["orc_rd_beats_orc_raw_share_min"] == 1.0
    assert m["n_assays"] == 2


@pytest.mark.parametrize(("n", "d"), [(320, 96), (80, 8), (40, 64)])
def test_ridge_loo_equals_scikit_learns_ridgecv(n, d):
    """Same alpha and predictions as RidgeCV (efficient leave-one-out), also with more
    features than rows and with features on very different scales."""
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(n + d)
    X = rng.normal(size=(n + 30, d)) * np.logspace(-2, 1, d) + 3.0
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n + 30) + 7.0
    alphas = [10.0**k for k in range(-3, 5)]
    ref = RidgeCV(alphas=alphas).fit(X[:n], y[:n])
    pred, alpha = ridge_loo(X[:n], y[:n], X[n:], alphas)
    assert alpha == ref.alpha_
    np.testing.assert_allclose(pred, ref.predict(X[n:]), rtol=1e-8, atol=1e-8)


def test_standardised_out_of_fold_equals_the_scikit_learn_pipeline():
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 12)) * np.logspace(-3, 2, 12)
    y = X[:, 0] * 50 + rng.normal(size=200)
    folds = fold_ids(np.arange(200), "random", 5)
    alphas = [0.01, 1.0, 100.0]
    ref = np.empty(200)
    for f in range(5):
        test = folds == f
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas))
        ref[test] = model.fit(X[~test], y[~test]).predict(X[test])
    np.testing.assert_allclose(out_of_fold(X, y, folds, alphas, True), ref, rtol=1e-8, atol=1e-8)
