"""Config composition, validation errors as one line, and the stable hash."""

import subprocess
import sys

import pytest

from common.cli import UserError
from common.config import compose_config, config_hash, require


def test_compose_scale_and_experiment():
    cfg = compose_config("mesa_optimization", ["scale=paper", "experiment=sparse_c2", "init=large"])
    assert cfg.data.T == 100 and cfg.data.m_train == 10_000
    assert cfg.data.x1 == "sparse" and cfg.data.x1_scale == 2.0 and cfg.train.lr == 1e-4
    assert (cfg.init.a0, cfg.init.b0) == (2.0, 2.0)


def test_hash_ignores_runtime_keys_but_not_values():
    base = compose_config("mesa_optimization", ["scale=smoke"])
    moved = compose_config("mesa_optimization", ["scale=smoke", "run.out_dir=/elsewhere"])
    changed = compose_config("mesa_optimization", ["scale=smoke", "train.lr=0.5"])
    assert config_hash(base) == config_hash(moved)
    assert config_hash(base) != config_hash(changed)
    assert len(config_hash(base)) == 12


def test_hash_restricted_to_sections_ignores_the_others():
    base = compose_config("mesa_optimization", ["scale=smoke"])
    changed = compose_config("mesa_optimization", ["scale=smoke", "train.lr=0.5"])
    assert config_hash(base, ("data",)) == config_hash(changed, ("data",))
    assert config_hash(base, ("data", "train")) != config_hash(changed, ("data", "train"))


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("scale=cpuu", "scale/cpuu"),
        ("data.T=abc", "data.T"),
        ("data.nonexistent=1", "nonexistent"),
    ],
)
def test_bad_override_is_a_user_error(override, needle):
    with pytest.raises(UserError, match=needle):
        compose_config("mesa_optimization", [override])


@pytest.mark.parametrize("override", ["scale=cpuu", "data.T=abc"])
def test_entry_point_bad_override_prints_one_line(override, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "papers.mesa_optimization.train", override,
         f"run.out_dir={tmp_path}/run"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not (tmp_path / "run").exists()


def test_hash_sections_and_exclude_take_dotted_keys():
    base = compose_config("mesa_optimization", ["scale=smoke"])
    lr = compose_config("mesa_optimization", ["scale=smoke", "train.lr=0.5"])
    assert config_hash(base, ("data", "train.lr")) != config_hash(lr, ("data", "train.lr"))
    assert config_hash(base, ("data", "seed")) == config_hash(lr, ("data", "seed"))
    assert config_hash(base, exclude=("train.lr",)) == config_hash(lr, exclude=("train.lr",))
    assert config_hash(base) != config_hash(lr)
    with pytest.raises(KeyError, match="no key 'data.nope'"):
        config_hash(base, ("data.nope",))


def test_run_data_dir_is_not_hashed():
    base = compose_config("mesa_optimization", ["scale=smoke"])
    moved = compose_config("mesa_optimization", ["scale=smoke", "run.data_dir=/data/x"])
    assert moved.run.data_dir == "/data/x" and config_hash(base) == config_hash(moved)


def test_require_names_the_field():
    cfg = compose_config("mesa_optimization", ["scale=smoke", "train.lr=-1"])
    with pytest.raises(UserError, match=r"^train.lr must be > 0, got -1"):
        require(cfg, {"data.T": (True, "ok"), "train.lr": (cfg.train.lr > 0, "must be > 0")})


def run_entry(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "papers.mesa_optimization.train", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_entry_point_help_lists_groups_keys_and_defaults():
    proc = run_entry("--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m papers.mesa_optimization.train" in proc.stdout
    assert "experiment={" in proc.stdout and "scale={cpu,paper,smoke}" in proc.stdout
    assert "lr:" in proc.stdout and "data_dir:" in proc.stdout


def test_entry_point_cfg_job_prints_the_config():
    proc = run_entry("--cfg", "job", "scale=smoke", "train.lr=0.25")
    assert proc.returncode == 0, proc.stderr
    assert "lr: 0.25" in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-m", "seed=1,2"], "sweeps (-m/--multirun) run through Snakemake"),
        (["seed=1,2"], "is a sweep: sweeps run through Snakemake"),
        (["hydra.run.dir=x"], "Hydra's own settings are not used"),
        (["+bogus=1"], "adds a key"),
        (["--cfg", "hydra"], "only `--cfg job`"),
        (["--frobnicate"], "unknown option '--frobnicate'"),
    ],
)
def test_entry_point_refuses_what_it_does_not_do_in_one_line(args, needle, tmp_path):
    proc = run_entry(*args, f"run.out_dir={tmp_path}/run")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert not (tmp_path / "run").exists()
