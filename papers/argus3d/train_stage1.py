"""Train one stage-1 autoencoder and encode every split (Hydra entry point).

python -m papers.argus3d.train_stage1 scale=cpu stage1.rep=latent run.data_dir=... run.out_dir=...
Writes ``model.pt`` (state dict), ``codes.npz`` (codebook indices of train / val / test in
the natural token order, with categories), ``recon.npz`` (surface points of the test
reconstructions), ``train_log.csv`` and ``stage1.json`` (IoU, codebook usage, times).
Every ``stage1.checkpoint_every`` steps it saves ``checkpoint.pt`` (model, optimizer, LR
schedule, torch RNG state, log rows); a killed run resumes from it under the same config
(hash of ``runs.SECTIONS["stage1"]``) and starts fresh under any other.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.config import config_hash, entry_point, require
from common.io import save_npz, save_torch, write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.argus3d.data import ShapeSet
from papers.argus3d.extract import decode_codes
from papers.argus3d.model import REPRESENTATIONS, ShapeAutoencoder
from papers.argus3d.runs import SECTIONS
from papers.argus3d.runtime import load_data

LOG_EVERY = 50
log = logging.getLogger(__name__)


def validate(cfg: DictConfig) -> None:
    sc = cfg.stage1
    require(cfg, {
        "stage1.rep": (sc.rep in REPRESENTATIONS, f"must be one of {', '.join(REPRESENTATIONS)}"),
        "stage1.steps": (sc.steps >= 1, "must be >= 1"),
        "stage1.batch_size": (sc.batch_size >= 1, "must be >= 1"),
        "stage1.lr": (sc.lr > 0, "must be > 0"),
        "stage1.checkpoint_every": (sc.checkpoint_every >= 1, "must be >= 1"),
        "stage1.n_input": (sc.n_input >= 1, "must be >= 1"),
        "stage1.n_query": (sc.n_query >= 1, "must be >= 1"),
        "stage1.input_noise": (sc.input_noise >= 0, "must be >= 0"),
        "stage1.n_down": (sc.n_down >= 0, "must be >= 0"),
        "stage1.channels": (sc.channels >= 1, "must be >= 1"),
        "stage1.width": (sc.width >= 1, "must be >= 1"),
        "stage1.hidden": (sc.hidden >= 1, "must be >= 1"),
        "stage1.token_dim": (sc.token_dim >= 1, "must be >= 1"),
        "stage1.codebook_size": (sc.codebook_size >= 2, "must be >= 2"),
        "stage1.codebook_dim": (sc.codebook_dim >= 1, "must be >= 1"),
        "stage1.commitment": (sc.commitment >= 0, "must be >= 0"),
        "stage1.vq_decay": (0 < sc.vq_decay < 1, "must be in (0, 1)"),
        "stage1.dead_code_threshold": (sc.dead_code_threshold >= 0, "must be >= 0 (0: off)"),
        "stage1.plane_res": (
            sc.plane_res >= 1 and sc.plane_res % 2**sc.n_down == 0,
            "must be a positive multiple of 2**n_down",
        ),
        "stage1.grid_res": (
            sc.grid_res >= 1 and sc.grid_res % 2**sc.n_down == 0,
            "must be a positive multiple of 2**n_down",
        ),
        "stage1.threshold": (0 < sc.threshold < 1, "must be in (0, 1)"),
        "stage1.mc_res": (sc.mc_res >= 2, "must be >= 2"),
        "eval.n_cd": (cfg.eval.n_cd >= 1, "must be >= 1"),
    })  # fmt: skip


def checkpoint(cfg: DictConfig, out: Path) -> Checkpoint:
    """The training checkpoint: resumed only under the same stage-1 sections of the config."""
    h = config_hash(cfg, SECTIONS["stage1"], exclude=("stage1.checkpoint_every",))
    return Checkpoint(out / "checkpoint.pt", h, cfg.stage1.checkpoint_every)


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
def encode_all(
    model: ShapeAutoencoder, data: ShapeSet, sc, seed: int, bs: int = 32, random_codes=False
):
    """(codes (S, T), IoU per shape) with fixed input subsampling; ``random_codes`` decodes
    uniformly random codes instead of the shapes' own."""
    rng = np.random.default_rng(seed)
    codes, ious = [], []
    bar = Progress(len(data), "encode")
    for s in range(0, len(data), bs):
        bar.update(s)
        idx = np.arange(s, min(s + bs, len(data)))
        pts, _, _ = batch(data, idx, sc, rng)
        _, code, _ = model.quantize(model.encode(pts))
        if random_codes:  # the null: codes drawn uniformly from the codebook
            code = torch.from_numpy(rng.integers(0, sc.codebook_size, tuple(code.shape)))
        feats = model.codes_to_features(code)
        q = torch.from_numpy(data.iou_query[idx])
        pred = torch.sigmoid(model.query(feats, q)).numpy() >= sc.threshold
        gt = data.iou_occ[idx]
        inter, union = (pred & gt).sum(1), (pred | gt).sum(1)
        ious.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
        codes.append(code.numpy())
    bar.update(len(data))
    return np.concatenate(codes), np.concatenate(ious)


def train(cfg: DictConfig, model: ShapeAutoencoder, data: ShapeSet, ckpt: Checkpoint) -> list[dict]:
    """Train ``model`` (resuming from ``ckpt`` if it fits); return the log rows."""
    sc = cfg.stage1
    opt = torch.optim.Adam(model.parameters(), lr=sc.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, sc.lr, total_steps=sc.steps, pct_start=0.05)
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

    bar = Progress(sc.steps, f"stage1 {sc.rep}", initial=start)
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
        acc.append([rec.item(), commit.item()])
        if (step + 1) % LOG_EVERY == 0 or step + 1 == sc.steps:
            r, c = np.mean(acc, axis=0)
            rows.append({"step": step + 1, "bce": float(r), "commit": float(c)})
            acc = []
        bar.update(step + 1, bce=rec.item(), commit=commit.item())
        if step + 1 < sc.steps:
            ckpt.maybe_save(step + 1, state, {"rows": rows, "acc": acc})
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
    ckpt = checkpoint(cfg, out)
    rows = train(cfg, model, splits["train"], ckpt)
    t_train = time.perf_counter() - t0
    model.eval()
    codes, ious = {}, {}
    for split, data in splits.items():
        codes[split], ious[split] = encode_all(model, data, sc, seed=sc.seed + 1)
        log.info("encoded %s: %d shapes, IoU %.4f", split, len(data), ious[split].mean())
    test = splits["test"]
    _, iou_random = encode_all(model, test, sc, seed=sc.seed + 2, random_codes=True)
    rng = np.random.default_rng(0)
    recon, ok = decode_codes(model, codes["test"], sc, cfg.eval.n_cd, rng, desc="decode test")
    used = np.unique(np.concatenate(list(codes.values())))
    counts = np.bincount(codes["train"].ravel(), minlength=sc.codebook_size) + 1e-12
    prob = counts / counts.sum()
    cats = list(cfg.data.categories)
    summary = {
        "rep": sc.rep, "tokens": int(codes["train"].shape[1]),
        "token_grid": list(model.token_grid),
        "iou_test": float(ious["test"].mean()), "iou_val": float(ious["val"].mean()),
        "iou_test_random_codes": float(iou_random.mean()),
        **{f"iou_test_{c}": float(ious["test"][test.category == i].mean())
           for i, c in enumerate(cats)},
        "codebook_usage": float(len(used) / sc.codebook_size),
        "codebook_perplexity": float(np.exp(-(prob * np.log(prob)).sum())),
        "recon_has_surface": float(ok.mean()),
        "params": int(sum(p.numel() for p in model.parameters())),
        "train_seconds": t_train, "seconds": time.perf_counter() - t0,
        "final_bce": rows[-1]["bce"], "config_hash": config_hash(cfg, SECTIONS["stage1"]),
    }  # fmt: skip
    save_torch(out / "model.pt", model.state_dict())
    save_npz(out / "codes.npz", **{f"{k}_codes": v for k, v in codes.items()},
             **{f"{k}_category": d.category for k, d in splits.items()},
             token_grid=np.array(model.token_grid))  # fmt: skip
    save_npz(out / "recon.npz", points=recon, has_surface=ok, category=test.category)
    write_csv(out / "train_log.csv", pd.DataFrame(rows))
    write_json(out / "stage1.json", summary)
    ckpt.remove()
    log.info("%s", {k: v for k, v in summary.items() if "iou" in k or "codebook" in k})


if __name__ == "__main__":
    main()
