"""Shared fixtures: the repository root on sys.path and tests run from it."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def smoke_dag(tmp_path_factory) -> Path:
    """One smoke-scale run of the whole DAG (every paper) in a temporary copy, shared by tests."""
    from tests.dag import copy_repo, snakemake

    work = copy_repo(tmp_path_factory.mktemp("repo"))
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _single_thread(monkeypatch):
    """Tests share two cores with each other and CI: keep numerical libraries on one thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(ROOT)


DAG_FILES = ("test_workflow.py", "test_pipeline.py", "test_slurm.py")


def pytest_collection_modifyitems(items):
    """Mark the tests that run Snakemake DAGs `dag` (`make test-unit` leaves them out)."""
    for item in items:
        if item.path.name in DAG_FILES and "every_paper_composes" not in item.name:
            item.add_marker(pytest.mark.dag)
