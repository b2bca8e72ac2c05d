"""Reproduction DAG: every selected paper's report at one scale, plus a summary.

snakemake                                   # all papers, cpu scale (profiles/default)
snakemake --config scale=smoke              # CI scale
snakemake --config papers=[mesa_optimization]
"""

import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # import `common` and `papers` without installing

SCALES = ("smoke", "cpu", "paper")
PAPERS = sorted(p.parent.name for p in Path(workflow.basedir, "papers").glob("*/workflow.smk"))

config.setdefault("scale", "cpu")
config.setdefault("papers", PAPERS)
SCALE = str(config["scale"])
SELECTED = [config["papers"]] if isinstance(config["papers"], str) else list(config["papers"])
if SCALE not in SCALES:
    raise ValueError(f"config scale must be one of {SCALES}, got {SCALE!r}")
unknown = sorted(set(SELECTED) - set(PAPERS))
if unknown:
    raise ValueError(f"unknown paper(s) {unknown}; available: {PAPERS}")


for paper in PAPERS:
    include: f"papers/{paper}/workflow.smk"


rule all:
    input:
        # claims.csv too: a fresh clone holds the committed reference PDFs but no results/,
        # and asking for the results makes Snakemake rebuild (not trust) those PDFs
        expand("results/{scale}/{paper}/claims.csv", scale=SCALE, paper=SELECTED),
        expand("reports/{scale}/{paper}.pdf", scale=SCALE, paper=SELECTED),
        f"reports/{SCALE}/summary.pdf",
    default_target: True


rule summary:
    input:
        claims=expand("results/{scale}/{paper}/claims.csv", scale=SCALE, paper=SELECTED),
    output:
        f"reports/{SCALE}/summary.pdf",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"results/{SCALE}/logs/summary.log",
    benchmark:
        f"results/{SCALE}/benchmarks/summary.tsv"
    shell:
        "python -m common.report summary --scale {SCALE} --out {output} {input.claims} > {log} 2>&1"
