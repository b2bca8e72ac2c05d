"""Atomic writes: an interrupted write leaves the old file (or nothing), never half a file."""

import numpy as np
import pytest

from common.io import (
    atomic_path,
    load_npz,
    load_torch,
    read_metrics,
    save_npz,
    save_torch,
    write_json,
    write_metrics,
)


def test_interrupted_write_leaves_no_output(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"half": ')
        raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_previous_version(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("garbage")
        raise KeyboardInterrupt
    assert target.read_text().strip().startswith("{")
    assert '"v": 1' in target.read_text()


def test_written_files_are_world_readable(tmp_path):
    write_json(tmp_path / "a.json", {})
    assert (tmp_path / "a.json").stat().st_mode & 0o044 == 0o044


def test_metrics_round_trip_and_type_check(tmp_path):
    path = tmp_path / "metrics.json"
    write_metrics(path, {"a": 1.5, "b": [1, 2], "c": np.float64(3)}, {"seed": 0})
    metrics, meta = read_metrics(path)
    assert metrics == {"a": 1.5, "b": [1, 2], "c": 3.0} and meta == {"seed": 0}
    with pytest.raises(TypeError, match="'bad'"):
        write_metrics(path, {"bad": "text"}, {})


def test_npz_round_trip_without_pickle(tmp_path):
    save_npz(tmp_path / "x.npz", z=np.array([1 + 2j]), r=np.arange(3))
    data = load_npz(tmp_path / "x.npz")
    assert data["z"][0] == 1 + 2j and data["r"].tolist() == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="missing file"):
        load_npz(tmp_path / "nope.npz")


def test_torch_files_are_byte_identical_for_identical_data(tmp_path):
    import torch

    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 3}
    save_torch(tmp_path / "a.pt", state)
    save_torch(tmp_path / "b" / "model.pt", state)  # another name, another temp file
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b" / "model.pt").read_bytes()
    assert torch.equal(load_torch(tmp_path / "a.pt")["w"], state["w"])
