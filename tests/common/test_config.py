"""Config composition, validation errors as one line, and the stable hash."""

import subprocess
import sys

import pytest

from common.cli import UserError
from common.config import compose_config, config_hash


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
