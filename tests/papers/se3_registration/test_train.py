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
    assert (
        summary["resumed_from"] == 0
        and summary["steps"] == {"surrogate": 20, "diffusion": 10}[kind]
    )

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
        ("train.identity_weight=-1", "train.identity_weight"),
        ("diffusion.length_unit_mm=0", "diffusion.length_unit_mm"),
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


def test_released_mixture_and_equal_passes(data_dir, tmp_path):
    """The diffusion step adds the identity-start loss on the full batch; the surrogate trains
    for as many network passes; sigma_t is in the released unit of 256 mm."""
    import numpy as np

    from papers.se3_registration import diffusion, lie
    from papers.se3_registration.train import loss_fn, n_steps, noisy_inputs, passes_per_step

    cfg = _cfg(data_dir, tmp_path, "diffusion")
    H0 = lie.exp(torch.randn(4, 6, dtype=torch.float64) * 0.3)
    ab = diffusion.cosine_alpha_bar(cfg.diffusion.T)
    H_in = noisy_inputs(cfg, "diffusion", H0, ab, torch.Generator(), np.random.default_rng(0))
    assert H_in.shape[0] == 8 and torch.equal(H_in[4:], lie.identity(4))
    assert not torch.equal(H_in[:4], lie.identity(4))
    X = torch.randn(4, 10, 3, dtype=torch.float64)
    pred = torch.cat([H0, lie.identity(4)])  # exact at H_t, the identity from the identity
    assert loss_fn(cfg, pred, H0, X) == pytest.approx(
        float((lie.transform(H0, X) - X).abs().mean())
    )
    steps = {k: n_steps(cfg, k, 100) for k in ("surrogate", "diffusion")}
    assert steps["surrogate"] == 2 * steps["diffusion"]
    assert steps["surrogate"] * passes_per_step(cfg, "surrogate") == steps[
        "diffusion"
    ] * passes_per_step(cfg, "diffusion")
    alone = _cfg(data_dir, tmp_path, "diffusion", "train.identity_weight=0")
    assert noisy_inputs(alone, "diffusion", H0, ab, None, np.random.default_rng(0)).shape[0] == 4
    assert n_steps(alone, "surrogate", 100) == n_steps(alone, "diffusion", 100)
    sigma = diffusion.noise_scales(cfg.diffusion)
    assert sigma[3:].tolist() == pytest.approx([0.03 * 0.256] * 3)  # 7.7 mm
    assert diffusion.noise_scales(cfg.diffusion, test=True)[3] == pytest.approx(0.00256)
