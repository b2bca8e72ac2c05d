"""Train one variant on the training file (Hydra entry point).

python -m papers.reversal_curse.train scale=cpu variant=decoder seed=0 \
    run.data_dir=results/cpu/reversal_curse/data \
    run.out_dir=results/cpu/reversal_curse/runs/decoder/seed0
Variants: ``decoder`` (GPT-2, next-token loss on all tokens, as the paper: no loss masking),
``reverse`` (the same plus an entity-preserving reversed copy of every document),
``enc_fixed`` / ``enc_uniform`` (BERT masked LM, fixed masking rate ``train.mask_rate`` or one
drawn per document from U(0, 1)), ``untrained`` / ``enc_untrained`` (the nulls: saved as
initialized, no step). AdamW with warm-up and a cosine schedule. Writes ``model/``
(``save_pretrained``: weights and tokenizer), ``train_log.csv`` and ``train.json``.

Resumable: every ``train.checkpoint_every`` steps ``checkpoint.pt`` in the run directory holds
the model, optimizer and schedule state, the random-number states (data order, masking,
dropout), the unconsumed part of the epoch's order and the log so far; a rerun of a killed job
under the same config continues from it and ends with the same weights and log as an
uninterrupted run. A checkpoint of another config is set aside (fresh start).
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.cli import UserError
from common.config import config_hash, entry_point, require
from common.io import write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.reversal_curse.data import TRAIN_FILE, Example, load_sets
from papers.reversal_curse.schema import TRAIN_EXCLUDE, TRAIN_SECTIONS, validate

#: Config sections training reads (its checkpoint's and Snakemake's hash); the checkpoint
#: interval does not change the result.

LOG_EVERY = 50
MASK_KEEP, MASK_RANDOM = 0.1, 0.1  # BERT's 80/10/10 rule for the positions picked for the loss


def train_hash(cfg: DictConfig) -> str:
    """Hash of what training reads: a checkpoint resumes only under the same value."""
    return config_hash(cfg, TRAIN_SECTIONS, TRAIN_EXCLUDE)


def reverse_entities(ex: Example) -> str:
    """The document with its word order reversed, the name and the description kept intact."""
    if not (ex.name and ex.description):
        raise UserError("variant=reverse needs the name and description fields of the data")
    text = ex.text
    spans = sorted(((text.index(ex.name), ex.name), (text.index(ex.description), ex.description)))
    units, pos = [], 0
    for start, entity in spans:
        units += text[pos:start].split() + [entity]
        pos = start + len(entity)
    units += text[pos:].split()
    return " ".join(reversed(units))


def documents(cfg: DictConfig, examples: list[Example]) -> list[str]:
    """Training texts: prompt + completion per line, plus reversed copies for ``reverse``."""
    texts = [ex.text for ex in examples]
    if cfg.variant == "reverse":
        texts += [reverse_entities(ex) for ex in examples]
    return texts


def encode(tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    """[BOS] text [EOS] as token ids; a document longer than ``max_len`` is an error."""
    ids = [
        [tokenizer.bos_token_id, *tokenizer(t, add_special_tokens=False)["input_ids"],
         tokenizer.eos_token_id]
        for t in texts
    ]  # fmt: skip
    longest = max(map(len, ids))
    if longest > max_len:
        raise UserError(f"model.max_len {max_len} is shorter than the longest document ({longest})")
    return ids


def pad_batch(seqs: list[list[int]], pad_id: int):
    """(input_ids, attention_mask) tensors, right-padded."""
    import torch

    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def mask_tokens(ids, attention, rate, tokenizer, gen, bert_rule: bool = True):
    """Pick each real token with probability ``rate`` (per row) for the loss and mask it.

    ``bert_rule``: BERT's 80/10/10 rule ([MASK] / random token / unchanged); otherwise every
    picked token becomes [MASK] (the uniform-rate MLM-U objective of Kitouni et al. 2024).

    ``rate`` is a float or a tensor of one rate per row; [BOS]/[EOS]/[PAD] are never picked, and
    every row has at least one picked token. Returns (masked inputs, labels with -100 elsewhere).
    """
    import torch

    special = (ids == tokenizer.bos_token_id) | (ids == tokenizer.eos_token_id) | (attention == 0)
    rate = torch.as_tensor(rate, dtype=torch.float).reshape(-1, 1)
    picked = (torch.rand(ids.shape, generator=gen) < rate) & ~special
    scores = torch.rand(ids.shape, generator=gen).masked_fill(special, -1.0)
    picked[torch.arange(len(ids)), scores.argmax(1)] = True  # at least one per row
    labels = ids.masked_fill(~picked, -100)
    roll = torch.rand(ids.shape, generator=gen)
    if not bert_rule:
        roll.fill_(1.0)
    inputs = ids.clone()
    inputs[picked & (roll >= MASK_KEEP + MASK_RANDOM)] = tokenizer.mask_token_id
    swap = picked & (roll < MASK_RANDOM)
    inputs[swap] = torch.randint(len(tokenizer.all_special_ids), len(tokenizer), ids.shape,
                                 generator=gen)[swap]  # fmt: skip
    return inputs, labels


def masked_lm_loss(model, inputs, attention, labels, per_document: bool):
    """BERT's masked-LM cross-entropy, with its head run on the picked positions only.

    The head (a dense layer, a layer norm and the vocabulary projection) is needed only where a
    token enters the loss; leaving out the other positions gives the same loss as
    ``BertForMaskedLM(labels=...)`` to rounding, for less compute. ``per_document``:
    MLM-U's any-order objective (Kitouni et al. 2024; Uria et al. 2014), the loss averaged within
    each document, then over the batch, so that a document with k masked tokens weighs each of
    their losses 1/k and one drawn at rate 0.9 does not outweigh one drawn at 0.1 ninefold, as
    pooling over the batch's tokens (``transformers``' loss) would. Otherwise pooled over the
    batch's picked tokens. ``labels``: -100 where no token is to be predicted.
    """
    import torch

    hidden = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state
    picked = labels != -100
    logits = model.cls(hidden[picked]).float()
    token = torch.nn.functional.cross_entropy(logits, labels[picked], reduction="none")
    if not per_document:
        return token.mean()
    sums = token.new_zeros(len(labels)).index_add(0, picked.nonzero()[:, 0], token)
    return (sums / picked.sum(1).clamp(min=1)).mean()


def train(cfg: DictConfig, data_dir: Path, out_dir: Path | None = None):
    """Train; return (model, tokenizer, log DataFrame, summary).

    With ``out_dir``, checkpoints go to ``out_dir/checkpoint.pt`` and a fitting one is resumed
    (``summary["resumed_from"]``: the step it continued from, 0 for a fresh start).
    """
    import torch
    from transformers import get_cosine_schedule_with_warmup

    from papers.reversal_curse.model import (
        DECODERS,
        UNTRAINED,
        build_model,
        load_pretrained,
        word_tokenizer,
    )

    validate(cfg)
    tc = cfg.train
    seed_everything(cfg.seed)
    sets = load_sets(data_dir)
    if TRAIN_FILE.removesuffix(".jsonl") not in sets:
        raise UserError(f"missing {data_dir / TRAIN_FILE}")
    texts = documents(cfg, sets[TRAIN_FILE.removesuffix(".jsonl")])
    if cfg.model.pretrained:
        model, tokenizer = load_pretrained(cfg)
    else:
        tokenizer = word_tokenizer([ex.text for exs in sets.values() for ex in exs])
        model = build_model(cfg, tokenizer)
    docs = encode(tokenizer, texts, cfg.model.max_len)
    if cfg.variant in UNTRAINED:
        summary = {
            "variant": cfg.variant, "steps": 0, "documents": len(docs),
            "vocab_size": len(tokenizer), "parameters": sum(p.numel() for p in model.parameters()),
            "final_loss": float("nan"), "train_time_s": 0.0, "resumed_from": 0,
        }  # fmt: skip
        return model, tokenizer, pd.DataFrame(columns=["step", "loss"]), summary
    per_epoch = math.ceil(len(docs) / tc.batch_size)
    decoder, uniform = cfg.variant in DECODERS, cfg.variant == "enc_uniform"
    own = tc.steps if decoder else (uniform and tc.uniform_steps) or tc.encoder_steps or tc.steps
    steps = own or tc.epochs * per_epoch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, fused=True)
    sched = get_cosine_schedule_with_warmup(opt, min(tc.warmup, steps // 10), steps)
    rows, acc, order = [], [], torch.empty(0, dtype=torch.long)
    start, elapsed = 0, 0.0
    ckpt = None
    if out_dir is not None:
        ckpt = Checkpoint(Path(out_dir) / "checkpoint.pt", train_hash(cfg), tc.checkpoint_every)
        resumed = ckpt.load()
        if resumed is not None:
            state, extra = resumed.state, resumed.extra
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            gen.set_state(state["data_rng"])
            torch.set_rng_state(state["torch_rng"])
            if device == "cuda" and "cuda_rng" in state:
                torch.cuda.set_rng_state(state["cuda_rng"])
            order = state["order"]
            start, rows, acc, elapsed = resumed.step, extra["rows"], extra["acc"], extra["elapsed"]

    def snapshot() -> dict:
        state = {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "data_rng": gen.get_state(),
            "torch_rng": torch.get_rng_state(), "order": order.clone(),
        }  # fmt: skip
        if device == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        return state

    model.train()
    bar = Progress(steps, f"train {cfg.variant} seed {cfg.seed}", initial=start)
    t0 = time.perf_counter()
    for step in range(start + 1, steps + 1):
        if len(order) < tc.batch_size:  # reshuffle each epoch, keep the leftovers first
            order = torch.cat([order, torch.randperm(len(docs), generator=gen)])
        batch, order = order[: tc.batch_size], order[tc.batch_size :]
        ids, attention = pad_batch([docs[i] for i in batch], tokenizer.pad_token_id)
        if decoder:
            inputs, labels = ids, ids.masked_fill(attention == 0, -100)
        else:
            rate = torch.rand(len(ids), generator=gen) if uniform else tc.mask_rate
            inputs, labels = mask_tokens(ids, attention, rate, tokenizer, gen, not uniform)
        inputs, attention, labels = (t.to(device) for t in (inputs, attention, labels))
        if decoder:
            loss = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
        else:
            loss = masked_lm_loss(model, inputs, attention, labels, per_document=uniform)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        acc.append(loss.item())
        if step % LOG_EVERY == 0 or step == steps:
            rows.append({"step": step, "loss": float(np.mean(acc))})
            acc = []
        bar.update(step, loss=acc[-1] if acc else rows[-1]["loss"])
        if ckpt is not None and step < steps:
            extra = {"rows": rows, "acc": acc, "elapsed": elapsed + time.perf_counter() - t0}
            ckpt.maybe_save(step, snapshot, extra)
    model.cpu()
    summary = {
        "variant": cfg.variant, "steps": steps, "documents": len(docs),
        "vocab_size": len(tokenizer), "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": rows[-1]["loss"], "train_time_s": elapsed + time.perf_counter() - t0,
        "resumed_from": start,
    }  # fmt: skip
    return model, tokenizer, pd.DataFrame(rows, columns=["step", "loss"]), summary


def run(cfg: DictConfig) -> None:
    """Train one (variant, seed) and write its run directory (``main`` without the CLI)."""
    set_threads(cfg.run.threads)
    require(cfg, {"run.data_dir": (bool(cfg.run.data_dir), "must name the data stage's output")})
    out = Path(cfg.run.out_dir)
    model, tokenizer, log, summary = train(cfg, Path(cfg.run.data_dir), out)
    tmp = out / ".model.tmp"  # a directory, renamed into place when complete
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out / "model", ignore_errors=True)
    tmp.rename(out / "model")
    write_csv(out / "train_log.csv", log)
    write_json(out / "train.json", {"config_hash": train_hash(cfg), **summary})
    Checkpoint(out / "checkpoint.pt", train_hash(cfg), cfg.train.checkpoint_every).remove()
    print(
        f"{cfg.variant} seed {cfg.seed}: {summary['steps']} steps in "
        f"{summary['train_time_s']:.1f} s, final loss {summary['final_loss']:.4f}"
    )


@entry_point("reversal_curse")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
