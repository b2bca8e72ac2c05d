"""A classifier of the data (class flips, quality) and nearest-neighbour distances.

Offline there are no Inception or LPIPS features, so sample quality and "did the
class change" are judged by a multinomial logistic regression trained on the data
(x in [-1, 1]) and by the Euclidean distance of a sample to its nearest training
image. The fitted weights are stored as NPZ (``coef_``, ``intercept_``, ``classes_``);
nothing is pickled.
"""

from __future__ import annotations

import os

import numpy as np
from scipy.spatial import cKDTree
from sklearn.linear_model import LogisticRegression

from common.io import load_npz, save_npz
from papers.outline_first.data import Dataset, split

_NPZ_KEYS = ("coef_", "intercept_", "classes_")


def _check_x(x: np.ndarray, what: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (N, D), got shape {x.shape}")
    return x


def train_classifier(
    x: np.ndarray, labels: np.ndarray, seed: int, C: float = 1.0, max_iter: int = 2000
) -> LogisticRegression:
    """Fit a multinomial logistic regression (L2, lbfgs) on rows of ``x``."""
    x = _check_x(x)
    labels = np.asarray(labels)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    if np.unique(labels).size < 2:
        raise ValueError("the classifier needs at least two classes in its training labels")
    model = LogisticRegression(C=C, max_iter=max_iter, tol=1e-4, random_state=seed)
    return model.fit(x, labels)


def predict(model: LogisticRegression, x: np.ndarray) -> np.ndarray:
    """Predicted class labels (N,)."""
    return model.predict(_check_x(x))


def accuracy(model: LogisticRegression, x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows of ``x`` classified as ``labels``."""
    return float(np.mean(predict(model, x) == np.asarray(labels)))


def train_and_score(
    dataset: Dataset, seed: int, test_fraction: float = 0.2
) -> tuple[LogisticRegression, float]:
    """Fit on a stratified train split of a ``data.Dataset``; (model, held-out accuracy).

    The returned model is trained on the train split only, so its accuracy is honest.
    """
    train, test = split(dataset, test_fraction, seed)
    model = train_classifier(train.x, train.labels, seed)
    return model, accuracy(model, test.x, test.labels)


def save_classifier(path: str | os.PathLike, model: LogisticRegression) -> None:
    """Write the fitted weights as NPZ (atomically, no pickle)."""
    save_npz(path, **{key: np.asarray(getattr(model, key)) for key in _NPZ_KEYS})


def load_classifier(path: str | os.PathLike) -> LogisticRegression:
    """A LogisticRegression rebuilt from ``save_classifier``'s NPZ, ready to predict."""
    arrays = load_npz(path)
    missing = [key for key in _NPZ_KEYS if key not in arrays]
    if missing:
        raise ValueError(f"malformed classifier file {path}: missing {', '.join(missing)}")
    coef, intercept, classes = (arrays[key] for key in _NPZ_KEYS)
    n_rows = 1 if classes.size == 2 else classes.size
    if coef.ndim != 2 or coef.shape[0] != n_rows or intercept.shape != (n_rows,):
        raise ValueError(
            f"malformed classifier file {path}: coef_ {coef.shape}, intercept_ "
            f"{intercept.shape} do not fit {classes.size} classes"
        )
    model = LogisticRegression()
    model.coef_ = coef.astype(np.float64)
    model.intercept_ = intercept.astype(np.float64)
    model.classes_ = classes
    model.n_features_in_ = coef.shape[1]
    return model


def nearest_neighbor_distance(
    samples: np.ndarray, reference: np.ndarray, workers: int = 1
) -> np.ndarray:
    """Euclidean distance (N,) from each sample to its nearest row of ``reference``."""
    samples, reference = _check_x(samples, "samples"), _check_x(reference, "reference")
    if samples.shape[1] != reference.shape[1]:
        raise ValueError(
            f"samples have D = {samples.shape[1]} but reference images D = {reference.shape[1]}"
        )
    if reference.shape[0] == 0:
        raise ValueError("nearest_neighbor_distance needs at least one reference image")
    dist, _ = cKDTree(reference).query(samples, k=1, workers=workers)
    return np.asarray(dist, dtype=np.float64)
