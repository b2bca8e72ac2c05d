"""One call that seeds every random number generator a paper may use."""

from __future__ import annotations

import random
import sys

import numpy as np


def seed_everything(seed: int):
    """Seed Python and NumPy, and PyTorch if it is imported; return a JAX key if JAX is imported.

    Libraries are not imported here, so a JAX paper does not pay for importing torch.
    """
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    if "jax" in sys.modules:
        return sys.modules["jax"].random.key(seed)
    return None
