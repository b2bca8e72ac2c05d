"""Reverse-distillation rules: data, per-size training (tiny models) and embeddings, then
distillation + probes (evaluate), aggregate and figures; claims and report are the shared rules.
Sizes are the sweep wildcard {rd_size}. Every stage hashes only the config keys it reads
(STAGE_KEYS in schema.py), so a probe or regressor change reruns evaluate and what follows,
never training or embedding.

run.data_dir: the data stage reads the released ProteinGym CSVs from it at paper scale
(`--config 'data_dir={reverse_distillation: /path}'`); smoke/cpu data are generated. The later
stages read the data stage's tables (RD_TABLES)."""

from common.config import cached_config, cached_hash
from papers.reverse_distillation.schema import STAGE_KEYS as RD_STAGE_KEYS

RD = "reverse_distillation"
RD_OUT = paper_out(RD)
RD_TABLES = f"{RD_OUT}/data"
RD_EVAL = f"{RD_OUT}/evaluate"
RD_CFG = cached_config(RD, (f"scale={SCALE}",))
RD_SIZES = [m.name for m in RD_CFG.model.family]
RD_PRETRAINED = bool(RD_CFG.model.pretrained)
RD_DATA_DIR = data_dir(
    RD,
    "data/proteingym/DMS_ProteinGym_substitutions" if SCALE == "paper" else RD_TABLES,
)
RD_PATHS = (f"models_dir={RD_OUT}/models", f"embeddings_dir={RD_OUT}/embeddings")
#: per scale: (mem_mb, runtime in minutes) of train / embed; gpu only at paper scale.
#: Paper-scale embed of the 15B model needs ~64 GB (fp32 weights).
RD_RES = {"smoke": (1000, 3), "cpu": (1500, 10), "paper": (96000, 600)}[SCALE]


wildcard_constraints:
    rd_size="esm2[A-Za-z0-9_]+",


#: the overrides of one job: the scale, the size wildcard (train / embed) and the cache paths
rd_overrides = lambda w=None: (
    f"scale={SCALE}",
    *((f"size={w.rd_size}",) if w is not None and hasattr(w, "rd_size") else ()),
    *RD_PATHS,
)
#: a folder given to a script: the one holding the rule's first input / output file
rd_input_dir = lambda w, input: str(Path(input[0]).parent)
rd_output_dir = lambda w, output: str(Path(output[0]).parent)


rule reverse_distillation_data:
    output:
        multiext(f"{RD_TABLES}/", "pretrain.csv", "fit.csv", "assays.csv"),
    log:
        f"{RD_OUT}/logs/data.log",
    benchmark:
        f"{RD_OUT}/benchmarks/data.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg_hash=cached_hash(RD, (f"scale={SCALE}",), RD_STAGE_KEYS["data"]),
        scale=SCALE,
        data_dir=lambda w: RD_DATA_DIR,
        out_dir=rd_output_dir,
    shell:
        "python -m papers.reverse_distillation.data scale={params.scale}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule reverse_distillation_train:
    input:
        f"{RD_TABLES}/pretrain.csv",
    output:
        model=f"{RD_OUT}/models/{{rd_size}}.pt",
        regression=f"{RD_OUT}/models/{{rd_size}}-contact-regression.pt",
        log=f"{RD_OUT}/models/{{rd_size}}_train.csv",
        meta=f"{RD_OUT}/models/{{rd_size}}_train.json",
    log:
        f"{RD_OUT}/logs/train_{{rd_size}}.log",
    benchmark:
        f"{RD_OUT}/benchmarks/train_{{rd_size}}.tsv"
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


rule reverse_distillation_embed:
    input:
        fit=f"{RD_TABLES}/fit.csv",
        assays=f"{RD_TABLES}/assays.csv",
        model=[] if RD_PRETRAINED else f"{RD_OUT}/models/{{rd_size}}.pt",
    output:
        f"{RD_OUT}/embeddings/{{rd_size}}.npz",
    log:
        f"{RD_OUT}/logs/embed_{{rd_size}}.log",
    benchmark:
        f"{RD_OUT}/benchmarks/embed_{{rd_size}}.tsv"
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
        embeddings=expand(f"{RD_OUT}/embeddings/{{rd_size}}.npz", rd_size=RD_SIZES),
    output:
        metrics=f"{RD_EVAL}/metrics.json",
        per_assay=f"{RD_EVAL}/per_assay.csv",
        steps=f"{RD_EVAL}/steps.csv",
        nesting=f"{RD_EVAL}/nesting.csv",
        scalers=expand(f"{RD_EVAL}/scalers_{{reg}}.npz", reg=("pcr", "ols", "ridge")),
    log:
        f"{RD_OUT}/logs/evaluate.log",
    benchmark:
        f"{RD_OUT}/benchmarks/evaluate.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    threads: 1
    resources:
        mem_mb=4000 if SCALE != "paper" else 64000,
        runtime=RD_RES[1],
    params:
        cfg_hash=cached_hash(RD, rd_overrides(), RD_STAGE_KEYS["evaluate"]),
        overrides=" ".join(rd_overrides()),
        data_dir=rd_input_dir,
        out_dir=rd_output_dir,
    shell:
        "python -m papers.reverse_distillation.evaluate {params.overrides}"
        " run.data_dir={params.data_dir} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule reverse_distillation_aggregate:
    input:
        rules.reverse_distillation_evaluate.output.metrics,
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
        per_assay=rules.reverse_distillation_evaluate.output.per_assay,
        steps=rules.reverse_distillation_evaluate.output.steps,
        nesting=rules.reverse_distillation_evaluate.output.nesting,
        train_logs=expand(
            f"{RD_OUT}/models/{{rd_size}}_train.csv",
            rd_size=[] if RD_PRETRAINED else RD_SIZES,
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
        cfg_hash=cached_hash(RD, rd_overrides(), RD_STAGE_KEYS["evaluate"]),
        overrides=" ".join(rd_overrides()),
        out_dir=lambda w, output: str(Path(output[0]).parent),
    shell:
        "python -m papers.reverse_distillation.figures {params.overrides}"
        " run.out_dir={params.out_dir} > {log} 2>&1"
