"""Checkpoint save/resume, provenance fields, seeding."""

import numpy as np
import pytest

from common import provenance
from common.checkpoint import Checkpointer
from common.seeding import seed_everything


def test_checkpoint_resume_round_trip(tmp_path):
    ckpt = Checkpointer(tmp_path / "ck.npz", every=10)
    assert ckpt.load() is None
    assert not ckpt.maybe_save(5, {"w": np.ones(3)})
    assert ckpt.maybe_save(10, {"w": np.arange(3.0)}, extra=[{"epoch": 9, "loss": 0.5}])
    step, state, extra = ckpt.load()
    assert step == 10 and state["w"].tolist() == [0, 1, 2] and extra[0]["loss"] == 0.5
    ckpt.remove()
    assert ckpt.load() is None
    with pytest.raises(ValueError, match="interval"):
        Checkpointer(tmp_path / "x.npz", every=0)


def test_provenance_fields():
    record = provenance.collect(config_hash="abc", seed=3, wall_time_s=1.0)
    for key in (
        "git_commit",
        "git_dirty",
        "python",
        "platform",
        "machine",
        "packages",
        "timestamp",
    ):
        assert key in record
    assert record["config_hash"] == "abc" and record["seed"] == 3
    assert "numpy" in record["packages"]


def test_seed_everything_is_deterministic():
    import jax

    k1 = seed_everything(7)
    a = np.random.rand(3)
    k2 = seed_everything(7)
    assert np.array_equal(a, np.random.rand(3))
    assert np.array_equal(jax.random.key_data(k1), jax.random.key_data(k2))
