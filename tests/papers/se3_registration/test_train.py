"""Training resumes from its checkpoint after a kill and ends identical to an uninterrupted run;
a checkpoint written under another config is set aside (fresh start)."""

import logging

import pytest
import torch

from common.cli import UserError
from common.config import compose_config
from tests.resume import Killed, kill_after_first_save

PAPER = "se3_registration"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The smoke-scale dataset, written once by the data entry point."""
    from papers.se3_registration.data import main

    root = tmp_path_factory.mktemp("se3_data")
    main(["scale=smoke", f"run.data_dir={root / 'bop'}", f"run.out_dir={root}"])
    return root


def _cfg(data_dir, out, kind, *extra):
    overrides = ["scale=smoke", f"train.kind={kind}", f"run.data_dir={data_dir}"]
    return compose_config(PAPER, [*overrides, f"run.out_dir={out}", *extra])


def _train(data_dir, out, kind, *extra):
    from papers.se3_registration.train import train

    return train(_cfg(data_dir, out, kind, *extra), kind, data_dir, out)


def _assert_same_net(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("kind", ["surrogate", "diffusion"])
def test_killed_training_resumes_and_matches_an_uninterrupted_run(
    kind, data_dir, tmp_path, monkeypatch, caplog
):
    net, log, summary = _train(data_dir, tmp_path / "clean", kind)
    assert summary["resumed_from"] == 0 and summary["steps"] == 10

    out = tmp_path / "killed"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            _train(data_dir, out, kind)
    assert (out / "checkpoint.pt").exists()

    with caplog.at_level(logging.INFO):
        net2, log2, summary2 = _train(data_dir, out, kind)
    every = compose_config(PAPER, ["scale=smoke"]).train.checkpoint_every
    assert summary2["resumed_from"] == every > 0
    assert "resuming" in caplog.text
    _assert_same_net(net, net2)
    assert log2.equals(log)
    assert summary2["final_loss"] == summary["final_loss"]


@pytest.mark.parametrize("kind", ["surrogate", "diffusion"])
def test_checkpoint_of_another_config_starts_fresh(kind, data_dir, tmp_path, monkeypatch, caplog):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            _train(data_dir, out, kind)
    assert (out / "checkpoint.pt").exists()

    with caplog.at_level(logging.INFO):
        net, log, summary = _train(data_dir, out, kind, "train.lr=2e-3")  # a hashed value
    assert summary["resumed_from"] == 0
    assert "starting fresh" in caplog.text
    net_clean, log_clean, _ = _train(data_dir, tmp_path / "clean", kind, "train.lr=2e-3")
    _assert_same_net(net, net_clean)
    assert log.equals(log_clean)


def test_checkpoint_interval_is_not_hashed(data_dir, tmp_path, monkeypatch):
    """Changing only train.checkpoint_every keeps the checkpoint (it does not change results)."""
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            _train(data_dir, out, "surrogate")
    _, _, summary = _train(data_dir, out, "surrogate", "train.checkpoint_every=3")
    assert summary["resumed_from"] == 5


def test_main_writes_outputs_and_removes_the_checkpoint(data_dir, tmp_path):
    from papers.se3_registration.train import main

    out = tmp_path / "run"
    main([
        "scale=smoke", "train.kind=surrogate", f"run.data_dir={data_dir}", f"run.out_dir={out}",
    ])  # fmt: skip
    for name in ("weights.pt", "train_log.csv", "train.json"):
        assert (out / name).exists()
    assert not (out / "checkpoint.pt").exists()


@pytest.mark.parametrize(
    "override, field",
    [
        ("train.steps=0", "train.steps"),
        ("train.lr=-1e-3", "train.lr"),
        ("train.batch_size=0", "train.batch_size"),
        ("train.epochs=-1", "train.epochs"),
        ("model.width=0", "model.width"),
        ("model.n_obs=0", "model.n_obs"),
        ("train.checkpoint_every=0", "train.checkpoint_every"),
        ("diffusion.T=0", "diffusion.T"),
    ],
)
def test_nonsense_values_are_rejected_naming_the_field(override, field, tmp_path):
    from papers.se3_registration.train import validate

    cfg = _cfg(tmp_path, tmp_path, "diffusion", override)
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        validate(cfg, cfg.train.kind)


@pytest.mark.parametrize("override", ["eval.steps_ablation=[3]", "eval.icp_iterations=0"])
def test_nonsense_eval_values_are_rejected(override, tmp_path):
    from papers.se3_registration.evaluate import validate_eval

    with pytest.raises(UserError, match=override.split("=")[0].replace(".", r"\.")):
        validate_eval(_cfg(tmp_path, tmp_path, "diffusion", override))


def test_data_stage_needs_a_data_dir(tmp_path):
    from papers.se3_registration.data import validate

    cfg = compose_config(PAPER, ["scale=smoke", f"run.out_dir={tmp_path}"])
    with pytest.raises(UserError, match=r"run\.data_dir"):
        validate(cfg)
