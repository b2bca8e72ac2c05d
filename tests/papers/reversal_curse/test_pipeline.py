"""The reversal-curse package inside the shared smoke-scale DAG run (fixture in conftest)."""

from pathlib import Path

import pandas as pd
from pypdf import PdfReader

from common.claims import load_claims
from common.config import compose_config
from common.io import read_metrics, read_yaml
from common.templating import render

PAPER = Path(__file__).resolve().parents[3] / "papers/reversal_curse"


def render_all_strict(metrics_json: Path, scale: str = "smoke") -> list[str]:
    """Every note of claims.yaml and every deviation/summary of report.yaml, rendered strictly
    (an unknown metric or config key raises) against a metrics.json the pipeline wrote."""
    metrics, _ = read_metrics(metrics_json)
    context = {"cfg": compose_config("reversal_curse", [f"scale={scale}"])}
    meta = read_yaml(PAPER / "report.yaml")
    texts = [c["note"] for c in load_claims(PAPER / "claims.yaml") if c["note"]]
    texts += [meta["summary"], *meta["deviations"]]
    return [render(text, metrics, context, strict=True) for text in texts]


def test_reversal_curse_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/reversal_curse.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    claims = pd.read_csv(smoke_dag / "results/smoke/reversal_curse/claims.csv")
    for claim in claims["id"]:
        assert claim in text
    assert set(claims["status"]) == {"SMOKE"}
    out = smoke_dag / "results/smoke/reversal_curse"
    for stem in ("accuracy", "logprob", "loss"):
        assert (out / f"figures/{stem}.png").exists() and (out / f"figures/{stem}.json").exists()
    table = pd.read_csv(out / "figures/accuracy_table.csv")
    assert len(table) == 12 and "BERT, uniform masking rate" in table.columns
    metrics, _ = read_metrics(out / "metrics.json")
    # every variant present, one value per seed
    keys = (
        "decoder.acc.p2d_reverse_prompts_test",
        "reverse.mrr.p2d_reverse_prompts_test",
        "enc_fixed.fill_name.p2d_prompts_train",
        "enc_uniform.fill_desc.d2p_prompts_train",
    )
    assert all(len(metrics[key]) == 1 for key in keys)
    # no checkpoint left behind once a run's model is written
    assert not list(out.glob("runs/*/seed*/checkpoint.pt"))


def test_reversal_curse_templates_render_strictly(smoke_dag):
    rendered = render_all_strict(smoke_dag / "results/smoke/reversal_curse/metrics.json")
    assert rendered and not any("{{" in text or "—" in text for text in rendered)
