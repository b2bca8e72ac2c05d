"""Train the EDM-preconditioned MLP denoiser on the training split (Hydra entry point).

python -m papers.outline_first.train scale=cpu seed=1 run.out_dir=results/cpu/outline_first/seed1
Writes ``params.npz`` (EMA parameters, keys like ``net/dense0/kernel``), ``train_log.csv``
(step, mean training loss since the previous row) and ``train.json`` (config hash, times,
losses, data shape). Every ``train.checkpoint_every`` steps it saves ``checkpoint.npz``
(``common.checkpoint.Checkpoint``); a rerun after a kill resumes from it when the config hash
(all but ``train.steps`` and ``train.checkpoint_every``) matches, so a longer run continues.
The whole step (loss, gradient, Adam, EMA) is jitted and ``jax.lax.scan``-ned over chunks
of steps; the minibatch and noise of step t come from ``fold_in(key, t)``, so a resumed
run repeats the uninterrupted one.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.config import config_hash, entry_point, require
from common.io import write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads

TEST_FRACTION = 0.2  # held-out share of the dataset (the classifier and metrics use the split)
LOG_EVERY = 50  # steps per row of train_log.csv (and per scanned chunk)
EVAL_DRAWS = 8  # noise draws per image for the final held-out loss
EVAL_MAX = 4096  # images per split for the final losses
log = logging.getLogger(__name__)


def validate(cfg: DictConfig) -> None:
    """Fail early, with the field's name, on values the training or evaluation cannot use."""
    tc, mc, dc, sc, ms = cfg.train, cfg.model, cfg.data, cfg.sampler, cfg.measure
    require(
        cfg,
        {
            "train.steps": (tc.steps >= 1, "must be >= 1"),
            "train.batch_size": (tc.batch_size >= 1, "must be >= 1"),
            "train.lr": (tc.lr > 0, "must be > 0"),
            "train.p_std": (tc.p_std > 0, "must be > 0"),
            "train.ema": (0 <= tc.ema < 1, "must be in [0, 1)"),
            "train.checkpoint_every": (tc.checkpoint_every >= 1, "must be >= 1"),
            "model.hidden": (mc.hidden >= 1, "must be >= 1"),
            "model.depth": (mc.depth >= 1, "must be >= 1"),
            "model.sigma_data": (mc.sigma_data > 0, "must be > 0"),
            "data.max_images": (dc.max_images >= 0, "must be >= 0 (0: all images)"),
            "data.patch_size": (dc.patch_size >= 2, "must be >= 2"),
            "sampler.num_steps": (sc.num_steps >= 2, "must be >= 2"),
            "sampler.sigma_min": (sc.sigma_min > 0, "must be > 0"),
            "sampler.sigma_max": (sc.sigma_max > sc.sigma_min, "must be > sampler.sigma_min"),
            "sampler.rho": (sc.rho > 0, "must be > 0"),
            "sampler.n_traj": (sc.n_traj >= 2, "must be >= 2"),
            "measure.top_k": (ms.top_k >= 2, "must be >= 2"),
            "measure.kick_norm": (ms.kick_norm > 0, "must be > 0"),
        },
    )


def checkpoint_hash(cfg: DictConfig) -> str:
    """Hash under which a checkpoint is resumed: all but the run length and save interval,
    so a changed config starts over and a longer ``train.steps`` continues."""
    return config_hash(cfg, exclude=("train.steps", "train.checkpoint_every"))


def chunk_ends(start: int, steps: int, every: int) -> list[int]:
    """Steps after which the loop returns to Python: log rows, checkpoints and the end."""
    marks = set(range(LOG_EVERY, steps, LOG_EVERY)) | set(range(every, steps, every)) | {steps}
    return sorted(m for m in marks if m > start)


def load_training_data(cfg: DictConfig):
    """(train, test) splits of the run's dataset."""
    from papers.outline_first.data import load_dataset, split

    dataset = load_dataset(cfg.data, cfg.seed, cfg.run.data_dir)
    return split(dataset, TEST_FRACTION, cfg.seed)


@functools.cache
def step_functions(
    dim: int,
    hidden: int,
    depth: int,
    sigma_data: float,
    batch_size: int,
    lr: float,
    p_mean: float,
    p_std: float,
    ema_decay: float,
):
    """(optimizer, run_chunk, mean_loss), jitted once per process for these settings.

    ``run_chunk(carry, data, key, start, length)`` runs steps start .. start+length-1 with
    ``jax.lax.scan`` and returns the new (params, ema, opt_state) and the sum of the losses;
    step t draws its minibatch and noise from ``fold_in(key, t)``.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from papers.outline_first.model import Denoiser, edm_loss

    model = Denoiser(dim=dim, hidden=hidden, depth=depth, sigma_data=sigma_data)
    optimizer = optax.adam(lr)

    def one_step(carry, t, data, key):
        params, ema, opt_state = carry
        k_batch, k_loss = jax.random.split(jax.random.fold_in(key, t))
        batch = data[jax.random.randint(k_batch, (batch_size,), 0, data.shape[0])]
        loss, grads = jax.value_and_grad(
            lambda p: edm_loss(model, p, batch, k_loss, p_mean, p_std)
        )(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        t1 = (t + 1).astype(jnp.float32)  # EMA warm-up: short runs do not average the init
        decay = jnp.minimum(ema_decay, (1 + t1) / (10 + t1))
        ema = jax.tree_util.tree_map(lambda e, p: decay * e + (1 - decay) * p, ema, params)
        return (params, ema, opt_state), loss

    @functools.partial(jax.jit, static_argnums=4)
    def run_chunk(carry, data, key, start, length):
        ts = start + jnp.arange(length, dtype=jnp.int32)
        carry, losses = jax.lax.scan(lambda c, t: one_step(c, t, data, key), carry, ts)
        return carry, jnp.sum(losses)

    @jax.jit
    def mean_loss(params, data, key):
        data = jnp.tile(data[:EVAL_MAX], (EVAL_DRAWS, 1))
        return edm_loss(model, params, data, key, p_mean, p_std)

    return optimizer, run_chunk, mean_loss


def train(cfg: DictConfig, out: Path) -> tuple[Any, pd.DataFrame, dict[str, Any]]:
    """Train; return the EMA parameters, the log and a summary (losses, shapes, times)."""
    import jax
    import jax.numpy as jnp
    from flax import traverse_util

    from papers.outline_first.model import flatten_params, init_params, unflatten_params

    validate(cfg)
    tc, mc = cfg.train, cfg.model
    key = seed_everything(cfg.seed)
    train_ds, test_ds = load_training_data(cfg)
    x_train = jnp.asarray(np.asarray(train_ds.x, np.float32))
    x_test = jnp.asarray(np.asarray(test_ds.x, np.float32))
    n, dim = x_train.shape
    optimizer, run_chunk, mean_loss = step_functions(
        int(dim), int(mc.hidden), int(mc.depth), float(mc.sigma_data), int(tc.batch_size),
        float(tc.lr), float(tc.p_mean), float(tc.p_std), float(tc.ema),
    )  # fmt: skip
    k_init, k_train, k_eval = jax.random.split(key, 3)

    params = init_params(k_init, cfg.model, dim)
    ema, opt_state = params, optimizer.init(params)
    opt_leaves, opt_def = jax.tree_util.tree_flatten(opt_state)

    def nested(tree) -> dict:
        return traverse_util.unflatten_dict(flatten_params(tree), sep="/")

    def state_arrays(params, ema, opt_state) -> dict:
        leaves = jax.tree_util.tree_leaves(opt_state)
        opt = {f"{i:04d}": np.asarray(v) for i, v in enumerate(leaves)}
        return {"params": nested(params), "ema": nested(ema), "opt": opt}

    def from_state(state: dict):
        params_ = unflatten_params(traverse_util.flatten_dict(state["params"], sep="/"), params)
        ema_ = unflatten_params(traverse_util.flatten_dict(state["ema"], sep="/"), params)
        leaves = [jnp.asarray(state["opt"][f"{i:04d}"]) for i in range(len(opt_leaves))]
        return params_, ema_, jax.tree_util.tree_unflatten(opt_def, leaves)

    ckpt = Checkpoint(out / "checkpoint.npz", checkpoint_hash(cfg), tc.checkpoint_every)
    start, rows, acc = 0, [], [0.0, 0]  # acc: loss sum and count since the last log row
    resumed = ckpt.load()
    if resumed is not None and resumed.step <= tc.steps:
        start = resumed.step
        params, ema, opt_state = from_state(resumed.state)
        rows, acc = resumed.extra["rows"], resumed.extra["acc"]
    elif resumed is not None:
        log.warning("%s is at step %d > train.steps: starting fresh", ckpt.path, resumed.step)

    carry = (params, ema, opt_state)
    t0 = time.perf_counter()
    bar = Progress(tc.steps, "train steps", initial=start)
    step = start
    for end in chunk_ends(start, tc.steps, tc.checkpoint_every):
        carry, loss_sum = run_chunk(carry, x_train, k_train, jnp.int32(step), end - step)
        acc = [acc[0] + float(loss_sum), acc[1] + end - step]
        chunk_loss = float(loss_sum) / (end - step)
        step = end
        if step % LOG_EVERY == 0:
            rows.append({"step": step, "loss": acc[0] / acc[1]})
            acc = [0.0, 0]
        ckpt.maybe_save(step, functools.partial(state_arrays, *carry), {"rows": rows, "acc": acc})
        bar.update(step, loss=chunk_loss)
    if acc[1]:  # the last steps since a log row; not in the checkpoint, so a longer run goes on
        rows = [*rows, {"step": step, "loss": acc[0] / acc[1]}]
    train_time = time.perf_counter() - t0
    params, ema, _ = carry

    summary = {
        "final_loss": rows[-1]["loss"],
        "ema_train_loss": float(mean_loss(ema, x_train, k_eval)),
        "ema_test_loss": float(mean_loss(ema, x_test, k_eval)) if len(x_test) else float("nan"),
        "train_time_s": train_time,
        "resumed_from": start,
        "steps": int(tc.steps),
        "D": int(dim),
        "n_train": int(n),
        "n_test": int(x_test.shape[0]),
        "dataset": str(getattr(train_ds, "name", cfg.data.name)),
        "image_shape": [int(s) for s in getattr(train_ds, "image_shape", (dim,))],
    }
    return ema, pd.DataFrame(rows, columns=["step", "loss"]), summary


@entry_point("outline_first")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    from papers.outline_first.model import save_params

    out = Path(cfg.run.out_dir)
    t0 = time.perf_counter()
    ema, train_log, summary = train(cfg, out)
    save_params(out / "params.npz", ema)
    write_csv(out / "train_log.csv", train_log)
    meta = {"config_hash": config_hash(cfg), "wall_time_s": time.perf_counter() - t0}
    write_json(out / "train.json", meta | summary)
    Checkpoint(out / "checkpoint.npz", checkpoint_hash(cfg), 1).remove()
    log.info(
        f"trained {summary['steps']} steps in {summary['train_time_s']:.1f} s; final loss "
        f"{summary['final_loss']:.4f}, held-out EMA loss {summary['ema_test_loss']:.4f}"
    )


if __name__ == "__main__":
    main()
