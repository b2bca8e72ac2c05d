"""Reproduction DAG: every selected paper's report at one scale, plus a summary.

snakemake                                   # all papers, cpu scale (profiles/default)
snakemake --config scale=smoke              # CI scale
snakemake --config papers=[mesa_optimization]
snakemake --config scale=paper 'data_dir={reversal_curse: /data/reversal_curse}'

Each papers/<name>/workflow.smk brings its own stages (data, train, evaluate, ...) ending in
results/<scale>/<name>/metrics.json (aggregate) and results/<scale>/<name>/figures (figures);
the claims and report rules below are shared by all papers.
"""

import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)  # import `common` and `papers` without installing

from common.config import cached_hash
from common.locks import clear_stale_lock

SCALES = ("smoke", "cpu", "paper")
PAPERS = sorted(
    p.parent.name for p in Path(workflow.basedir, "papers").glob("*/workflow.smk")
)
CONFIG_KEYS = ("scale", "papers", "data_dir")


def refuse(msg):
    """Bad --config: one line on stderr, exit 1, nothing planned."""
    raise SystemExit(f"error: {msg}")


unknown_keys = sorted(set(config) - set(CONFIG_KEYS))
if unknown_keys:
    refuse(
        f"unknown --config key {unknown_keys[0]!r}; allowed: {', '.join(CONFIG_KEYS)}"
    )
config.setdefault("scale", "cpu")
config.setdefault("papers", PAPERS)
config.setdefault("data_dir", {})
SCALE = config["scale"]
SELECTED = [config["papers"]] if isinstance(config["papers"], str) else config["papers"]
if SCALE not in SCALES:
    refuse(f"config scale must be one of {', '.join(SCALES)}; got {SCALE!r}")
if (
    not isinstance(SELECTED, list)
    or not SELECTED
    or sorted(set(map(str, SELECTED)) - set(PAPERS))
):
    refuse(f"config papers must name some of {', '.join(PAPERS)}; got {SELECTED!r}")
if not isinstance(config["data_dir"], dict) or set(config["data_dir"]) - set(PAPERS):
    refuse(
        f"config data_dir must map paper names to folders, e.g. "
        f"'data_dir={{{PAPERS[0]}: /data/x}}'; got {config['data_dir']!r}"
    )

clear_stale_lock()  # a killed run left its lock: the same command recovers


include: "common/workflow.smk"


for paper in PAPERS:

    include: f"papers/{paper}/workflow.smk"


wildcard_constraints:
    paper="|".join(PAPERS),


rule all:
    default_target: True
    input:
        # claims.csv too: a fresh clone holds the committed reference PDFs but no results/,
        # and asking for the results makes Snakemake rebuild (not trust) those PDFs
        expand("results/{scale}/{paper}/claims.csv", scale=SCALE, paper=SELECTED),
        expand("reports/{scale}/{paper}.pdf", scale=SCALE, paper=SELECTED),
        f"reports/{SCALE}/summary.pdf",


rule claims:
    input:
        metrics=f"results/{SCALE}/{{paper}}/metrics.json",
        claims="papers/{paper}/claims.yaml",
    output:
        report(
            f"results/{SCALE}/{{paper}}/claims.csv",
            caption="common/templates/claims_caption.rst",
            category="{paper}",
            labels={"paper": "{paper}", "table": "claims scorecard"},
        ),
    log:
        f"results/{SCALE}/{{paper}}/logs/claims.log",
    benchmark:
        f"results/{SCALE}/{{paper}}/benchmarks/claims.tsv"
    conda:
        "envs/common.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # the notes may quote the paper's config at this scale
        cfg_hash=lambda w: cached_hash(w.paper, (f"scale={SCALE}",)),
        scale=lambda w: SCALE,
    shell:
        "python -m common.claims --paper {wildcards.paper} --claims {input.claims}"
        " --metrics {input.metrics} --scale {params.scale} --out {output} > {log} 2>&1"


rule report:
    input:
        claims=f"results/{SCALE}/{{paper}}/claims.csv",
        metrics=f"results/{SCALE}/{{paper}}/metrics.json",
        figures=f"results/{SCALE}/{{paper}}/figures",
        meta="papers/{paper}/report.yaml",
    output:
        f"reports/{SCALE}/{{paper}}.pdf",
    log:
        f"results/{SCALE}/{{paper}}/logs/report.log",
    benchmark:
        f"results/{SCALE}/{{paper}}/benchmarks/report.tsv"
    conda:
        "envs/common.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg_hash=lambda w: cached_hash(w.paper, (f"scale={SCALE}",)),
        scale=lambda w: SCALE,
        benchmarks=f"results/{SCALE}/{{paper}}/benchmarks",
    shell:
        "python -m common.report paper --paper {wildcards.paper} --scale {params.scale}"
        " --claims {input.claims} --metrics {input.metrics} --figures {input.figures}"
        " --benchmarks {params.benchmarks} --out {output} > {log} 2>&1"


rule summary:
    input:
        claims=expand("results/{scale}/{paper}/claims.csv", scale=SCALE, paper=SELECTED),
    output:
        f"reports/{SCALE}/summary.pdf",
    log:
        f"results/{SCALE}/logs/summary.log",
    benchmark:
        f"results/{SCALE}/benchmarks/summary.tsv"
    conda:
        "envs/common.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        scale=lambda w: SCALE,
    shell:
        "python -m common.report summary --scale {params.scale} --out {output} {input.claims}"
        " > {log} 2>&1"
