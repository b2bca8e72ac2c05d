"""Thread count from the Snakemake rule, not from the machine."""

from __future__ import annotations

import os
import sys


def set_threads(n: int) -> None:
    """Limit BLAS/OpenMP, XLA (before JAX's first computation) and PyTorch to ``n`` threads."""
    if n < 1:
        raise ValueError(f"run.threads must be >= 1, got {n}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        extra = "--xla_cpu_multi_thread_eigen=false" if n == 1 else ""
        os.environ["XLA_FLAGS"] = f"{flags} {extra} intra_op_parallelism_threads={n}".strip()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
