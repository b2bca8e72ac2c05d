"""The argus3d package inside the shared smoke-scale DAG run (fixture in conftest)."""

from pathlib import Path

import pandas as pd
from pypdf import PdfReader

from common.claims import load_claims
from common.config import compose_config
from common.io import read_metrics, read_yaml
from common.templating import render

PAPER = Path("papers/argus3d")


def render_templates(metrics_json: Path, scale: str = "smoke") -> list[str]:
    """Every claim note and report summary/deviation, rendered strictly (a typo or a metric the
    pipeline does not write raises)."""
    metrics, _ = read_metrics(metrics_json)
    context = {"cfg": compose_config("argus3d", [f"scale={scale}"])}
    report = read_yaml(PAPER / "report.yaml")
    texts = [c["note"] for c in load_claims(PAPER / "claims.yaml") if c["note"]]
    texts += [report["summary"], *report["deviations"]]
    return [render(t, metrics, context, strict=True) for t in texts]


def test_argus3d_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/argus3d.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C1", "C2", "C3", "C4", "C5", "C6", "C7"):
        assert claim in text
    out = smoke_dag / "results/smoke/argus3d"
    for stem in ("samples", "samples_by_rep", "scaling", "training"):
        assert (out / "figures" / f"{stem}.png").exists()
    for stem in ("representation", "generation", "token_order", "scaling_table"):
        assert (out / "figures" / f"{stem}.csv").exists()
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["status"]) == {"SMOKE"}
    assert claims.set_index("id").loc["C4", "null"] == "order_gap_triplane"
    # stage 1 is trained once per representation and shared by every stage-2 run
    assert sorted(p.name for p in (out / "stage1").iterdir()) == ["grid", "latent", "triplane"]


def test_argus3d_templates_render_strictly(smoke_dag):
    rendered = render_templates(smoke_dag / "results/smoke/argus3d/metrics.json")
    assert all("{{" not in t and "{%" not in t for t in rendered)
