"""The whole Snakemake DAG at smoke scale, in a temporary copy of the repository.

Checks the PDFs exist and show the scorecard, that a finished DAG has nothing to do,
that a comment-only config edit reruns nothing, and that editing one experiment
reruns exactly that experiment's jobs (and what depends on them). Each paper's own
smoke checks live in tests/papers/<name>/ and share the `smoke_dag` fixture (conftest).
"""

import json
import time

import pytest
from pypdf import PdfReader

from common.claims import read_claims_csv
from common.config import compose_config
from tests.dag import COPY, PAPERS, copy_repo, planned_jobs, rendered_texts, snakemake


def test_reports_render_with_scorecard(smoke_dag):
    report = smoke_dag / "reports/smoke/mesa_optimization.pdf"
    summary = smoke_dag / "reports/smoke/summary.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert "Claims" in text and "C1a" in text and "SMOKE" in text
    assert "Figure 1" in text and "Run times" in text
    assert "mesa" in "".join(p.extract_text() for p in PdfReader(summary).pages).lower()
    claims = read_claims_csv(smoke_dag / "results/smoke/mesa_optimization/claims.csv")
    assert set(claims["status"]) == {"SMOKE"}  # smoke never asserts
    bench = list((smoke_dag / "results/smoke/mesa_optimization/benchmarks").glob("*.tsv"))
    assert len(bench) >= 10


def test_finished_dag_has_nothing_to_do(smoke_dag):
    proc = snakemake(smoke_dag, "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_comment_edit_reruns_nothing_value_edit_reruns_its_jobs(smoke_dag):
    conf = smoke_dag / "papers/mesa_optimization/conf/experiment/sparse_c1.yaml"
    original = conf.read_text()
    try:
        conf.write_text(original + "# a comment only\n")
        assert "Nothing to be done" in (p := snakemake(smoke_dag, "-n")).stdout + p.stderr
        conf.write_text(original.replace("lr: 1e-3", "lr: 2e-3"))
        jobs = planned_jobs(snakemake(smoke_dag, "-n"))
        smoke_inits = 2  # small, large (conf/scale/smoke.yaml)
        assert jobs["mesa_optimization_train"] == smoke_inits
        assert jobs["mesa_optimization_evaluate"] == smoke_inits
        assert jobs["report"] == 1
    finally:
        conf.write_text(original)


def test_fresh_clone_rebuilds_despite_committed_reports(tmp_path):
    """The committed reference PDFs must not make `make reproduce` a no-op on a fresh clone."""
    work = copy_repo(tmp_path, (*COPY, "reports"))
    assert (work / "reports/cpu/mesa_optimization.pdf").exists()
    jobs = planned_jobs(snakemake(work, "-n", scale="cpu"))
    assert jobs.get("mesa_optimization_train", 0) > 0 and jobs.get("outline_first_train", 0) > 0


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
@pytest.mark.parametrize("paper", PAPERS)
def test_every_paper_composes_at_every_scale(paper, scale):
    cfg = compose_config(paper, [f"scale={scale}"])
    assert "data_dir" in cfg.run and cfg.run.threads >= 1


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_dag_plans_at_every_scale(tmp_path, scale):
    work = copy_repo(tmp_path)
    # paper scale reads the released data sets: point every paper at an (empty) folder of its own
    folders = {paper: tmp_path / "data" / paper for paper in PAPERS}
    for folder in folders.values():
        folder.mkdir(parents=True)
    data_dir = "data_dir={" + ", ".join(f"{p}: {f}" for p, f in folders.items()) + "}"
    proc = snakemake(work, "-n", *([data_dir] if scale == "paper" else []), scale=scale)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    if scale == "paper":  # the data rules read the folders given on the command line
        assert all(
            str(f) in proc.stdout + proc.stderr
            for p, f in folders.items()
            if p != "mesa_optimization"
        )
    jobs = planned_jobs(proc)
    assert jobs["report"] == len(PAPERS) and jobs["claims"] == len(PAPERS)


def _dry_run_seconds(workdir, *args) -> float:
    """Wall seconds of a warm ``snakemake -n`` in ``workdir`` (the first run warms caches)."""
    snakemake(workdir, "-n", *args)
    start = time.perf_counter()
    proc = snakemake(workdir, "-n", *args)
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    return time.perf_counter() - start


def test_up_to_date_dry_run_is_quick(smoke_dag, tmp_path):
    """Planning the finished DAG takes at most twice Snakemake's own start-up, measured as a
    one-rule workflow's dry run in the same environment (2-3 s, varying with the machine, so
    a ratio times the workflow, not the machine). Composing every job's config with Hydra
    instead of reading the config cache takes about five times as long and fails it."""
    (tmp_path / "Snakefile").write_text('rule all:\n    output: "a"\n    shell: "touch {output}"\n')
    (tmp_path / "a").touch()
    bare = _dry_run_seconds(tmp_path, "--cores", "1")
    ours = _dry_run_seconds(smoke_dag)
    assert ours <= 2 * bare, f"snakemake -n took {ours:.1f} s, a one-rule workflow {bare:.1f} s"


def test_snakemake_html_report_has_figure_captions_and_claims(smoke_dag):
    out = smoke_dag / "report.html"
    proc = snakemake(smoke_dag, "--report", str(out))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    html = out.read_text()
    assert html.count("claims.csv") >= len(PAPERS)
    for paper in PAPERS:  # each figure's own caption (from its sidecar) is in the report
        sidecar = next((smoke_dag / f"results/smoke/{paper}/figures").glob("*.png")).with_suffix(
            ".json"
        )
        caption = json.loads(sidecar.read_text())["caption"].replace("{", "(").replace("}", ")")
        assert caption[:40] in html, (paper, sidecar.name)


@pytest.mark.parametrize("paper", PAPERS)
def test_every_note_and_report_text_renders_from_smoke_metrics(smoke_dag, paper):
    """Strict rendering: a typo in a template's metric or config name fails here."""
    rendered = rendered_texts(smoke_dag, paper)
    assert not [r for r in rendered if "{{" in r or "{%" in r]


def test_no_figure_has_overlapping_tick_labels(smoke_dag):
    logs = list(smoke_dag.glob("results/smoke/*/logs/**/*figures*.log"))
    assert len(logs) >= len(PAPERS)
    assert not [p for p in logs if "overlapping tick labels" in p.read_text()]
