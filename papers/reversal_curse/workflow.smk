"""Reversal-curse rules: data once; train and evaluate per (variant, seed), in one process (the
``run`` entry point); then aggregate and figures (the claims and report rules are the
Snakefile's generic ones)."""

from common.config import cached_config, cached_hash
from papers.reversal_curse.dag import overrides as rc_overrides
from papers.reversal_curse.dag import parent as rc_parent
from papers.reversal_curse.dag import runs as rc_runs
from papers.reversal_curse.schema import TRAIN_EXCLUDE as RC_TRAIN_EXCLUDE

RC = "reversal_curse"
RC_OUT = paper_out(RC)
RC_DATA = f"{RC_OUT}/data"
RC_RUN = f"{RC_OUT}/runs/{{rc_variant}}/seed{{rc_seed}}"
RC_CFG = cached_config(RC, (f"scale={SCALE}",))
RC_SEEDS = list(RC_CFG.sweep.seeds)
RC_VARIANTS = list(RC_CFG.sweep.variants)
#: per scale: (mem_mb, runtime in minutes) of a run (train and evaluate); gpu only at paper scale.
RC_RES = {"smoke": (1000, 5), "cpu": (1500, 15), "paper": (40000, 1200)}[SCALE]
#: start order of the runs (higher first): by their training steps at cpu scale
RC_PRIORITY = {"enc_uniform": 3, "enc_fixed": 2, "decoder": 1, "reverse": 1}
#: config sections a run reads (training's and evaluation's)
RC_RUN_SECTIONS = ("seed", "variant", "data", "model", "train", "eval")


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


rule reversal_curse_run:
    input:
        RC_DATA,
    output:
        model=directory(f"{RC_RUN}/model"),
        log=f"{RC_RUN}/train_log.csv",
        meta=f"{RC_RUN}/train.json",
        metrics=f"{RC_RUN}/metrics.json",
        scores=f"{RC_RUN}/scores.npz",
    log:
        f"{RC_OUT}/logs/run_{{rc_variant}}_seed{{rc_seed}}.log",
    benchmark:
        f"{RC_OUT}/benchmarks/run_{{rc_variant}}_seed{{rc_seed}}.tsv"
    # the longest runs first, so that the short ones fill both cores at the end
    priority: lambda w: RC_PRIORITY.get(w.rc_variant, 0)
    conda:
        "../../envs/reversal_curse.yaml"
    threads: 1
    resources:
        mem_mb=RC_RES[0],
        runtime=RC_RES[1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(
            RC, tuple(rc_overrides(SCALE, w)), RC_RUN_SECTIONS, RC_TRAIN_EXCLUDE
        ),
        overrides=lambda w: " ".join(rc_overrides(SCALE, w)),
        out_dir=lambda w, output: rc_parent(output.meta),
    shell:
        "python -m papers.reversal_curse.run {params.overrides} run.data_dir={input}"
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
