"""The oracle family has the paper's effect by construction: raw dips with size, RD rises and
beats raw at every size > 1."""

import numpy as np

from papers.reverse_distillation.oracle import oracle_family
from papers.reverse_distillation.probe import fold_ids, probe_spearman
from papers.reverse_distillation.rd import apply_chain, fit_chain

ALPHAS = [10.0**k for k in range(-3, 5)]


def test_rd_of_the_oracle_rises_while_raw_dips():
    dims = [8, 12, 16]
    fit, pooled, y = oracle_family(0, 2000, 600, dims)
    assert [x.shape for x in fit] == [(2000, d) for d in dims]
    assert [x.shape for x in pooled] == [(600, d) for d in dims]
    rd = apply_chain(fit_chain(fit, "pcr"), pooled)
    folds = fold_ids(np.arange(len(y)), "random", 5, 0)
    raw_rho = [probe_spearman(x, y, folds, ALPHAS, False) for x in pooled]
    rd_rho = [probe_spearman(x, y, folds, ALPHAS, False) for x in rd]
    assert raw_rho[0] > raw_rho[1] > raw_rho[2]
    assert rd_rho[0] < rd_rho[1] < rd_rho[2]
    assert all(r > w + 0.05 for r, w in zip(rd_rho[1:], raw_rho[1:], strict=True))


def test_oracle_is_seeded():
    a, b = oracle_family(3, 50, 40, [4, 6]), oracle_family(3, 50, 40, [4, 6])
    assert all(np.array_equal(x, z) for x, z in zip(a[0] + a[1], b[0] + b[1], strict=True))
