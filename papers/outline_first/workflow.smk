"""Outline-first rules: train and evaluate per seed, then aggregate, claims, figures, report."""

from common.config import cached_hash, compose_config

OF = "outline_first"
OF_OUT = f"results/{SCALE}/{OF}"
OF_RUN = OF_OUT + "/seed{seed}"
OF_SEEDS = list(compose_config(OF, [f"scale={SCALE}"]).sweep.seeds)
#: per scale: (mem_mb, runtime in minutes) of train / evaluate; gpu only at paper scale.
#: Measured (benchmarks, 2 cores): smoke train 538 MB / 12 s, evaluate 524 MB / 8 s;
#: cpu train 594 MB / 48 s, evaluate 577 MB / 12 s. aggregate/claims < 100 MB, figures 250 MB.
OF_RES = {"smoke": (800, 3), "cpu": (1500, 10), "paper": (32000, 240)}[SCALE]


def of_overrides(w):
    return (f"scale={SCALE}", f"seed={w.seed}")


rule outline_first_train:
    output:
        params=OF_RUN + "/params.npz",
        log=OF_RUN + "/train_log.csv",
        meta=OF_RUN + "/train.json",
    params:
        cfg_hash=lambda w: cached_hash(OF, of_overrides(w)),
        overrides=lambda w: " ".join(of_overrides(w)),
        out_dir=OF_RUN,
    threads: 1
    resources:
        mem_mb=OF_RES[0],
        runtime=OF_RES[1],
        gpu=int(SCALE == "paper"),
    log:
        OF_OUT + "/logs/train_seed{seed}.log",
    benchmark:
        OF_OUT + "/benchmarks/train_seed{seed}.tsv"
    conda:
        "../../envs/outline_first.yaml"
    shell:
        "python -m papers.outline_first.train {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule outline_first_evaluate:
    input:
        rules.outline_first_train.output,
    output:
        metrics=OF_RUN + "/metrics.json",
        curves=OF_RUN + "/curves.npz",
    params:
        cfg_hash=lambda w: cached_hash(OF, of_overrides(w)),
        overrides=lambda w: " ".join(of_overrides(w)),
        out_dir=OF_RUN,
    threads: 1
    resources:
        mem_mb=OF_RES[0],
        runtime=OF_RES[1],
        gpu=int(SCALE == "paper"),
    log:
        OF_OUT + "/logs/evaluate_seed{seed}.log",
    benchmark:
        OF_OUT + "/benchmarks/evaluate_seed{seed}.tsv"
    conda:
        "../../envs/outline_first.yaml"
    shell:
        "python -m papers.outline_first.evaluate {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


OF_RUN_METRICS = [OF_RUN.format(seed=s) + "/metrics.json" for s in OF_SEEDS]


rule outline_first_aggregate:
    input:
        OF_RUN_METRICS,
    output:
        OF_OUT + "/metrics.json",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        OF_OUT + "/logs/aggregate.log",
    benchmark:
        OF_OUT + "/benchmarks/aggregate.tsv"
    conda:
        "../../envs/outline_first.yaml"
    shell:
        "python -m common.aggregate --out {output} {input} > {log} 2>&1"


rule outline_first_claims:
    input:
        metrics=OF_OUT + "/metrics.json",
        claims="papers/outline_first/claims.yaml",
    output:
        OF_OUT + "/claims.csv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        OF_OUT + "/logs/claims.log",
    benchmark:
        OF_OUT + "/benchmarks/claims.tsv"
    conda:
        "../../envs/outline_first.yaml"
    shell:
        "python -m common.claims --claims {input.claims} --metrics {input.metrics}"
        " --scale {SCALE} --out {output} > {log} 2>&1"


rule outline_first_figures:
    input:
        OF_RUN_METRICS,
    output:
        report(
            directory(OF_OUT + "/figures"),
            patterns=["{name}.png"],
            category="Outline first",
            caption="report_caption.rst",
        ),
    params:
        cfg_hash=lambda w: cached_hash(OF, (f"scale={SCALE}",)),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        OF_OUT + "/logs/figures.log",
    benchmark:
        OF_OUT + "/benchmarks/figures.tsv"
    conda:
        "../../envs/outline_first.yaml"
    shell:
        "python -m papers.outline_first.figures scale={SCALE} run.out_dir={OF_OUT} > {log} 2>&1"


rule outline_first_report:
    input:
        claims=OF_OUT + "/claims.csv",
        metrics=OF_OUT + "/metrics.json",
        figures=OF_OUT + "/figures",
        meta="papers/outline_first/report.yaml",
    output:
        f"reports/{SCALE}/{OF}.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        OF_OUT + "/logs/report.log",
    benchmark:
        OF_OUT + "/benchmarks/report.tsv"
    conda:
        "../../envs/outline_first.yaml"
    shell:
        "python -m common.report paper --paper {OF} --scale {SCALE} --claims {input.claims}"
        " --metrics {input.metrics} --figures {input.figures} --benchmarks {OF_OUT}/benchmarks"
        " --out {output} > {log} 2>&1"
