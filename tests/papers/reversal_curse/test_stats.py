"""The log-probability tests and the mean reciprocal rank on constructed inputs."""

import numpy as np
import pytest

from papers.reversal_curse.stats import chance_mrr, logprob_test, mean_reciprocal_rank


def _scores(n_facts=30, prompts=4, boost=0.0, seed=0):
    rng = np.random.default_rng(seed)
    correct = np.repeat(np.arange(n_facts), prompts)
    scores = rng.normal(-10, 1, (len(correct), n_facts))
    scores[np.arange(len(correct)), correct] += boost
    return scores, correct


def test_ttest_detects_learned_facts_and_not_noise():
    gap, p, good, rand = logprob_test(*_scores(boost=5.0))
    assert gap == pytest.approx(5.0, abs=0.5) and p < 1e-6 and good.shape == rand.shape == (30,)
    gap, p, *_ = logprob_test(*_scores(boost=0.0))
    assert abs(gap) < 0.5 and p > 1e-3


def test_gap_is_against_the_mean_of_all_other_candidates():
    scores = np.array([[0.0, -3.0, -6.0], [-1.0, -2.0, -9.0], [-4.0, -4.0, -1.0]])
    gap, _, good, rand = logprob_test(scores, np.array([0, 1, 2]))
    assert np.allclose(good, [0.0, -2.0, -1.0]) and np.allclose(rand, [-4.5, -5.0, -4.0])
    assert gap == pytest.approx(np.mean([4.5, 3.0, 3.0]))
    with pytest.raises(ValueError, match="at least 2"):
        logprob_test(np.zeros((2, 1)), np.array([0, 0]))


def test_ttest_constant_differences():
    scores = np.zeros((6, 3))
    assert logprob_test(scores, np.array([0, 0, 1, 1, 2, 2]))[1] == 1.0


def test_mrr_on_constructed_rankings():
    correct = np.array([0, 1, 2])
    assert mean_reciprocal_rank(np.eye(3), correct) == 1.0
    last = -np.eye(3)  # the correct candidate is ranked last of 3 (ties count against it)
    assert mean_reciprocal_rank(last, correct) == pytest.approx(1 / 3)
    assert chance_mrr(30) == pytest.approx(0.1332, abs=1e-4)
    scores, correct = _scores(n_facts=30, prompts=200)
    assert mean_reciprocal_rank(scores, correct) == pytest.approx(chance_mrr(30), abs=0.02)
