"""Provenance record: which code, packages, config and machine produced an output."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Distributions whose versions are recorded in every provenance record.
TRACKED_PACKAGES = (
    "numpy", "scipy", "pandas", "jax", "jaxlib", "flax", "optax", "torch",
    "hydra-core", "snakemake", "seaborn", "matplotlib", "weasyprint",
)  # fmt: skip


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


#: Names the commit of a copy without ``.git`` (e.g. a working tree shipped to a GPU machine).
COMMIT_ENV = "REPRO_GIT_COMMIT"


def git_state() -> dict[str, Any]:
    """Current commit and whether tracked files differ from it.

    The generated reports under ``reports/`` do not count: a run rewrites them. Outside a git
    checkout the commit is read from ``$REPRO_GIT_COMMIT`` (dirtiness then unknown: None).
    """
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": os.environ.get(COMMIT_ENV) or None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names``; absent packages are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def collect(
    config_hash: str | None = None, seed: int | None = None, wall_time_s: float | None = None
) -> dict[str, Any]:
    """Full provenance record for a metrics file, figure sidecar or report."""
    return {
        **git_state(),
        "config_hash": config_hash,
        "seed": seed,
        "wall_time_s": wall_time_s,
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": {"hostname": socket.gethostname(), "cpus": os.cpu_count()},
        "packages": package_versions(),
    }
