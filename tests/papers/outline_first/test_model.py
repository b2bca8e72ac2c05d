"""EDM denoiser: preconditioning, a Gaussian toy, parameter files, the training entry point."""

import json
import sys
import types
from dataclasses import dataclass
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from common.config import compose_config
from papers.outline_first.model import (
    build_model,
    edm_loss,
    init_params,
    load_denoiser,
    load_params,
    loss_weight,
    make_denoiser,
    precondition,
    save_params,
)
from papers.outline_first.train import chunk_ends, main, train
from tests.resume import Killed, kill_after_first_save

SMALL = SimpleNamespace(hidden=32, depth=2, sigma_data=0.5)


def _random_params(key, cfg_model, dim):
    """Parameters with a non-zero output layer (the init's is zero, which hides F)."""
    params = init_params(key, cfg_model, dim)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    noisy = [
        p + 0.3 * jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, noisy)


def test_preconditioning_coefficients_and_loss_weight():
    sd = 0.5
    c_skip, c_out, c_in, c_noise = precondition(jnp.array([1e-6, 1.0, 1e4]), sd)
    np.testing.assert_allclose(c_skip, [1.0, 0.25 / 1.25, 0.25 / (1e8 + 0.25)], rtol=1e-5)
    np.testing.assert_allclose(c_out, [1e-6 * 0.5 / 0.5, 0.5 / np.sqrt(1.25), 0.5], rtol=1e-5)
    np.testing.assert_allclose(c_in, [2.0, 1 / np.sqrt(1.25), 1e-4], rtol=1e-5)
    np.testing.assert_allclose(c_noise, np.log([1e-6, 1.0, 1e4]) / 4, rtol=1e-6)
    sigma = np.array([0.01, 0.3, 1.0, 7.0])
    np.testing.assert_allclose(loss_weight(sigma, sd), (sigma**2 + sd**2) / (sigma * sd) ** 2)
    np.testing.assert_allclose(loss_weight(1.0, sd), 5.0)
    # lambda = 1 / c_out^2, and F's target (x0 - c_skip y) / c_out has unit variance for data of
    # variance sd^2: Karras et al.'s reason for these coefficients.
    c_skip, c_out, _, _ = precondition(sigma, sd)
    np.testing.assert_allclose(loss_weight(sigma, sd), 1 / c_out**2, rtol=1e-6)
    target_var = (sd**2 * (1 - c_skip) ** 2 + c_skip**2 * sigma**2) / c_out**2
    np.testing.assert_allclose(target_var, 1.0, rtol=1e-6)


def test_denoiser_is_identity_at_zero_noise_and_takes_scalar_or_vector_sigma():
    dim = 6
    params = _random_params(jax.random.key(0), SMALL, dim)
    den = make_denoiser(params, SMALL, dim)
    x = np.random.default_rng(0).uniform(-1, 1, (5, dim)).astype(np.float32)
    np.testing.assert_allclose(den(x, 1e-7), x, atol=1e-6)
    assert np.max(np.abs(np.asarray(den(x, 1.0)) - x)) > 1e-2  # F matters away from 0
    np.testing.assert_allclose(den(x, 0.7), den(x, np.full(5, 0.7, np.float32)), rtol=1e-6)
    mixed = np.array([0.1, 0.5, 1.0, 5.0, 50.0], np.float32)
    rows = np.concatenate([np.asarray(den(x[i : i + 1], mixed[i])) for i in range(5)])
    np.testing.assert_allclose(den(x, mixed), rows, rtol=1e-5, atol=1e-6)
    x64 = x.astype(np.float64)  # returned in x's dtype as JAX holds it (float64 under x64)
    assert den(x64, 1.0).dtype == jnp.asarray(x64).dtype
    # at huge sigma D(x) -> c_out F(c_in x) with c_out -> sigma_data: bounded, not ~ x
    assert np.max(np.abs(np.asarray(den(1e3 * x, 1e3)))) < 0.01 * np.max(np.abs(1e3 * x))


def test_trained_denoiser_approaches_the_exact_gaussian_denoiser():
    dim, rng = 4, np.random.default_rng(0)
    mu = np.array([0.3, -0.2, 0.1, 0.0], np.float32)
    a = np.array(
        [[0.5, 0.1, 0, 0], [0.2, 0.2, 0, 0.05], [0, 0, 0.1, 0], [0, 0.1, 0, 0.3]], np.float32
    )
    cov, chol = a @ a.T, np.linalg.cholesky(a @ a.T)
    cfg_model = SimpleNamespace(hidden=64, depth=2, sigma_data=0.5)
    model = build_model(cfg_model, dim)
    opt = optax.adam(3e-3)

    @jax.jit
    def step(params, state, key):
        kx, kl = jax.random.split(key)
        x = mu + jax.random.normal(kx, (512, dim)) @ chol.T
        loss, g = jax.value_and_grad(lambda p: edm_loss(model, p, x, kl, -1.2, 1.2))(params)
        updates, state = opt.update(g, state, params)
        return optax.apply_updates(params, updates), state

    params = init_params(jax.random.key(0), cfg_model, dim)

    def ratios(params):
        den = make_denoiser(params, cfg_model, dim)
        x0 = mu + rng.standard_normal((4000, dim)) @ chol.T
        out = []
        for sigma in (0.2, 0.5):
            y = (x0 + sigma * rng.standard_normal(x0.shape)).astype(np.float32)
            exact = mu + (y - mu) @ np.linalg.solve(cov + sigma**2 * np.eye(dim), cov).T
            err = np.mean((np.asarray(den(y, sigma)) - exact) ** 2)
            baseline = min(np.mean((y - exact) ** 2), np.mean((mu - exact) ** 2))  # D=x, D=mu
            out.append(err / baseline)
        return np.array(out)

    assert np.all(ratios(params) > 0.3)  # untrained: no better than the trivial denoisers
    state = opt.init(params)
    for i in range(400):
        params, state = step(params, state, jax.random.fold_in(jax.random.key(1), i))
    assert np.all(ratios(params) < 0.05)


def test_param_npz_round_trip_is_exact(tmp_path):
    params = _random_params(jax.random.key(3), SMALL, 5)
    save_params(tmp_path / "p.npz", params)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        assert "net/dense0/kernel" in data.files and "net/out/bias" in data.files
    template = init_params(jax.random.key(9), SMALL, 5)
    loaded = load_params(tmp_path / "p.npz", template)
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(params)
    for a, b in zip(
        jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(params), strict=True
    ):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = np.ones((2, 5), np.float32)
    den = load_denoiser(tmp_path / "p.npz", SMALL, 5)
    np.testing.assert_array_equal(den(x, 0.3), make_denoiser(params, SMALL, 5)(x, 0.3))
    with pytest.raises(ValueError, match="keys do not match"):
        deeper = SimpleNamespace(hidden=32, depth=3, sigma_data=0.5)
        load_params(tmp_path / "p.npz", init_params(jax.random.key(0), deeper, 5))


# --- the training entry point ------------------------------------------------------------


@dataclass
class _Dataset:
    x: np.ndarray
    labels: np.ndarray
    image_shape: tuple
    name: str


def _standin_module():
    """Digits scaled to [-1, 1]: used only while papers.outline_first.data is not written yet."""
    from sklearn.datasets import load_digits

    def load_dataset(cfg_data, seed):
        d = load_digits()
        n = cfg_data.max_images or len(d.data)
        return _Dataset(d.data[:n] / 8.0 - 1.0, d.target[:n], (8, 8), "digits")

    def split(ds, test_fraction, seed):
        idx = np.random.default_rng(seed).permutation(len(ds.x))
        n_test = int(round(test_fraction * len(idx)))
        part = [idx[n_test:], idx[:n_test]]
        return tuple(_Dataset(ds.x[i], ds.labels[i], ds.image_shape, ds.name) for i in part)

    module = types.ModuleType("papers.outline_first.data")
    module.load_dataset, module.split = load_dataset, split
    return module


@pytest.fixture
def data_module(monkeypatch):
    try:
        import papers.outline_first.data  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "papers.outline_first.data", _standin_module())


def test_chunks_stop_at_log_rows_checkpoints_and_the_end():
    assert chunk_ends(0, 120, 1000) == [50, 100, 120]
    assert chunk_ends(40, 120, 30) == [50, 60, 90, 100, 120]


def test_entry_point_writes_outputs(tmp_path, data_module):
    out = tmp_path / "run"
    main(["scale=smoke", "train.steps=60", f"run.out_dir={out}"])
    assert sorted(p.name for p in out.iterdir()) == ["params.npz", "train.json", "train_log.csv"]
    log = pd.read_csv(out / "train_log.csv")
    assert log["step"].tolist() == [50, 60] and np.all(np.isfinite(log["loss"]))
    meta = json.loads((out / "train.json").read_text())
    assert meta["D"] == 64 and meta["final_loss"] == pytest.approx(log["loss"].iloc[-1])
    assert {"config_hash", "wall_time_s", "ema_test_loss"} <= set(meta)
    cfg = compose_config("outline_first", ["scale=smoke"])
    den = load_denoiser(out / "params.npz", cfg.model, meta["D"])
    assert np.all(np.isfinite(np.asarray(den(np.zeros((3, 64), np.float32), 1.0))))


def _assert_same_run(a, b):
    (ema_a, log_a, _), (ema_b, log_b, _) = a, b
    leaves = zip(jax.tree_util.tree_leaves(ema_a), jax.tree_util.tree_leaves(ema_b), strict=True)
    for x, y in leaves:
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    pd.testing.assert_frame_equal(log_a, log_b)


def test_killed_run_resumes_and_matches_uninterrupted_run(tmp_path, data_module, monkeypatch):
    over = ["scale=smoke", "train.steps=100", "train.checkpoint_every=20"]
    cfg = compose_config("outline_first", over)
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        kill_after_first_save(m)
        with pytest.raises(Killed):
            train(cfg, out)
    assert (out / "checkpoint.npz").exists()
    resumed = train(cfg, out)  # rerun unchanged: continues from the checkpoint
    assert resumed[2]["resumed_from"] == 20
    clean = train(cfg, tmp_path / "clean")
    assert clean[2]["resumed_from"] == 0
    _assert_same_run(resumed, clean)

    # killed again, then rerun under a changed hashed value: a fresh start, equal to a clean run
    (out / "checkpoint.npz").unlink()  # train() leaves its last checkpoint; main() removes it
    with monkeypatch.context() as m:
        kill_after_first_save(m)
        with pytest.raises(Killed):
            train(cfg, out)
    assert (out / "checkpoint.npz").exists()
    other = compose_config("outline_first", [*over, "train.lr=5e-4"])
    fresh = train(other, out)
    assert fresh[2]["resumed_from"] == 0
    _assert_same_run(fresh, train(other, tmp_path / "clean_other"))


def test_longer_run_continues_and_stale_config_starts_fresh(tmp_path, data_module):
    over = ["scale=smoke", "train.checkpoint_every=20"]
    full = compose_config("outline_first", [*over, "train.steps=100"])
    half = compose_config("outline_first", [*over, "train.steps=60"])
    train(half, tmp_path / "resumed")  # leaves checkpoint.npz at its last step
    assert (tmp_path / "resumed" / "checkpoint.npz").exists()
    ema_r, log_r, info_r = train(full, tmp_path / "resumed")  # train.steps is not hashed
    ema_f, log_f, info_f = train(full, tmp_path / "fresh")
    assert info_r["resumed_from"] == 60 and info_f["resumed_from"] == 0
    _assert_same_run((ema_r, log_r, info_r), (ema_f, log_f, info_f))
    # a checkpoint written under another data config is not resumed
    other = compose_config("outline_first", [*over, "train.steps=100", "data.max_images=200"])
    assert train(other, tmp_path / "resumed")[2]["resumed_from"] == 0
    # a checkpoint beyond train.steps is not resumed either
    train(full, tmp_path / "long")
    assert train(half, tmp_path / "long")[2]["resumed_from"] == 0


@pytest.mark.parametrize(
    "override",
    [
        "train.steps=abc", "train.steps=0", "train.ema=1.5", "train.lr=-1e-3",
        "train.batch_size=0", "model.depth=0", "model.hidden=0", "sampler.n_traj=0",
    ],
)  # fmt: skip
def test_bad_override_exits_2(tmp_path, data_module, override, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["scale=smoke", override, f"run.out_dir={tmp_path / 'bad'}"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error:")
    assert not (tmp_path / "bad").exists()
