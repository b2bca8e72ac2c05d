"""Train the linear self-attention model by full-batch gradient descent (Hydra entry point).

python -m papers.mesa_optimization.train scale=cpu experiment=gauss_s1 init=small seed=0 \
    run.out_dir=results/cpu/mesa_optimization/runs/gauss_s1-small-seed0
Writes ``params.npz`` (initial and final W_KQ, W_PV) and ``log.csv`` (one row per
epoch; test columns every ``train.test_every`` epochs); resumes from
``checkpoint.npz`` if a previous attempt was killed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.checkpoint import Checkpointer
from common.config import config_hash, entry_point
from common.io import save_npz, write_csv, write_json
from common.progress import progress
from common.seeding import seed_everything
from common.threads import set_threads

DTYPES = ("float32", "float64")


def effective_schedule(cfg: DictConfig) -> tuple[float, int]:
    """(step size, epochs) after the scale's multipliers and the optional stability cap.

    With ``train.max_step_curvature`` = c > 0 and a diagonal init, the step is capped at
    c / lambda_max (the reduced problem's largest curvature along the flow) and the
    epochs grow so that the run covers the same flow time lr x epochs.
    """
    from papers.mesa_optimization import theory

    lr = cfg.train.lr * cfg.train.lr_multiplier
    epochs = max(1, round(cfg.train.epochs * cfg.train.epochs_multiplier))
    cap = cfg.train.max_step_curvature
    if cap > 0 and cfg.init.kind == "diagonal":
        dc = cfg.data
        moments = theory.analytic_moments(dc.x1, dc.x1_scale, dc.d, dc.T)
        taus = lr * np.arange(epochs + 1)
        lam = theory.max_curvature(cfg.init.a0, cfg.init.b0, moments, dc.d, taus)
        if lr * lam > cap:
            epochs = int(np.ceil(epochs * lr * lam / cap))
            lr = cap / lam
    return lr, epochs


def load_batches(cfg: DictConfig, dtype) -> tuple[dict, dict]:
    """Prepared (train, test) batches of the run's dataset."""
    from papers.mesa_optimization.data import sample_sequences
    from papers.mesa_optimization.model import prepare

    dc = cfg.data
    return tuple(
        prepare(sample_sequences(cfg.seed, split, m, dc.T, dc.d, dc.x1, dc.x1_scale), dtype)
        for split, m in (("train", dc.m_train), ("test", dc.m_test))
    )


def train(cfg: DictConfig, out: Path) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Run gradient descent; return initial and final complex weights and the per-epoch log."""
    import jax
    import optax

    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization.model import complex_weights, init_weights, loss, split_complex

    if cfg.train.dtype not in DTYPES:
        raise ValueError(f"train.dtype must be one of {DTYPES}, got {cfg.train.dtype!r}")
    jax.config.update("jax_enable_x64", True)
    dtype = np.dtype(cfg.train.dtype)
    seed_everything(cfg.seed)
    train_b, test_b = load_batches(cfg, dtype)
    lr, epochs = effective_schedule(cfg)

    optimizer = optax.sgd(lr)  # plain full-batch GD: no momentum, no weight decay

    @jax.jit  # batches are arguments, not closed-over constants: XLA would try to fold them
    def step(params, batch):
        value, grads = jax.value_and_grad(loss)(params, batch)
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        return optax.apply_updates(params, updates), dg.weight_stats(params, value)

    test_stats = jax.jit(dg.test_stats)

    ic = cfg.init
    kq0, pv0 = init_weights(cfg.data.d, ic.kind, ic.a0, ic.b0, ic.std, cfg.seed)
    ckpt = Checkpointer(out / "checkpoint.npz", cfg.train.checkpoint_every)
    resumed = ckpt.load()
    if resumed is None:
        start, rows, params = 0, [], split_complex(kq0, pv0, dtype)
    else:
        start, state, rows = resumed
        params = {k: jax.numpy.asarray(v) for k, v in state.items()}

    def record(epoch, params, stats):
        row = {"epoch": epoch, **{k: float(v) for k, v in stats.items()}}
        if epoch % cfg.train.test_every == 0 or epoch == epochs:
            row.update({k: float(v) for k, v in test_stats(params, test_b).items()})
        rows.append(row)

    for epoch in progress(range(start, epochs), desc="epochs", initial=start, total=epochs):
        new_params, stats = step(params, train_b)
        record(epoch, params, stats)
        params = new_params
        ckpt.maybe_save(epoch + 1, {k: np.asarray(v) for k, v in params.items()}, rows)
    record(epochs, params, dg.weight_stats(params, loss(params, train_b)))
    kq, pv = complex_weights(params)
    return {"kq": kq, "pv": pv, "kq0": kq0, "pv0": pv0}, pd.DataFrame(rows)


@entry_point("mesa_optimization")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    out = Path(cfg.run.out_dir)
    t0 = time.perf_counter()
    weights, log = train(cfg, out)
    save_npz(out / "params.npz", **weights)
    write_csv(out / "log.csv", log)
    write_json(
        out / "train.json",
        {"config_hash": config_hash(cfg), "wall_time_s": time.perf_counter() - t0},
    )
    Checkpointer(out / "checkpoint.npz", 1).remove()


if __name__ == "__main__":
    main()
