"""Train the surrogate alone or inside the diffusion, with the same budget (Hydra entry point).

python -m papers.se3_registration.train scale=cpu seed=0 train.kind=diffusion \
    run.data_dir=results/cpu/se3_registration/data \
    run.out_dir=results/cpu/se3_registration/seed0/diffusion
``kind=surrogate``: the network sees the model at the identity pose and predicts H_0 in one
shot (DCP). ``kind=diffusion``: it sees H_t from the forward process at a uniform t in
[1, T] (a ``train.clean_frac`` share of each batch gets the un-noised H_0) and predicts H_0.
Both minimise the L1 point-alignment loss with Adam for the same steps and batch size.
Writes ``weights.pt``, ``train_log.csv`` and ``train.json``; resumes from ``checkpoint.npz``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.checkpoint import Checkpointer
from common.cli import UserError
from common.config import config_hash, entry_point
from common.io import atomic_path, write_csv, write_json
from common.seeding import seed_everything
from common.threads import set_threads
from papers.se3_registration import diffusion, lie
from papers.se3_registration.data import load
from papers.se3_registration.model import Surrogate, denoiser, point_l1

KINDS = ("surrogate", "diffusion")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the network's device
LOG_EVERY = 50


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
    """The pose the network starts from: identity (surrogate) or H_t (diffusion)."""
    if kind == "surrogate":
        return lie.identity(H0.shape[0])
    dc = cfg.diffusion
    t = rng.integers(1, dc.T + 1, size=H0.shape[0])
    sigma = diffusion.scales(dc.sigma_r, dc.sigma_t)
    H_t = diffusion.q_sample(H0, torch.from_numpy(alpha_bar[t]), sigma, gen)
    clean = torch.from_numpy(rng.random(H0.shape[0]) < cfg.train.clean_frac)
    return torch.where(clean[:, None, None], H0, H_t)


def validate(cfg: DictConfig, kind: str) -> None:
    if kind not in KINDS:
        raise UserError(f"kind must be one of {KINDS}, got {kind!r}")
    tc, mc = cfg.train, cfg.model
    checks = {
        "train.steps": tc.steps >= 1,
        "train.batch_size": tc.batch_size >= 1,
        "train.lr": tc.lr > 0,
        "train.clean_frac": 0 <= tc.clean_frac <= 1,
        "model.width": mc.width >= 1 and mc.width % mc.heads == 0,
        "model.n_obs": 1 <= mc.n_obs <= cfg.data.n_store,
        "model.n_model": 1 <= mc.n_model <= cfg.data.n_model_store,
        "diffusion.T": cfg.diffusion.T >= 1,
    }
    for name, ok in checks.items():
        if not ok:
            raise UserError(f"{name} out of range: see papers/se3_registration/schema.py")


def train(cfg: DictConfig, kind: str, data_dir: Path, out: Path):
    """Train one network; return it, the log rows and a summary."""
    validate(cfg, kind)
    tc, mc = cfg.train, cfg.model
    seed_everything(cfg.seed)
    train_set, _, models = load(data_dir)
    n_train = len(train_set["obs"])
    steps = math.ceil(tc.epochs * n_train / tc.batch_size) if tc.epochs > 0 else int(tc.steps)
    net = build_net(cfg).to(DEVICE)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    alpha_bar = diffusion.cosine_alpha_bar(cfg.diffusion.T, cfg.diffusion.cosine_s)

    ckpt = Checkpointer(out / "checkpoint.npz", tc.checkpoint_every)
    start, rows, acc = 0, [], []
    resumed = ckpt.load()
    if resumed is not None and resumed[2].get("config_hash") == config_hash(cfg):
        start, state, extra = resumed
        load_state(net, opt, state)
        rows, acc = extra["rows"], extra["acc"]
        print(f"resumed from {ckpt.path} at step {start}")

    t0 = time.perf_counter()
    for step in range(start, steps):
        rng = np.random.default_rng([cfg.seed, step])
        gen = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
        idx = rng.integers(0, n_train, tc.batch_size)
        X, Y = sample_clouds(train_set, models, idx, mc.n_obs, mc.n_model, rng)
        H0 = poses(train_set, idx)
        H_in = noisy_inputs(cfg, kind, H0, alpha_bar, gen, rng)
        H0hat = denoiser(net, X.to(DEVICE), Y.to(DEVICE))(H_in, 0)
        loss = point_l1(H0hat, H0, X.double())
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc.append(loss.item())
        if (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
            rows.append({"step": step + 1, "loss": float(np.mean(acc))})
            acc = []
        extra = {"config_hash": config_hash(cfg), "rows": rows, "acc": acc}
        ckpt.maybe_save(step + 1, state_arrays(net, opt), extra)
    summary = {
        "kind": kind,
        "steps": steps,
        "n_train": n_train,
        "final_loss": rows[-1]["loss"] if rows else float("nan"),
        "train_time_s": time.perf_counter() - t0,
        "s_per_step": (time.perf_counter() - t0) / max(steps - start, 1),
        "resumed_from": start,
        "n_params": sum(p.numel() for p in net.parameters()),
    }
    return net, pd.DataFrame(rows, columns=["step", "loss"]), summary


def state_arrays(net: Surrogate, opt: torch.optim.Optimizer) -> dict[str, np.ndarray]:
    """Weights and Adam moments as a flat dict of arrays (for common.checkpoint)."""
    arrays = {f"net/{k}": v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    for i, state in opt.state_dict()["state"].items():
        arrays |= {f"opt/{i}/{k}": v.detach().cpu().numpy() for k, v in state.items()}
    return arrays


def load_state(net: Surrogate, opt: torch.optim.Optimizer, arrays: dict[str, np.ndarray]) -> None:
    net.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k[:4] == "net/"})
    state: dict[int, dict] = {}
    for key, value in arrays.items():
        if key.startswith("opt/"):
            _, i, name = key.split("/")
            state.setdefault(int(i), {})[name] = torch.from_numpy(value)
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


def load_net(cfg: DictConfig, path: Path) -> Surrogate:
    """A trained network from ``weights.pt`` (weights only)."""
    if not path.exists():
        raise FileNotFoundError(f"missing weights {path} (run the train rule first)")
    net = build_net(cfg)
    net.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    return net.to(DEVICE).eval()


@entry_point("se3_registration")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    torch.set_num_threads(cfg.run.threads)
    kind, data_dir = cfg.train.kind, Path(cfg.run.data_dir)
    out = Path(cfg.run.out_dir)
    t0 = time.perf_counter()
    net, log, summary = train(cfg, kind, data_dir, out)
    with atomic_path(out / "weights.pt") as tmp:
        torch.save(net.state_dict(), tmp)
    write_csv(out / "train_log.csv", log)
    write_json(
        out / "train.json",
        {"config_hash": config_hash(cfg), "wall_time_s": time.perf_counter() - t0} | summary,
    )
    Checkpointer(out / "checkpoint.npz", 1).remove()
    steps, speed, loss = summary["steps"], summary["s_per_step"], summary["final_loss"]
    print(f"{kind}: {steps} steps, {speed:.3f} s/step, loss {loss:.4f}")


if __name__ == "__main__":
    main()
