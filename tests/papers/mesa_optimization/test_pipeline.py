"""The mesa-optimization package inside the shared smoke-scale DAG run (fixture in conftest):
every template of claims.yaml and report.yaml renders strictly against its metrics."""

import pandas as pd

from common.config import compose_config


def render_all_templates(metrics: dict, scale: str = "smoke") -> list[str]:
    """Every claim note and report deviation/summary, rendered strictly (a typo raises)."""
    from common.claims import load_claims
    from common.io import read_yaml
    from common.templating import render

    context = {"cfg": compose_config("mesa_optimization", [f"scale={scale}"])}
    meta = read_yaml("papers/mesa_optimization/report.yaml")
    texts = [c["note"] for c in load_claims("papers/mesa_optimization/claims.yaml")]
    texts += [meta["summary"], *meta.get("deviations", [])]
    return [render(t, metrics, context, strict=True) for t in texts]


def test_mesa_optimization_smoke_pipeline(smoke_dag):
    from pypdf import PdfReader

    from common.io import read_metrics

    out = smoke_dag / "results/smoke/mesa_optimization"
    metrics, _ = read_metrics(out / "metrics.json")
    rendered = render_all_templates(metrics)
    assert all("{{" not in text and "—" not in text for text in rendered)
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["status"]) == {"SMOKE"} and len(claims) == 14
    report = smoke_dag / "reports/smoke/mesa_optimization.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert all(claim in text for claim in claims["id"])
    for stem in ("ab_gaussian", "ab_sparse", "ratio_mse", "heatmaps", "ones", "conservation"):
        assert (out / f"figures/{stem}.png").exists() and (out / f"figures/{stem}.json").exists()
