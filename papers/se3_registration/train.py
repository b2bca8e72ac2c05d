"""Train the surrogate alone or inside the diffusion, with the same budget (Hydra entry point).

python -m papers.se3_registration.train scale=cpu seed=0 train.kind=diffusion \
    run.data_dir=results/cpu/se3_registration/data \
    run.out_dir=results/cpu/se3_registration/seed0/diffusion
``kind=surrogate``: the network sees the model at the identity pose and predicts H_0 in one
shot (DCP). ``kind=diffusion`` (the released recipe): every step adds two L1 point-alignment
losses, the prediction of H_0 from H_t of the forward process at a uniform t in [1, T] and,
weighted by ``train.identity_weight``, the one-shot prediction from the identity (the input of
the first reverse call), both on the full batch. The budget is counted in network passes
(samples through forward and backward): with ``train.equal_passes`` the surrogate trains for
``train.steps`` x the passes of one diffusion step, so both see the same number of passes.
Writes ``weights.pt``, ``train_log.csv`` and ``train.json``. Every ``train.checkpoint_every``
steps the network, the Adam state, the torch RNG state and the log so far go to
``<out_dir>/checkpoint.pt``; a rerun under the same config resumes there and ends identical to an
uninterrupted run (a checkpoint from another config is set aside: fresh start).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.config import config_hash, entry_point, require
from common.io import load_torch, save_torch, write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.se3_registration import diffusion, lie
from papers.se3_registration.data import load
from papers.se3_registration.model import Surrogate, denoiser, point_l1
from papers.se3_registration.schema import TRAIN_EXCLUDE, TRAIN_SECTIONS

KINDS = ("surrogate", "diffusion")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the network's device
LOG_EVERY = 50
log = logging.getLogger(__name__)


def train_hash(cfg: DictConfig) -> str:
    return config_hash(cfg, TRAIN_SECTIONS, TRAIN_EXCLUDE)


def build_net(cfg: DictConfig) -> Surrogate:
    mc = cfg.model
    return Surrogate(mc.width, mc.k, mc.heads, mc.length_scale, mc.temperature, mc.spatial)


def poses(split: dict, idx: np.ndarray) -> torch.Tensor:
    """Ground-truth centred poses (model -> centred observation) of instances ``idx``."""
    return lie.make_pose(torch.from_numpy(split["R"][idx]), torch.from_numpy(split["t"][idx]))


def sample_clouds(split, models, idx, n_obs, n_model, rng) -> tuple[torch.Tensor, torch.Tensor]:
    """(model points X (B, n_model, 3), observed points Y (B, n_obs, 3)), random subsets."""
    obs, pts = split["obs"], models["points"]
    Y = np.stack([obs[i, rng.choice(obs.shape[1], n_obs, replace=False)] for i in idx])
    objs = split["obj"][idx]
    X = np.stack([pts[o, rng.choice(pts.shape[1], n_model, replace=False)] for o in objs])
    return torch.from_numpy(X), torch.from_numpy(Y)


def noisy_inputs(cfg, kind, H0, alpha_bar, gen, rng) -> torch.Tensor:
    """The poses the network starts from: identity (surrogate) or H_t (diffusion), then, for the
    diffusion with an identity-start loss, the identity for the same batch again."""
    identity = lie.identity(H0.shape[0])
    if kind == "surrogate":
        return identity
    dc = cfg.diffusion
    t = rng.integers(1, dc.T + 1, size=H0.shape[0])
    H_t = diffusion.q_sample(H0, torch.from_numpy(alpha_bar[t]), diffusion.noise_scales(dc), gen)
    return torch.cat([H_t, identity]) if cfg.train.identity_weight > 0 else H_t


def passes_per_step(cfg: DictConfig, kind: str) -> int:
    """Network passes (samples through forward and backward) of one training step."""
    double = kind == "diffusion" and cfg.train.identity_weight > 0
    return cfg.train.batch_size * (2 if double else 1)


def n_steps(cfg: DictConfig, kind: str, n_train: int) -> int:
    """Training steps: ``train.steps`` (or epochs); the surrogate's scaled to equal passes."""
    tc = cfg.train
    steps = math.ceil(tc.epochs * n_train / tc.batch_size) if tc.epochs > 0 else int(tc.steps)
    if kind == "surrogate" and tc.equal_passes:
        steps = steps * passes_per_step(cfg, "diffusion") // passes_per_step(cfg, "surrogate")
    return steps


def loss_fn(cfg: DictConfig, H0hat: torch.Tensor, H0: torch.Tensor, X: torch.Tensor):
    """L1 point loss at H_t plus ``identity_weight`` x the loss of the identity-start half."""
    B = H0.shape[0]
    loss = point_l1(H0hat[:B], H0, X)
    if H0hat.shape[0] > B:
        loss = loss + cfg.train.identity_weight * point_l1(H0hat[B:], H0, X)
    return loss


def validate(cfg: DictConfig, kind: str) -> None:
    """One-line error naming the first out-of-range field."""
    tc, mc, dc = cfg.train, cfg.model, cfg.diffusion
    require(cfg, {
        "train.kind": (kind in KINDS, f"must be one of {', '.join(KINDS)}"),
        "train.steps": (tc.epochs > 0 or tc.steps >= 1, "must be >= 1 (or train.epochs > 0)"),
        "train.epochs": (tc.epochs >= 0, "must be >= 0 (0: use train.steps)"),
        "train.batch_size": (tc.batch_size >= 1, "must be >= 1"),
        "train.lr": (tc.lr > 0, "must be > 0"),
        "train.identity_weight": (tc.identity_weight >= 0, "must be >= 0"),
        "train.checkpoint_every": (tc.checkpoint_every >= 1, "must be >= 1"),
        "model.width": (mc.width >= 1, "must be >= 1"),
        "model.heads": (mc.heads >= 1 and mc.width % mc.heads == 0, "must divide model.width"),
        "model.k": (mc.k >= 1, "must be >= 1"),
        "model.n_obs": (1 <= mc.n_obs <= cfg.data.n_store, "must be in [1, data.n_store]"),
        "model.n_model": (
            1 <= mc.n_model <= cfg.data.n_model_store, "must be in [1, data.n_model_store]"
        ),
        "model.length_scale": (mc.length_scale > 0, "must be > 0"),
        "model.temperature": (mc.temperature > 0, "must be > 0"),
        "model.spatial": (mc.spatial >= 0, "must be >= 0"),
        "diffusion.cosine_s": (dc.cosine_s > 0, "must be > 0"),
        "diffusion.test_sigma_r": (dc.test_sigma_r >= 0, "must be >= 0"),
        "diffusion.test_sigma_t": (dc.test_sigma_t >= 0, "must be >= 0"),
        "diffusion.T": (dc.T >= 1, "must be >= 1"),
        "diffusion.test_steps": (1 <= dc.test_steps <= dc.T, "must be in [1, diffusion.T]"),
        "diffusion.sigma_r": (dc.sigma_r >= 0, "must be >= 0"),
        "diffusion.sigma_t": (dc.sigma_t >= 0, "must be >= 0"),
        "diffusion.length_unit_mm": (dc.length_unit_mm > 0, "must be > 0"),
    })  # fmt: skip


def train(cfg: DictConfig, kind: str, data_dir: Path, out: Path):
    """Train one network; return it, the log rows and a summary."""
    validate(cfg, kind)
    tc, mc = cfg.train, cfg.model
    seed_everything(cfg.seed)
    train_set, _, models = load(data_dir)
    n_train = len(train_set["obs"])
    steps = n_steps(cfg, kind, n_train)
    net = build_net(cfg).to(DEVICE)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    alpha_bar = diffusion.cosine_alpha_bar(cfg.diffusion.T, cfg.diffusion.cosine_s)

    ckpt = Checkpoint(out / "checkpoint.pt", train_hash(cfg), tc.checkpoint_every)
    start, rows, acc = 0, [], []
    resumed = ckpt.load()
    if resumed is not None:
        start, saved, extra = resumed
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        torch.set_rng_state(saved["rng"])
        rows, acc = extra["rows"], extra["acc"]

    def state() -> dict:
        return {"net": net.state_dict(), "opt": opt.state_dict(), "rng": torch.get_rng_state()}

    bar = Progress(steps, f"train {kind}", initial=start)
    t0 = time.perf_counter()
    for step in range(start, steps):
        rng = np.random.default_rng([cfg.seed, step])
        gen = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
        idx = rng.integers(0, n_train, tc.batch_size)
        X, Y = sample_clouds(train_set, models, idx, mc.n_obs, mc.n_model, rng)
        H0 = poses(train_set, idx)
        H_in = noisy_inputs(cfg, kind, H0, alpha_bar, gen, rng)
        reps = H_in.shape[0] // H0.shape[0]
        X_in, Y_in = X.repeat(reps, 1, 1).to(DEVICE), Y.repeat(reps, 1, 1).to(DEVICE)
        loss = loss_fn(cfg, denoiser(net, X_in, Y_in)(H_in, 0), H0, X.double())
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc.append(loss.item())
        if (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
            passes = (step + 1) * passes_per_step(cfg, kind)
            rows.append({"step": step + 1, "passes": passes, "loss": float(np.mean(acc))})
            acc = []
        ckpt.maybe_save(step + 1, state, {"rows": rows, "acc": acc})
        bar.update(step + 1, loss=acc[-1] if acc else rows[-1]["loss"])
    summary = {
        "kind": kind,
        "steps": steps,
        "passes": steps * passes_per_step(cfg, kind),
        "n_train": n_train,
        "final_loss": rows[-1]["loss"] if rows else float("nan"),
        "train_time_s": time.perf_counter() - t0,
        "s_per_step": (time.perf_counter() - t0) / max(steps - start, 1),
        "resumed_from": start,
        "n_params": sum(p.numel() for p in net.parameters()),
    }
    return net, pd.DataFrame(rows, columns=["step", "passes", "loss"]), summary


def load_net(cfg: DictConfig, path: Path) -> Surrogate:
    """A trained network from ``weights.pt`` (weights only)."""
    if not path.exists():
        raise FileNotFoundError(f"missing weights {path} (run the train rule first)")
    net = build_net(cfg)
    net.load_state_dict(load_torch(path))
    return net.to(DEVICE).eval()


@entry_point("se3_registration")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    torch.set_num_threads(cfg.run.threads)
    kind, data_dir = cfg.train.kind, Path(cfg.run.data_dir)
    out = Path(cfg.run.out_dir)
    t0 = time.perf_counter()
    net, train_log, summary = train(cfg, kind, data_dir, out)
    save_torch(out / "weights.pt", net.state_dict())
    write_csv(out / "train_log.csv", train_log)
    write_json(
        out / "train.json",
        {"config_hash": train_hash(cfg), "wall_time_s": time.perf_counter() - t0} | summary,
    )
    Checkpoint(out / "checkpoint.pt", train_hash(cfg), 1).remove()
    steps, speed, loss = summary["steps"], summary["s_per_step"], summary["final_loss"]
    log.info("%s: %d steps, %.3f s/step, loss %.4f", kind, steps, speed, loss)


if __name__ == "__main__":
    main()
