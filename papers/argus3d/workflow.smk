"""Argus3D rules: data -> stage 1 per representation (shared by every sweep) -> stage 2 per
run (representation / token order / width / seed) -> evaluate -> aggregate -> figures; the
shared claims and report rules (Snakefile) turn metrics.json into the report."""

import os

from common.config import cached_config
from papers.argus3d.runs import BASE_ORDER as A3_BASE_ORDER
from papers.argus3d.runs import Run as A3Run
from papers.argus3d.runs import base_width as a3_base_width
from papers.argus3d.runs import rule_hash as a3_rule_hash
from papers.argus3d.runs import stage2_runs as a3_stage2_runs

A3 = "argus3d"
A3_OUT = paper_out(A3)
A3_CFG = cached_config(A3, (f"scale={SCALE}",))
A3_PROCEDURAL = A3_CFG.data.source == "procedural"
# run.data_dir: the data rule's output at smoke/cpu scale, the user's ShapeNet folder at paper
# scale (the scale's config default, or snakemake --config 'data_dir={argus3d: /path}')
A3_DATA = data_dir(A3, A3_CFG.run.data_dir or f"{A3_OUT}/data")
A3_DATA_INPUT = {"data": A3_DATA} if A3_PROCEDURAL else {}
A3_RUNS = {r.name: r for r in a3_stage2_runs(A3_CFG)}
A3_REPS = list(A3_CFG.sweep.reps)
A3_SEED0 = [
    A3Run(rep, A3_BASE_ORDER, a3_base_width(A3_CFG), A3_CFG.sweep.seeds[0])
    for rep in A3_REPS
]
A3_BASE = A3Run("latent", A3_BASE_ORDER, a3_base_width(A3_CFG), A3_CFG.sweep.seeds[0])
#: per scale: (mem_mb, runtime in minutes) of the training / evaluation jobs; gpu at paper scale.
A3_RES = {"smoke": (1000, 3), "cpu": (2000, 20), "paper": (64000, 2880)}[SCALE]
A3_GPU = int(SCALE == "paper")
A3_PRIORITY_CONTROLS = 3  # the base run's stage 2 and evaluation (reference generators)


wildcard_constraints:
    argus3d_rep="|".join(A3_REPS),
    argus3d_run="|".join(A3_RUNS) or "none",


if A3_PROCEDURAL:

    rule argus3d_data:
        output:
            directory(A3_DATA),
        log:
            f"{A3_OUT}/logs/data.log",
        benchmark:
            f"{A3_OUT}/benchmarks/data.tsv"
        conda:
            "../../envs/argus3d.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            cfg_hash=a3_rule_hash(SCALE, rule="data"),
            scale=SCALE,
        shell:
            "python -m papers.argus3d.make_data scale={params.scale} run.data_dir={output}"
            " > {log} 2>&1"


rule argus3d_stage1:
    input:
        **A3_DATA_INPUT,
    output:
        model=f"{A3_OUT}/stage1/{{argus3d_rep}}/model.pt",
        codes=f"{A3_OUT}/stage1/{{argus3d_rep}}/codes.npz",
        recon=f"{A3_OUT}/stage1/{{argus3d_rep}}/recon.npz",
        summary=f"{A3_OUT}/stage1/{{argus3d_rep}}/stage1.json",
        log=f"{A3_OUT}/stage1/{{argus3d_rep}}/train_log.csv",
    log:
        f"{A3_OUT}/logs/stage1_{{argus3d_rep}}.log",
    benchmark:
        f"{A3_OUT}/benchmarks/stage1_{{argus3d_rep}}.tsv"
    # stage 1 first (every other job waits on it), then the base run's chain (its evaluation
    # also scores the reference generators, the longest one), so no core idles at the end
    priority: 2
    conda:
        "../../envs/argus3d.yaml"
    threads: 1
    resources:
        mem_mb=A3_RES[0],
        runtime=A3_RES[1],
        gpu=A3_GPU,
    params:
        cfg_hash=lambda w: a3_rule_hash(
            SCALE, (f"stage1.rep={w.argus3d_rep}",), "stage1"
        ),
        scale=SCALE,
        data_dir=lambda w, input: input.data if A3_PROCEDURAL else A3_DATA,
        out_dir=lambda w, output: os.path.dirname(output.model),
    shell:
        "python -m papers.argus3d.train_stage1 scale={params.scale} run.data_dir={params.data_dir}"
        " stage1.rep={wildcards.argus3d_rep} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule argus3d_stage2:
    input:
        model=lambda w: f"{A3_OUT}/stage1/{A3_RUNS[w.argus3d_run].rep}/model.pt",
        codes=lambda w: f"{A3_OUT}/stage1/{A3_RUNS[w.argus3d_run].rep}/codes.npz",
    output:
        samples=f"{A3_OUT}/gen/{{argus3d_run}}/samples.npz",
        summary=f"{A3_OUT}/gen/{{argus3d_run}}/stage2.json",
        gpt=f"{A3_OUT}/gen/{{argus3d_run}}/gpt.pt",
        log=f"{A3_OUT}/gen/{{argus3d_run}}/train_log.csv",
    log:
        f"{A3_OUT}/logs/stage2_{{argus3d_run}}.log",
    benchmark:
        f"{A3_OUT}/benchmarks/stage2_{{argus3d_run}}.tsv"
    priority: lambda w: A3_PRIORITY_CONTROLS if A3_RUNS[w.argus3d_run].controls else 0
    conda:
        "../../envs/argus3d.yaml"
    threads: 1
    resources:
        mem_mb=A3_RES[0],
        runtime=A3_RES[1],
        gpu=A3_GPU,
    params:
        cfg_hash=lambda w: a3_rule_hash(
            SCALE, A3_RUNS[w.argus3d_run].overrides(), "stage2"
        ),
        overrides=lambda w: " ".join(A3_RUNS[w.argus3d_run].overrides()),
        scale=SCALE,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m papers.argus3d.train_stage2 scale={params.scale}"
        " {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule argus3d_evaluate:
    input:
        **A3_DATA_INPUT,
        samples=f"{A3_OUT}/gen/{{argus3d_run}}/samples.npz",
        summary=f"{A3_OUT}/gen/{{argus3d_run}}/stage2.json",
        recon=lambda w: f"{A3_OUT}/stage1/{A3_RUNS[w.argus3d_run].rep}/recon.npz",
    output:
        f"{A3_OUT}/gen/{{argus3d_run}}/metrics.json",
    log:
        f"{A3_OUT}/logs/evaluate_{{argus3d_run}}.log",
    benchmark:
        f"{A3_OUT}/benchmarks/evaluate_{{argus3d_run}}.tsv"
    priority: lambda w: A3_PRIORITY_CONTROLS if A3_RUNS[w.argus3d_run].controls else 0
    conda:
        "../../envs/argus3d.yaml"
    threads: 1
    resources:
        mem_mb=A3_RES[0],
        runtime=A3_RES[1],
        gpu=0,
    params:
        cfg_hash=lambda w: a3_rule_hash(
            SCALE, A3_RUNS[w.argus3d_run].evaluate_overrides()
        ),
        overrides=lambda w: " ".join(A3_RUNS[w.argus3d_run].evaluate_overrides()),
        scale=SCALE,
        data_dir=lambda w, input: input.data if A3_PROCEDURAL else A3_DATA,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m papers.argus3d.evaluate scale={params.scale} run.data_dir={params.data_dir}"
        " {params.overrides} run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule argus3d_aggregate:
    input:
        stage1=expand(f"{A3_OUT}/stage1/{{rep}}/stage1.json", rep=A3_REPS),
        metrics=expand(f"{A3_OUT}/gen/{{run}}/metrics.json", run=list(A3_RUNS)),
    output:
        f"{A3_OUT}/metrics.json",
    log:
        f"{A3_OUT}/logs/aggregate.log",
    benchmark:
        f"{A3_OUT}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/argus3d.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    params:
        cfg_hash=a3_rule_hash(SCALE),
        scale=SCALE,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m papers.argus3d.aggregate scale={params.scale} run.out_dir={params.out_dir}"
        " > {log} 2>&1"


rule argus3d_figures:
    input:
        **A3_DATA_INPUT,
        metrics=f"{A3_OUT}/metrics.json",
        stage1_logs=expand(f"{A3_OUT}/stage1/{{rep}}/train_log.csv", rep=A3_REPS),
        samples=[f"{A3_OUT}/gen/{r.name}/samples.npz" for r in A3_SEED0],
        stage2_logs=[f"{A3_OUT}/gen/{r.name}/train_log.csv" for r in A3_SEED0],
        base=f"{A3_OUT}/gen/{A3_BASE.name}/stage2.json",
    output:
        figures_output(A3, "Argus3D"),
    log:
        f"{A3_OUT}/logs/figures.log",
    benchmark:
        f"{A3_OUT}/benchmarks/figures.tsv"
    conda:
        "../../envs/argus3d.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        cfg_hash=a3_rule_hash(SCALE),
        scale=SCALE,
        data_dir=lambda w, input: input.data if A3_PROCEDURAL else A3_DATA,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m papers.argus3d.figures scale={params.scale} run.data_dir={params.data_dir}"
        " run.out_dir={params.out_dir} > {log} 2>&1"
