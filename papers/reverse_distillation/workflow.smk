"""Reverse-distillation rules: data, per-size training (tiny models) and embeddings,
then distillation + probes, claims, figures, report. Sizes are the sweep wildcard.
Data, train and embed hash only the config sections they read (RD_STAGE_KEYS), so a probe or
regressor change reruns evaluate and what follows, never training or embedding."""

from common.config import cached_hash, compose_config

RD = "reverse_distillation"
RD_OUT = f"results/{SCALE}/{RD}"
RD_CFG = compose_config(RD, [f"scale={SCALE}"])
#: the config sections each cached stage reads
RD_STAGE_KEYS = {
    "data": ("seed", "data"),
    "train": ("seed", "data", "model", "train", "size"),
    "embed": ("seed", "data", "model", "embed", "size"),
}
RD_SIZES = [m.name for m in RD_CFG.model.family]
RD_PRETRAINED = bool(RD_CFG.model.pretrained)
RD_PATHS = (
    f"data_dir={RD_OUT}/data",
    f"models_dir={RD_OUT}/models",
    f"embeddings_dir={RD_OUT}/embeddings",
)
#: per scale: (mem_mb, runtime in minutes) of train / embed; gpu only at paper scale.
#: Measured (benchmarks, 2 cores shared with other jobs): cpu train 420-650 MB / 40-240 s,
#: embed 350-490 MB; paper-scale embed of the 15B model needs ~64 GB (fp32 weights).
RD_RES = {"smoke": (1000, 3), "cpu": (1500, 10), "paper": (96000, 600)}[SCALE]

wildcard_constraints:
    rd_size="esm2[A-Za-z0-9_]+",


def rd_overrides(w=None):
    size = (f"size={w.rd_size}",) if w is not None and hasattr(w, "rd_size") else ()
    return (f"scale={SCALE}", *size, *RD_PATHS)


rule reverse_distillation_data:
    output:
        multiext(RD_OUT + "/data/", "pretrain.csv", "fit.csv", "assays.csv"),
    params:
        cfg_hash=cached_hash(RD, (f"scale={SCALE}",), RD_STAGE_KEYS["data"]),
        out_dir=RD_OUT + "/data",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        RD_OUT + "/logs/data.log",
    benchmark:
        RD_OUT + "/benchmarks/data.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m papers.reverse_distillation.data scale={SCALE}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule reverse_distillation_train:
    input:
        RD_OUT + "/data/pretrain.csv",
    output:
        model=RD_OUT + "/models/{rd_size}.pt",
        regression=RD_OUT + "/models/{rd_size}-contact-regression.pt",
        log=RD_OUT + "/models/{rd_size}_train.csv",
        meta=RD_OUT + "/models/{rd_size}_train.json",
    params:
        cfg_hash=lambda w: cached_hash(RD, rd_overrides(w), RD_STAGE_KEYS["train"]),
        overrides=lambda w: " ".join(rd_overrides(w)),
        out_dir=RD_OUT + "/models",
    threads: 1
    resources:
        mem_mb=RD_RES[0],
        runtime=RD_RES[1],
    log:
        RD_OUT + "/logs/train_{rd_size}.log",
    benchmark:
        RD_OUT + "/benchmarks/train_{rd_size}.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m papers.reverse_distillation.train {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule reverse_distillation_embed:
    input:
        fit=RD_OUT + "/data/fit.csv",
        assays=RD_OUT + "/data/assays.csv",
        model=[] if RD_PRETRAINED else RD_OUT + "/models/{rd_size}.pt",
    output:
        RD_OUT + "/embeddings/{rd_size}.npz",
    params:
        cfg_hash=lambda w: cached_hash(RD, rd_overrides(w), RD_STAGE_KEYS["embed"]),
        overrides=lambda w: " ".join(rd_overrides(w)),
        out_dir=RD_OUT + "/embeddings",
    threads: 1
    resources:
        mem_mb=RD_RES[0],
        runtime=RD_RES[1],
        gpu=int(SCALE == "paper"),
    log:
        RD_OUT + "/logs/embed_{rd_size}.log",
    benchmark:
        RD_OUT + "/benchmarks/embed_{rd_size}.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m papers.reverse_distillation.embed {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule reverse_distillation_evaluate:
    input:
        assays=RD_OUT + "/data/assays.csv",
        embeddings=expand(RD_OUT + "/embeddings/{rd_size}.npz", rd_size=RD_SIZES),
    output:
        metrics=RD_OUT + "/metrics.json",
        per_assay=RD_OUT + "/per_assay.csv",
        steps=RD_OUT + "/steps.csv",
        nesting=RD_OUT + "/nesting.csv",
        scalers=expand(RD_OUT + "/scalers_{reg}.npz", reg=("pcr", "ols", "ridge")),
    params:
        cfg_hash=cached_hash(RD, rd_overrides()),
        overrides=" ".join(rd_overrides()),
    threads: 1
    resources:
        mem_mb=4000 if SCALE != "paper" else 64000,
        runtime=RD_RES[1],
    log:
        RD_OUT + "/logs/evaluate.log",
    benchmark:
        RD_OUT + "/benchmarks/evaluate.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m papers.reverse_distillation.evaluate {params.overrides}"
        " run.out_dir={RD_OUT} run.threads={threads} > {log} 2>&1"


rule reverse_distillation_claims:
    input:
        metrics=RD_OUT + "/metrics.json",
        claims="papers/reverse_distillation/claims.yaml",
    output:
        RD_OUT + "/claims.csv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        RD_OUT + "/logs/claims.log",
    benchmark:
        RD_OUT + "/benchmarks/claims.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m common.claims --claims {input.claims} --metrics {input.metrics}"
        " --scale {SCALE} --out {output} > {log} 2>&1"


rule reverse_distillation_figures:
    input:
        rules.reverse_distillation_evaluate.output.metrics,
        rules.reverse_distillation_evaluate.output.per_assay,
        rules.reverse_distillation_evaluate.output.steps,
        rules.reverse_distillation_evaluate.output.nesting,
        expand(RD_OUT + "/models/{rd_size}_train.csv", rd_size=[] if RD_PRETRAINED else RD_SIZES),
    output:
        report(
            directory(RD_OUT + "/figures"),
            patterns=["{name}.png"],
            category="Reverse distillation",
            caption="report_caption.rst",
        ),
    params:
        cfg_hash=cached_hash(RD, rd_overrides()),
        overrides=" ".join(rd_overrides()),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        RD_OUT + "/logs/figures.log",
    benchmark:
        RD_OUT + "/benchmarks/figures.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m papers.reverse_distillation.figures {params.overrides}"
        " run.out_dir={RD_OUT} > {log} 2>&1"


rule reverse_distillation_report:
    input:
        claims=RD_OUT + "/claims.csv",
        metrics=RD_OUT + "/metrics.json",
        figures=RD_OUT + "/figures",
        meta="papers/reverse_distillation/report.yaml",
    output:
        f"reports/{SCALE}/{RD}.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        RD_OUT + "/logs/report.log",
    benchmark:
        RD_OUT + "/benchmarks/report.tsv"
    conda:
        "../../envs/reverse_distillation.yaml"
    shell:
        "python -m common.report paper --paper {RD} --scale {SCALE} --claims {input.claims}"
        " --metrics {input.metrics} --figures {input.figures} --benchmarks {RD_OUT}/benchmarks"
        " --out {output} > {log} 2>&1"
