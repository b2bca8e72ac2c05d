"""Reversal-curse rules: data once; train and evaluate per (variant, seed); then aggregate and
figures (the claims and report rules are the Snakefile's generic ones)."""

from common.config import cached_config, cached_hash
from papers.reversal_curse.dag import overrides as rc_overrides
from papers.reversal_curse.dag import parent as rc_parent
from papers.reversal_curse.dag import runs as rc_runs
from papers.reversal_curse.schema import TRAIN_EXCLUDE as RC_TRAIN_EXCLUDE
from papers.reversal_curse.schema import TRAIN_SECTIONS as RC_TRAIN_SECTIONS

RC = "reversal_curse"
RC_OUT = paper_out(RC)
RC_DATA = f"{RC_OUT}/data"
RC_RUN = f"{RC_OUT}/runs/{{rc_variant}}/seed{{rc_seed}}"
RC_CFG = cached_config(RC, (f"scale={SCALE}",))
RC_SEEDS = list(RC_CFG.sweep.seeds)
RC_VARIANTS = list(RC_CFG.sweep.variants)
#: per scale: (mem_mb, runtime in minutes) of train / evaluate; gpu only at paper scale.
RC_RES = {"smoke": (1000, 3), "cpu": (1500, 10), "paper": (40000, 600)}[SCALE]
#: config sections evaluation reads
RC_EVAL_SECTIONS = ("seed", "variant", "data", "model", "train", "eval")


wildcard_constraints:
    rc_variant="|".join(RC_VARIANTS),
    rc_seed=r"\d+",


rule reversal_curse_data:
    output:
        directory(RC_DATA),
    log:
        f"{RC_OUT}/logs/data.log",
    benchmark:
        f"{RC_OUT}/benchmarks/data.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg_hash=cached_hash(RC, (f"scale={SCALE}",), ("data",)),
        scale=f"scale={SCALE}",
        # where the data stage reads the paper's released files (paper scale); at smoke/cpu
        # scale the data are generated into the output. --config 'data_dir={reversal_curse: D}'
        data_dir=lambda w, output: data_dir(RC, RC_CFG.run.data_dir or output[0]),
    shell:
        "python -m papers.reversal_curse.data {params.scale} run.data_dir={params.data_dir}"
        " run.out_dir={output} > {log} 2>&1"


rule reversal_curse_train:
    input:
        RC_DATA,
    output:
        model=directory(f"{RC_RUN}/model"),
        log=f"{RC_RUN}/train_log.csv",
        meta=f"{RC_RUN}/train.json",
    log:
        f"{RC_OUT}/logs/train_{{rc_variant}}_seed{{rc_seed}}.log",
    benchmark:
        f"{RC_OUT}/benchmarks/train_{{rc_variant}}_seed{{rc_seed}}.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    threads: 1
    resources:
        mem_mb=RC_RES[0],
        runtime=RC_RES[1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(
            RC, tuple(rc_overrides(SCALE, w)), RC_TRAIN_SECTIONS, RC_TRAIN_EXCLUDE
        ),
        overrides=lambda w: " ".join(rc_overrides(SCALE, w)),
        out_dir=lambda w, output: rc_parent(output.meta),
    shell:
        "python -m papers.reversal_curse.train {params.overrides} run.data_dir={input}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule reversal_curse_evaluate:
    input:
        data=RC_DATA,
        model=f"{RC_RUN}/model",
    output:
        metrics=f"{RC_RUN}/metrics.json",
        scores=f"{RC_RUN}/scores.npz",
    log:
        f"{RC_OUT}/logs/evaluate_{{rc_variant}}_seed{{rc_seed}}.log",
    benchmark:
        f"{RC_OUT}/benchmarks/evaluate_{{rc_variant}}_seed{{rc_seed}}.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    threads: 1
    resources:
        mem_mb=RC_RES[0],
        runtime=RC_RES[1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(
            RC,
            tuple(rc_overrides(SCALE, w)),
            RC_EVAL_SECTIONS,
            ("train.checkpoint_every",),
        ),
        overrides=lambda w: " ".join(rc_overrides(SCALE, w)),
        out_dir=lambda w, output: rc_parent(output.metrics),
    shell:
        "python -m papers.reversal_curse.evaluate {params.overrides} run.data_dir={input.data}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule reversal_curse_aggregate:
    input:
        rc_runs(RC_RUN, "metrics.json", RC_VARIANTS, RC_SEEDS),
    output:
        f"{RC_OUT}/metrics.json",
    log:
        f"{RC_OUT}/logs/aggregate.log",
    benchmark:
        f"{RC_OUT}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    shell:
        "python -m papers.reversal_curse.aggregate --out {output} {input} > {log} 2>&1"


rule reversal_curse_figures:
    input:
        metrics=f"{RC_OUT}/metrics.json",
        scores=rc_runs(RC_RUN, "scores.npz", RC_VARIANTS, RC_SEEDS),
        train_logs=rc_runs(RC_RUN, "train_log.csv", RC_VARIANTS, RC_SEEDS),
    output:
        figures_output(RC, "Reversal curse"),
    log:
        f"{RC_OUT}/logs/figures.log",
    benchmark:
        f"{RC_OUT}/benchmarks/figures.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg_hash=cached_hash(RC, (f"scale={SCALE}",)),
        scale=f"scale={SCALE}",
        out_dir=lambda w, output: rc_parent(output[0]),
    shell:
        "python -m papers.reversal_curse.figures {params.scale} run.out_dir={params.out_dir}"
        " > {log} 2>&1"
