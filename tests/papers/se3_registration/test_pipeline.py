"""The se3_registration package inside the shared smoke-scale DAG run (fixture in conftest)."""

from pathlib import Path

import pandas as pd
from pypdf import PdfReader

from common.claims import load_claims
from common.config import compose_config
from common.io import read_metrics, read_yaml
from common.templating import render

PAPER = "se3_registration"
ROOT = Path(__file__).resolve().parents[3]


def render_all_strict(metrics_json: Path, scale: str = "smoke") -> list[str]:
    """Every claim note and every report deviation/summary, rendered in strict mode (a typo in
    a metric or config name raises) against the metrics a pipeline wrote."""
    metrics, _ = read_metrics(metrics_json)
    context = {"cfg": compose_config(PAPER, [f"scale={scale}"])}
    texts = [c["note"] for c in load_claims(ROOT / "papers" / PAPER / "claims.yaml")]
    meta = read_yaml(ROOT / "papers" / PAPER / "report.yaml")
    texts += [*meta["deviations"], meta["summary"]]
    return [render(text, metrics, context, strict=True) for text in texts]


def test_se3_registration_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/se3_registration.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C0", "C1", "C2", "C3", "C4"):
        assert claim in text
    assert "released, squared" in text and "diameter / 200 mm" in text
    out = smoke_dag / "results/smoke/se3_registration"
    for stem in ("steps", "cdf", "examples", "denoise", "training"):
        assert (out / "figures" / f"{stem}.png").exists() and (
            out / "figures" / f"{stem}.json"
        ).exists()
    table = pd.read_csv(out / "figures" / "results.csv")
    assert len(table) == 5 and "2 cm* (released, squared)" in table.columns
    for name in ("models.npz", "train.npz", "test.npz"):
        assert (out / "data" / name).exists()
    assert (out / "data/bop/models/models_info.json").exists()
    assert not list(out.rglob("checkpoint.pt"))  # removed once the outputs are written
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["status"]) == {"SMOKE"}


def test_se3_registration_templates_render_strictly(smoke_dag):
    rendered = render_all_strict(smoke_dag / "results/smoke/se3_registration/metrics.json")
    assert all("{{" not in text and "{%" not in text for text in rendered)
