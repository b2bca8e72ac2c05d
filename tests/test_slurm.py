"""The smoke DAG of both papers on a real (throwaway, single-node) SLURM cluster.

Brings the cluster up with `tests.local_slurm` (Debian slurm-wlm + munge, root only), runs
the DAG through `--profile profiles/slurm` next to a local run of the same copy, checks the
numbers agree, that a failing rule is reported with its log, and that every daemon it
started is gone afterwards, passed or failed.
"""

import atexit
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import local_slurm
from tests.dag import copy_repo

pytestmark = pytest.mark.slurm
PAPERS = ("mesa_optimization", "outline_first")
TIMEOUT = 420  # s; `timeout -k 10` around every snakemake: after SIGTERM it may wait forever


def start(workdir: Path, *args: str, timeout: int = TIMEOUT) -> subprocess.Popen:
    env_bin = str(Path(sys.executable).parent)
    env = {"PATH": f"{env_bin}:/usr/bin:/bin", "HOME": str(workdir), "OMP_NUM_THREADS": "1"}
    cmd = ["timeout", "-k", "10", str(timeout), f"{env_bin}/snakemake", *args]
    return subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=TIMEOUT + 30)
    assert proc.returncode not in (124, 137), f"snakemake timed out:\n{out[-3000:]}"
    return proc.returncode, out


@pytest.fixture(scope="module")
def cluster():
    if reason := local_slurm.unavailable_reason():
        pytest.skip(f"local SLURM cluster unavailable: {reason}")
    # at most 2 x nproc short jobs at once: smoke jobs mostly wait on start-up and polling
    try:
        state = local_slurm.up(cpus=2 * (os.cpu_count() or 1))
    except local_slurm.DaemonExited as err:  # after retries: this machine cannot run the daemons
        pytest.skip(f"local SLURM cluster did not come up: {err}")
    atexit.register(local_slurm.down, state)  # fallback if the teardown below never runs
    try:
        yield state
    finally:
        left = local_slurm.down(state)
        assert not left, f"daemons still running after teardown: {left}"
        assert not local_slurm.running_pids(state)
        assert not Path(state["tmp"]).exists()


def numbers(obj, path=""):
    """Flatten metrics.json into {path: value}, without the `_meta` provenance entry and the
    wall-clock times (they differ between any two runs)."""
    if isinstance(obj, dict):
        items = ((k, v) for k, v in obj.items() if k != "_meta" and "wall_time" not in k)
        return {p: x for k, v in items for p, x in numbers(v, f"{path}/{k}").items()}
    if isinstance(obj, list):
        return {p: x for i, v in enumerate(obj) for p, x in numbers(v, f"{path}/{i}").items()}
    return {path: obj}


def same_cells(a: list[str], b: list[str]) -> bool:
    """Two claims.csv rows agree: text cells exactly, numbers as the metrics do (rel 1e-9).
    The two runs' floats can differ in the last digits (seen for mesa's smoke claims), which
    a comparison of the printed text would call a mismatch."""

    def number(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        fx, fy = number(x), number(y)
        if fx is None or fy is None:
            if x != y:
                return False
        elif fx != pytest.approx(fy, rel=1e-9, abs=1e-12, nan_ok=True):
            return False
    return True


FAIL_SMK = """\
rule fail_on_purpose:
    output: "never.txt"
    log: "logs/fail_on_purpose.log"
    shell: "echo this rule fails on purpose > {log}; exit 1"
"""


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> dict[str, tuple[Path, int, str]]:
    """Three snakemake runs at once (each mostly waits): the smoke DAG of two papers on SLURM,
    the same DAG locally, and a rule failing on purpose on SLURM.
    {name: (workdir, exit code, output)}"""
    work = {name: tmp_path_factory.mktemp(name) for name in ("slurm", "local", "failing")}
    copy_repo(work["slurm"])
    copy_repo(work["local"])
    copy_repo(work["failing"], ("profiles",))
    (work["failing"] / "fail.smk").write_text(FAIL_SMK)
    slurm = ("--profile", "profiles/slurm")
    config = ("--config", "scale=smoke", f"papers=[{','.join(PAPERS)}]")
    procs = {
        "slurm": start(work["slurm"], *slurm, "--jobs", "8", *config),
        "local": start(work["local"], *config),
        "failing": start(work["failing"], "-s", "fail.smk", *slurm, "--retries", "0"),
    }
    try:
        return {name: (work[name], *finish(proc)) for name, proc in procs.items()}
    finally:
        for proc in procs.values():  # only if finish() raised: do not leave snakemake behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_smoke_dag_on_slurm_matches_local_run(runs):
    for name in ("slurm", "local"):
        assert runs[name][1] == 0, f"{name} run failed:\n{runs[name][2][-4000:]}"
    assert "submitted with SLURM jobid" in runs["slurm"][2]
    on_slurm, local = runs["slurm"][0], runs["local"][0]
    for paper in PAPERS:
        out = Path("results/smoke") / paper
        got = numbers(json.loads((on_slurm / out / "metrics.json").read_text()))
        want = numbers(json.loads((local / out / "metrics.json").read_text()))
        assert got.keys() == want.keys() and got == pytest.approx(want, rel=1e-9, abs=1e-12)
        rows = [list(csv.reader((d / out / "claims.csv").open())) for d in (on_slurm, local)]
        assert len(rows[0]) == len(rows[1])
        for row_slurm, row_local in zip(*rows, strict=True):
            assert same_cells(row_slurm, row_local), (row_slurm, row_local)
        assert (on_slurm / f"reports/smoke/{paper}.pdf").stat().st_size > 0


def test_failing_rule_is_reported_with_its_log(runs):
    _, rc, out = runs["failing"]
    assert rc != 0, out[-3000:]
    assert "Error in rule fail_on_purpose" in out, out[-3000:]
    assert "this rule fails on purpose" in out, out[-3000:]  # the rule's log, shown
