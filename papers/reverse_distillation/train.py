"""Masked-LM pre-training of one tiny ESM-2 model of the family (Hydra entry point).

python -m papers.reverse_distillation.train scale=cpu size=esm2_t2_d48 \
    run.out_dir=results/cpu/reverse_distillation/models
Reads ``<data_dir>/pretrain.csv``, trains fair-esm's ``ESM2`` with BERT masking (AdamW,
linear warm-up then linear decay) and writes ``<out_dir>/<size>.pt`` (+ its
contact-regression file) in fair-esm's checkpoint format and ``<out_dir>/<size>_train.csv``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.cli import UserError
from common.config import config_hash, entry_point
from common.io import write_csv, write_json
from common.seeding import seed_everything
from common.threads import set_threads
from papers.reverse_distillation.model import build_esm2, save_esm2
from papers.reverse_distillation.potts import AMINO_ACIDS

LOG_EVERY = 25


def size_spec(cfg: DictConfig, size: str) -> DictConfig:
    """The family member called ``size``; a wrong name is a one-line error."""
    names = [m.name for m in cfg.model.family]
    if size not in names:
        raise UserError(f"size must be one of {names}, got {size!r}")
    return cfg.model.family[names.index(size)]


def mask_tokens(
    tokens: torch.Tensor, alphabet, prob: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking of residue tokens: (corrupted tokens, boolean target mask)."""
    special = torch.tensor(sorted({alphabet.cls_idx, alphabet.eos_idx, alphabet.padding_idx}))
    residue = ~torch.isin(tokens, special)
    target = (torch.rand(tokens.shape, generator=gen) < prob) & residue
    roll = torch.rand(tokens.shape, generator=gen)
    aa = torch.tensor([alphabet.get_idx(a) for a in AMINO_ACIDS])
    random_aa = aa[torch.randint(len(aa), tokens.shape, generator=gen)]
    corrupted = tokens.clone()
    corrupted[target & (roll < 0.8)] = alphabet.mask_idx
    swap = target & (roll >= 0.8) & (roll < 0.9)
    corrupted[swap] = random_aa[swap]
    return corrupted, target


def lr_factor(step: int, warmup: int, steps: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then linear decay to 0.1 at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    return 1.0 - 0.9 * (step - warmup) / max(1, steps - warmup)


@entry_point("reverse_distillation")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    size = size_spec(cfg, cfg.get("size", ""))
    tc = cfg.train
    if tc.steps < 1 or tc.batch_size < 1 or not 0 < tc.mask_prob < 1:
        raise UserError("train.steps and train.batch_size must be >= 1, train.mask_prob in (0, 1)")
    seed_everything(cfg.seed)
    data = Path(cfg.data_dir) / "pretrain.csv"
    if not data.exists():
        raise FileNotFoundError(f"missing {data} (run the data step first)")
    seqs = pd.read_csv(data)["sequence"].tolist()
    model = build_esm2(size.layers, size.dim, size.heads)
    alphabet = model.alphabet
    _, _, tokens = alphabet.get_batch_converter()([("", s) for s in seqs])
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, tc.warmup, tc.steps))
    gen = torch.Generator().manual_seed(cfg.seed)
    rows, running, t0 = [], [], time.time()
    model.train()
    for step in range(tc.steps):
        batch = tokens[torch.randint(len(tokens), (tc.batch_size,), generator=gen)]
        corrupted, target = mask_tokens(batch, alphabet, tc.mask_prob, gen)
        logits = model(corrupted)["logits"]
        loss = torch.nn.functional.cross_entropy(logits[target], batch[target])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if (step + 1) % LOG_EVERY == 0 or step + 1 == tc.steps:
            rows.append({"step": step + 1, "loss": float(np.mean(running))})
            running = []
    out = Path(cfg.run.out_dir)
    save_esm2(model.eval(), out / f"{size.name}.pt")
    write_csv(out / f"{size.name}_train.csv", pd.DataFrame(rows))
    write_json(
        out / f"{size.name}_train.json",
        {
            "config_hash": config_hash(cfg),
            "seconds": time.time() - t0,
            "final_loss": rows[-1]["loss"],
        },
    )


if __name__ == "__main__":
    main()
