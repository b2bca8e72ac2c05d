"""Masked-LM training: resume after a kill ends identical to an uninterrupted run; a changed
config starts fresh; nonsense settings are one-line errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from common.cli import UserError
from common.config import compose_config
from common.io import load_npz
from papers.reverse_distillation.data import potts_tables
from papers.reverse_distillation.schema import STAGE_KEYS
from papers.reverse_distillation.train import train
from tests.resume import Killed, kill_after_first_save

SIZE = "esm2_t1_d16"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    tables = potts_tables(compose_config("reverse_distillation", ["scale=smoke"]))
    for name, table in zip(("pretrain", "fit", "assays"), tables, strict=True):
        table.to_csv(folder / f"{name}.csv", index=False)
    return folder


def cfg_at(data_dir, out, *extra):
    over = ["scale=smoke", f"size={SIZE}", "train.steps=8", "train.checkpoint_every=3",
            f"run.data_dir={data_dir}", f"run.out_dir={out}", f"embeddings_dir={out}/emb",
            *extra]  # fmt: skip
    return compose_config("reverse_distillation", over)


def outputs(out):
    state = load_file(out / SIZE / "model.safetensors")
    emb = load_npz(out / "emb" / f"{SIZE}.npz")
    return state, pd.read_csv(out / f"{SIZE}_train.csv"), emb


def assert_same(a, b):
    (state_a, log_a, emb_a), (state_b, log_b, emb_b) = a, b
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    pd.testing.assert_frame_equal(log_a, log_b)
    for key in ("fit_residues", "assay_pooled"):
        np.testing.assert_array_equal(emb_a[key], emb_b[key])


def test_training_embeds_as_the_embed_stage_does_from_the_saved_model(tmp_path, data_dir):
    """The embeddings the training job writes equal those of ``embed`` on the saved model."""
    from papers.reverse_distillation.embed import main as embed_main

    out = tmp_path / "run"
    train(cfg_at(data_dir, out))
    embed_main([
        "scale=smoke", f"size={SIZE}", f"run.data_dir={data_dir}", f"models_dir={out}",
        f"run.out_dir={tmp_path}/embed",
    ])  # fmt: skip
    ours, ref = load_npz(out / "emb" / f"{SIZE}.npz"), load_npz(tmp_path / "embed" / f"{SIZE}.npz")
    assert ours["assay_pooled"].shape[1] == 16
    for key in ("fit_residues", "assay_pooled"):
        np.testing.assert_array_equal(ours[key], ref[key])


def test_missing_assay_table_stops_before_training(tmp_path, data_dir):
    partial = tmp_path / "data"
    partial.mkdir()
    (partial / "pretrain.csv").write_bytes((data_dir / "pretrain.csv").read_bytes())
    with pytest.raises(FileNotFoundError, match="fit.csv"):
        train(cfg_at(partial, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_resume_after_kill_equals_uninterrupted_run(tmp_path, data_dir, monkeypatch):
    clean = tmp_path / "clean"
    assert train(cfg_at(data_dir, clean)) == 0
    assert not (clean / f"{SIZE}_checkpoint.pt").exists()  # removed once the outputs exist

    out = tmp_path / "killed"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            train(cfg_at(data_dir, out))
    assert (out / f"{SIZE}_checkpoint.pt").exists()
    assert not (out / SIZE / "model.safetensors").exists()
    assert train(cfg_at(data_dir, out)) == 3  # resumed at the saved step
    assert_same(outputs(out), outputs(clean))


def test_changed_config_starts_fresh(tmp_path, data_dir, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill_after_first_save(patch)
        with pytest.raises(Killed):
            train(cfg_at(data_dir, out))
    assert (out / f"{SIZE}_checkpoint.pt").exists()
    assert train(cfg_at(data_dir, out, "train.lr=1e-3")) == 0  # a hashed value changed
    clean = tmp_path / "clean"
    train(cfg_at(data_dir, clean, "train.lr=1e-3"))
    assert_same(outputs(out), outputs(clean))


def test_checkpoint_interval_is_not_hashed_and_every_train_key_is(tmp_path, data_dir):
    cfg = cfg_at(data_dir, tmp_path)
    hashed = set(STAGE_KEYS["train"])
    assert {f"train.{k}" for k in cfg.train} - hashed == {"train.checkpoint_every"}


@pytest.mark.parametrize(
    ("override", "field"),
    [("train.steps=0", "train.steps"), ("train.lr=-1e-3", "train.lr"),
     ("train.batch_size=0", "train.batch_size"), ("train.mask_prob=1.5", "train.mask_prob"),
     ("train.checkpoint_every=0", "train.checkpoint_every"),
     ("model.family.0.extra_families=5", "extra_families")],
)  # fmt: skip
def test_nonsense_training_settings_are_rejected(tmp_path, data_dir, override, field):
    with pytest.raises(UserError, match=field):
        train(cfg_at(data_dir, tmp_path, override))
