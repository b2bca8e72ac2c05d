"""fair-esm checkpoints: tiny save/load round trip, the offline paper-scale loading path,
windowed embeddings of long sequences."""

import numpy as np
import pytest
import torch

from papers.reverse_distillation.model import (
    build_esm2,
    load_esm2,
    locate_weights,
    residue_embeddings,
    save_esm2,
    window_starts,
)

SEQS = ["MKTAYIAKQR", "GSHMLEDPVAGKW", "ACD"]


def embed(model, alphabet, seqs=SEQS, tokens_per_batch=16):
    return list(residue_embeddings(model, alphabet, seqs, tokens_per_batch))


def test_tiny_checkpoint_round_trip_through_fair_esm_loader(tmp_path):
    torch.manual_seed(0)
    model = build_esm2(2, 16, 2).eval()
    save_esm2(model, tmp_path / "esm2_t2_d16.pt")
    assert (tmp_path / "esm2_t2_d16-contact-regression.pt").exists()
    raw = torch.load(tmp_path / "esm2_t2_d16.pt", weights_only=False)
    assert all(k.startswith("encoder.sentence_encoder.") for k in raw["model"])
    loaded, alphabet = load_esm2(tmp_path / "esm2_t2_d16.pt")
    for a, b in zip(embed(model, alphabet), embed(loaded, alphabet), strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert [e.shape for e in embed(loaded, alphabet)] == [(len(s), 16) for s in SEQS]


def test_embeddings_do_not_depend_on_batching():
    torch.manual_seed(1)
    model = build_esm2(1, 16, 2).eval()
    one = embed(model, model.alphabet, tokens_per_batch=1)
    many = embed(model, model.alphabet, tokens_per_batch=1000)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_bad_checkpoint_names_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="esm2"):
        save_esm2(build_esm2(1, 16, 2), tmp_path / "tiny.pt")
    with pytest.raises(FileNotFoundError, match="missing checkpoint"):
        load_esm2(tmp_path / "esm2_none.pt")
    with pytest.raises(FileNotFoundError, match="model.download=true"):
        locate_weights("esm2_t6_8M_UR50D", str(tmp_path), download=False)


def test_paper_scale_8m_checkpoint_loads_offline_from_torch_hub_cache(tmp_path, monkeypatch):
    """The paper config's loader finds esm2_t6_8M_UR50D in the hub cache without a network."""
    hub = tmp_path / "hub"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        torch.manual_seed(0)
        save_esm2(build_esm2(6, 320, 20), hub / "checkpoints" / "esm2_t6_8M_UR50D.pt")
        path = locate_weights("esm2_t6_8M_UR50D", str(tmp_path / "no_local_dir"), download=False)
        assert path == hub / "checkpoints" / "esm2_t6_8M_UR50D.pt"
        model, alphabet = load_esm2(path)
    finally:
        torch.hub.set_dir(old)
    assert (model.num_layers, model.embed_dim, model.attention_heads) == (6, 320, 20)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(7.8e6, rel=0.05)
    (emb,) = embed(model, alphabet, ["MKTAYIAKQRQISFVKSHFSRQ"])
    assert emb.shape == (22, 320) and np.isfinite(emb).all()


def test_local_weights_dir_wins_over_hub_cache(tmp_path):
    local = tmp_path / "local"
    save_esm2(build_esm2(1, 16, 2), local / "esm2_t1_d16.pt")
    assert locate_weights("esm2_t1_d16", str(local), download=False) == local / "esm2_t1_d16.pt"


def test_long_sequences_are_windowed_and_stitched():
    assert window_starts(100, 1022) == [0]
    starts = window_starts(2500, 1022)
    assert starts[0] == 0 and starts[-1] == 2500 - 1022
    # consecutive windows overlap or touch
    assert all(b - a <= 1022 for a, b in zip(starts, starts[1:], strict=False))
    torch.manual_seed(2)
    model = build_esm2(1, 16, 2).eval()
    (emb,) = embed(model, model.alphabet, ["MKTAYIAKQR" * 110], tokens_per_batch=4096)
    assert emb.shape == (1100, 16) and np.isfinite(emb).all()
