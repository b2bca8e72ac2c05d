"""Reversal-curse rules: data once; train and evaluate per (variant, seed); then aggregate,
claims, figures, report."""

from common.config import cached_hash, compose_config

RC = "reversal_curse"
RC_OUT = f"results/{SCALE}/{RC}"
RC_DATA = RC_OUT + "/data"
RC_RUN = RC_OUT + "/runs/{variant}/seed{seed}"
_RC_CFG = compose_config(RC, [f"scale={SCALE}"])
RC_SEEDS = list(_RC_CFG.sweep.seeds)
RC_VARIANTS = list(_RC_CFG.sweep.variants)
#: per scale: (mem_mb, runtime in minutes) of train / evaluate; gpu only at paper scale.
RC_RES = {"smoke": (1000, 3), "cpu": (1500, 10), "paper": (40000, 600)}[SCALE]


wildcard_constraints:
    variant="|".join(RC_VARIANTS),
    seed=r"\d+",


def rc_overrides(w):
    return (f"scale={SCALE}", f"variant={w.variant}", f"seed={w.seed}")


rule reversal_curse_data:
    output:
        directory(RC_DATA),
    params:
        cfg_hash=cached_hash(RC, (f"scale={SCALE}",)),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    log:
        RC_OUT + "/logs/data.log",
    benchmark:
        RC_OUT + "/benchmarks/data.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m papers.reversal_curse.data scale={SCALE} run.out_dir={output} > {log} 2>&1"


rule reversal_curse_train:
    input:
        RC_DATA,
    output:
        model=directory(RC_RUN + "/model"),
        log=RC_RUN + "/train_log.csv",
        meta=RC_RUN + "/train.json",
    params:
        cfg_hash=lambda w: cached_hash(RC, rc_overrides(w)),
        overrides=lambda w: " ".join(rc_overrides(w)),
        out_dir=RC_RUN,
    threads: 1
    resources:
        mem_mb=RC_RES[0],
        runtime=RC_RES[1],
        gpu=int(SCALE == "paper"),
    log:
        RC_OUT + "/logs/train_{variant}_seed{seed}.log",
    benchmark:
        RC_OUT + "/benchmarks/train_{variant}_seed{seed}.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m papers.reversal_curse.train {params.overrides} data_dir={input}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule reversal_curse_evaluate:
    input:
        data=RC_DATA,
        model=RC_RUN + "/model",
    output:
        metrics=RC_RUN + "/metrics.json",
        scores=RC_RUN + "/scores.npz",
    params:
        cfg_hash=lambda w: cached_hash(RC, rc_overrides(w)),
        overrides=lambda w: " ".join(rc_overrides(w)),
        out_dir=RC_RUN,
    threads: 1
    resources:
        mem_mb=RC_RES[0],
        runtime=RC_RES[1],
        gpu=int(SCALE == "paper"),
    log:
        RC_OUT + "/logs/evaluate_{variant}_seed{seed}.log",
    benchmark:
        RC_OUT + "/benchmarks/evaluate_{variant}_seed{seed}.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m papers.reversal_curse.evaluate {params.overrides} data_dir={input.data}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


RC_RUN_METRICS = expand(RC_RUN + "/metrics.json", variant=RC_VARIANTS, seed=RC_SEEDS)


rule reversal_curse_aggregate:
    input:
        RC_RUN_METRICS,
    output:
        RC_OUT + "/metrics.json",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        RC_OUT + "/logs/aggregate.log",
    benchmark:
        RC_OUT + "/benchmarks/aggregate.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m papers.reversal_curse.aggregate --out {output} {input} > {log} 2>&1"


rule reversal_curse_claims:
    input:
        metrics=RC_OUT + "/metrics.json",
        claims="papers/reversal_curse/claims.yaml",
    output:
        RC_OUT + "/claims.csv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        RC_OUT + "/logs/claims.log",
    benchmark:
        RC_OUT + "/benchmarks/claims.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m common.claims --claims {input.claims} --metrics {input.metrics}"
        " --scale {SCALE} --out {output} > {log} 2>&1"


rule reversal_curse_figures:
    input:
        metrics=RC_OUT + "/metrics.json",
        runs=RC_RUN_METRICS,
    output:
        report(
            directory(RC_OUT + "/figures"),
            patterns=["{name}.png"],
            category="Reversal curse",
            caption="report_caption.rst",
        ),
    params:
        cfg_hash=cached_hash(RC, (f"scale={SCALE}",)),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        RC_OUT + "/logs/figures.log",
    benchmark:
        RC_OUT + "/benchmarks/figures.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m papers.reversal_curse.figures scale={SCALE} run.out_dir={RC_OUT} > {log} 2>&1"


rule reversal_curse_report:
    input:
        claims=RC_OUT + "/claims.csv",
        metrics=RC_OUT + "/metrics.json",
        figures=RC_OUT + "/figures",
        meta="papers/reversal_curse/report.yaml",
    output:
        f"reports/{SCALE}/{RC}.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        RC_OUT + "/logs/report.log",
    benchmark:
        RC_OUT + "/benchmarks/report.tsv"
    conda:
        "../../envs/reversal_curse.yaml"
    shell:
        "python -m common.report paper --paper {RC} --scale {SCALE} --claims {input.claims}"
        " --metrics {input.metrics} --figures {input.figures} --benchmarks {RC_OUT}/benchmarks"
        " --out {output} > {log} 2>&1"
