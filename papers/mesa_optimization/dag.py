"""Helpers of workflow.smk (kept out of it: Snakemake's linter wants no functions there)."""

from __future__ import annotations

import os

#: one run's folder below results/<scale>/mesa_optimization/runs (Snakemake wildcards)
RUN_NAME = "{mesa_exp}-{mesa_init}-seed{mesa_seed}"


def sweep_runs(sweep) -> list[tuple[str, str, int]]:
    """(experiment, init, seed) of every run of a scale's ``sweep`` config: the experiments and
    the oracle experiments at every init, the Gaussian-init experiments at the Gaussian init."""
    return [
        (exp, init, seed)
        for seed in sweep.seeds
        for exp in [*sweep.experiments, *sweep.oracle_experiments]
        for init in sweep.inits
    ] + [(exp, "gaussian", seed) for seed in sweep.seeds for exp in sweep.gaussian_init_experiments]


def overrides(scale: str, wildcards) -> tuple[str, ...]:
    """The entry points' config overrides for one run."""
    w = wildcards
    return (
        f"scale={scale}",
        f"experiment={w.mesa_exp}",
        f"init={w.mesa_init}",
        f"seed={w.mesa_seed}",
    )


def run_files(root: str, runs, filename: str, seeds=None) -> list[str]:
    """``root/runs/<run>/<filename>`` for every run (optionally of some seeds only)."""
    return [
        os.path.join(root, "runs", f"{e}-{i}-seed{s}", filename)
        for e, i, s in runs
        if seeds is None or s in seeds
    ]
