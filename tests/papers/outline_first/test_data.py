"""Data layer of outline_first: bundled datasets, paper-scale loaders (offline), classifier."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from papers.outline_first import loaders
from papers.outline_first.classifier import (
    load_classifier,
    nearest_neighbor_distance,
    predict,
    save_classifier,
    train_and_score,
)
from papers.outline_first.data import load_dataset, split
from papers.outline_first.schema import DataConfig


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to open a URL."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(name="digits"), seed=0)


# ---------------------------------------------------------------- bundled datasets


def test_digits_shape_range_labels(digits):
    assert digits.x.shape == (1797, 64) and digits.x.dtype == np.float64
    assert digits.image_shape == (8, 8) and digits.name == "digits"
    assert digits.x.min() == -1.0 and digits.x.max() == 1.0
    assert set(np.unique(digits.labels)) == set(range(10))


def test_max_images_is_a_seeded_stratified_subset():
    a = load_dataset(DataConfig(name="digits", max_images=300), seed=3)
    b = load_dataset(DataConfig(name="digits", max_images=300), seed=3)
    c = load_dataset(DataConfig(name="digits", max_images=300), seed=4)
    assert len(a) == 300 and np.array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    counts = np.bincount(a.labels, minlength=10)
    assert counts.min() >= 28 and counts.max() <= 32


def test_patches_deterministic_and_in_range():
    cfg = DataConfig(name="patches", patch_size=8)
    a, b = load_dataset(cfg, seed=1), load_dataset(cfg, seed=1)
    c = load_dataset(cfg, seed=2)
    assert a.x.shape[1] == 64 and a.image_shape == (8, 8)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.x, c.x)
    assert a.x.min() >= -1.0 and a.x.max() <= 1.0 and a.x.std() > 0.1
    assert len(np.unique(a.labels)) >= 5  # one class per source photo


def test_unknown_name_is_an_error_naming_the_field():
    with pytest.raises(ValueError, match=r"data\.name.*digits.*'svhn'"):
        load_dataset(DataConfig(name="svhn"), seed=0)


def test_split_deterministic_disjoint_stratified(digits):
    train, test = split(digits, 0.25, seed=0)
    train2, test2 = split(digits, 0.25, seed=0)
    assert len(train) + len(test) == len(digits) and len(test) == round(0.25 * len(digits))
    assert np.array_equal(test.x, test2.x) and np.array_equal(train.labels, train2.labels)
    rows = {r.tobytes() for r in digits.x}
    assert len({r.tobytes() for r in train.x} | {r.tobytes() for r in test.x}) == len(rows)
    assert np.all(np.bincount(test.labels, minlength=10) >= 40)
    with pytest.raises(ValueError, match="test_fraction"):
        split(digits, 1.0, seed=0)


# --------------------------------------------------------------------------- MNIST


def _idx_bytes(arr: np.ndarray, magic_type: int = 0x08) -> bytes:
    header = bytes([0, 0, magic_type, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _write_mnist(root, rng, gz: bool, n_train: int = 5, n_test: int = 3):
    root.mkdir(parents=True, exist_ok=True)
    data = {}
    for part, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        data[part] = (images, labels)
        for stem, arr in zip(loaders.MNIST_FILES[part], (images, labels), strict=True):
            raw = _idx_bytes(arr)
            if gz:
                (root / f"{stem}.gz").write_bytes(gzip.compress(raw))
            else:
                (root / stem).write_bytes(raw)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_round_trip(tmp_path, no_network, gz):
    data = _write_mnist(tmp_path, np.random.default_rng(0), gz=gz)
    images, labels = loaders.load_mnist(tmp_path, download=False)
    assert images.dtype == np.uint8 and images.shape == (5, 28, 28)
    assert np.array_equal(images, data["train"][0]) and np.array_equal(labels, data["train"][1])
    images, labels = loaders.load_mnist(tmp_path, split="all")
    assert np.array_equal(images[5:], data["test"][0]) and np.array_equal(
        labels[5:], data["test"][1]
    )


def test_mnist_through_load_dataset(tmp_path, no_network):
    data = _write_mnist(tmp_path, np.random.default_rng(1), gz=True)
    ds = load_dataset(DataConfig(name="mnist"), seed=0, data_dir=str(tmp_path))
    assert ds.x.shape == (5, 784) and ds.image_shape == (28, 28)
    assert ds.x.min() >= -1.0 and ds.x.max() <= 1.0
    np.testing.assert_allclose(ds.x[0], data["train"][0][0].ravel() / 127.5 - 1.0)


def test_mnist_bad_magic_names_the_file(tmp_path, no_network):
    _write_mnist(tmp_path, np.random.default_rng(0), gz=False)
    bad = tmp_path / "train-images-idx3-ubyte"
    raw = bytearray(bad.read_bytes())
    raw[2] = 0x0D  # float type code: not an unsigned-byte IDX file
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*magic"):
        loaders.load_mnist(tmp_path)


def test_mnist_truncated_file_names_the_file(tmp_path, no_network):
    _write_mnist(tmp_path, np.random.default_rng(0), gz=True)
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(gzip.decompress(bad.read_bytes())[:-1]))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        loaders.load_mnist(tmp_path)


def test_mnist_missing_without_download_never_touches_network(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match=r"data\.download=true") as err:
        loaders.load_mnist(tmp_path, download=False)
    assert "train-images-idx3-ubyte" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"data\.download=true"):
        load_dataset(DataConfig(name="mnist", download=False), seed=0, data_dir=tmp_path)


def test_paper_datasets_need_run_data_dir(no_network):
    for name in ("mnist", "cifar10"):
        with pytest.raises(FileNotFoundError, match=r"run\.data_dir"):
            load_dataset(DataConfig(name=name), seed=0, data_dir="")


def test_mnist_download_failure_is_one_clear_line(tmp_path, monkeypatch):
    def unreachable(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(loaders.DownloadError, match=f"put the four MNIST IDX files.*{tmp_path}"):
        loaders.load_mnist(tmp_path, download=True)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_download_checks_md5_and_writes_atomically(tmp_path, monkeypatch):
    payload = {name: gzip.compress(b"x") for name in loaders.MNIST_MD5}
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(payload[url.split("/")[-1]])
    )
    with pytest.raises(loaders.DownloadError, match="checksum mismatch"):
        loaders.download_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ CIFAR-10


def _cifar_records(rng, n):
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    chw = images.transpose(0, 3, 1, 2).reshape(n, -1)  # the file stores R, G, B planes
    return images, labels, np.concatenate([labels[:, None], chw], axis=1).tobytes()


def test_cifar10_round_trip(tmp_path, no_network):
    rng = np.random.default_rng(0)
    folder = tmp_path / loaders.CIFAR10_DIR
    folder.mkdir()
    expected = []
    for i, name in enumerate(loaders.CIFAR10_FILES["train"] + loaders.CIFAR10_FILES["test"]):
        images, labels, raw = _cifar_records(rng, 2 + i % 2)
        (folder / name).write_bytes(raw)
        expected.append((images, labels))
    images, labels = loaders.load_cifar10(tmp_path)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, np.concatenate([e[0] for e in expected[:5]]))
    assert np.array_equal(labels, np.concatenate([e[1] for e in expected[:5]]))
    test_images, test_labels = loaders.load_cifar10(tmp_path, split="test")
    assert np.array_equal(test_images, expected[5][0]) and np.array_equal(
        test_labels, expected[5][1]
    )
    ds = load_dataset(DataConfig(name="cifar10", max_images=5), seed=0, data_dir=tmp_path)
    assert ds.x.shape == (5, 3072) and ds.image_shape == (32, 32, 3)
    assert ds.x.min() >= -1.0 and ds.x.max() <= 1.0


def test_cifar10_wrong_record_size(tmp_path, no_network):
    _, _, raw = _cifar_records(np.random.default_rng(0), 3)
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(raw[:-7])
    with pytest.raises(ValueError, match="data_batch_1.bin.*3073-byte records"):
        loaders.read_cifar_batch(path)


def test_cifar10_missing_without_download(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1\.bin.*data\.download=true"):
        loaders.load_cifar10(tmp_path, download=False)


def _tar_with(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def test_safe_extract_rejects_parent_paths(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    _tar_with(archive, {"cifar-10-batches-bin/ok.bin": b"ok", "../escape.txt": b"boom"})
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match=r"unsafe path '\.\./escape\.txt'"):
        loaders.safe_extract_tar(archive, dest)
    assert not (tmp_path / "escape.txt").exists()
    assert list(dest.iterdir()) == []  # refused whole: not even the safe member

    _tar_with(archive, {"/abs/path.bin": b"x"})
    with pytest.raises(ValueError, match="unsafe path"):
        loaders.safe_extract_tar(archive, dest)


def test_safe_extract_accepts_a_normal_archive(tmp_path):
    archive = tmp_path / "good.tar.gz"
    _tar_with(archive, {"cifar-10-batches-bin/test_batch.bin": b"abc"})
    written = loaders.safe_extract_tar(archive, tmp_path / "dest")
    assert written == [tmp_path / "dest" / "cifar-10-batches-bin"]
    assert (written[0] / "test_batch.bin").read_bytes() == b"abc"


# ---------------------------------------------------------------------- classifier


def test_classifier_accuracy_and_npz_round_trip(digits, tmp_path):
    model, acc = train_and_score(digits, seed=0, test_fraction=0.25)
    assert acc > 0.9
    path = tmp_path / "clf.npz"
    save_classifier(path, model)
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"coef_", "intercept_", "classes_"}
    loaded = load_classifier(path)
    assert np.array_equal(predict(loaded, digits.x), predict(model, digits.x))


def test_nearest_neighbor_distance(digits):
    ref = digits.x[:200]
    assert np.array_equal(nearest_neighbor_distance(ref, ref), np.zeros(200))
    shifted = ref[:3] + np.array([[3.0] + [0.0] * 63])
    d = nearest_neighbor_distance(shifted, ref)
    assert d.shape == (3,) and np.all(d > 0) and np.all(d <= 3.0 + 1e-12)
    with pytest.raises(ValueError, match="D = 10"):
        nearest_neighbor_distance(np.zeros((2, 10)), ref)
