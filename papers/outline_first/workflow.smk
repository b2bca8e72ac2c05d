"""Outline-first rules: train and evaluate per seed, then aggregate and figures.

The shared `claims` and `report` rules of the Snakefile turn metrics.json and the figures into
claims.csv and reports/<scale>/outline_first.pdf. MNIST / CIFAR-10 (paper scale) are read from
run.data_dir: `snakemake --config 'data_dir={outline_first: /path/to/mnist}'`.
"""

import os

from common.config import cached_config, cached_hash

OF = "outline_first"
OF_OUT = paper_out(OF)
OF_RUN = f"{OF_OUT}/seed{{of_seed}}"
OF_SEEDS = list(cached_config(OF, (f"scale={SCALE}",)).sweep.seeds)
#: the bundled digits need no folder; paper scale reads the released files from here
OF_DATA_DIR = data_dir(OF, "data/outline_first")
#: per scale: (mem_mb, runtime in minutes) of train / evaluate; gpu only at paper scale.
OF_RES = {"smoke": (800, 3), "cpu": (1500, 10), "paper": (32000, 240)}[SCALE]


#: the overrides of one seed's run (a lambda: Snakemake's lint wants no functions here)
of_overrides = lambda w: (f"scale={SCALE}", f"seed={w.of_seed}")


rule outline_first_train:
    output:
        params=f"{OF_RUN}/params.npz",
        log=f"{OF_RUN}/train_log.csv",
        meta=f"{OF_RUN}/train.json",
    log:
        f"{OF_OUT}/logs/train_seed{{of_seed}}.log",
    benchmark:
        f"{OF_OUT}/benchmarks/train_seed{{of_seed}}.tsv"
    conda:
        "../../envs/outline_first.yaml"
    threads: 1
    resources:
        mem_mb=OF_RES[0],
        runtime=OF_RES[1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(OF, of_overrides(w)),
        overrides=lambda w: " ".join(of_overrides(w)),
        out_dir=lambda w, output: os.path.dirname(output[0]),
        data_dir=OF_DATA_DIR,
    shell:
        "python -m papers.outline_first.train {params.overrides} run.out_dir={params.out_dir}"
        " run.data_dir={params.data_dir} run.threads={threads} > {log} 2>&1"


rule outline_first_evaluate:
    input:
        params=f"{OF_RUN}/params.npz",
        meta=f"{OF_RUN}/train.json",
    output:
        metrics=f"{OF_RUN}/metrics.json",
        curves=f"{OF_RUN}/curves.npz",
    log:
        f"{OF_OUT}/logs/evaluate_seed{{of_seed}}.log",
    benchmark:
        f"{OF_OUT}/benchmarks/evaluate_seed{{of_seed}}.tsv"
    conda:
        "../../envs/outline_first.yaml"
    threads: 1
    resources:
        mem_mb=OF_RES[0],
        runtime=OF_RES[1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(OF, of_overrides(w)),
        overrides=lambda w: " ".join(of_overrides(w)),
        out_dir=lambda w, output: os.path.dirname(output[0]),
        data_dir=OF_DATA_DIR,
    shell:
        "python -m papers.outline_first.evaluate {params.overrides} run.out_dir={params.out_dir}"
        " run.data_dir={params.data_dir} run.threads={threads} > {log} 2>&1"


rule outline_first_aggregate:
    input:
        expand(f"{OF_RUN}/metrics.json", of_seed=OF_SEEDS),
    output:
        f"{OF_OUT}/metrics.json",
    log:
        f"{OF_OUT}/logs/aggregate.log",
    benchmark:
        f"{OF_OUT}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/outline_first.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    shell:
        "python -m common.aggregate --out {output} {input} > {log} 2>&1"


rule outline_first_figures:
    input:
        metrics=expand(f"{OF_RUN}/metrics.json", of_seed=OF_SEEDS),
        curves=expand(f"{OF_RUN}/curves.npz", of_seed=OF_SEEDS),
    output:
        figures_output(OF, "Outline first"),
    log:
        f"{OF_OUT}/logs/figures.log",
    benchmark:
        f"{OF_OUT}/benchmarks/figures.tsv"
    conda:
        "../../envs/outline_first.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg_hash=lambda w: cached_hash(OF, (f"scale={SCALE}",)),
        scale=SCALE,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m papers.outline_first.figures scale={params.scale}"
        " run.out_dir={params.out_dir} > {log} 2>&1"
