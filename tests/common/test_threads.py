"""set_threads rejects a thread count below one and limits BLAS pools loaded before it."""

import os
import subprocess
import sys

import pytest

from common.threads import set_threads

PROBE = """
import numpy  # loads the BLAS pool with the machine's default thread count
from threadpoolctl import threadpool_info
from common.threads import set_threads
before = max(p["num_threads"] for p in threadpool_info())
set_threads(1)
print(before, max(p["num_threads"] for p in threadpool_info()))
"""


def test_zero_threads_is_rejected():
    with pytest.raises(ValueError, match="run.threads must be >= 1"):
        set_threads(0)


def test_blas_loaded_before_the_call_is_limited():
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    before, after = map(int, out)
    assert after == 1, f"BLAS still uses {after} threads (had {before})"
