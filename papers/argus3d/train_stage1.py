"""Train one stage-1 autoencoder and encode every split (Hydra entry point).

python -m papers.argus3d.train_stage1 scale=cpu stage1.rep=latent data.root=... run.out_dir=...
Writes ``model.pt`` (state dict), ``codes.npz`` (codebook indices of train / val / test in
the natural token order, with categories), ``recon.npz`` (surface points of the test
reconstructions), ``train_log.csv`` and ``stage1.json`` (IoU, codebook usage, times).
Resumes from ``checkpoint.pt`` when a previous attempt was killed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import save_npz, write_csv, write_json
from common.seeding import seed_everything
from common.threads import set_threads
from papers.argus3d.data import ShapeSet
from papers.argus3d.extract import decode_codes
from papers.argus3d.model import REPRESENTATIONS, ShapeAutoencoder
from papers.argus3d.runtime import TrainState, load_data, require, save_torch

LOG_EVERY = 50


def validate(cfg: DictConfig) -> None:
    sc = cfg.stage1
    require({
        "stage1.rep": (sc.rep in REPRESENTATIONS, f"must be one of {', '.join(REPRESENTATIONS)}"),
        "stage1.steps": (sc.steps >= 1, "must be >= 1"),
        "stage1.batch_size": (sc.batch_size >= 1, "must be >= 1"),
        "stage1.plane_res": (sc.plane_res % 2**sc.n_down == 0, "must be divisible by 2**n_down"),
        "stage1.grid_res": (sc.grid_res % 2**sc.n_down == 0, "must be divisible by 2**n_down"),
        "stage1.threshold": (0 < sc.threshold < 1, "must be in (0, 1)"),
    }, cfg)  # fmt: skip


def batch(data: ShapeSet, idx: np.ndarray, sc, rng: np.random.Generator):
    """(input points, query points, occupancies) tensors of shapes ``idx``."""
    surf = data.surface[idx]
    pick = rng.integers(0, surf.shape[1], (len(idx), sc.n_input))
    pts = np.take_along_axis(surf, pick[..., None], axis=1)
    pts = pts + rng.normal(0, sc.input_noise, pts.shape).astype(np.float32)
    pick = rng.integers(0, data.query.shape[1], (len(idx), sc.n_query))
    q = np.take_along_axis(data.query[idx], pick[..., None], axis=1)
    o = np.take_along_axis(data.occ[idx], pick, axis=1)
    return torch.from_numpy(pts), torch.from_numpy(q), torch.from_numpy(o.astype(np.float32))


@torch.no_grad()
def encode_all(model: ShapeAutoencoder, data: ShapeSet, sc, seed: int, bs: int = 32):
    """(codes (S, T), IoU per shape) with fixed input subsampling."""
    rng = np.random.default_rng(seed)
    codes, ious = [], []
    for s in range(0, len(data), bs):
        idx = np.arange(s, min(s + bs, len(data)))
        pts, _, _ = batch(data, idx, sc, rng)
        _, code, _ = model.quantize(model.encode(pts))
        feats = model.features(model.vq.get_output_from_indices(code))
        q = torch.from_numpy(data.iou_query[idx])
        pred = torch.sigmoid(model.query(feats, q)).numpy() >= sc.threshold
        gt = data.iou_occ[idx]
        inter, union = (pred & gt).sum(1), (pred | gt).sum(1)
        ious.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
        codes.append(code.numpy())
    return np.concatenate(codes), np.concatenate(ious)


def train(cfg: DictConfig, model: ShapeAutoencoder, data: ShapeSet, out: Path) -> list[dict]:
    sc = cfg.stage1
    opt = torch.optim.Adam(model.parameters(), lr=sc.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, sc.lr, total_steps=sc.steps, pct_start=0.05)
    ckpt = TrainState(out / "checkpoint.pt", config_hash(cfg), sc.checkpoint_every,
                      model=model, opt=opt, sched=sched)  # fmt: skip
    start, rows = ckpt.load()
    acc = []
    model.train()
    for step in range(start, sc.steps):
        rng = np.random.default_rng([sc.seed, step])
        idx = rng.choice(len(data), size=sc.batch_size, replace=len(data) < sc.batch_size)
        pts, q, o = batch(data, idx, sc, rng)
        logits, _, commit = model(pts, q)
        rec = F.binary_cross_entropy_with_logits(logits, o)
        loss = rec + commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        acc.append((rec.item(), commit.item()))
        if (step + 1) % LOG_EVERY == 0 or step + 1 == sc.steps:
            r, c = np.mean(acc, axis=0)
            rows.append({"step": step + 1, "bce": float(r), "commit": float(c)})
            print(f"step {step + 1}: bce {r:.4f} commit {c:.4f}", flush=True)
            acc = []
        ckpt.maybe_save(step + 1, sc.steps, rows)
    ckpt.finish()
    return rows


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    validate(cfg)
    set_threads(cfg.run.threads)
    sc, out = cfg.stage1, Path(cfg.run.out_dir)
    seed_everything(sc.seed)
    t0 = time.perf_counter()
    splits = {s: load_data(cfg, s) for s in ("train", "val", "test")}
    model = ShapeAutoencoder(sc)
    rows = train(cfg, model, splits["train"], out)
    t_train = time.perf_counter() - t0
    model.eval()
    codes, ious = {}, {}
    for split, data in splits.items():
        codes[split], ious[split] = encode_all(model, data, sc, seed=sc.seed + 1)
    test = splits["test"]
    recon, ok = decode_codes(model, codes["test"], sc, cfg.eval.n_cd, np.random.default_rng(0))
    used = np.unique(np.concatenate(list(codes.values())))
    counts = np.bincount(codes["train"].ravel(), minlength=sc.codebook_size) + 1e-12
    prob = counts / counts.sum()
    cats = list(cfg.data.categories)
    summary = {
        "rep": sc.rep, "tokens": int(codes["train"].shape[1]),
        "token_grid": list(model.token_grid),
        "iou_test": float(ious["test"].mean()), "iou_val": float(ious["val"].mean()),
        **{f"iou_test_{c}": float(ious["test"][test.category == i].mean())
           for i, c in enumerate(cats)},
        "codebook_usage": float(len(used) / sc.codebook_size),
        "codebook_perplexity": float(np.exp(-(prob * np.log(prob)).sum())),
        "recon_has_surface": float(ok.mean()),
        "params": int(sum(p.numel() for p in model.parameters())),
        "train_seconds": t_train, "seconds": time.perf_counter() - t0,
        "final_bce": rows[-1]["bce"], "config_hash": config_hash(cfg),
    }  # fmt: skip
    save_torch(out / "model.pt", model.state_dict())
    save_npz(out / "codes.npz", **{f"{k}_codes": v for k, v in codes.items()},
             **{f"{k}_category": d.category for k, d in splits.items()},
             token_grid=np.array(model.token_grid))  # fmt: skip
    save_npz(out / "recon.npz", points=recon, has_surface=ok, category=test.category)
    write_csv(out / "train_log.csv", pd.DataFrame(rows))
    write_json(out / "stage1.json", summary)
    print({k: v for k, v in summary.items() if "iou" in k or "codebook" in k})


if __name__ == "__main__":
    main()
