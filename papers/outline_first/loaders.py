"""Paper-scale datasets: MNIST (IDX files) and CIFAR-10 (binary version), local path first.

``load_mnist(root)`` reads the four standard IDX files (``.gz`` or uncompressed) from
``root``; ``load_cifar10(root)`` reads ``cifar-10-batches-bin/*.bin`` under ``root``
(records of 1 label byte + 3,072 pixel bytes; the pickled Python version is never
read). If the files are there, the network is never touched. If they are missing,
``download=True`` fetches them (``data.download=true`` in the config); otherwise a
one-line FileNotFoundError names the expected files and the override.

Downloads are checked against the published MD5 sums and written atomically; the
CIFAR-10 archive is extracted only after every member has been checked to be a
regular file or directory with a relative path that stays inside the target.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

import numpy as np

from common.cli import UserError
from common.io import atomic_path

SPLITS = ("train", "test", "all")

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {  # of the .gz files, as published with the dataset
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_DIR = "cifar-10-batches-bin"
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
CIFAR10_SHAPE = (3, 32, 32)  # stored channel-major: 1024 R, 1024 G, 1024 B bytes
CIFAR10_RECORD = 1 + int(np.prod(CIFAR10_SHAPE))

_IDX_UBYTE = 0x08
_CHUNK = 1 << 20


class DownloadError(UserError):
    """A paper-scale dataset could not be fetched; the message says where to put it."""


def _check_split(split: str) -> tuple[str, ...]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return ("train", "test") if split == "all" else (split,)


# --------------------------------------------------------------------------- MNIST


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one unsigned-byte IDX file (gzip-compressed or not), validating its header and size."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            compressed = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:  # includes gzip.BadGzipFile
        raise ValueError(f"cannot read IDX file {path}: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] == 0:
        raise ValueError(
            f"malformed IDX file {path}: bad magic number {raw[:4].hex() or '(empty)'} "
            "(expected 000008 followed by the number of dimensions)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"malformed IDX file {path}: truncated header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise ValueError(
            f"malformed IDX file {path}: {len(raw)} bytes, expected {expected} for shape {dims}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find_idx(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def _missing_mnist(root: Path, parts: tuple[str, ...]) -> list[str]:
    return [stem for part in parts for stem in MNIST_FILES[part] if _find_idx(root, stem) is None]


def _read_mnist_part(root: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    img_path, lab_path = (_find_idx(root, stem) for stem in MNIST_FILES[part])
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise ValueError(
            f"malformed IDX file {img_path}: expected 3 dimensions, got {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(f"malformed IDX file {lab_path}: expected 1 dimension, got {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"MNIST {part} split: {len(images)} images in {img_path.name} but "
            f"{len(labels)} labels in {lab_path.name}"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"malformed IDX file {lab_path}: label {labels.max()} outside 0-9")
    return images, labels.astype(np.int64)


def _local_first(missing, fetch, download: bool, hint: str) -> None:
    """Use local files; fetch only what is missing and only when ``download`` is set.

    ``missing()`` lists absent files, ``fetch()`` downloads them, ``hint`` gets the list.
    """
    absent = missing()
    if absent and download:
        fetch()
        absent = missing()
    if absent:
        raise FileNotFoundError(
            hint.format(", ".join(absent)) + " or set data.download=true to fetch them"
        )


def _concat(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Join (images, labels) pieces in order."""
    return np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])


def load_mnist(
    root: str | os.PathLike, download: bool = False, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the IDX files in ``root``: images uint8 (N, 28, 28) and labels int64 (N,).

    ``split``: "train" (60,000), "test" (10,000) or "all" (train then test).
    """
    root = Path(root)
    parts = _check_split(split)
    _local_first(
        lambda: _missing_mnist(root, parts),
        lambda: download_mnist(root),
        download,
        f"MNIST files missing in {root} (run.data_dir): {{}} (each .gz or uncompressed); "
        "put them there",
    )
    return _concat([_read_mnist_part(root, part) for part in parts])


def _fetch(url: str, dest: Path, md5: str | None, timeout: float = 60.0) -> None:
    """Stream ``url`` into ``dest`` atomically; a wrong MD5 leaves nothing behind."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            while chunk := resp.read(_CHUNK):
                digest.update(chunk)
                fh.write(chunk)
        if md5 is not None and digest.hexdigest() != md5:
            raise ValueError(
                f"checksum mismatch for {url}: md5 {digest.hexdigest()}, expected {md5}"
            )


_NET_ERRORS = (urllib.error.URLError, OSError, ValueError, TimeoutError)


def download_mnist(root: str | os.PathLike) -> list[Path]:
    """Fetch the four MNIST ``.gz`` files missing from ``root`` (tries each mirror in turn)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for name, md5 in MNIST_MD5.items():
        if _find_idx(root, name.removesuffix(".gz")) is not None:
            continue
        errors = []
        for mirror in MNIST_MIRRORS:
            try:
                _fetch(mirror + name, root / name, md5)
                break
            except _NET_ERRORS as err:
                errors.append(f"{mirror}: {err}")
        else:
            raise DownloadError(
                f"could not download MNIST file {name} ({'; '.join(errors)}); "
                f"put the four MNIST IDX files (.gz or uncompressed) in {root} and rerun"
            )
        written.append(root / name)
    return written


# ------------------------------------------------------------------------ CIFAR-10


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch: images uint8 (N, 32, 32, 3) and labels int64 (N,)."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ValueError(f"cannot read CIFAR-10 batch {path}: {err}") from None
    if raw.size == 0 or raw.size % CIFAR10_RECORD:
        raise ValueError(
            f"malformed CIFAR-10 batch {path}: {raw.size} bytes is not a whole number of "
            f"{CIFAR10_RECORD}-byte records (1 label byte + 3072 pixel bytes)"
        )
    records = raw.reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"malformed CIFAR-10 batch {path}: label {labels.max()} outside 0-9")
    images = records[:, 1:].reshape(-1, *CIFAR10_SHAPE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _cifar_dir(root: Path) -> Path:
    """``root/cifar-10-batches-bin``, or ``root`` itself if it already holds the batches."""
    if not (root / CIFAR10_DIR).is_dir() and (root / CIFAR10_FILES["test"][0]).is_file():
        return root
    return root / CIFAR10_DIR


def _missing_cifar(root: Path, parts: tuple[str, ...]) -> list[str]:
    folder = _cifar_dir(root)
    return [n for part in parts for n in CIFAR10_FILES[part] if not (folder / n).is_file()]


def load_cifar10(
    root: str | os.PathLike, download: bool = False, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 (binary version) under ``root``: images uint8 (N, 32, 32, 3), labels int64 (N,).

    ``split``: "train" (50,000), "test" (10,000) or "all" (train then test).
    """
    root = Path(root)
    parts = _check_split(split)
    _local_first(
        lambda: _missing_cifar(root, parts),
        lambda: download_cifar10(root),
        download,
        f"CIFAR-10 binary files missing in {root / CIFAR10_DIR} (under run.data_dir): {{}}; "
        f"put the extracted {CIFAR10_URL.rsplit('/', 1)[-1]} there",
    )
    folder = _cifar_dir(root)
    return _concat([read_cifar_batch(folder / n) for part in parts for n in CIFAR10_FILES[part]])


def safe_extract_tar(archive: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Extract ``archive`` into ``dest``; refuse it whole if any member is unsafe.

    Unsafe: an absolute path, a ``..`` component, or anything but a regular file or
    directory (links, devices). Extraction goes to a temporary folder inside ``dest``
    (with tarfile's ``data`` filter as a second guard) and its top-level entries are
    then moved into place, so an interrupted run leaves no half-extracted folder.
    Returns the top-level paths written.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                parts = PurePosixPath(m.name.replace("\\", "/")).parts
                if os.path.isabs(m.name) or (
                    parts and (parts[0] == "/" or ".." in parts or ":" in parts[0])  # ":" drive
                ):
                    raise ValueError(f"unsafe path {m.name!r} in archive {archive}; not extracted")
                if not (m.isfile() or m.isdir()):
                    raise ValueError(
                        f"unsupported member {m.name!r} (link or device) in archive {archive}; "
                        "not extracted"
                    )
            tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
            try:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - members were checked above
                    tar.extractall(tmp, members=members)
                written = []
                for entry in sorted(tmp.iterdir()):
                    target = dest / entry.name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    os.replace(entry, target)
                    written.append(target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except tarfile.TarError as err:
        raise ValueError(f"cannot extract archive {archive}: {err}") from None
    return written


def download_cifar10(root: str | os.PathLike) -> Path:
    """Fetch and extract the CIFAR-10 binary archive into ``root``; returns the batches folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / CIFAR10_URL.rsplit("/", 1)[-1]
    try:
        _fetch(CIFAR10_URL, archive, CIFAR10_MD5, timeout=120.0)
    except _NET_ERRORS as err:
        raise DownloadError(
            f"could not download {CIFAR10_URL} ({err}); extract the CIFAR-10 binary version "
            f"so that {root / CIFAR10_DIR}/data_batch_1.bin exists and rerun"
        ) from None
    safe_extract_tar(archive, root)
    archive.unlink(missing_ok=True)
    return root / CIFAR10_DIR
