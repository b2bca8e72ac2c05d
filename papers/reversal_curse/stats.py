"""The log-probability test of Figure 4 and the mean reciprocal rank."""

from __future__ import annotations

import numpy as np


def logprob_test(
    scores: np.ndarray, correct: np.ndarray
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Paired t-test over facts of the correct name vs the average of all other candidates.

    ``scores``: (examples, candidates) log-probabilities of each candidate name; ``correct``:
    index of each example's correct candidate (one fact per candidate). Per fact, the correct
    name's log-probability and the mean over the other candidates are each averaged over the
    fact's prompts. Returns (mean gap in nats, two-sided p, per-fact correct, per-fact others).
    """
    if scores.shape[1] < 2:
        raise ValueError(f"the name test needs at least 2 candidates, got {scores.shape[1]}")
    rows = np.arange(len(correct))
    own = scores[rows, correct]
    others = (scores.sum(1) - own) / (scores.shape[1] - 1)
    facts = np.unique(correct)
    good = np.array([own[correct == f].mean() for f in facts])
    rand = np.array([others[correct == f].mean() for f in facts])
    return float((good - rand).mean()), _paired_p(good - rand), good, rand


def _paired_p(diff: np.ndarray) -> float:
    """Two-sided p of a one-sample t-test of ``diff`` against 0 (no spread: 1 if all 0, else 0)."""
    if np.allclose(diff, diff[0]):  # t undefined; identical differences of 0 mean no evidence
        return 1.0 if np.isclose(diff[0], 0.0) else 0.0
    from scipy import stats  # here: importing it costs the encoders' runs 1.6 s

    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def mean_reciprocal_rank(scores: np.ndarray, correct: np.ndarray) -> float:
    """Mean over examples of 1 / rank of the correct candidate (ties ranked pessimistically)."""
    own = scores[np.arange(len(correct)), correct]
    rank = np.sum(scores >= own[:, None], axis=1)
    return float(np.mean(1.0 / rank))


def chance_mrr(n: int) -> float:
    """MRR of a uniformly random ranking of ``n`` candidates: H_n / n."""
    return float(np.sum(1.0 / np.arange(1, n + 1)) / n)
