"""The outline-first package inside the shared smoke-scale DAG run (fixture in conftest)."""

from pathlib import Path

from pypdf import PdfReader

from common.claims import load_claims
from common.config import compose_config
from common.io import read_metrics, read_yaml
from common.templating import render

PAPER = Path("papers/outline_first")


def render_templates_strictly(root: Path) -> int:
    """Render every claim note and every report summary/deviation of the package in strict
    mode against the smoke metrics under ``root``; return how many templates were rendered."""
    metrics, _ = read_metrics(root / "results/smoke/outline_first/metrics.json")
    context = {"cfg": compose_config("outline_first", ["scale=smoke"])}
    texts = [c["note"] for c in load_claims(root / PAPER / "claims.yaml") if c["note"]]
    meta = read_yaml(root / PAPER / "report.yaml")
    texts += [meta["summary"], *meta["deviations"]]
    for text in texts:
        rendered = render(text, metrics, context, strict=True)
        assert "{{" not in rendered, rendered
    return len(texts)


def test_outline_first_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/outline_first.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C1", "C2", "C3", "C4a", "C5a", "C6"):
        assert claim in text
    figures = smoke_dag / "results/smoke/outline_first/figures"
    for stem in ("trajectories", "deviation", "commitment", "geometry", "kicks", "skipping"):
        assert (figures / f"{stem}.png").exists() and (figures / f"{stem}.json").exists()


def test_outline_first_templates_render_strictly(smoke_dag):
    assert render_templates_strictly(smoke_dag) == 8 + 1 + 4
