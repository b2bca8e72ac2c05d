"""ESM-2 through transformers: tiny safetensors save/load round trip, the paper-scale weights
folder (local first, hub only when allowed, sha256-checked), one-line errors for missing and
corrupt files, windowed embeddings of long sequences. Everything on files the tests write."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from common.cli import describe
from papers.reverse_distillation.model import (
    ALPHABET,
    WEIGHTS,
    build_esm2,
    encode,
    load_esm2,
    locate_weights,
    residue_embeddings,
    save_esm2,
    sha256_of,
    tiny_tokenizer,
    window_starts,
)

SEQS = ["MKTAYIAKQR", "GSHMLEDPVAGKW", "ACD"]


def embed(model, tokenizer, seqs=SEQS, tokens_per_batch=16):
    return list(residue_embeddings(model, tokenizer, seqs, tokens_per_batch))


def spec(name="esm2_t1_d16", repo="", revision="", sha256=""):
    return SimpleNamespace(name=name, repo=repo, revision=revision, sha256=sha256)


def tiny(folder: Path, seed=0) -> Path:
    torch.manual_seed(seed)
    save_esm2(build_esm2(1, 16, 2).eval(), tiny_tokenizer(), folder)
    return folder


def test_tiny_model_round_trip_is_bit_identical_and_pickle_free(tmp_path):
    torch.manual_seed(0)
    model, tokenizer = build_esm2(2, 16, 2).eval(), tiny_tokenizer()
    save_esm2(model, tokenizer, tmp_path / "esm2_t2_d16")
    files = sorted(p.name for p in (tmp_path / "esm2_t2_d16").iterdir())
    assert files == ["config.json", "model.safetensors", "vocab.txt"]
    assert not list(tmp_path.glob(".esm2_t2_d16.*"))  # the staging folder is gone
    assert (tmp_path / "esm2_t2_d16/vocab.txt").read_text().split() == list(ALPHABET)
    loaded, loaded_tok = load_esm2(tmp_path / "esm2_t2_d16")
    for a, b in zip(embed(model, tokenizer), embed(loaded, loaded_tok), strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert [e.shape for e in embed(loaded, loaded_tok)] == [(len(s), 16) for s in SEQS]


def test_tokenizer_matches_the_esm_alphabet():
    tok = tiny_tokenizer()
    ids = tok(["MKA", "C"], padding=True)["input_ids"]
    index = {t: i for i, t in enumerate(ALPHABET)}
    assert ids[0] == [index["<cls>"], index["M"], index["K"], index["A"], index["<eos>"]]
    assert ids[1] == [index["<cls>"], index["C"], index["<eos>"], index["<pad>"], index["<pad>"]]
    assert tok.mask_token_id == index["<mask>"] == 32 and len(tok) == 33


def test_fast_encoding_equals_the_tokenizer():
    tok = tiny_tokenizer()
    seqs = ["MKTAYIAKQR", "A", "XBUZO.-", "MKJ", "AC\u00e9D", "LAGVSERTIDPKQNFYMHWC"]
    ref = tok(seqs, padding=True, return_tensors="pt")
    fast = encode(tok, seqs)
    assert torch.equal(fast["input_ids"], ref["input_ids"])
    assert torch.equal(fast["attention_mask"], ref["attention_mask"])
    # one token per residue, also where the tokenizer would merge a run of unknown letters
    assert encode(tok, ["mk"])["input_ids"].tolist() == [[0, 3, 3, 2]]


def test_embeddings_do_not_depend_on_batching():
    torch.manual_seed(1)
    model, tokenizer = build_esm2(1, 16, 2).eval(), tiny_tokenizer()
    one = embed(model, tokenizer, tokens_per_batch=1)
    many = embed(model, tokenizer, tokens_per_batch=1000)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_embedding_is_the_final_normed_hidden_layer_without_special_tokens():
    torch.manual_seed(3)
    model, tokenizer = build_esm2(2, 16, 2).eval(), tiny_tokenizer()
    enc = tokenizer(["MKTAYIAKQR"], return_tensors="pt")
    with torch.no_grad():
        last = model(**enc, output_hidden_states=True).hidden_states[-1][0, 1:-1].numpy()
    (emb,) = embed(model, tokenizer, ["MKTAYIAKQR"])
    np.testing.assert_allclose(emb, last, atol=1e-6)
    # the final layer norm is applied (a fresh norm has zero bias: every row has mean 0)
    np.testing.assert_allclose(emb.mean(axis=1), 0, atol=1e-5)


def test_missing_weights_at_paper_scale_without_download_is_one_line(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        locate_weights(spec("esm2_t6_8M_UR50D"), str(tmp_path), download=False)
    line = describe(err.value)
    assert "\n" not in line and "esm2_t6_8M_UR50D/model.safetensors" in line
    assert "model.download=true" in line
    assert list(tmp_path.iterdir()) == []


def test_local_weights_dir_is_used_without_the_hub(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", pytest.fail)
    folder = tiny(tmp_path / "esm2_t1_d16")
    good = sha256_of(folder / WEIGHTS)
    assert locate_weights(spec(sha256=good), str(tmp_path), download=True) == folder
    with pytest.raises(ValueError, match="expected 0{64}"):  # a local file is named, not deleted
        locate_weights(spec(sha256="0" * 64), str(tmp_path), download=False)
    assert (folder / WEIGHTS).exists()


def fake_hub(source: Path, calls: list):
    """``hf_hub_download`` serving the files of ``source`` (the test's stand-in for the hub)."""

    def download(repo_id, filename, revision=None, local_dir=None):
        calls.append((repo_id, filename, revision))
        Path(local_dir, filename).write_bytes((source / filename).read_bytes())
        return str(Path(local_dir, filename))

    return download


def test_download_checks_sha256_before_the_weights_enter_the_cache(tmp_path, monkeypatch):
    import huggingface_hub

    source, cache, calls = tiny(tmp_path / "hub"), tmp_path / "weights", []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(source, calls))
    member = spec(repo="facebook/tiny", revision="abc123", sha256=sha256_of(source / WEIGHTS))
    folder = locate_weights(member, str(cache), download=True)
    assert folder == cache / "esm2_t1_d16" and (folder / WEIGHTS).exists()
    assert {c[0] for c in calls} == {"facebook/tiny"} and {c[2] for c in calls} == {"abc123"}
    model, tokenizer = load_esm2(folder)
    assert model.config.hidden_size == 16
    assert sorted(p.name for p in cache.iterdir()) == ["esm2_t1_d16"]  # no staging left


def test_download_with_wrong_sha256_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import huggingface_hub

    source, cache = tiny(tmp_path / "hub"), tmp_path / "weights"
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hub(source, []))
    wrong = "ab" * 32
    with pytest.raises(ValueError) as err:
        locate_weights(spec(repo="facebook/tiny", sha256=wrong), str(cache), download=True)
    line = describe(err.value)
    assert "\n" not in line and WEIGHTS in line
    assert f"expected {wrong}" in line and sha256_of(source / WEIGHTS) in line
    assert list(cache.iterdir()) == []


def test_download_needs_a_repo(tmp_path):
    with pytest.raises(ValueError, match="no repo"):
        locate_weights(spec(), str(tmp_path), download=True)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_safetensors_is_one_line_naming_the_file(tmp_path, damage):
    folder = tiny(tmp_path / "esm2_t1_d16")
    weights = folder / WEIGHTS
    data = weights.read_bytes()
    weights.write_bytes(b"\x00\xffnot safetensors" * 8 if damage == "garbage" else data[:100])
    with pytest.raises(ValueError) as err:
        load_esm2(folder)
    line = describe(err.value)
    assert "\n" not in line and str(weights) in line


def test_missing_or_corrupt_model_files_name_the_file(tmp_path):
    folder = tiny(tmp_path / "esm2_t1_d16")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        load_esm2(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_esm2(folder)


def test_long_sequences_are_windowed_and_stitched():
    assert window_starts(100, 1022) == [0]
    starts = window_starts(2500, 1022)
    assert starts[0] == 0 and starts[-1] == 2500 - 1022
    # consecutive windows overlap or touch
    assert all(b - a <= 1022 for a, b in zip(starts, starts[1:], strict=False))
    torch.manual_seed(2)
    model, tokenizer = build_esm2(1, 16, 2).eval(), tiny_tokenizer()
    (emb,) = embed(model, tokenizer, ["MKTAYIAKQR" * 110], tokens_per_batch=4096)
    assert emb.shape == (1100, 16) and np.isfinite(emb).all()


def tables(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("fit.csv", "assays.csv"):
        (folder / name).write_text("sequence\nMKTAYIAKQR\nGSHMLEDPVA\n")
    return folder


def embed_refused(capsys, argv: list[str], out: Path) -> str:
    """The embed entry point on ``argv``: exit 2, one ``error:`` line, no output written."""
    from papers.reverse_distillation.embed import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())
    return lines[0]


def test_embed_at_paper_scale_without_weights_or_download_is_one_line(tmp_path, capsys):
    data, out = tables(tmp_path / "data"), tmp_path / "out"
    argv = ["scale=paper", "size=esm2_t6_8M_UR50D", "model.download=false",
            f"model.weights_dir={tmp_path}/weights",
            f"run.data_dir={data}", f"run.out_dir={out}"]  # fmt: skip
    line = embed_refused(capsys, argv, out)
    assert "weights/esm2_t6_8M_UR50D/model.safetensors" in line and "model.download" in line
    assert not (tmp_path / "weights").exists()


def test_embed_of_a_corrupt_tiny_model_is_one_line_naming_the_file(tmp_path, capsys):
    data, out = tables(tmp_path / "data"), tmp_path / "out"
    folder = tiny(tmp_path / "models/esm2_t1_d16")
    (folder / WEIGHTS).write_bytes(b"garbage" * 20)
    argv = ["scale=smoke", "size=esm2_t1_d16", f"models_dir={tmp_path}/models",
            f"run.data_dir={data}", f"run.out_dir={out}"]  # fmt: skip
    assert str(folder / WEIGHTS) in embed_refused(capsys, argv, out)


def test_a_malformed_sha256_in_the_config_is_one_line(tmp_path, capsys):
    data, out = tables(tmp_path / "data"), tmp_path / "out"
    argv = ["scale=paper", "size=esm2_t6_8M_UR50D", "model.family.1.sha256=xyz",
            f"run.data_dir={data}", f"run.out_dir={out}"]  # fmt: skip
    assert "model.family.1.sha256" in embed_refused(capsys, argv, out)
