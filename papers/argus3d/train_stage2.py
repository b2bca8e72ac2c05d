"""Train a GPT over one stage-1 model's codes, sample shapes and decode them (Hydra entry point).

python -m papers.argus3d.train_stage2 scale=cpu stage1.rep=latent stage2.rep=latent
    stage2.order=row stage2.width=128 seed=0 run.out_dir=results/cpu/argus3d/gen/<run>
Reads ``<root>/stage1/<rep>/{model.pt,codes.npz}`` next to ``<root>/gen/<run>``; writes
``gpt.pt``, ``samples.npz`` (codes and surface points of ``n_gen`` shapes per category),
``train_log.csv`` and ``stage2.json`` (validation NLL, times). Every
``stage2.checkpoint_every`` steps it saves ``checkpoint.pt`` (GPT, optimizer, LR schedule,
torch RNG state, log rows); a killed run resumes from it under the same config (hash of
``runs.SECTIONS["stage2"]``) and starts fresh under any other.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.config import config_hash, entry_point, require
from common.io import load_npz, load_torch, save_npz, save_torch, write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.argus3d.extract import decode_codes
from papers.argus3d.gpt import ORDERS, build_gpt, nll, reorder, restore, sample, sequences
from papers.argus3d.model import REPRESENTATIONS, ShapeAutoencoder
from papers.argus3d.runs import SECTIONS, stage1_dir

LOG_EVERY = 50
log = logging.getLogger(__name__)


def validate(cfg: DictConfig) -> None:
    tc = cfg.stage2
    require(cfg, {
        "stage2.rep": (tc.rep in REPRESENTATIONS, f"must be one of {', '.join(REPRESENTATIONS)}"),
        "stage2.order": (tc.order in ORDERS, f"must be one of {', '.join(ORDERS)}"),
        "stage2.heads": (tc.heads >= 1, "must be >= 1"),
        "stage2.width": (tc.width >= 1 and tc.width % tc.heads == 0, "must be a multiple of heads"),
        "stage2.layers": (tc.layers >= 1, "must be >= 1"),
        "stage2.dropout": (0 <= tc.dropout < 1, "must be in [0, 1)"),
        "stage2.steps": (tc.steps >= 1, "must be >= 1"),
        "stage2.batch_size": (tc.batch_size >= 1, "must be >= 1"),
        "stage2.lr": (tc.lr > 0, "must be > 0"),
        "stage2.top_k": (tc.top_k >= 1, "must be >= 1"),
        "stage2.n_gen": (tc.n_gen >= 1, "must be >= 1"),
        "stage2.checkpoint_every": (tc.checkpoint_every >= 1, "must be >= 1"),
        "stage1.rep": (cfg.stage1.rep == tc.rep, "must equal stage2.rep"),
    })  # fmt: skip


def checkpoint(cfg: DictConfig, out: Path) -> Checkpoint:
    """The training checkpoint: resumed only under the same stage-2 sections of the config."""
    h = config_hash(cfg, SECTIONS["stage2"], exclude=("stage2.checkpoint_every",))
    return Checkpoint(out / "checkpoint.pt", h, cfg.stage2.checkpoint_every)


def train(cfg: DictConfig, model, train_seqs: torch.Tensor, val_seqs: torch.Tensor,
          ckpt: Checkpoint) -> list[dict]:  # fmt: skip
    """Train the GPT (resuming from ``ckpt`` if it fits); return the log rows."""
    tc = cfg.stage2
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, tc.lr, total_steps=tc.steps, pct_start=0.05)
    start, rows, acc = 0, [], []
    resumed = ckpt.load()
    if resumed is not None:
        model.load_state_dict(resumed.state["model"])
        opt.load_state_dict(resumed.state["opt"])
        sched.load_state_dict(resumed.state["sched"])
        torch.set_rng_state(resumed.state["torch_rng"])
        start, rows, acc = resumed.step, resumed.extra["rows"], resumed.extra["acc"]

    def state() -> dict:
        return {"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "torch_rng": torch.get_rng_state()}  # fmt: skip

    bar = Progress(tc.steps, f"stage2 {tc.rep} {tc.order} w{tc.width}", initial=start)
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
            acc = []
        bar.update(step + 1, nll=loss.item())
        if step + 1 < tc.steps:
            ckpt.maybe_save(step + 1, state, {"rows": rows, "acc": acc})
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
    ckpt = checkpoint(cfg, out)
    rows = train(cfg, model, seqs["train"], seqs["val"], ckpt)
    t_train = time.perf_counter() - t0
    category = np.repeat(np.arange(n_cat), tc.n_gen)
    gen = torch.Generator().manual_seed(cfg.seed)
    sampled = restore(sample(model, category, k, length, tc.top_k, gen), grid, tc.order)
    rng = np.random.default_rng(cfg.seed)
    points, ok = decode_codes(ae, sampled, sc, cfg.eval.n_cd, rng, desc="decode samples")
    summary = {
        "val_nll": rows[-1]["val_nll"], "train_nll": rows[-1]["train_nll"],
        "params": int(sum(p.numel() for p in model.parameters())), "tokens": length,
        "has_surface": float(ok.mean()), "train_seconds": t_train,
        "seconds": time.perf_counter() - t0,
        "config_hash": config_hash(cfg, SECTIONS["stage2"]),
    }  # fmt: skip
    save_torch(out / "gpt.pt", model.state_dict())
    save_npz(out / "samples.npz", codes=sampled, category=category, points=points, has_surface=ok)
    write_csv(out / "train_log.csv", pd.DataFrame(rows))
    write_json(out / "stage2.json", summary)
    ckpt.remove()
    log.info("%s", summary)


if __name__ == "__main__":
    main()
