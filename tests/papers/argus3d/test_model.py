"""Stage 1 (VQ round trip, shapes per representation), token orders, and the GPT sampler."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from common.cli import UserError
from common.config import compose_config
from papers.argus3d import evaluate, make_data, train_stage1, train_stage2
from papers.argus3d.gpt import build_gpt, reorder, restore, sample
from papers.argus3d.model import ShapeAutoencoder
from papers.argus3d.runtime import load_data
from papers.argus3d.train_stage1 import validate

TOKENS = {"latent": 16, "triplane": 48, "grid": 64}


def small(rep: str) -> SimpleNamespace:
    return SimpleNamespace(rep=rep, channels=4, width=8, plane_res=8, grid_res=8, n_down=1,
                           hidden=16, token_dim=8, codebook_size=32, codebook_dim=4,
                           commitment=0.4, vq_decay=0.8, dead_code_threshold=0)  # fmt: skip


@pytest.mark.parametrize("rep", ["latent", "triplane", "grid"])
def test_vq_round_trip(rep):
    torch.manual_seed(0)
    model = ShapeAutoencoder(small(rep)).eval()
    pts, q = torch.rand(2, 200, 3) - 0.5, torch.rand(2, 50, 3) - 0.5
    with torch.no_grad():
        zq, idx, _ = model.quantize(model.encode(pts))
        assert idx.shape == (2, TOKENS[rep]) and int(idx.max()) < 32
        # the codes alone give back the quantized tokens and the same occupancy
        assert torch.allclose(model.vq.get_output_from_indices(idx), zq, atol=1e-5)
        direct = model.query(model.features(zq), q)
        assert torch.allclose(model.query(model.codes_to_features(idx), q), direct, atol=1e-5)
        # re-encoding the same points gives the same codes
        assert torch.equal(model.quantize(model.encode(pts))[1], idx)


@pytest.mark.parametrize("grid", [(1, 4, 4), (3, 2, 4), (4, 4, 4)])
def test_column_major_order_round_trip(grid):
    codes = np.arange(2 * np.prod(grid)).reshape(2, -1)
    col = reorder(codes, grid, "col")
    assert not np.array_equal(col, codes)
    assert col[0, 1] == codes[0, grid[-1]]  # second token: next row, same column
    assert np.array_equal(restore(col, grid, "col"), codes)
    assert np.array_equal(reorder(codes, grid, "row"), codes)


def test_gpt_samples_codebook_tokens_only():
    tc = SimpleNamespace(width=16, layers=1, heads=2, dropout=0.0)
    model = build_gpt(tc, codebook_size=10, n_categories=3, seq_len=5)
    with torch.no_grad():  # make the category tokens the most likely outputs
        model.lm_head.weight[10:] += 100.0
    codes = sample(model, np.array([0, 2]), 10, 5, top_k=4, generator=torch.Generator())
    assert codes.shape == (2, 5) and codes.max() < 10


def test_bad_representation_is_a_one_line_error():
    cfg = compose_config("argus3d", ["scale=smoke", "stage1.rep=voxels"])
    with pytest.raises(UserError, match="stage1.rep must be one of latent, triplane, grid"):
        validate(cfg)
    with pytest.raises(UserError, match="stage1.steps"):
        compose_config("argus3d", ["scale=smoke", "stage1.steps=many"])


@pytest.mark.parametrize(
    ("module", "override", "field"),
    [
        (train_stage1, "stage1.steps=0", "stage1.steps"),
        (train_stage1, "stage1.lr=-0.1", "stage1.lr"),
        (train_stage1, "stage1.batch_size=0", "stage1.batch_size"),
        (train_stage1, "stage1.codebook_size=0", "stage1.codebook_size"),
        (train_stage1, "stage1.checkpoint_every=0", "stage1.checkpoint_every"),
        (train_stage2, "stage2.steps=-1", "stage2.steps"),
        (train_stage2, "stage2.lr=0", "stage2.lr"),
        (train_stage2, "stage2.n_gen=0", "stage2.n_gen"),
        (evaluate, "eval.n_ref=0", "eval.n_ref"),
        (make_data, "data.n_train=0", "data.n_train"),
    ],
)
def test_nonsense_values_are_one_line_errors(module, override, field):
    cfg = compose_config("argus3d", ["scale=smoke", "run.data_dir=somewhere", override])
    with pytest.raises(UserError, match=field):
        module.validate(cfg)


def test_data_dir_is_required():
    cfg = compose_config("argus3d", ["scale=smoke"])
    with pytest.raises(UserError, match="run.data_dir"):
        load_data(cfg, "train")
