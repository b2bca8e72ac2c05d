"""Helpers of the rules in workflow.smk (kept out of the Snakefile, as its linter asks)."""

from __future__ import annotations

from pathlib import Path


def overrides(scale: str, wildcards) -> tuple[str, ...]:
    """Hydra overrides of one (variant, seed) run."""
    return (f"scale={scale}", f"variant={wildcards.rc_variant}", f"seed={wildcards.rc_seed}")


def runs(pattern: str, name: str, variants: list[str], seeds: list[int]) -> list[str]:
    """``name`` in every run directory of ``pattern`` ({rc_variant}, {rc_seed} wildcards)."""
    return [f"{pattern}/{name}".format(rc_variant=v, rc_seed=s) for v in variants for s in seeds]


def parent(path: str) -> str:
    """The folder of an output file (the run directory the entry points write into)."""
    return str(Path(path).parent)
