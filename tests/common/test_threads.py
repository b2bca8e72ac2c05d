"""set_threads rejects a thread count below one."""

import pytest

from common.threads import set_threads


def test_zero_threads_is_rejected():
    with pytest.raises(ValueError, match="run.threads must be >= 1"):
        set_threads(0)
