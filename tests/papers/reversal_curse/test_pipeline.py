"""The reversal-curse package inside the shared smoke-scale DAG run (fixture in conftest)."""

import pandas as pd
from pypdf import PdfReader

from common.io import read_metrics
from tests.dag import rendered_texts


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
        "untrained.logp_gap.p2d_reverse_prompts_test",
        "enc_untrained.fill_name.p2d_prompts_train",
    )
    assert all(len(metrics[key]) == 2 for key in keys)
    # no checkpoint left behind once a run's model is written
    assert not list(out.glob("runs/*/seed*/checkpoint.pt"))


def test_reversal_curse_texts_show_no_missing_value(smoke_dag):
    rendered = rendered_texts(smoke_dag, "reversal_curse")  # "—": a missing or non-finite metric
    assert rendered and not any("—" in text for text in rendered)
