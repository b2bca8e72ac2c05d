"""SE(3) diffusion registration rules: dataset, two trainings and an evaluation per seed,
then aggregate, claims, figures, report."""

from common.config import cached_hash, compose_config

S3 = "se3_registration"
S3_OUT = f"results/{SCALE}/{S3}"
S3_DATA = S3_OUT + "/data"
S3_RUN = S3_OUT + "/seed{seed}"
S3_SEEDS = list(compose_config(S3, [f"scale={SCALE}"]).sweep.seeds)
#: per scale: (mem_mb, runtime in minutes) of data / train / evaluate; gpu only at paper scale.
#: Measured (benchmarks, 2 shared cores, max RSS / CPU s): cpu data 360 MB / 12 s, train 590 MB /
#: 130 s, evaluate 580 MB / 35 s, figures 460 MB / 8 s; smoke jobs < 420 MB, < 5 s CPU each.
S3_RES = {
    "smoke": ((800, 3), (800, 3), (800, 3)),
    "cpu": ((1500, 5), (1500, 10), (1500, 10)),
    "paper": ((16000, 240), (32000, 1440), (16000, 240)),
}[SCALE]


def s3_overrides(w=None, kind=None):
    out = [f"scale={SCALE}"]
    if w is not None and "seed" in w.keys():
        out.append(f"seed={w.seed}")
    if kind is not None:
        out.append(f"train.kind={kind}")
    return tuple(out)


rule se3_registration_data:
    output:
        train=S3_DATA + "/train.npz",
        test=S3_DATA + "/test.npz",
        models=S3_DATA + "/models.npz",
        summary=S3_DATA + "/dataset.json",
    params:
        cfg_hash=lambda w: cached_hash(S3, (f"scale={SCALE}",)),
    threads: 1
    resources:
        mem_mb=S3_RES[0][0],
        runtime=S3_RES[0][1],
    log:
        S3_OUT + "/logs/data.log",
    benchmark:
        S3_OUT + "/benchmarks/data.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m papers.se3_registration.data scale={SCALE}"
        " run.out_dir={S3_DATA} run.threads={threads} > {log} 2>&1"


rule se3_registration_train:
    input:
        rules.se3_registration_data.output,
    output:
        weights=S3_RUN + "/{kind}/weights.pt",
        log=S3_RUN + "/{kind}/train_log.csv",
        meta=S3_RUN + "/{kind}/train.json",
    wildcard_constraints:
        kind="surrogate|diffusion",
    params:
        cfg_hash=lambda w: cached_hash(S3, s3_overrides(w, w.kind)),
        overrides=lambda w: " ".join(s3_overrides(w, w.kind)),
        out_dir=S3_RUN + "/{kind}",
    threads: 1
    resources:
        mem_mb=S3_RES[1][0],
        runtime=S3_RES[1][1],
        gpu=int(SCALE == "paper"),
    log:
        S3_OUT + "/logs/train_{kind}_seed{seed}.log",
    benchmark:
        S3_OUT + "/benchmarks/train_{kind}_seed{seed}.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m papers.se3_registration.train {params.overrides} run.data_dir={S3_DATA}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule se3_registration_evaluate:
    input:
        data=rules.se3_registration_data.output,
        surrogate=S3_RUN + "/surrogate/weights.pt",
        diffusion=S3_RUN + "/diffusion/weights.pt",
    output:
        metrics=S3_RUN + "/metrics.json",
        errors=S3_RUN + "/errors.npz",
    params:
        cfg_hash=lambda w: cached_hash(S3, s3_overrides(w)),
        overrides=lambda w: " ".join(s3_overrides(w)),
        out_dir=S3_RUN,
    threads: 1
    resources:
        mem_mb=S3_RES[2][0],
        runtime=S3_RES[2][1],
        gpu=int(SCALE == "paper"),
    log:
        S3_OUT + "/logs/evaluate_seed{seed}.log",
    benchmark:
        S3_OUT + "/benchmarks/evaluate_seed{seed}.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m papers.se3_registration.evaluate {params.overrides} run.data_dir={S3_DATA}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


S3_RUN_METRICS = [S3_RUN.format(seed=s) + "/metrics.json" for s in S3_SEEDS]


rule se3_registration_aggregate:
    input:
        S3_RUN_METRICS,
    output:
        S3_OUT + "/metrics.json",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        S3_OUT + "/logs/aggregate.log",
    benchmark:
        S3_OUT + "/benchmarks/aggregate.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m common.aggregate --out {output} {input} > {log} 2>&1"


rule se3_registration_claims:
    input:
        metrics=S3_OUT + "/metrics.json",
        claims="papers/se3_registration/claims.yaml",
    output:
        S3_OUT + "/claims.csv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        S3_OUT + "/logs/claims.log",
    benchmark:
        S3_OUT + "/benchmarks/claims.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m common.claims --claims {input.claims} --metrics {input.metrics}"
        " --scale {SCALE} --out {output} > {log} 2>&1"


rule se3_registration_figures:
    input:
        metrics=S3_RUN_METRICS,
        errors=[S3_RUN.format(seed=s) + "/errors.npz" for s in S3_SEEDS],
        logs=[S3_RUN.format(seed=s) + f"/{k}/train_log.csv" for s in S3_SEEDS for k in ("surrogate", "diffusion")],
        data=S3_DATA + "/dataset.json",
    output:
        report(
            directory(S3_OUT + "/figures"),
            patterns=["{name}.png"],
            category="SE(3) registration",
            caption="report_caption.rst",
        ),
    params:
        cfg_hash=lambda w: cached_hash(S3, (f"scale={SCALE}",)),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        S3_OUT + "/logs/figures.log",
    benchmark:
        S3_OUT + "/benchmarks/figures.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m papers.se3_registration.figures scale={SCALE} run.out_dir={S3_OUT}"
        " run.data_dir={S3_DATA} > {log} 2>&1"


rule se3_registration_report:
    input:
        claims=S3_OUT + "/claims.csv",
        metrics=S3_OUT + "/metrics.json",
        figures=S3_OUT + "/figures",
        meta="papers/se3_registration/report.yaml",
    output:
        f"reports/{SCALE}/{S3}.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        S3_OUT + "/logs/report.log",
    benchmark:
        S3_OUT + "/benchmarks/report.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    shell:
        "python -m common.report paper --paper {S3} --scale {SCALE} --claims {input.claims}"
        " --metrics {input.metrics} --figures {input.figures} --benchmarks {S3_OUT}/benchmarks"
        " --out {output} > {log} 2>&1"
