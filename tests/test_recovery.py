"""A killed DAG recovers with the same command, and identical runs write identical files.

Both rerun the cheapest paper's smoke DAG in a fresh copy of the repository and compare it with
the session's uninterrupted smoke run (`smoke_dag`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.dag import copy_repo, snakemake, snakemake_command

pytestmark = pytest.mark.dag

PAPER = "se3_registration"  # the cheapest smoke DAG
SELECT = f"papers=[{PAPER}]"
#: Not results: logs and run times, and the report that prints them (its figures and tables
#: are compared as files). Snakemake's own marker files hold the time a folder was finished.
VOLATILE_PARTS = {"logs", "benchmarks", ".snakemake_timestamp"}
#: JSON fields that say when and how long, not what (provenance, run-time metrics): dropped.
VOLATILE_SUFFIXES = ("timestamp", "time_s", "s_per_step", "s_per_sample")


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not k.endswith(VOLATILE_SUFFIXES)}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def outputs(root: Path) -> dict[str, bytes]:
    """Every result file of the paper, JSON with its timing fields dropped."""
    files = {}
    for path in sorted((root / "results" / "smoke" / PAPER).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or VOLATILE_PARTS & set(path.parts):
            continue
        data = path.read_bytes()
        if path.suffix == ".json":
            data = json.dumps(_stable(json.loads(data)), sort_keys=True).encode()
        files[rel] = data
    return files


def test_identical_runs_write_identical_files(smoke_dag, tmp_path):
    work = copy_repo(tmp_path)
    proc = snakemake(work, SELECT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again, first = outputs(work), outputs(smoke_dag)
    assert again.keys() == first.keys()
    differ = sorted(name for name in first if first[name] != again[name])
    assert not differ, f"identical runs differ in {differ}"
    assert any(name.endswith(".pt") for name in first) and any(n.endswith(".pdf") for n in first)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "snakemake ended before the kill"
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.2)


def test_killed_dag_recovers_with_the_same_command(smoke_dag, tmp_path):
    work = copy_repo(tmp_path)
    command = snakemake_command(work, SELECT)
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(**command, stdout=log, stderr=log, start_new_session=True)
        try:  # kill snakemake and its jobs (as a lost node would) once training has begun
            _wait_for(work / f"results/smoke/{PAPER}/data/train.npz", proc)
            second = snakemake(work, SELECT)  # meanwhile, a concurrent run is refused
            assert second.returncode != 0 and "cannot be locked" in second.stderr
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert any((work / ".snakemake" / "locks").iterdir()), "the kill left no lock to recover from"
    proc = snakemake(work, SELECT)  # the same command again
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "removed the lock left by a killed snakemake run" in proc.stderr
    claims = f"results/smoke/{PAPER}/claims.csv"
    assert (work / claims).read_bytes() == (smoke_dag / claims).read_bytes()
