"""Zheng et al. 2024, mesa-optimization in autoregressively trained linear transformers."""
