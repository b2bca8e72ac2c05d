"""The mesa-optimization package inside the shared smoke-scale DAG run (fixture in conftest).
Strict rendering of every note is tests/test_workflow.py's; here: no note shows a missing value."""

import pandas as pd

from tests.dag import rendered_texts


def test_mesa_optimization_smoke_pipeline(smoke_dag):
    from pypdf import PdfReader

    out = smoke_dag / "results/smoke/mesa_optimization"
    rendered = rendered_texts(smoke_dag, "mesa_optimization")
    assert all("—" not in text for text in rendered)  # "—": a missing or non-finite metric
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["status"]) == {"SMOKE"} and len(claims) == 14
    report = smoke_dag / "reports/smoke/mesa_optimization.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert all(claim in text for claim in claims["id"])
    for stem in ("ab_gaussian", "ab_sparse", "ratio_mse", "heatmaps", "ones", "conservation"):
        assert (out / f"figures/{stem}.png").exists() and (out / f"figures/{stem}.json").exists()
