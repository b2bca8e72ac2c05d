"""Tokenizer, models, training pieces and the probes on tiny random models (no download)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from common.cli import UserError
from common.config import compose_config
from papers.reversal_curse.data import Example, synthetic_sets
from papers.reversal_curse.evaluate import (
    completion_scores,
    fill_in,
    greedy_matches,
    name_scores,
    target,
)
from papers.reversal_curse.model import build_model, pretrained_source, word_tokenizer
from papers.reversal_curse.train import (
    mask_tokens,
    masked_lm_loss,
    pad_batch,
    reverse_entities,
)

EX = Example("Kalo Venmira is", " the composer of the silent harbor .", "Kalo Venmira",
             "the composer of the silent harbor")  # fmt: skip


@pytest.fixture(scope="module")
def data():
    cfg = compose_config("reversal_curse", ["scale=smoke"])
    sets = synthetic_sets(cfg)
    return cfg, sets, word_tokenizer([ex.text for exs in sets.values() for ex in exs] + [EX.text])


def test_tokenizer_round_trip(data):
    _, sets, tok = data
    for ex in sets["all_prompts_train"][:50] + [EX]:
        ids = tok(ex.text, add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id not in ids and len(ids) == len(ex.text.split())
        assert tok.decode(ids) == ex.text.strip()
        # prompt and completion tokenized apart give the same ids as the whole text
        parts = tok(ex.prompt, add_special_tokens=False)["input_ids"]
        parts += tok(ex.completion, add_special_tokens=False)["input_ids"]
        assert parts == ids
    assert tok("zzzunseen", add_special_tokens=False)["input_ids"] == [tok.unk_token_id]
    assert tok.convert_ids_to_tokens(list(range(5))) == [
        "[PAD]",
        "[UNK]",
        "[BOS]",
        "[EOS]",
        "[MASK]",
    ]


def test_reverse_entities_keeps_entities_in_order():
    assert reverse_entities(EX) == ". the composer of the silent harbor is Kalo Venmira"
    with pytest.raises(UserError, match="name and description"):
        reverse_entities(Example("a", " b"))


def test_mask_tokens_rules(data):
    *_, tok = data
    ids, attention = pad_batch([[2, 10, 11, 12, 3], [2, 13, 3]], tok.pad_token_id)
    gen = torch.Generator().manual_seed(0)
    for rate in (0.15, torch.tensor([1.0, 0.0])):
        inputs, labels = mask_tokens(ids, attention, rate, tok, gen)
        picked = labels != -100
        assert picked.sum(1).min() >= 1  # at least one per row, even at rate 0
        assert not picked[:, 0].any() and not picked[0, 4] and not picked[1, 2:].any()
        assert torch.equal(inputs[~picked], ids[~picked]) and torch.equal(
            labels[picked], ids[picked]
        )
    assert picked[0, 1:4].all()  # rate 1 picks every real token


@pytest.fixture(scope="module")
def masked_batch(data):
    """A random small BERT and a masked batch of real documents (rows of different lengths)."""
    cfg, sets, tok = data
    torch.manual_seed(0)
    model = build_model(compose_config("reversal_curse", ["scale=smoke", "variant=enc_fixed"]), tok)
    docs = [[tok.bos_token_id, *tok(ex.text, add_special_tokens=False)["input_ids"],
             tok.eos_token_id] for ex in sets["all_prompts_train"][:6]]  # fmt: skip
    ids, attention = pad_batch(docs, tok.pad_token_id)
    gen = torch.Generator().manual_seed(0)
    inputs, labels = mask_tokens(ids, attention, torch.rand(len(ids), generator=gen), tok, gen)
    return model.eval(), inputs, attention, labels


def test_masked_lm_loss_pooled_equals_the_full_head(masked_batch):
    """The head on the picked positions only gives transformers' own masked-LM loss."""
    model, inputs, attention, labels = masked_batch
    with torch.no_grad():
        full = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
        ours = masked_lm_loss(model, inputs, attention, labels, per_document=False)
    assert ours.item() == pytest.approx(full.item(), rel=1e-6)


def test_masked_lm_loss_per_document_weighs_documents_equally(masked_batch):
    """MLM-U's loss: each document's picked tokens averaged, then the documents averaged."""
    model, inputs, attention, labels = masked_batch
    with torch.no_grad():
        logits = model(input_ids=inputs, attention_mask=attention).logits
        ours = masked_lm_loss(model, inputs, attention, labels, per_document=True)
    picked = labels != -100
    per_doc = [
        torch.nn.functional.cross_entropy(logits[r][picked[r]], labels[r][picked[r]])
        for r in range(len(labels))
    ]
    assert len(set(picked.sum(1).tolist())) > 1  # documents differ in count
    assert ours.item() == pytest.approx(torch.stack(per_doc).mean().item(), rel=1e-6)
    pooled = masked_lm_loss(model, inputs, attention, labels, per_document=False)
    assert ours.item() != pytest.approx(pooled.item(), rel=1e-3)


def test_name_scores_share_each_prompt_and_equal_the_full_pass(data):
    """The name test's cached pass gives every (prompt, name) the score of scoring the pair
    whole: prompts of different lengths, names of one to three words, batches that split."""
    cfg, sets, tok = data
    torch.manual_seed(1)
    model = build_model(cfg, tok).eval()
    prompts = [ex.prompt for ex in sets["p2d_prompts_train"][:5]] + ["Known as", EX.prompt]
    assert len({len(p.split()) for p in prompts}) > 1
    names = ["Kalo", "Kalo Venmira", "the silent harbor", "Venmira"]
    cached = name_scores(model, tok, prompts, names, batch_size=2)
    whole = completion_scores(model, tok, [(p, f" {n}") for p in prompts for n in names], 3)
    np.testing.assert_allclose(cached, whole.reshape(len(prompts), -1), rtol=1e-5, atol=1e-5)


def test_accuracy_is_the_authors_startswith_rule(data):
    """A target the greedy output starts with matches (any case, any continuation), others not."""
    cfg, sets, tok = data
    torch.manual_seed(0)
    model = build_model(cfg, tok).eval()
    examples = sets["p2d_prompts_train"][:8]
    own = []
    for ex in examples:
        ids = torch.tensor(
            [[tok.bos_token_id, *tok(ex.prompt, add_special_tokens=False)["input_ids"]]]
        )
        out = model.generate(ids, max_new_tokens=2, do_sample=False, pad_token_id=tok.pad_token_id)
        own.append(tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    pairs = list(zip(examples, own, strict=True))
    shouted = [Example(ex.prompt, f"  {text.upper()} ") for ex, text in pairs]
    first = [Example(ex.prompt, text.split()[0]) for ex, text in pairs]
    wrong = [Example(ex.prompt, " zzz") for ex in examples]
    hits = greedy_matches(model, tok, shouted + first + wrong, batch_size=5)
    assert hits[:16].all() and not hits[16:].any()
    logp = completion_scores(model, tok, [(ex.prompt, target(ex.completion)) for ex in first], 3)
    assert logp.shape == (8,) and np.all(logp < 0)
    assert target("Daphne") == " Daphne" and target(" Daphne") == " Daphne"


def test_fill_in_with_encoder_shapes(data):
    cfg, sets, tok = data
    encoder = build_model(
        compose_config("reversal_curse", ["scale=smoke", "variant=enc_fixed"]), tok
    )
    hits = fill_in(encoder.eval(), tok, sets["p2d_prompts_train"][:7], "name", batch_size=3)
    assert hits.shape == (7,) and hits.dtype == bool


class NextWordEncoder(torch.nn.Module):
    """A stand-in encoder that predicts, at every position, the id after its left neighbour's."""

    device = torch.device("cpu")

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab, self.cls = vocab, torch.nn.Identity()

    def bert(self, input_ids, attention_mask):
        left = torch.nn.functional.one_hot((input_ids.roll(1, dims=1) + 1) % self.vocab, self.vocab)
        return SimpleNamespace(last_hidden_state=left.float())


def test_fill_in_fills_left_to_right_from_its_own_fills():
    """Each masked token is predicted from the tokens filled before it, row by row, in batches
    whose spans differ in length: with words a..f numbered in order, ``b c`` after ``a`` is
    restored (c follows the filled b) and ``b d`` is not."""
    tok = word_tokenizer(["a b c d e f"])
    texts = [("a b c d", "b c"), ("a b d", "b d"), ("c d e f", "d e f"), ("e f", "f"), ("a c", "c")]
    examples = [Example(t, "", name, "") for t, name in texts]
    hits = fill_in(NextWordEncoder(len(tok)), tok, examples, "name", batch_size=2)
    assert hits.tolist() == [True, False, True, True, False]


def test_bad_model_config(data):
    _, _, tok = data
    cfg = compose_config("reversal_curse", ["scale=smoke", "model.width=30", "model.heads=4"])
    with pytest.raises(UserError, match="divisible"):
        build_model(cfg, tok)


def test_hub_download_pins_a_commit():
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert pretrained_source(f"org/model@{sha}", download=True) == ("org/model", False, sha)
    with pytest.raises(UserError, match="40-hex hub commit"):
        pretrained_source("org/model@main", download=True)


def test_pretrained_source_local_first(tmp_path):
    assert pretrained_source(str(tmp_path), download=False) == (str(tmp_path), True, None)
    assert pretrained_source("org/model", download=True) == ("org/model", False, None)
    with pytest.raises(UserError, match="download=false"):
        pretrained_source("org/model", download=False)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("variant=gpt", "variant must be one of"),
        ("train.lr=0", "train.lr must be > 0"),
        ("train.lr=-1e-3", "train.lr must be > 0"),
        ("train.steps=0", "train.steps must be >= 1"),
        ("train.steps=-5", "train.steps must be >= 1"),
        ("train.batch_size=0", "train.batch_size must be >= 1"),
        ("model.width=0", "model.width must be >= 1"),
        ("data.facts_per_subset=0", "data.facts_per_subset must be >= 1"),
        ("train.checkpoint_every=0", "train.checkpoint_every must be >= 1"),
        ("eval.batch_size=0", "eval.batch_size must be >= 1"),
    ],
)
def test_bad_training_input_is_one_line_and_writes_nothing(tmp_path, capsys, override, message):
    from papers.reversal_curse.train import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["scale=smoke", override, f"run.data_dir={tmp_path}", f"run.out_dir={out}"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_missing_data_is_one_line(tmp_path, capsys):
    from papers.reversal_curse.data import main

    with pytest.raises(SystemExit):
        main(["scale=paper", f"run.data_dir={tmp_path / 'nowhere'}", f"run.out_dir={tmp_path}/o"])
    assert "is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("variant", ["enc_untrained", "untrained"])
def test_measure_covers_every_set_of_the_generated_data(data, tmp_path, variant):
    """Every generated set is probed, the randomized ones by log-probability only (decoders)."""
    from papers.reversal_curse.data import RANDOMIZED_SUFFIX, write_jsonl
    from papers.reversal_curse.evaluate import measure

    cfg, sets, tok = data
    cfg = compose_config("reversal_curse", ["scale=smoke", f"variant={variant}"])
    for stem, examples in sets.items():
        write_jsonl(tmp_path / "data" / f"{stem}.jsonl", examples)
    build_model(cfg, tok).save_pretrained(tmp_path / "run" / "model")
    tok.save_pretrained(tmp_path / "run" / "model")
    metrics, _ = measure(cfg, tmp_path / "run", tmp_path / "data")
    randomized = [s for s in sets if s.endswith(RANDOMIZED_SUFFIX)]
    assert randomized and not any(k.endswith(tuple(randomized)) and "fill" in k for k in metrics)
    if variant == "untrained":
        assert all(f"logp.{s}" in metrics and f"acc.{s}" not in metrics for s in randomized)
