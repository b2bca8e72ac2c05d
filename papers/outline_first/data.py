"""Datasets as flat vectors in [-1, 1]: bundled digits / photo patches, MNIST and CIFAR-10.

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, D = 64, labels 0-9),
  pixel values 0..16 mapped linearly to [-1, 1].
- ``patches``: grayscale ``patch_size`` x ``patch_size`` patches cut at random
  (deterministic from the seed) from ten photographs bundled with scikit-image;
  each photo is first downscaled (anti-aliased) so that its short side is at most
  ``16 * patch_size`` pixels, and gray values [0, 1] are mapped linearly to [-1, 1]
  (one global scaling, so the natural-image contrast and spectrum are kept). The
  label is the index of the source photo in ``PATCH_PHOTOS``.
- ``mnist`` / ``cifar10``: the training split read by ``loaders`` from ``run.data_dir``
  (the four MNIST IDX files in it, CIFAR-10 in ``data_dir/cifar-10-batches-bin``), uint8
  pixels mapped to [-1, 1]; CIFAR-10 stays RGB, flattened in (h, w, c) order.

``data.max_images > 0`` keeps a seeded subset, stratified by label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from papers.outline_first import loaders

DATASETS = ("digits", "patches", "mnist", "cifar10")
PATCH_PHOTOS = (
    "camera",
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "grass",
    "gravel",
    "brick",
)
PATCHES_PER_PHOTO = 200  # the whole 'patches' dataset: 10 photos x 200 = 2,000 patches
PHOTO_SIDE_PER_PATCH = 16  # photos are downscaled to a short side of at most 16 * patch_size


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images as rows of ``x`` (N, D) float64 in [-1, 1] with integer labels (N,)."""

    x: np.ndarray
    labels: np.ndarray
    image_shape: tuple[int, ...]  # (h, w) or (h, w, c); prod(image_shape) == D
    name: str

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.labels.shape != (self.x.shape[0],):
            raise ValueError(
                f"dataset {self.name!r}: x must be (N, D) and labels (N,), "
                f"got {self.x.shape} and {self.labels.shape}"
            )
        if int(np.prod(self.image_shape)) != self.x.shape[1]:
            raise ValueError(
                f"dataset {self.name!r}: image_shape {self.image_shape} does not match "
                f"D = {self.x.shape[1]}"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self) else 0

    def subset(self, idx: np.ndarray) -> Dataset:
        """The rows ``idx`` (indices or a boolean mask), as a new Dataset."""
        return Dataset(self.x[idx], self.labels[idx], self.image_shape, self.name)

    def images(self) -> np.ndarray:
        """``x`` reshaped to (N, *image_shape)."""
        return self.x.reshape(len(self), *self.image_shape)


def _to_unit_range(values: np.ndarray, vmax: float) -> np.ndarray:
    """Map [0, vmax] linearly onto [-1, 1] as float64 (clipped against rounding)."""
    return np.clip(np.asarray(values, dtype=np.float64) * (2.0 / vmax) - 1.0, -1.0, 1.0)


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of ``range(len(labels))`` whose every prefix is ~stratified.

    Elements are shuffled, then ordered by their rank within their class divided by the
    class size, so the first k indices hold each class in proportion to its frequency.
    """
    labels = np.asarray(labels)
    perm = rng.permutation(len(labels))
    shuffled = labels[perm]
    key = np.empty(len(labels))
    for c in np.unique(shuffled):
        mask = shuffled == c
        count = int(mask.sum())
        key[mask] = (np.arange(count) + 0.5) / count
    return perm[np.argsort(key, kind="stable")]


def _subset(ds: Dataset, max_images: int, seed: int) -> Dataset:
    if max_images <= 0 or max_images >= len(ds):
        return ds
    order = stratified_order(ds.labels, np.random.default_rng([seed, 0x5B5E7]))
    return ds.subset(np.sort(order[:max_images]))


def load_digits_dataset() -> Dataset:
    """scikit-learn's bundled 8x8 digits: x (1797, 64) in [-1, 1], labels 0-9."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return Dataset(
        _to_unit_range(digits.data, 16.0), digits.target.astype(np.int64), (8, 8), "digits"
    )


def _photo(name: str) -> np.ndarray:
    """One bundled scikit-image photo as grayscale float64 in [0, 1]."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float64

    try:
        img = getattr(skimage.data, name)()
    except Exception as err:  # noqa: BLE001 - a missing bundled file or its fetcher
        raise FileNotFoundError(
            f"scikit-image photo {name!r} is not available offline ({err}); "
            "reinstall scikit-image or use data.name=digits"
        ) from None
    if img.ndim == 3:
        img = rgb2gray(img[..., :3])
    return np.clip(img_as_float64(img), 0.0, 1.0)


def load_patches_dataset(patch_size: int, seed: int) -> Dataset:
    """Grayscale patches of the bundled photos; label = index of the photo in PATCH_PHOTOS."""
    from skimage.transform import rescale

    if patch_size < 2:
        raise ValueError(f"data.patch_size must be >= 2, got {patch_size}")
    rng = np.random.default_rng([seed, 0x9A7C4])
    xs, labels = [], []
    for label, name in enumerate(PATCH_PHOTOS):
        img = _photo(name)
        factor = PHOTO_SIDE_PER_PATCH * patch_size / min(img.shape)
        if factor < 1.0:
            img = rescale(img, factor, anti_aliasing=True, preserve_range=True)
        h, w = img.shape
        if patch_size > min(h, w):
            raise ValueError(
                f"data.patch_size={patch_size} is larger than photo {name!r} ({h}x{w}); "
                f"use at most {min(h, w)}"
            )
        rows = rng.integers(0, h - patch_size + 1, size=PATCHES_PER_PHOTO)
        cols = rng.integers(0, w - patch_size + 1, size=PATCHES_PER_PHOTO)
        windows = np.lib.stride_tricks.sliding_window_view(img, (patch_size, patch_size))
        xs.append(windows[rows, cols].reshape(PATCHES_PER_PHOTO, -1))
        labels.append(np.full(PATCHES_PER_PHOTO, label, dtype=np.int64))
    x = _to_unit_range(np.concatenate(xs), 1.0)
    return Dataset(x, np.concatenate(labels), (patch_size, patch_size), "patches")


def _paper_dataset(name: str, root: Path, download: bool, max_images: int, seed: int) -> Dataset:
    if name == "mnist":
        images, labels = loaders.load_mnist(root, download=download)
    else:
        images, labels = loaders.load_cifar10(root, download=download)
    if 0 < max_images < len(labels):  # subset before the float64 copy
        order = stratified_order(labels, np.random.default_rng([seed, 0x5B5E7]))
        keep = np.sort(order[:max_images])
        images, labels = images[keep], labels[keep]
    x = _to_unit_range(images.reshape(len(images), -1), 255.0)
    return Dataset(x, labels.astype(np.int64), tuple(images.shape[1:]), name)


def _field(cfg_data: Any, key: str, default: Any) -> Any:
    if isinstance(cfg_data, dict):
        return cfg_data.get(key, default)
    return getattr(cfg_data, key, default)


def load_dataset(cfg_data: Any, seed: int, data_dir: str | Path = "") -> Dataset:
    """The dataset named by ``cfg_data.name`` (a DataConfig, DictConfig or dict).

    ``data_dir`` (``run.data_dir``) is the folder of the paper-scale datasets; the bundled
    ``digits`` and ``patches`` do not read it.
    """
    name = _field(cfg_data, "name", "digits")
    if name not in DATASETS:
        raise ValueError(f"data.name must be one of {', '.join(DATASETS)}; got {name!r}")
    max_images = int(_field(cfg_data, "max_images", 0))
    if max_images < 0:
        raise ValueError(f"data.max_images must be >= 0 (0: all images), got {max_images}")
    if name == "digits":
        ds = load_digits_dataset()
    elif name == "patches":
        ds = load_patches_dataset(int(_field(cfg_data, "patch_size", 8)), seed)
    else:
        if not str(data_dir):
            raise FileNotFoundError(
                f"data.name={name} reads its files from run.data_dir, which is empty; "
                f"set run.data_dir=DIR (Snakemake: --config 'data_dir={{outline_first: DIR}}')"
            )
        root = Path(data_dir)
        download = bool(_field(cfg_data, "download", False))
        return _paper_dataset(name, root, download, max_images, seed)
    return _subset(ds, max_images, seed)


def split(dataset: Dataset, test_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Deterministic stratified (train, test) split; ``test_fraction`` in (0, 1)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(dataset)
    n_test = int(round(test_fraction * n))
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"test_fraction={test_fraction} of {n} images leaves an empty train or test split"
        )
    order = stratified_order(dataset.labels, np.random.default_rng([seed, 0x5D117]))
    return dataset.subset(np.sort(order[n_test:])), dataset.subset(np.sort(order[:n_test]))
