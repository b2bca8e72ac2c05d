"""set_threads limits the BLAS pools NumPy already loaded, not only libraries loaded later."""

import numpy as np  # noqa: F401  (loads NumPy's BLAS before set_threads, as entry points do)
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from common.threads import set_threads


def test_already_loaded_blas_is_limited():
    with threadpool_limits(None):  # restore the pools' sizes after the test
        set_threads(1)
        pools = threadpool_info()
        assert pools and all(p["num_threads"] == 1 for p in pools)


def test_zero_threads_is_rejected():
    with pytest.raises(ValueError, match="run.threads must be >= 1"):
        set_threads(0)
