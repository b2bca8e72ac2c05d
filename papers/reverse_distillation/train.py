"""Masked-LM pre-training of one tiny ESM-2 model of the family (Hydra entry point).

python -m papers.reverse_distillation.train scale=cpu size=esm2_t2_d48 run.data_dir=DATA \
    run.out_dir=results/cpu/reverse_distillation/models
Reads ``<run.data_dir>/pretrain.csv``, trains a transformers ``EsmForMaskedLM`` with BERT
masking (AdamW, linear warm-up then linear decay) and writes the model folder
``<out_dir>/<size>/`` (config.json, model.safetensors, vocab.txt) and
``<out_dir>/<size>_train.csv``, then embeds the scaler-fitting set and the assays with the
trained model into ``<embeddings_dir>/<size>.npz`` (the embed stage's output, written here to
spare a second process start-up; ``embed`` does the same for saved or published models).
Every ``train.checkpoint_every`` steps it saves ``<out_dir>/<size>_checkpoint.pt`` (model,
optimizer, scheduler, RNG states, loss log); a rerun under the same config resumes from it and
ends identical to an uninterrupted run, a rerun under another config starts fresh.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.config import config_hash, entry_point, require
from common.io import read_csv, write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.reverse_distillation.embed import read_table, write_embeddings
from papers.reverse_distillation.embed import validate as validate_embed
from papers.reverse_distillation.model import build_esm2, encode, save_esm2, tiny_tokenizer
from papers.reverse_distillation.potts import AMINO_ACIDS
from papers.reverse_distillation.schema import STAGE_KEYS, size_spec

LOG_EVERY = 25


def mask_tokens(
    tokens: torch.Tensor, tokenizer, prob: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking of residue tokens: (corrupted tokens, boolean target mask)."""
    ids = (tokenizer.cls_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)
    residue = ~torch.isin(tokens, torch.tensor(sorted(set(ids))))
    target = (torch.rand(tokens.shape, generator=gen) < prob) & residue
    roll = torch.rand(tokens.shape, generator=gen)
    aa = torch.tensor(tokenizer.convert_tokens_to_ids(list(AMINO_ACIDS)))
    random_aa = aa[torch.randint(len(aa), tokens.shape, generator=gen)]
    corrupted = tokens.clone()
    corrupted[target & (roll < 0.8)] = tokenizer.mask_token_id
    swap = target & (roll >= 0.8) & (roll < 0.9)
    corrupted[swap] = random_aa[swap]
    return corrupted, target


def lr_factor(step: int, warmup: int, steps: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then linear decay to 0.1 at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    return 1.0 - 0.9 * (step - warmup) / max(1, steps - warmup)


def validate(cfg: DictConfig) -> None:
    """Reject nonsense training settings with one line naming the field."""
    tc, size = cfg.train, size_spec(cfg, cfg.get("size", ""))
    require(
        cfg,
        {
            "model.family": (
                size.layers >= 1
                and size.dim >= 1
                and size.heads >= 1
                and size.dim % size.heads == 0,
                f"member {size.name} needs layers, dim, heads >= 1 and dim divisible by heads",
            ),
            f"model.family.{list(cfg.model.family).index(size)}.extra_families": (
                0 <= size.extra_families <= cfg.data.extra_families,
                "must be in [0, data.extra_families]",
            ),
            "train.steps": (tc.steps >= 1, "must be >= 1"),
            "train.batch_size": (tc.batch_size >= 1, "must be >= 1"),
            "train.lr": (tc.lr > 0, "must be > 0"),
            "train.warmup": (0 <= tc.warmup <= tc.steps, "must be in [0, train.steps]"),
            "train.weight_decay": (tc.weight_decay >= 0, "must be >= 0"),
            "train.mask_prob": (0 < tc.mask_prob < 1, "must be in (0, 1)"),
            "train.checkpoint_every": (tc.checkpoint_every >= 1, "must be >= 1"),
        },
    )


def train(cfg: DictConfig) -> int:
    """Train model ``cfg.size`` and write its files; return the step it started from
    (> 0 when it resumed from ``<out_dir>/<size>_checkpoint.pt``)."""
    set_threads(cfg.run.threads)
    size = size_spec(cfg, cfg.get("size", ""))
    validate(cfg)
    validate_embed(cfg)
    tc = cfg.train
    seed_everything(cfg.seed)
    tables = Path(cfg.run.data_dir)
    data = tables / "pretrain.csv"
    if not data.exists():
        raise FileNotFoundError(f"missing {data} (run the data step first; set run.data_dir)")
    table = read_csv(data, ("family", "sequence"))
    fit, assays = (read_table(tables / f)["sequence"].tolist() for f in ("fit.csv", "assays.csv"))
    extra = table["family"].str.startswith("extra")
    own = [f"extra{f:02d}" for f in range(size.extra_families)]
    seqs = table["sequence"][~extra | table["family"].isin(own)].tolist()
    model = build_esm2(size.layers, size.dim, size.heads)
    tokenizer = tiny_tokenizer()
    tokens = encode(tokenizer, seqs)["input_ids"]
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, tc.warmup, tc.steps))
    gen = torch.Generator().manual_seed(cfg.seed)
    out = Path(cfg.run.out_dir)
    h = config_hash(cfg, STAGE_KEYS["train"])
    ckpt = Checkpoint(out / f"{size.name}_checkpoint.pt", h, tc.checkpoint_every)
    rows, running, start, t0 = [], [], 0, time.time()
    resumed = ckpt.load()
    if resumed is not None:
        state = resumed.state
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start, rows, running = resumed.step, resumed.extra["rows"], resumed.extra["running"]

    def snapshot() -> dict:
        return {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    bar = Progress(tc.steps, f"train {size.name}", initial=start)
    model.train()
    for step in range(start, tc.steps):
        batch = tokens[torch.randint(len(tokens), (tc.batch_size,), generator=gen)]
        corrupted, target = mask_tokens(batch, tokenizer, tc.mask_prob, gen)
        mask = batch != tokenizer.pad_token_id
        logits = model(input_ids=corrupted, attention_mask=mask).logits
        loss = torch.nn.functional.cross_entropy(logits[target], batch[target])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        value = loss.item()
        running.append(value)
        if (step + 1) % LOG_EVERY == 0 or step + 1 == tc.steps:
            rows.append({"step": step + 1, "loss": float(np.mean(running))})
            running = []
        bar.update(step + 1, loss=value)
        ckpt.maybe_save(step + 1, snapshot, {"rows": rows, "running": running})
    save_esm2(model.eval(), tokenizer, out / size.name)
    emb = Path(cfg.embeddings_dir) / f"{size.name}.npz"
    write_embeddings(cfg, model, tokenizer, fit, assays, emb)
    write_csv(out / f"{size.name}_train.csv", pd.DataFrame(rows))
    write_json(
        out / f"{size.name}_train.json",
        {
            "config_hash": h,
            "resumed_from": start,
            "seconds": time.time() - t0,
            "final_loss": rows[-1]["loss"],
        },
    )
    ckpt.remove()
    return start


@entry_point("reverse_distillation")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
