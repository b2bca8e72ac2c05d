"""Mesa-optimization rules: train/evaluate per (experiment, init, seed), then aggregate,
claims, figures and the report. Sweep points come from the scale's ``sweep`` config."""

from common.config import cached_hash, compose_config

MESA = "mesa_optimization"
MESA_OUT = f"results/{SCALE}/{MESA}"
MESA_RUN = MESA_OUT + "/runs/{exp}-{init}-seed{seed}"
MESA_SWEEP = compose_config(MESA, [f"scale={SCALE}"]).sweep
MESA_RUNS = [
    (exp, init, seed)
    for seed in MESA_SWEEP.seeds
    for exp in MESA_SWEEP.experiments
    for init in MESA_SWEEP.inits
] + [(exp, "gaussian", seed) for seed in MESA_SWEEP.seeds for exp in MESA_SWEEP.gaussian_init_experiments]
#: per scale: (train mem_mb, train runtime in minutes); gpu only at paper scale.
#: Measured (benchmarks, 2 cores): smoke train 445 MB / 6 s, evaluate 342 MB / 4 s;
#: cpu train 564 MB / 31 s, evaluate 524 MB / 7 s. Paper scale: 168 s for 23 runs on one H200.
MESA_RES = {"smoke": (600, 2), "cpu": (1200, 5), "paper": (24000, 60)}[SCALE]


def mesa_overrides(w):
    return (f"scale={SCALE}", f"experiment={w.exp}", f"init={w.init}", f"seed={w.seed}")


wildcard_constraints:
    exp="[a-z0-9_]+",
    init="[a-z]+",
    seed=r"\d+",


rule mesa_optimization_train:
    output:
        params=MESA_RUN + "/params.npz",
        log=MESA_RUN + "/log.csv",
        meta=MESA_RUN + "/train.json",
    params:
        cfg_hash=lambda w: cached_hash(MESA, mesa_overrides(w)),
        overrides=lambda w: " ".join(mesa_overrides(w)),
        out_dir=MESA_RUN,
    threads: 1
    resources:
        mem_mb=MESA_RES[0],
        runtime=MESA_RES[1],
        gpu=int(SCALE == "paper"),
    log:
        MESA_OUT + "/logs/train/{exp}-{init}-seed{seed}.log",
    benchmark:
        MESA_OUT + "/benchmarks/train_{exp}-{init}-seed{seed}.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    shell:
        "python -m papers.mesa_optimization.train {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule mesa_optimization_evaluate:
    input:
        rules.mesa_optimization_train.output,
    output:
        metrics=MESA_RUN + "/metrics.json",
        theory=MESA_RUN + "/theory.csv",
    params:
        cfg_hash=lambda w: cached_hash(MESA, mesa_overrides(w)),
        overrides=lambda w: " ".join(mesa_overrides(w)),
        out_dir=MESA_RUN,
    threads: 1
    resources:
        mem_mb=MESA_RES[0],
        runtime=MESA_RES[1],
    log:
        MESA_OUT + "/logs/evaluate/{exp}-{init}-seed{seed}.log",
    benchmark:
        MESA_OUT + "/benchmarks/evaluate_{exp}-{init}-seed{seed}.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    shell:
        "python -m papers.mesa_optimization.evaluate {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


MESA_RUN_METRICS = [
    MESA_RUN.format(exp=e, init=i, seed=s) + "/metrics.json" for e, i, s in MESA_RUNS
]


rule mesa_optimization_aggregate:
    input:
        MESA_RUN_METRICS,
    output:
        MESA_OUT + "/metrics.json",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        MESA_OUT + "/logs/aggregate.log",
    benchmark:
        MESA_OUT + "/benchmarks/aggregate.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    shell:
        "python -m papers.mesa_optimization.aggregate --out {output} {input} > {log} 2>&1"


rule mesa_optimization_claims:
    input:
        metrics=MESA_OUT + "/metrics.json",
        claims="papers/mesa_optimization/claims.yaml",
    output:
        MESA_OUT + "/claims.csv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        MESA_OUT + "/logs/claims.log",
    benchmark:
        MESA_OUT + "/benchmarks/claims.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    shell:
        "python -m common.claims --claims {input.claims} --metrics {input.metrics}"
        " --scale {SCALE} --out {output} > {log} 2>&1"


rule mesa_optimization_figures:
    input:
        MESA_RUN_METRICS,
    output:
        report(
            directory(MESA_OUT + "/figures"),
            patterns=["{name}.png"],
            category="Mesa-optimization",
            caption="report_caption.rst",
        ),
    params:
        cfg_hash=lambda w: cached_hash(MESA, (f"scale={SCALE}",)),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        MESA_OUT + "/logs/figures.log",
    benchmark:
        MESA_OUT + "/benchmarks/figures.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    shell:
        "python -m papers.mesa_optimization.figures scale={SCALE} run.out_dir={MESA_OUT}"
        " > {log} 2>&1"


rule mesa_optimization_report:
    input:
        claims=MESA_OUT + "/claims.csv",
        metrics=MESA_OUT + "/metrics.json",
        figures=MESA_OUT + "/figures",
        meta="papers/mesa_optimization/report.yaml",
    output:
        f"reports/{SCALE}/{MESA}.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        MESA_OUT + "/logs/report.log",
    benchmark:
        MESA_OUT + "/benchmarks/report.tsv"
    conda:
        "../../envs/mesa_optimization.yaml"
    shell:
        "python -m common.report paper --paper {MESA} --scale {SCALE} --claims {input.claims}"
        " --metrics {input.metrics} --figures {input.figures} --benchmarks {MESA_OUT}/benchmarks"
        " --out {output} > {log} 2>&1"
