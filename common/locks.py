"""Recover from a killed ``snakemake``: clear the lock it left, if no snakemake still runs here.

Snakemake locks its working directory and, when killed with SIGKILL (or on a power loss),
leaves the lock behind: the next run refuses to start until ``--unlock``. The Snakefile calls
`clear_stale_lock` while it is parsed; it removes the lock only when no other snakemake process
has this directory as its working directory, so a second concurrent run is still refused.
Linux only (it reads ``/proc``); elsewhere it does nothing and ``--unlock`` stays the remedy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROC = Path("/proc")


def _is_snakemake(pid: str) -> bool:
    try:
        argv = (PROC / pid / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(arg.decode(errors="replace")).name == "snakemake" for arg in argv[:3])


def other_snakemakes(workdir: str | os.PathLike) -> list[int]:
    """Ids of the snakemake processes, other than this one, working in ``workdir``.

    A snakemake process whose working directory cannot be read counts (it may be working here).
    """
    here = os.path.realpath(workdir)
    found = []
    for entry in PROC.glob("[0-9]*"):
        if int(entry.name) == os.getpid() or not _is_snakemake(entry.name):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except FileNotFoundError:  # it ended meanwhile
            continue
        except OSError:
            cwd = here
        if cwd == here:
            found.append(int(entry.name))
    return found


def clear_stale_lock(workdir: str | os.PathLike = ".") -> bool:
    """Remove the lock of a killed run in ``workdir``; return whether there was one to remove."""
    locks = sorted(Path(workdir, ".snakemake", "locks").glob("*.lock"))
    if not locks or not PROC.is_dir() or other_snakemakes(workdir):
        return False
    for lock in locks:
        lock.unlink(missing_ok=True)
    print(
        f"note: removed the lock left by a killed snakemake run in {os.path.realpath(workdir)}",
        file=sys.stderr,
    )
    return True
