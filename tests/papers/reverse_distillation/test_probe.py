"""Fold splitters and the ridge probe of the supervised ProteinGym protocol."""

import numpy as np
import pytest

from papers.reverse_distillation.probe import fold_ids, probe_spearman

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
