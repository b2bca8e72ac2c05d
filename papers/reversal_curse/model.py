"""Tokenizers and models from `transformers` configs (no download), or a pretrained causal LM.

Word-level tokenizer: every whitespace-separated word of the generated data is one token
(``tokenizers`` WordLevel), wrapped as a ``PreTrainedTokenizerFast`` so that a run directory
saved with ``save_pretrained`` reloads the same way for tiny and pretrained models.
"""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig

from common.cli import UserError
from common.io import unreadable

SPECIAL = {"pad": "[PAD]", "unk": "[UNK]", "bos": "[BOS]", "eos": "[EOS]", "mask": "[MASK]"}
DECODERS = ("decoder", "reverse", "untrained")
#: Nulls of the claims: the decoder and the encoder as initialized (paper scale: the pretrained
#: model), saved without any training.
UNTRAINED = ("untrained", "enc_untrained")


def word_tokenizer(texts: list[str]):
    """A word-level tokenizer over the words of ``texts`` (special tokens first, then sorted)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in t.split()} - set(SPECIAL.values()))
    vocab = {tok: i for i, tok in enumerate([*SPECIAL.values(), *words])}
    core = Tokenizer(WordLevel(vocab, unk_token=SPECIAL["unk"]))
    core.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, **{f"{k}_token": v for k, v in SPECIAL.items()}
    )


def build_model(cfg: DictConfig, tokenizer):
    """A fresh tiny GPT-2 (decoder variants) or BERT masked LM (encoder variants)."""
    from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

    mc = cfg.model
    if mc.width % mc.heads:
        raise UserError(f"model.width ({mc.width}) must be divisible by model.heads ({mc.heads})")
    common = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id}
    if cfg.variant in DECODERS:
        return GPT2LMHeadModel(GPT2Config(
            n_positions=mc.max_len, n_embd=mc.width, n_layer=mc.layers, n_head=mc.heads,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            resid_pdrop=mc.dropout, embd_pdrop=mc.dropout, attn_pdrop=mc.dropout,
            tie_word_embeddings=True, activation_function="gelu_pytorch_tanh", **common,
        ))  # fmt: skip
    return BertForMaskedLM(BertConfig(
        hidden_size=mc.width, num_hidden_layers=mc.layers, num_attention_heads=mc.heads,
        intermediate_size=4 * mc.width, max_position_embeddings=mc.max_len, type_vocab_size=1,
        hidden_dropout_prob=mc.dropout, attention_probs_dropout_prob=mc.dropout, **common,
    ))  # fmt: skip


def pretrained_source(name: str, download: bool) -> tuple[str, bool, str | None]:
    """(path or hub id, local_files_only, hub revision): a local directory first, the hub only
    if allowed.

    ``org/model@<40-hex commit>`` pins a download to one hub commit; the hub client then checks
    every weight file against that commit's sha256, so a changed file cannot load silently.
    """
    if not name:
        raise UserError("model.pretrained is empty: give a local path or a hub id")
    if Path(name).is_dir():
        return name, True, None
    if not download:
        raise UserError(
            f"model.pretrained {name!r} is not a local directory and model.download=false"
        )
    hub_id, _, revision = name.partition("@")
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision) is None:
        raise UserError(f"model.pretrained {name!r}: the part after @ must be a 40-hex hub commit")
    return hub_id, False, revision or None


def load_pretrained(cfg: DictConfig):
    """(model, tokenizer) of the pretrained causal LM named in ``model.pretrained``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.variant not in ("decoder", "untrained"):
        raise UserError(
            f"model.pretrained works with variant=decoder or untrained only, got {cfg.variant!r}"
        )
    source, local, revision = pretrained_source(cfg.model.pretrained, cfg.model.download)
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local, revision=revision)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.bos_token_id is None:
        tokenizer.bos_token = tokenizer.eos_token
    # safetensors only: never unpickle downloaded weights
    model = AutoModelForCausalLM.from_pretrained(
        source, local_files_only=local, use_safetensors=True, revision=revision
    )
    return model, tokenizer


def load_run(run_dir: str | Path, variant: str):
    """(model, tokenizer) saved by train.py in ``<run_dir>/model``, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    path = Path(run_dir) / "model"
    if not path.is_dir():
        raise UserError(f"missing trained model {path} (run papers.reversal_curse.train first)")
    auto = AutoModelForCausalLM if variant in DECODERS else AutoModelForMaskedLM
    import torch
    from safetensors import SafetensorError

    try:
        model = auto.from_pretrained(path, local_files_only=True, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:  # truncated, garbage
        raise unreadable(path, err) from None
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    return model.eval(), tokenizer
