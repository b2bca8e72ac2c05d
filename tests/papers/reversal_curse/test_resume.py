"""Training resumes from its checkpoint after a kill and ends as an uninterrupted run would."""

from __future__ import annotations

import pytest
import torch

from common.config import compose_config
from papers.reversal_curse.data import synthetic_sets, write_jsonl
from papers.reversal_curse.train import train
from tests.resume import Killed, kill_after_first_save


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    cfg = compose_config("reversal_curse", ["scale=smoke"])
    out = tmp_path_factory.mktemp("data")
    for stem, examples in synthetic_sets(cfg).items():
        write_jsonl(out / f"{stem}.jsonl", examples)
    return out


def _cfg(variant: str, *extra: str):
    return compose_config(
        "reversal_curse",
        ["scale=smoke", f"variant={variant}", "train.steps=12", "train.checkpoint_every=5",
         "model.dropout=0.1", *extra],
    )  # fmt: skip


def _same(a, b):
    model_a, _, log_a, _ = a
    model_b, _, log_b, _ = b
    assert log_a.equals(log_b)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


# enc_uniform draws masks and rates from the data generator; dropout uses torch's global RNG
@pytest.mark.parametrize("variant", ["decoder", "enc_uniform"])
def test_killed_run_resumes_and_matches_uninterrupted(tmp_path, data_dir, monkeypatch, variant):
    clean = train(_cfg(variant), data_dir, tmp_path / "clean")
    assert clean[3]["resumed_from"] == 0
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            train(_cfg(variant), data_dir, out)
    assert (out / "checkpoint.pt").exists()
    resumed = train(_cfg(variant), data_dir, out)
    assert resumed[3]["resumed_from"] == 5
    _same(clean, resumed)


def test_changed_config_starts_fresh(tmp_path, data_dir, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            train(_cfg("decoder"), data_dir, out)
    changed = train(_cfg("decoder", "train.lr=3e-3"), data_dir, out)
    assert changed[3]["resumed_from"] == 0
    _same(changed, train(_cfg("decoder", "train.lr=3e-3"), data_dir, tmp_path / "clean"))


def test_checkpoint_interval_is_not_hashed(tmp_path, data_dir, monkeypatch):
    """Changing only how often to save keeps a checkpoint valid."""
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            train(_cfg("decoder"), data_dir, out)
    resumed = train(_cfg("decoder", "train.checkpoint_every=4"), data_dir, out)
    assert resumed[3]["resumed_from"] == 5


def test_entry_point_removes_checkpoint(tmp_path, data_dir):
    from papers.reversal_curse.train import main

    out = tmp_path / "run"
    main(["scale=smoke", "train.steps=12", "train.checkpoint_every=5",
          f"run.data_dir={data_dir}", f"run.out_dir={out}"])  # fmt: skip
    assert (out / "model").is_dir() and (out / "train_log.csv").exists()
    assert not (out / "checkpoint.pt").exists()
