"""Train a GPT over one stage-1 model's codes, sample shapes and decode them (Hydra entry point).

python -m papers.argus3d.train_stage2 scale=cpu stage1.rep=latent stage2.rep=latent
    stage2.order=row stage2.width=128 seed=0 run.out_dir=results/cpu/argus3d/gen/<run>
Reads ``<root>/stage1/<rep>/{model.pt,codes.npz}`` next to ``<root>/gen/<run>``; writes
``gpt.pt``, ``samples.npz`` (codes and surface points of ``n_gen`` shapes per category),
``train_log.csv`` and ``stage2.json`` (validation NLL, times). Resumes from ``checkpoint.pt``
when a previous attempt was killed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import load_npz, save_npz, write_csv, write_json
from common.seeding import seed_everything
from common.threads import set_threads
from papers.argus3d.extract import decode_codes
from papers.argus3d.gpt import ORDERS, build_gpt, nll, reorder, restore, sample, sequences
from papers.argus3d.model import REPRESENTATIONS, ShapeAutoencoder
from papers.argus3d.runs import stage1_dir
from papers.argus3d.runtime import TrainState, load_torch, require, save_torch

LOG_EVERY = 50


def validate(cfg: DictConfig) -> None:
    tc = cfg.stage2
    require({
        "stage2.rep": (tc.rep in REPRESENTATIONS, f"must be one of {', '.join(REPRESENTATIONS)}"),
        "stage2.order": (tc.order in ORDERS, f"must be one of {', '.join(ORDERS)}"),
        "stage2.width": (tc.width >= 1 and tc.width % tc.heads == 0, "must be a multiple of heads"),
        "stage2.steps": (tc.steps >= 1, "must be >= 1"),
        "stage2.top_k": (tc.top_k >= 1, "must be >= 1"),
        "stage1.rep": (cfg.stage1.rep == tc.rep, "must equal stage2.rep"),
    }, cfg)  # fmt: skip


def train(cfg: DictConfig, model, train_seqs: torch.Tensor, val_seqs: torch.Tensor, out: Path):
    tc = cfg.stage2
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, tc.lr, total_steps=tc.steps, pct_start=0.05)
    ckpt = TrainState(out / "checkpoint.pt", config_hash(cfg), tc.checkpoint_every,
                      model=model, opt=opt, sched=sched)  # fmt: skip
    start, rows = ckpt.load()
    acc = []
    for step in range(start, tc.steps):
        model.train()
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout of this step
        rng = np.random.default_rng([cfg.seed, step])
        idx = rng.choice(len(train_seqs), size=tc.batch_size, replace=False)
        loss = nll(model, train_seqs[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        acc.append(loss.item())
        if (step + 1) % LOG_EVERY == 0 or step + 1 == tc.steps:
            rows.append({"step": step + 1, "train_nll": float(np.mean(acc)),
                         "val_nll": evaluate_nll(model, val_seqs)})  # fmt: skip
            print(rows[-1], flush=True)
            acc = []
        ckpt.maybe_save(step + 1, tc.steps, rows)
    ckpt.finish()
    return rows


@torch.no_grad()
def evaluate_nll(model, seqs: torch.Tensor, bs: int = 64) -> float:
    model.eval()
    total = sum(nll(model, seqs[s : s + bs]).item() * len(seqs[s : s + bs])
                for s in range(0, len(seqs), bs))  # fmt: skip
    return total / len(seqs)


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    validate(cfg)
    set_threads(cfg.run.threads)
    tc, sc, out = cfg.stage2, cfg.stage1, Path(cfg.run.out_dir)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    s1 = stage1_dir(out, tc.rep)
    codes = load_npz(s1 / "codes.npz")
    grid = tuple(int(g) for g in codes["token_grid"])
    ae = ShapeAutoencoder(sc)
    ae.load_state_dict(load_torch(s1 / "model.pt"))
    ae.eval()
    k, n_cat = sc.codebook_size, len(cfg.data.categories)
    seqs = {
        split: sequences(
            reorder(codes[f"{split}_codes"], grid, tc.order), codes[f"{split}_category"], k
        )
        for split in ("train", "val")
    }
    length = seqs["train"].shape[1] - 1
    model = build_gpt(tc, k, n_cat, length)
    rows = train(cfg, model, seqs["train"], seqs["val"], out)
    t_train = time.perf_counter() - t0
    category = np.repeat(np.arange(n_cat), tc.n_gen)
    gen = torch.Generator().manual_seed(cfg.seed)
    sampled = restore(sample(model, category, k, length, tc.top_k, gen), grid, tc.order)
    points, ok = decode_codes(ae, sampled, sc, cfg.eval.n_cd, np.random.default_rng(cfg.seed))
    summary = {
        "val_nll": rows[-1]["val_nll"], "train_nll": rows[-1]["train_nll"],
        "params": int(sum(p.numel() for p in model.parameters())), "tokens": length,
        "has_surface": float(ok.mean()), "train_seconds": t_train,
        "seconds": time.perf_counter() - t0, "config_hash": config_hash(cfg),
    }  # fmt: skip
    save_torch(out / "gpt.pt", model.state_dict())
    save_npz(out / "samples.npz", codes=sampled, category=category, points=points, has_surface=ok)
    write_csv(out / "train_log.csv", pd.DataFrame(rows))
    write_json(out / "stage2.json", summary)
    print(summary)


if __name__ == "__main__":
    main()
