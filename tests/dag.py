"""Helpers to run the Snakemake DAG in a temporary copy of the repository and read what it
wrote."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "common", "papers", "profiles", "envs")
PAPERS = sorted(p.parent.name for p in ROOT.glob("papers/*/workflow.smk"))


def snakemake_command(workdir: Path, *args: str, scale: str = "smoke") -> dict:
    """``subprocess`` arguments (args, cwd, env) of a snakemake run in ``workdir``; ``key=value``
    items of ``args`` join ``--config``."""
    env_bin = str(Path(sys.executable).parent)
    config = [a for a in args if "=" in a and not a.startswith("-")]
    flags = [a for a in args if a not in config]
    return {
        "args": [f"{env_bin}/snakemake", *flags, "--config", f"scale={scale}", *config],
        "cwd": workdir,
        "env": {"PATH": f"{env_bin}:/usr/bin:/bin", "HOME": str(workdir)},
    }


def snakemake(
    workdir: Path, *args: str, scale: str = "smoke", timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` (see `snakemake_command`) and wait for it."""
    return subprocess.run(
        **snakemake_command(workdir, *args, scale=scale),
        capture_output=True, text=True, timeout=timeout,
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


def rendered_texts(root: Path, paper: str) -> list[str]:
    """Every claim note and report.yaml summary/deviation of ``paper``, rendered strictly (a
    typo in a metric or config name raises) against the smoke metrics the DAG in ``root`` wrote."""
    from common.claims import load_claims
    from common.config import compose_config
    from common.io import read_metrics, read_yaml
    from common.templating import render

    metrics, _ = read_metrics(root / f"results/smoke/{paper}/metrics.json")
    context = {"cfg": compose_config(paper, ["scale=smoke"])}
    meta = read_yaml(root / f"papers/{paper}/report.yaml")
    texts = [c["note"] for c in load_claims(root / f"papers/{paper}/claims.yaml")]
    texts += [meta["summary"], *meta["deviations"]]
    return [render(text, metrics, context, strict=True) for text in texts]
