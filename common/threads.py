"""Thread count from the Snakemake rule, not from the machine."""

from __future__ import annotations

import os
import sys

from threadpoolctl import threadpool_limits


def set_threads(n: int) -> None:
    """Limit BLAS/OpenMP and PyTorch to ``n`` threads, and XLA's CPU backend to one if n == 1.

    The environment variables reach libraries loaded later; the thread pools already loaded
    (numpy's BLAS is, once numpy is imported) are limited in place. Call before JAX's first
    computation (XLA reads its flags when the backend starts).
    """
    if n < 1:
        raise ValueError(f"run.threads must be >= 1, got {n}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    threadpool_limits(n)
    flags = os.environ.get("XLA_FLAGS", "")
    if n == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
