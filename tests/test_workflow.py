"""The whole Snakemake DAG at smoke scale, in a temporary copy of the repository.

Checks the PDFs exist and show the scorecard, that a finished DAG has nothing to do,
that a comment-only config edit reruns nothing, and that editing one experiment
reruns exactly that experiment's jobs (and what depends on them).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "common", "papers", "profiles", "envs")


def snakemake(
    workdir: Path, *args: str, scale: str = "smoke", timeout: int = 600
) -> subprocess.CompletedProcess:
    env_bin = str(Path(sys.executable).parent)
    return subprocess.run(
        [f"{env_bin}/snakemake", "--config", f"scale={scale}", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
        env={"PATH": f"{env_bin}:/usr/bin:/bin", "HOME": str(workdir)},
    )  # fmt: skip


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table."""
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, re.M)
    }


def copy_repo(work: Path, names=COPY) -> Path:
    for name in names:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, work / name)
    return work


@pytest.fixture(scope="module")
def smoke_dag(tmp_path_factory) -> Path:
    work = copy_repo(tmp_path_factory.mktemp("repo"))
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_reports_render_with_scorecard(smoke_dag):
    report = smoke_dag / "reports/smoke/mesa_optimization.pdf"
    summary = smoke_dag / "reports/smoke/summary.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert "Claims" in text and "C1a" in text and "SMOKE" in text
    assert "Figure 1" in text and "Run times" in text
    assert "mesa" in "".join(p.extract_text() for p in PdfReader(summary).pages).lower()
    claims = (smoke_dag / "results/smoke/mesa_optimization/claims.csv").read_text()
    assert "PASS" not in claims and "FAIL" not in claims  # smoke never asserts
    bench = list((smoke_dag / "results/smoke/mesa_optimization/benchmarks").glob("*.tsv"))
    assert len(bench) >= 10


def test_outline_first_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/outline_first.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C1", "C2", "C3", "C4a", "C5a", "C6"):
        assert claim in text
    figures = smoke_dag / "results/smoke/outline_first/figures"
    for stem in ("trajectories", "deviation", "commitment", "geometry", "kicks", "skipping"):
        assert (figures / f"{stem}.png").exists() and (figures / f"{stem}.json").exists()


def test_finished_dag_has_nothing_to_do(smoke_dag):
    proc = snakemake(smoke_dag, "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_comment_edit_reruns_nothing_value_edit_reruns_its_jobs(smoke_dag):
    conf = smoke_dag / "papers/mesa_optimization/conf/experiment/sparse_c1.yaml"
    original = conf.read_text()
    try:
        conf.write_text(original + "# a comment only\n")
        assert "Nothing to be done" in (p := snakemake(smoke_dag, "-n")).stdout + p.stderr
        conf.write_text(original.replace("lr: 1e-3", "lr: 2e-3"))
        jobs = planned_jobs(snakemake(smoke_dag, "-n"))
        smoke_inits = 2  # small, large (conf/scale/smoke.yaml)
        assert jobs["mesa_optimization_train"] == smoke_inits
        assert jobs["mesa_optimization_evaluate"] == smoke_inits
        assert jobs["mesa_optimization_report"] == 1
    finally:
        conf.write_text(original)


def test_fresh_clone_rebuilds_despite_committed_reports(tmp_path):
    """The committed reference PDFs must not make `make reproduce` a no-op on a fresh clone."""
    work = copy_repo(tmp_path, (*COPY, "reports"))
    assert (work / "reports/cpu/mesa_optimization.pdf").exists()
    jobs = planned_jobs(snakemake(work, "-n", scale="cpu"))
    assert jobs.get("mesa_optimization_train", 0) > 0 and jobs.get("outline_first_train", 0) > 0
