"""Argus3D rules: data -> stage 1 per representation (shared by every sweep) -> stage 2 per
run (representation / token order / width / seed) -> evaluate -> summary, claims, figures, report."""

from common.config import cached_hash, compose_config
from papers.argus3d.runs import section_hash, stage2_runs

A3 = "argus3d"
A3_OUT = f"results/{SCALE}/{A3}"
A3_CFG = compose_config(A3, [f"scale={SCALE}"])
A3_PROCEDURAL = A3_CFG.data.source == "procedural"
A3_DATA = A3_OUT + "/data" if A3_PROCEDURAL else A3_CFG.data.root
A3_RUNS = {r.name: r for r in stage2_runs(A3_CFG)}
A3_REPS = list(A3_CFG.sweep.reps)
#: per scale: (mem_mb, runtime in minutes) of the training / evaluation jobs; gpu at paper scale.
#: Measured on 2 shared cores: cpu stage 1 ~ MB / s, stage 2 ~ MB / s, evaluate ~ MB / s.
A3_RES = {"smoke": (1000, 3), "cpu": (2000, 20), "paper": (64000, 2880)}[SCALE]
A3_GPU = int(SCALE == "paper")


A3_DATA_ARG = f"data.root={A3_DATA}"


def a3_hash(*overrides, rule=None):
    """Hash of the whole config, or of the sections ``rule`` depends on (runs.SECTIONS)."""
    full = (f"scale={SCALE}", f"data.root={A3_DATA}", *overrides)
    return section_hash(rule, full) if rule else cached_hash(A3, full)


wildcard_constraints:
    a3rep="|".join(A3_REPS),
    a3run="|".join(A3_RUNS) or "none",


if A3_PROCEDURAL:

    rule argus3d_data:
        output:
            directory(A3_DATA),
        params:
            cfg_hash=a3_hash(rule="data"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        log:
            A3_OUT + "/logs/data.log",
        benchmark:
            A3_OUT + "/benchmarks/data.tsv"
        conda:
            "../../envs/argus3d.yaml"
        shell:
            "python -m papers.argus3d.make_data scale={SCALE} run.out_dir={output} > {log} 2>&1"


rule argus3d_stage1:
    input:
        A3_DATA if A3_PROCEDURAL else [],
    output:
        model=A3_OUT + "/stage1/{a3rep}/model.pt",
        codes=A3_OUT + "/stage1/{a3rep}/codes.npz",
        recon=A3_OUT + "/stage1/{a3rep}/recon.npz",
        summary=A3_OUT + "/stage1/{a3rep}/stage1.json",
        log=A3_OUT + "/stage1/{a3rep}/train_log.csv",
    params:
        cfg_hash=lambda w: a3_hash(f"stage1.rep={w.a3rep}", rule="stage1"),
        out_dir=A3_OUT + "/stage1/{a3rep}",
    threads: 1
    resources:
        mem_mb=A3_RES[0],
        runtime=A3_RES[1],
        gpu=A3_GPU,
    log:
        A3_OUT + "/logs/stage1_{a3rep}.log",
    benchmark:
        A3_OUT + "/benchmarks/stage1_{a3rep}.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m papers.argus3d.train_stage1 scale={SCALE} {A3_DATA_ARG}"
        " stage1.rep={wildcards.a3rep} run.out_dir={params.out_dir}"
        " run.threads={threads} > {log} 2>&1"


rule argus3d_stage2:
    input:
        model=lambda w: f"{A3_OUT}/stage1/{A3_RUNS[w.a3run].rep}/model.pt",
        codes=lambda w: f"{A3_OUT}/stage1/{A3_RUNS[w.a3run].rep}/codes.npz",
    output:
        samples=A3_OUT + "/gen/{a3run}/samples.npz",
        summary=A3_OUT + "/gen/{a3run}/stage2.json",
        gpt=A3_OUT + "/gen/{a3run}/gpt.pt",
        log=A3_OUT + "/gen/{a3run}/train_log.csv",
    params:
        cfg_hash=lambda w: a3_hash(*A3_RUNS[w.a3run].overrides(), rule="stage2"),
        overrides=lambda w: " ".join(A3_RUNS[w.a3run].overrides()),
        out_dir=A3_OUT + "/gen/{a3run}",
    threads: 1
    resources:
        mem_mb=A3_RES[0],
        runtime=A3_RES[1],
        gpu=A3_GPU,
    log:
        A3_OUT + "/logs/stage2_{a3run}.log",
    benchmark:
        A3_OUT + "/benchmarks/stage2_{a3run}.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m papers.argus3d.train_stage2 scale={SCALE} {A3_DATA_ARG} {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


rule argus3d_evaluate:
    input:
        samples=A3_OUT + "/gen/{a3run}/samples.npz",
        summary=A3_OUT + "/gen/{a3run}/stage2.json",
        recon=lambda w: f"{A3_OUT}/stage1/{A3_RUNS[w.a3run].rep}/recon.npz",
    output:
        A3_OUT + "/gen/{a3run}/metrics.json",
    params:
        cfg_hash=lambda w: a3_hash(*A3_RUNS[w.a3run].evaluate_overrides()),
        overrides=lambda w: " ".join(A3_RUNS[w.a3run].evaluate_overrides()),
        out_dir=A3_OUT + "/gen/{a3run}",
    threads: 1
    resources:
        mem_mb=A3_RES[0],
        runtime=A3_RES[1],
        gpu=0,
    log:
        A3_OUT + "/logs/evaluate_{a3run}.log",
    benchmark:
        A3_OUT + "/benchmarks/evaluate_{a3run}.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m papers.argus3d.evaluate scale={SCALE} {A3_DATA_ARG} {params.overrides}"
        " run.out_dir={params.out_dir} run.threads={threads} > {log} 2>&1"


A3_STAGE1 = expand(A3_OUT + "/stage1/{rep}/stage1.json", rep=A3_REPS)
A3_METRICS = expand(A3_OUT + "/gen/{run}/metrics.json", run=list(A3_RUNS))


rule argus3d_summarize:
    input:
        A3_STAGE1,
        A3_METRICS,
    output:
        A3_OUT + "/metrics.json",
    params:
        cfg_hash=a3_hash(),
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        A3_OUT + "/logs/summarize.log",
    benchmark:
        A3_OUT + "/benchmarks/summarize.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m papers.argus3d.summarize scale={SCALE} {A3_DATA_ARG}"
        " run.out_dir={A3_OUT} > {log} 2>&1"


rule argus3d_claims:
    input:
        metrics=A3_OUT + "/metrics.json",
        claims="papers/argus3d/claims.yaml",
    output:
        A3_OUT + "/claims.csv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    log:
        A3_OUT + "/logs/claims.log",
    benchmark:
        A3_OUT + "/benchmarks/claims.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m common.claims --claims {input.claims} --metrics {input.metrics}"
        " --scale {SCALE} --out {output} > {log} 2>&1"


rule argus3d_figures:
    input:
        A3_OUT + "/metrics.json",
    output:
        report(
            directory(A3_OUT + "/figures"),
            patterns=["{name}.png"],
            category="Argus3D",
            caption="report_caption.rst",
        ),
    params:
        cfg_hash=a3_hash(),
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    log:
        A3_OUT + "/logs/figures.log",
    benchmark:
        A3_OUT + "/benchmarks/figures.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m papers.argus3d.figures scale={SCALE} {A3_DATA_ARG}"
        " run.out_dir={A3_OUT} > {log} 2>&1"


rule argus3d_report:
    input:
        claims=A3_OUT + "/claims.csv",
        metrics=A3_OUT + "/metrics.json",
        figures=A3_OUT + "/figures",
        meta="papers/argus3d/report.yaml",
    output:
        f"reports/{SCALE}/{A3}.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        A3_OUT + "/logs/report.log",
    benchmark:
        A3_OUT + "/benchmarks/report.tsv"
    conda:
        "../../envs/argus3d.yaml"
    shell:
        "python -m common.report paper --paper {A3} --scale {SCALE} --claims {input.claims}"
        " --metrics {input.metrics} --figures {input.figures} --benchmarks {A3_OUT}/benchmarks"
        " --out {output} > {log} 2>&1"
