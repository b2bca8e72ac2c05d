"""Reverse-distillation rules, per seed (wildcard {rd_seed}, from sweep.seeds): data, per-size
training (tiny models) and embeddings (wildcard {rd_size}), then distillation + probes
(evaluate); aggregate merges the seeds, figures show the first; claims and report are the
shared rules. Every stage hashes only the config keys it reads
(STAGE_KEYS in schema.py), so a probe or regressor change reruns evaluate and what follows,
never training or embedding.

run.data_dir: the data stage reads the released ProteinGym CSVs from it at paper scale
(`--config 'data_dir={reverse_distillation: /path}'`); smoke/cpu data are generated. The later
stages read the data stage's tables (RD_TABLES). Models trained here are embedded by their
training job (one process start-up instead of two); the embed rule exists for published
models (scale=paper) only."""

from types import SimpleNamespace

from common.config import cached_config, cached_hash
from papers.reverse_distillation.schema import STAGE_KEYS as RD_STAGE_KEYS

RD = "reverse_distillation"
RD_OUT = paper_out(RD)
RD_RUN = f"{RD_OUT}/seed{{rd_seed}}"
RD_TABLES = f"{RD_RUN}/data"
RD_EVAL = f"{RD_RUN}/evaluate"
RD_CFG = cached_config(RD, (f"scale={SCALE}",))
RD_SIZES = [m.name for m in RD_CFG.model.family]
RD_SEEDS = list(RD_CFG.sweep.seeds)
#: the figures show the first seed (the report's claims use all of them)
RD_FIRST = SimpleNamespace(rd_seed=str(RD_SEEDS[0]))
RD_PRETRAINED = bool(RD_CFG.model.pretrained)
RD_DATA_DIR = data_dir(
    RD,
    "data/proteingym/DMS_ProteinGym_substitutions" if SCALE == "paper" else RD_TABLES,
)
RD_PATHS = (f"models_dir={RD_RUN}/models", f"embeddings_dir={RD_RUN}/embeddings")
#: per scale: (mem_mb, runtime in minutes) of train / embed; gpu only at paper scale.
#: Paper-scale embed of the 15B model needs ~64 GB (fp32 weights).
RD_RES = {"smoke": (1000, 3), "cpu": (1500, 10), "paper": (96000, 600)}[SCALE]


wildcard_constraints:
    rd_size="esm2[A-Za-z0-9_]+",
    rd_seed=r"\d+",


#: the overrides of one job: the scale, the seed, the size wildcard (train / embed) and the
#: cache paths of that seed
rd_overrides = lambda w: (
    f"scale={SCALE}",
    f"seed={w.rd_seed}",
    *((f"size={w.rd_size}",) if hasattr(w, "rd_size") else ()),
    *(p.format(rd_seed=w.rd_seed) for p in RD_PATHS),
)
#: a folder given to a script: the one holding the rule's first input / output file
rd_input_dir = lambda w, input: str(Path(input[0]).parent)
rd_output_dir = lambda w, output: str(Path(output[0]).parent)


rule reverse_distillation_data:
    output:
        multiext(f"{RD_TABLES}/", "pretrain.csv", "fit.csv", "assays.csv"),
    log:
        f"{RD_OUT}/logs/data_seed{{rd_seed}}.log",
    benchmark:
        f"{RD_OUT}/benchmarks/data_seed{{rd_seed}}.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg_hash=lambda w: cached_hash(RD, rd_overrides(w), RD_STAGE_KEYS["data"]),
        overrides=lambda w: " ".join(rd_overrides(w)),
        data_dir=lambda w: RD_DATA_DIR.replace("{rd_seed}", w.rd_seed),
        out_dir=rd_output_dir,
    shell:
        "python -m papers.reverse_distillation.data {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


if not RD_PRETRAINED:  # models trained here: train, then embed in the same job

    rule reverse_distillation_train:
        input:
            f"{RD_TABLES}/pretrain.csv",
            f"{RD_TABLES}/fit.csv",
            f"{RD_TABLES}/assays.csv",
        output:
            # first: rd_output_dir (the script's run.out_dir) is its folder
            log=f"{RD_RUN}/models/{{rd_size}}_train.csv",
            meta=f"{RD_RUN}/models/{{rd_size}}_train.json",
            model=f"{RD_RUN}/models/{{rd_size}}/model.safetensors",
            embeddings=f"{RD_RUN}/embeddings/{{rd_size}}.npz",
        log:
            f"{RD_OUT}/logs/train_seed{{rd_seed}}_{{rd_size}}.log",
        benchmark:
            f"{RD_OUT}/benchmarks/train_seed{{rd_seed}}_{{rd_size}}.tsv"
        conda:
            "../../envs/reverse_distillation.yaml"
        threads: 1
        resources:
            mem_mb=RD_RES[0],
            runtime=RD_RES[1],
        params:
            cfg_hash=lambda w: cached_hash(RD, rd_overrides(w), RD_STAGE_KEYS["train"]),
            overrides=lambda w: " ".join(rd_overrides(w)),
            data_dir=rd_input_dir,
            out_dir=rd_output_dir,
        shell:
            "python -m papers.reverse_distillation.train {params.overrides}"
            " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
            " run.threads={threads} > {log} 2>&1"

else:  # published models (scale=paper): embed only

    rule reverse_distillation_embed:
        input:
            fit=f"{RD_TABLES}/fit.csv",
            assays=f"{RD_TABLES}/assays.csv",
        output:
            f"{RD_RUN}/embeddings/{{rd_size}}.npz",
        log:
            f"{RD_OUT}/logs/embed_seed{{rd_seed}}_{{rd_size}}.log",
        benchmark:
            f"{RD_OUT}/benchmarks/embed_seed{{rd_seed}}_{{rd_size}}.tsv"
        conda:
            "../../envs/reverse_distillation.yaml"
        threads: 1
        resources:
            mem_mb=RD_RES[0],
            runtime=RD_RES[1],
            gpu=int(SCALE == "paper"),
        params:
            cfg_hash=lambda w: cached_hash(RD, rd_overrides(w), RD_STAGE_KEYS["embed"]),
            overrides=lambda w: " ".join(rd_overrides(w)),
            data_dir=rd_input_dir,
            out_dir=rd_output_dir,
        shell:
            "python -m papers.reverse_distillation.embed {params.overrides}"
            " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
            " run.threads={threads} > {log} 2>&1"


rule reverse_distillation_evaluate:
    input:
        assays=f"{RD_TABLES}/assays.csv",
        embeddings=expand(
            f"{RD_RUN}/embeddings/{{rd_size}}.npz",
            rd_size=RD_SIZES,
            allow_missing=True,
        ),
    output:
        metrics=f"{RD_EVAL}/metrics.json",
        per_assay=f"{RD_EVAL}/per_assay.csv",
        steps=f"{RD_EVAL}/steps.csv",
        nesting=f"{RD_EVAL}/nesting.csv",
        scalers=expand(
            f"{RD_EVAL}/scalers_{{reg}}.npz",
            reg=("pcr", "ols", "ridge"),
            allow_missing=True,
        ),
    log:
        f"{RD_OUT}/logs/evaluate_seed{{rd_seed}}.log",
    benchmark:
        f"{RD_OUT}/benchmarks/evaluate_seed{{rd_seed}}.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    threads: 1
    resources:
        mem_mb=4000 if SCALE != "paper" else 64000,
        runtime=RD_RES[1],
    params:
        cfg_hash=lambda w: cached_hash(RD, rd_overrides(w), RD_STAGE_KEYS["evaluate"]),
        overrides=lambda w: " ".join(rd_overrides(w)),
        data_dir=rd_input_dir,
        out_dir=rd_output_dir,
    shell:
        "python -m papers.reverse_distillation.evaluate {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule reverse_distillation_aggregate:
    input:
        expand(rules.reverse_distillation_evaluate.output.metrics, rd_seed=RD_SEEDS),
    output:
        f"{RD_OUT}/metrics.json",
    log:
        f"{RD_OUT}/logs/aggregate.log",
    benchmark:
        f"{RD_OUT}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    shell:
        "python -m common.aggregate --out {output} {input} > {log} 2>&1"


rule reverse_distillation_figures:
    input:
        per_assay=RD_EVAL.format(rd_seed=RD_FIRST.rd_seed) + "/per_assay.csv",
        steps=RD_EVAL.format(rd_seed=RD_FIRST.rd_seed) + "/steps.csv",
        train_logs=expand(
            f"{RD_RUN}/models/{{rd_size}}_train.csv",
            rd_size=[] if RD_PRETRAINED else RD_SIZES,
            rd_seed=RD_FIRST.rd_seed,
        ),
    output:
        figures_output(RD, "Reverse distillation"),
    log:
        f"{RD_OUT}/logs/figures.log",
    benchmark:
        f"{RD_OUT}/benchmarks/figures.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg_hash=cached_hash(RD, rd_overrides(RD_FIRST), RD_STAGE_KEYS["evaluate"]),
        overrides=" ".join(rd_overrides(RD_FIRST)),
        data_dir=rd_input_dir,
        out_dir=lambda w, output: str(Path(output[0]).parent),
    shell:
        "python -m papers.reverse_distillation.figures {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir} > {log} 2>&1"
