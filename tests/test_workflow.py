"""The whole Snakemake DAG at smoke scale, in a temporary copy of the repository.

Checks the PDFs exist and show the scorecard, that a finished DAG has nothing to do,
that a comment-only config edit reruns nothing, and that editing one experiment
reruns exactly that experiment's jobs (and what depends on them). Each paper's own
smoke checks live in tests/papers/<name>/ and share the `smoke_dag` fixture (conftest).
"""

from pypdf import PdfReader

from tests.dag import COPY, copy_repo, planned_jobs, snakemake


def test_reports_render_with_scorecard(smoke_dag):
    report = smoke_dag / "reports/smoke/mesa_optimization.pdf"
    summary = smoke_dag / "reports/smoke/summary.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert "Claims" in text and "C1a" in text and "SMOKE" in text
    assert "Figure 1" in text and "Run times" in text
    assert "mesa" in "".join(p.extract_text() for p in PdfReader(summary).pages).lower()
    claims = (smoke_dag / "results/smoke/mesa_optimization/claims.csv").read_text()
    assert "PASS" not in claims and "FAIL" not in claims  # smoke never asserts
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
        assert jobs["mesa_optimization_report"] == 1
    finally:
        conf.write_text(original)


def test_fresh_clone_rebuilds_despite_committed_reports(tmp_path):
    """The committed reference PDFs must not make `make reproduce` a no-op on a fresh clone."""
    work = copy_repo(tmp_path, (*COPY, "reports"))
    assert (work / "reports/cpu/mesa_optimization.pdf").exists()
    jobs = planned_jobs(snakemake(work, "-n", scale="cpu"))
    assert jobs.get("mesa_optimization_train", 0) > 0 and jobs.get("outline_first_train", 0) > 0
