"""Both training loops resume a killed run exactly, and start fresh under a changed config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from common.checkpoint import Checkpoint
from common.io import load_npz, read_json
from papers.argus3d import make_data, train_stage1, train_stage2
from tests.resume import Killed, kill_after_first_save

#: summary fields that are wall-clock times (everything else must match exactly)
TIMES = ("seconds", "train_seconds")


LOAD = Checkpoint.load


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("argus3d") / "data"
    make_data.main(["scale=smoke", f"run.data_dir={path}"])
    return path


def _watch(monkeypatch) -> list[int]:
    """Record the step every Checkpoint.load resumes at (0: fresh)."""
    starts: list[int] = []

    def watched_load(self):
        resumed = LOAD(self)  # the original, not an earlier patch
        starts.append(0 if resumed is None else resumed.step)
        return resumed

    monkeypatch.setattr(Checkpoint, "load", watched_load)
    return starts


def _outputs(out: Path, summary: str, arrays: tuple[str, ...], weights: str) -> dict:
    js = {k: v for k, v in read_json(out / summary).items() if k not in TIMES}
    npz = {f"{a}:{k}": v for a in arrays for k, v in load_npz(out / a).items()}
    state = torch.load(out / weights, weights_only=True)
    return {"json": js, "log": pd.read_csv(out / "train_log.csv"), "npz": npz, "state": state}


def _assert_same(a: dict, b: dict) -> None:
    assert a["json"] == b["json"]
    pd.testing.assert_frame_equal(a["log"], b["log"], check_exact=False, rtol=1e-6)
    assert a["npz"].keys() == b["npz"].keys()
    for k in a["npz"]:
        np.testing.assert_allclose(a["npz"][k], b["npz"][k], rtol=1e-6, atol=1e-6, err_msg=k)
    assert a["state"].keys() == b["state"].keys()
    for k in a["state"]:
        torch.testing.assert_close(a["state"][k], b["state"][k], rtol=1e-6, atol=1e-6)


def _check_resume(monkeypatch, run, out: Path, outputs, changed: str) -> None:
    run(out / "clean", [])
    clean = outputs(out / "clean")
    # (a) killed after the first checkpoint, rerun unchanged: resumes and ends the same
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            run(out / "killed", [])
    assert (out / "killed" / "checkpoint.pt").exists()
    starts = _watch(monkeypatch)
    run(out / "killed", [])
    assert starts == [2]
    assert not (out / "killed" / "checkpoint.pt").exists()  # removed once the outputs exist
    _assert_same(outputs(out / "killed"), clean)
    # (b) killed again, a hashed value changed: the stale checkpoint is set aside, fresh start
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            run(out / "changed", [])
    starts = _watch(monkeypatch)
    run(out / "changed", [changed])
    assert starts == [0]
    run(out / "changed_clean", [changed])
    _assert_same(outputs(out / "changed"), outputs(out / "changed_clean"))


def test_stage1_resumes_after_a_kill(monkeypatch, tmp_path, data_dir):
    def run(out: Path, extra: list[str]) -> None:
        train_stage1.main(["scale=smoke", "stage1.rep=latent", "stage1.checkpoint_every=2",
                           f"run.data_dir={data_dir}", f"run.out_dir={out}", *extra])  # fmt: skip

    def outputs(out: Path) -> dict:
        return _outputs(out, "stage1.json", ("codes.npz", "recon.npz"), "model.pt")

    _check_resume(monkeypatch, run, tmp_path, outputs, "stage1.lr=0.002")


def test_stage2_resumes_after_a_kill(monkeypatch, tmp_path, data_dir):
    common = ["scale=smoke", f"run.data_dir={data_dir}", "stage1.rep=latent"]
    train_stage1.main([*common, f"run.out_dir={tmp_path / 'stage1' / 'latent'}"])

    def run(out: Path, extra: list[str]) -> None:  # out is <root>/gen/<name>: reads <root>/stage1
        train_stage2.main([*common, "stage2.rep=latent", "stage2.checkpoint_every=2",
                           f"run.out_dir={out}", *extra])  # fmt: skip

    def outputs(out: Path) -> dict:
        return _outputs(out, "stage2.json", ("samples.npz",), "gpt.pt")

    _check_resume(monkeypatch, run, tmp_path / "gen", outputs, "stage2.lr=0.002")
