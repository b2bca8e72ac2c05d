"""Reverse distillation: nested embeddings from a family of models of increasing width.

One step from a small embedding X (n, d_in) to a large one Y (n, d_out):
regress Y on X (``ols``, ``ridge`` or ``pcr``: principal-component regression keeping the
components of X above Johnstone's noise threshold, see :func:`noise_rank`), take the residual
R = Y - f(X), keep its top d_out - d_in principal components, output concat[X, PCA(R)].
Chaining feeds each step the previous step's *output*, so RD-k[:, :d_j] == RD-j exactly.
Every step is affine, so it can be fitted on per-residue rows and applied to mean-pooled ones.
The naive baseline is PCA of concat[X, Y] down to d_out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, Ridge

from common.io import load_npz, save_npz

REGRESSORS = ("pcr", "ols", "ridge")
MIN_VARIANCE_EXPLAINED = 0.95  # fallback when no component clears the edge (as the reference)


def noise_rank(eigenvalues: np.ndarray, n: int) -> int:
    """Components of a PCR kept by the authors' rule (reference ``PCRegressionWrapper``).

    With lambda = p / n and the Marchenko-Pastur edge (1 + sqrt(lambda))^2: the noise variance
    sigma^2 is the median of the eigenvalues whose ratio to the mean eigenvalue lies below the
    edge; the kept components are those above sigma^2 (1 + sqrt(lambda))^2 (Johnstone's
    threshold). If none is, the fewest components explaining 95% of the variance.
    """
    eig = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    p = len(eig)
    edge = (1.0 + np.sqrt(p / n)) ** 2
    below = eig[eig / eig.mean() < edge]
    sigma2 = np.median(below) if len(below) else np.median(eig[-max(1, p // 4) :])
    rank = int(np.sum(eig > sigma2 * edge))
    if rank == 0:
        rank = int(np.searchsorted(np.cumsum(eig) / eig.sum(), MIN_VARIANCE_EXPLAINED) + 1)
    return rank


def fit_regression(X: np.ndarray, Y: np.ndarray, kind: str, alpha: float = 1.0):
    """(coef (d_in, d_out), intercept (d_out,), kept components) of Y ~ X coef + intercept."""
    if kind == "ols":
        reg = LinearRegression().fit(X, Y)
        return reg.coef_.T, reg.intercept_, X.shape[1]
    if kind == "ridge":
        reg = Ridge(alpha=alpha).fit(X, Y)
        return reg.coef_.T, reg.intercept_, X.shape[1]
    if kind == "pcr":
        full = PCA().fit(X)
        k = noise_rank(full.explained_variance_, len(X))
        pca = PCA(n_components=k).fit(X)
        reg = LinearRegression().fit(pca.transform(X), Y)
        coef = pca.components_.T @ reg.coef_.T
        return coef, reg.intercept_ - pca.mean_ @ coef, k
    raise ValueError(f"rd.regressor must be one of {REGRESSORS}, got {kind!r}")


@dataclass
class Step:
    """A fitted step: (X, Y) -> concat[X, (Y - X coef - intercept - mean) components^T]."""

    coef: np.ndarray  # (d_in, d_out)
    intercept: np.ndarray  # (d_out,)
    mean: np.ndarray  # (d_out,) mean of the residual
    components: np.ndarray  # (d_out - d_in, d_out) principal axes of the residual
    r2: np.ndarray  # () share of Y's variance explained by the regression
    residual_ratio: np.ndarray  # (d_out - d_in,) share of the residual's variance per kept axis
    kept: np.ndarray  # () regressor components kept (pcr), else d_in

    def transform(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        R = Y - X @ self.coef - self.intercept
        return np.concatenate([X, (R - self.mean) @ self.components.T], axis=1)


def fit_step(X: np.ndarray, Y: np.ndarray, kind: str = "pcr", alpha: float = 1.0) -> Step:
    """Fit one reverse-distillation step from X (n, d_in) to Y (n, d_out), d_out > d_in."""
    d_in, d_out = X.shape[1], Y.shape[1]
    if d_out <= d_in:
        raise ValueError(f"the larger model must be wider: d_out={d_out} <= d_in={d_in}")
    coef, intercept, kept = fit_regression(X, Y, kind, alpha)
    R = Y - X @ coef - intercept
    pca = PCA(n_components=d_out - d_in).fit(R)
    r2 = 1.0 - R.var(axis=0).sum() / Y.var(axis=0).sum()
    return Step(
        coef=coef,
        intercept=intercept,
        mean=pca.mean_,
        components=pca.components_,
        r2=np.asarray(r2),
        residual_ratio=pca.explained_variance_ratio_,
        kept=np.asarray(kept),
    )


def fit_chain(embeddings: list[np.ndarray], kind: str = "pcr", alpha: float = 1.0) -> list[Step]:
    """Steps 1..K-1 over a family (same rows, increasing width), each fed the previous output."""
    steps, X = [], embeddings[0]
    for Y in embeddings[1:]:
        steps.append(fit_step(X, Y, kind, alpha))
        X = steps[-1].transform(X, Y)
    return steps


def apply_chain(steps: list[Step], embeddings: list[np.ndarray]) -> list[np.ndarray]:
    """[RD-1 (= the smallest model), RD-2, ..., RD-K] for rows of every model."""
    if len(embeddings) != len(steps) + 1:
        raise ValueError(
            f"{len(steps)} steps need {len(steps) + 1} embeddings, got {len(embeddings)}"
        )
    out = [embeddings[0]]
    for step, Y in zip(steps, embeddings[1:], strict=True):
        out.append(step.transform(out[-1], Y))
    return out


@dataclass
class NaiveStep:
    """Baseline: (X, Y) -> PCA_{d_out}(concat[X, Y])."""

    mean: np.ndarray
    components: np.ndarray

    def transform(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (np.concatenate([X, Y], axis=1) - self.mean) @ self.components.T


def fit_naive_chain(embeddings: list[np.ndarray]) -> list[NaiveStep]:
    """Naive baseline chained like RD: naive-k = PCA_{d_k}(concat[naive-(k-1), raw-k])."""
    steps, X = [], embeddings[0]
    for Y in embeddings[1:]:
        pca = PCA(n_components=Y.shape[1]).fit(np.concatenate([X, Y], axis=1))
        steps.append(NaiveStep(mean=pca.mean_, components=pca.components_))
        X = steps[-1].transform(X, Y)
    return steps


def save_chain(path: str | Path, steps: list[Step]) -> None:
    """Write fitted steps to one NPZ (keys ``<step>/<field>``; no pickle)."""
    arrays = {
        f"{k}/{f.name}": np.asarray(getattr(s, f.name))
        for k, s in enumerate(steps)
        for f in fields(Step)
    }
    save_npz(path, **arrays)


def load_chain(path: str | Path) -> list[Step]:
    """Read steps written by :func:`save_chain`."""
    data = load_npz(path)
    count = len({key.split("/")[0] for key in data})
    try:
        return [Step(**{f.name: data[f"{k}/{f.name}"] for f in fields(Step)}) for k in range(count)]
    except KeyError as err:
        raise ValueError(f"malformed scaler file {path}: missing {err.args[0]}") from None
