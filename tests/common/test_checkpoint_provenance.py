"""Checkpoint save/resume, provenance fields, seeding."""

import logging

import numpy as np
import pytest

from common import provenance
from common.checkpoint import Checkpoint
from common.seeding import seed_everything


def test_npz_checkpoint_round_trip_nested(tmp_path):
    ckpt = Checkpoint(tmp_path / "ck.npz", "abc", every=10)
    assert ckpt.load() is None
    assert not ckpt.maybe_save(5, {"w": np.ones(3)})
    state = {"params": {"w": np.arange(3.0), "b": np.zeros(2)}, "opt": {"mu": np.ones(1)}}
    assert ckpt.maybe_save(10, state, extra=[{"epoch": 9, "loss": 0.5}])
    step, back, extra = ckpt.load()
    assert step == 10 and extra[0]["loss"] == 0.5
    assert back["params"]["w"].tolist() == [0, 1, 2] and back["opt"]["mu"].tolist() == [1]
    ckpt.remove()
    assert ckpt.load() is None
    with pytest.raises(ValueError, match="interval"):
        Checkpoint(tmp_path / "x.npz", "abc", every=0)


def test_torch_checkpoint_round_trip_is_byte_stable(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    state = {"model": net.state_dict(), "optim": opt.state_dict(), "rng": torch.get_rng_state()}
    a, b = Checkpoint(tmp_path / "a.pt", "h", 1), Checkpoint(tmp_path / "b.pt", "h", 1)
    a.save(3, state, extra={"rows": [1]})
    b.save(3, state, extra={"rows": [1]})
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    step, back, extra = a.load()
    assert step == 3 and extra == {"rows": [1]}
    assert torch.equal(back["model"]["weight"], net.weight.detach())
    assert back["optim"]["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_checkpoint_of_another_config_is_refused_with_one_line(tmp_path, caplog):
    Checkpoint(tmp_path / "ck.npz", "old", 1).save(4, {"w": np.ones(2)})
    with caplog.at_level(logging.WARNING):
        assert Checkpoint(tmp_path / "ck.npz", "new", 1).load() is None
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "ck.npz" in message and "old" in message and "starting fresh" in message
    assert not (tmp_path / "ck.npz").exists()  # the next run does not trip on it again


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04truncated"])
def test_unreadable_checkpoint_starts_fresh(tmp_path, caplog, suffix, content):
    pytest.importorskip("torch")
    path = tmp_path / f"ck{suffix}"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert Checkpoint(path, "h", 1).load() is None
    assert "unreadable" in caplog.text and str(path) in caplog.text
    assert not path.exists()


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


def test_commit_outside_a_checkout_comes_from_the_environment(monkeypatch):
    monkeypatch.setattr(provenance, "_git", lambda *args: None)
    monkeypatch.delenv(provenance.COMMIT_ENV, raising=False)
    assert provenance.git_state() == {"git_commit": None, "git_dirty": None}
    monkeypatch.setenv(provenance.COMMIT_ENV, "abc1234")
    assert provenance.git_state() == {"git_commit": "abc1234", "git_dirty": None}


def test_seed_everything_is_deterministic():
    import jax

    k1 = seed_everything(7)
    a = np.random.rand(3)
    k2 = seed_everything(7)
    assert np.array_equal(a, np.random.rand(3))
    assert np.array_equal(jax.random.key_data(k1), jax.random.key_data(k2))
