"""Train the linear self-attention model by full-batch gradient descent (Hydra entry point).

python -m papers.mesa_optimization.train scale=cpu experiment=gauss_s1 init=small seed=0 \
    run.out_dir=results/cpu/mesa_optimization/runs/gauss_s1-small-seed0
Writes ``params.npz`` (initial and final W_KQ, W_PV) and ``log.csv`` (one row per
epoch; test columns every ``train.test_every`` epochs). Saves ``checkpoint.npz`` every
``train.checkpoint_every`` epochs and resumes from it if a previous attempt was killed, but only
under the same config (a checkpoint of another config is set aside and training starts fresh).
The data are generated in-process from the seed: ``run.data_dir`` is not used.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.checkpoint import Checkpoint
from common.config import config_hash, entry_point
from common.io import save_npz, write_csv, write_json
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.mesa_optimization.schema import validate

#: config keys that do not change the trained weights: left out of the checkpoint's hash
NOT_HASHED = ("train.checkpoint_every",)


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


def load_sequences(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """The run's (train, test) sequences, complex (m, T, d)."""
    from papers.mesa_optimization.data import sample_sequences

    dc = cfg.data
    return tuple(
        sample_sequences(cfg.seed, split, m, dc.T, dc.d, dc.x1, dc.x1_scale)
        for split, m in (("train", dc.m_train), ("test", dc.m_test))
    )


def load_batches(cfg: DictConfig, dtype) -> tuple[dict, dict]:
    """Prepared (train, test) batches of the run's dataset (``model.prepare``: for evaluation)."""
    from papers.mesa_optimization.model import prepare

    return tuple(prepare(x, dtype) for x in load_sequences(cfg))


def make_step(lr: float):
    """One full-batch GD step (plain SGD: no momentum, no weight decay, like the authors').

    step(params, data) -> (new params, weight_stats of the old params); params are NumPy
    real/imaginary pairs, data ``fused.planar`` arrays. The loss and gradient come from the
    fused pass (``fused.py``), tested against ``jax.grad`` of the model's loss.
    """
    import jax

    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization.fused import loss_and_grad

    jax.config.update("jax_enable_x64", True)  # the weight statistics in the params' precision
    weight_stats = jax.jit(dg.weight_stats)

    def step(params, data):
        value, grads = loss_and_grad(params, data)
        stats = {k: float(v) for k, v in weight_stats(params, value).items()}
        return {k: v - lr * grads[k].astype(v.dtype) for k, v in params.items()}, stats

    return step


def checkpoint(cfg: DictConfig, out: Path) -> Checkpoint:
    """The run's checkpoint, valid only under the same config (up to ``NOT_HASHED``)."""
    return Checkpoint(
        out / "checkpoint.npz", config_hash(cfg, exclude=NOT_HASHED), cfg.train.checkpoint_every
    )


def train(cfg: DictConfig, out: Path) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Run gradient descent; return initial and final complex weights and the per-epoch log."""
    from papers.mesa_optimization import diagnostics as dg
    from papers.mesa_optimization import fused
    from papers.mesa_optimization.model import complex_weights, init_weights, split_complex

    validate(cfg)
    dtype = np.dtype(cfg.train.dtype)
    seed_everything(cfg.seed)
    train_x, test_x = (fused.planar(x, dtype) for x in load_sequences(cfg))
    lr, epochs = effective_schedule(cfg)
    step = make_step(lr)

    ic = cfg.init
    kq0, pv0 = init_weights(cfg.data.d, ic.kind, ic.a0, ic.b0, ic.std, cfg.seed)
    ckpt = checkpoint(cfg, out)
    resumed = ckpt.load()
    if resumed is None:
        start, rows = 0, []
        params = {k: np.asarray(v, dtype) for k, v in split_complex(kq0, pv0, dtype).items()}
    else:
        start, rows = resumed.step, list(resumed.extra)
        params = {k: np.asarray(v, dtype=dtype) for k, v in resumed.state.items()}

    def tested(epoch, params):
        due = epoch % cfg.train.test_every == 0 or epoch == epochs
        return fused.test_stats(params, test_x) if due else {}

    def record(epoch, stats, test):
        rows.append({"epoch": epoch, **{k: float(v) for k, v in stats.items()}, **test})

    bar = Progress(epochs, desc="epochs", initial=start)
    for epoch in range(start, epochs):
        test = tested(epoch, params)
        params, stats = step(params, train_x)
        record(epoch, stats, test)
        bar.update(epoch + 1, loss=rows[-1]["loss"])
        ckpt.maybe_save(epoch + 1, lambda p=params: dict(p), rows)
    final = dg.weight_stats(params, fused.loss(params, train_x))
    record(epochs, final, tested(epochs, params))
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
    checkpoint(cfg, out).remove()


if __name__ == "__main__":
    main()
