"""Mesa-optimization rules: train/evaluate per (experiment, init, seed), then aggregate and
figures; claims and report are the Snakefile's generic rules. Sweep points come from the
scale's ``sweep`` config. The data are generated in-process from the seed (no data stage), so
``run.data_dir`` is not used."""

import os

from common.config import cached_config, cached_hash
from papers.mesa_optimization.dag import RUN_NAME as MESA_RUN_NAME
from papers.mesa_optimization.dag import overrides as mesa_overrides
from papers.mesa_optimization.dag import run_files as mesa_run_files
from papers.mesa_optimization.dag import sweep_runs as mesa_sweep_runs

MESA = "mesa_optimization"
MESA_OUT = paper_out(MESA)
MESA_RUN = f"{MESA_OUT}/runs/{MESA_RUN_NAME}"
MESA_SWEEP = cached_config(MESA, (f"scale={SCALE}",)).sweep
MESA_RUNS = mesa_sweep_runs(MESA_SWEEP)
#: figures.py reads every run of the first seed
MESA_FIGURE_SEEDS = list(MESA_SWEEP.seeds[:1])
#: per scale: (train/evaluate mem_mb, runtime in minutes). Paper: one run's peak resident
#: memory is about 1.7 GB (python -m papers.mesa_optimization.bench), so two jobs fit 4 GB.
MESA_RES = {"smoke": (600, 2), "cpu": (1200, 5), "paper": (2000, 20)}[SCALE]


wildcard_constraints:
    mesa_exp="[a-z0-9_]+",
    mesa_init="[a-z]+",
    mesa_seed=r"\d+",


rule mesa_optimization_train:
    output:
        params=f"{MESA_RUN}/params.npz",
        log=f"{MESA_RUN}/log.csv",
        meta=f"{MESA_RUN}/train.json",
    log:
        f"{MESA_OUT}/logs/train/{MESA_RUN_NAME}.log",
    benchmark:
        f"{MESA_OUT}/benchmarks/train_{MESA_RUN_NAME}.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    threads: 1
    resources:
        mem_mb=MESA_RES[0],
        runtime=MESA_RES[1],
    params:
        cfg_hash=lambda w: cached_hash(MESA, mesa_overrides(SCALE, w)),
        overrides=lambda w: " ".join(mesa_overrides(SCALE, w)),
        out_dir=lambda w, output: os.path.dirname(output.params),
    shell:
        "python -m papers.mesa_optimization.train {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule mesa_optimization_evaluate:
    input:
        rules.mesa_optimization_train.output,
    output:
        metrics=f"{MESA_RUN}/metrics.json",
        theory=f"{MESA_RUN}/theory.csv",
    log:
        f"{MESA_OUT}/logs/evaluate/{MESA_RUN_NAME}.log",
    benchmark:
        f"{MESA_OUT}/benchmarks/evaluate_{MESA_RUN_NAME}.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    threads: 1
    resources:
        mem_mb=MESA_RES[0],
        runtime=MESA_RES[1],
    params:
        cfg_hash=lambda w: cached_hash(MESA, mesa_overrides(SCALE, w)),
        overrides=lambda w: " ".join(mesa_overrides(SCALE, w)),
        out_dir=lambda w, output: os.path.dirname(output.metrics),
    shell:
        "python -m papers.mesa_optimization.evaluate {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule mesa_optimization_aggregate:
    input:
        mesa_run_files(MESA_OUT, MESA_RUNS, "metrics.json"),
    output:
        f"{MESA_OUT}/metrics.json",
    log:
        f"{MESA_OUT}/logs/aggregate.log",
    benchmark:
        f"{MESA_OUT}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    shell:
        "python -m papers.mesa_optimization.aggregate --out {output} {input} > {log} 2>&1"


rule mesa_optimization_figures:
    input:
        metrics=mesa_run_files(MESA_OUT, MESA_RUNS, "metrics.json", MESA_FIGURE_SEEDS),
        theory=mesa_run_files(MESA_OUT, MESA_RUNS, "theory.csv", MESA_FIGURE_SEEDS),
        log=mesa_run_files(MESA_OUT, MESA_RUNS, "log.csv", MESA_FIGURE_SEEDS),
        params=mesa_run_files(MESA_OUT, MESA_RUNS, "params.npz", MESA_FIGURE_SEEDS),
    output:
        figures_output(MESA, "Mesa-optimization"),
    log:
        f"{MESA_OUT}/logs/figures.log",
    benchmark:
        f"{MESA_OUT}/benchmarks/figures.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg_hash=cached_hash(MESA, (f"scale={SCALE}",)),
        scale=SCALE,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m papers.mesa_optimization.figures scale={params.scale}"
        " run.out_dir={params.out_dir} > {log} 2>&1"
