"""SE(3) diffusion registration rules: dataset, two trainings and an evaluation per seed,
then aggregate and figures (claims and report are the Snakefile's generic rules)."""

import os

from common.config import cached_config, cached_hash
from papers.se3_registration.schema import DATA_SECTIONS as S3_DATA_SECTIONS
from papers.se3_registration.schema import TRAIN_EXCLUDE as S3_TRAIN_EXCLUDE
from papers.se3_registration.schema import TRAIN_SECTIONS as S3_TRAIN_SECTIONS
from papers.se3_registration.schema import overrides as s3_overrides

S3 = "se3_registration"
S3_OUT = paper_out(S3)
S3_DATA = f"{S3_OUT}/data"
S3_RUN = f"{S3_OUT}/seed{{se3_seed}}"
S3_SEEDS = list(cached_config(S3, (f"scale={SCALE}",)).sweep.seeds)
#: the BOP dataset folder the data stage reads (paper scale: the released TUD-L files) or
#: writes (smoke/cpu: the synthetic set); --config 'data_dir={se3_registration: DIR}' sets it
S3_BOP = data_dir(S3, "data/tudl" if SCALE == "paper" else f"{S3_DATA}/bop")
#: per scale: (mem_mb, runtime in minutes) of data / train / evaluate; gpu only at paper scale.
#: Sized from the benchmarks (results/<scale>/se3_registration/benchmarks) with headroom.
S3_RES = {
    "smoke": ((800, 3), (800, 3), (800, 3)),
    "cpu": ((1500, 5), (1500, 10), (1500, 10)),
    "paper": ((16000, 240), (32000, 1440), (16000, 240)),
}[SCALE]


rule se3_registration_data:
    input:
        # paper scale reads the released BOP files: a missing folder stops the DAG up front
        bop=[S3_BOP] if SCALE == "paper" else [],
    output:
        train=f"{S3_DATA}/train.npz",
        test=f"{S3_DATA}/test.npz",
        models=f"{S3_DATA}/models.npz",
        summary=f"{S3_DATA}/dataset.json",
    log:
        f"{S3_OUT}/logs/data.log",
    benchmark:
        f"{S3_OUT}/benchmarks/data.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    threads: 1
    resources:
        mem_mb=S3_RES[0][0],
        runtime=S3_RES[0][1],
    params:
        cfg_hash=lambda w: cached_hash(S3, s3_overrides(SCALE), S3_DATA_SECTIONS),
        overrides=" ".join(s3_overrides(SCALE)),
        out_dir=lambda w, output: os.path.dirname(output.train),
        data_dir=lambda w: S3_BOP,
    shell:
        "python -m papers.se3_registration.data {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule se3_registration_train:
    input:
        train=rules.se3_registration_data.output.train,
        test=rules.se3_registration_data.output.test,
        models=rules.se3_registration_data.output.models,
    output:
        weights=f"{S3_RUN}/{{se3_kind}}/weights.pt",
        log=f"{S3_RUN}/{{se3_kind}}/train_log.csv",
        meta=f"{S3_RUN}/{{se3_kind}}/train.json",
    log:
        f"{S3_OUT}/logs/train_{{se3_kind}}_seed{{se3_seed}}.log",
    benchmark:
        f"{S3_OUT}/benchmarks/train_{{se3_kind}}_seed{{se3_seed}}.tsv"
    wildcard_constraints:
        se3_kind="surrogate|diffusion",
        se3_seed=r"\d+",
    conda:
        "../../envs/se3_registration.yaml"
    threads: 1
    resources:
        mem_mb=S3_RES[1][0],
        runtime=S3_RES[1][1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(
            S3,
            tuple(s3_overrides(SCALE, w.se3_seed, w.se3_kind)),
            S3_TRAIN_SECTIONS,
            S3_TRAIN_EXCLUDE,
        ),
        overrides=lambda w: " ".join(s3_overrides(SCALE, w.se3_seed, w.se3_kind)),
        out_dir=lambda w, output: os.path.dirname(output.weights),
        data_dir=lambda w, input: os.path.dirname(input.train),
    shell:
        "python -m papers.se3_registration.train {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule se3_registration_evaluate:
    input:
        train=rules.se3_registration_data.output.train,
        test=rules.se3_registration_data.output.test,
        models=rules.se3_registration_data.output.models,
        surrogate=f"{S3_RUN}/surrogate/weights.pt",
        diffusion=f"{S3_RUN}/diffusion/weights.pt",
    output:
        metrics=f"{S3_RUN}/metrics.json",
        errors=f"{S3_RUN}/errors.npz",
    log:
        f"{S3_OUT}/logs/evaluate_seed{{se3_seed}}.log",
    benchmark:
        f"{S3_OUT}/benchmarks/evaluate_seed{{se3_seed}}.tsv"
    wildcard_constraints:
        se3_seed=r"\d+",
    conda:
        "../../envs/se3_registration.yaml"
    threads: 1
    resources:
        mem_mb=S3_RES[2][0],
        runtime=S3_RES[2][1],
        gpu=int(SCALE == "paper"),
    params:
        cfg_hash=lambda w: cached_hash(S3, s3_overrides(SCALE, w.se3_seed)),
        overrides=lambda w: " ".join(s3_overrides(SCALE, w.se3_seed)),
        out_dir=lambda w, output: os.path.dirname(output.metrics),
        data_dir=lambda w, input: os.path.dirname(input.test),
    shell:
        "python -m papers.se3_registration.evaluate {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


S3_RUN_METRICS = [f"{S3_OUT}/seed{s}/metrics.json" for s in S3_SEEDS]


rule se3_registration_aggregate:
    input:
        metrics=S3_RUN_METRICS,
        errors=[f"{S3_OUT}/seed{s}/errors.npz" for s in S3_SEEDS],
    output:
        f"{S3_OUT}/metrics.json",
    log:
        f"{S3_OUT}/logs/aggregate.log",
    benchmark:
        f"{S3_OUT}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    shell:
        "python -m papers.se3_registration.aggregate --out {output} {input.metrics}"
        " > {log} 2>&1"


rule se3_registration_figures:
    input:
        metrics=S3_RUN_METRICS,
        errors=[f"{S3_OUT}/seed{s}/errors.npz" for s in S3_SEEDS],
        logs=[
            f"{S3_OUT}/seed{s}/{k}/train_log.csv"
            for s in S3_SEEDS
            for k in ("surrogate", "diffusion")
        ],
        data=f"{S3_DATA}/dataset.json",
    output:
        figures_output(S3, "SE(3) registration"),
    log:
        f"{S3_OUT}/logs/figures.log",
    benchmark:
        f"{S3_OUT}/benchmarks/figures.tsv"
    conda:
        "../../envs/se3_registration.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg_hash=lambda w: cached_hash(S3, s3_overrides(SCALE)),
        overrides=" ".join(s3_overrides(SCALE)),
        out_dir=lambda w, output: os.path.dirname(output[0]),
        data_dir=lambda w, input: os.path.dirname(input.data),
    shell:
        "python -m papers.se3_registration.figures {params.overrides}"
        " run.out_dir={params.out_dir} run.data_dir={params.data_dir} > {log} 2>&1"
