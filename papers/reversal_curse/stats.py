"""The log-probability test of Figure 4 and the mean reciprocal rank, on score matrices."""

from __future__ import annotations

import numpy as np
from scipy import stats


def random_partners(n: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``n`` candidates, a different candidate drawn at random (a derangement)."""
    if n < 2:
        raise ValueError(f"the random-name control needs at least 2 candidates, got {n}")
    shift = rng.integers(1, n, size=n)
    return (np.arange(n) + shift) % n


def logprob_test(
    scores: np.ndarray, correct: np.ndarray, partner: np.ndarray
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Paired t-test of correct vs random candidate, one pair per fact (mean over its prompts).

    ``scores``: (examples, candidates) log-probabilities of each candidate completion;
    ``correct``: index of each example's correct candidate; ``partner``: the random candidate
    of each correct one. Returns (mean gap in nats, two-sided p, per-fact correct, per-fact random).
    """
    facts = np.unique(correct)
    rows = np.arange(len(correct))
    good = np.array([scores[rows[correct == f], f].mean() for f in facts])
    rand = np.array([scores[rows[correct == f], partner[f]].mean() for f in facts])
    diff = good - rand
    if np.allclose(diff, diff[0]):  # no spread: t undefined; identical scores mean no evidence
        p = 1.0 if np.isclose(diff[0], 0.0) else 0.0
    else:
        p = float(stats.ttest_rel(good, rand).pvalue)
    return float(diff.mean()), p, good, rand


def mean_reciprocal_rank(scores: np.ndarray, correct: np.ndarray) -> float:
    """Mean over examples of 1 / rank of the correct candidate (ties ranked pessimistically)."""
    own = scores[np.arange(len(correct)), correct]
    rank = np.sum(scores >= own[:, None], axis=1)
    return float(np.mean(1.0 / rank))


def chance_mrr(n: int) -> float:
    """MRR of a uniformly random ranking of ``n`` candidates: H_n / n."""
    return float(np.sum(1.0 / np.arange(1, n + 1)) / n)
