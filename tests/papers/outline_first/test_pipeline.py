"""The outline-first package inside the shared smoke-scale DAG run (fixture in conftest)."""

from pypdf import PdfReader

from tests.dag import rendered_texts


def test_outline_first_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/outline_first.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C1", "C2", "C3", "C4a", "C5a", "C6"):
        assert claim in text
    figures = smoke_dag / "results/smoke/outline_first/figures"
    for stem in ("trajectories", "deviation", "commitment", "geometry", "kicks", "skipping"):
        assert (figures / f"{stem}.png").exists() and (figures / f"{stem}.json").exists()


def test_outline_first_texts_are_8_notes_a_summary_and_5_deviations(smoke_dag):
    assert len(rendered_texts(smoke_dag, "outline_first")) == 8 + 1 + 5
