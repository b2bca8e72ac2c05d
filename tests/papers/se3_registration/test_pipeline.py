"""The se3_registration package inside the shared smoke-scale DAG run (fixture in conftest)."""

import pandas as pd
from pypdf import PdfReader

from common.config import compose_config


def test_se3_registration_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/se3_registration.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C0", "C1", "C2", "C3", "C4"):
        assert claim in text
    cfg = compose_config("se3_registration", ["scale=smoke"])
    noise_mm = f"{cfg.diffusion.sigma_t * cfg.diffusion.length_unit_mm:.2g} / "  # released mm
    assert "diameter / 200 mm" in text and noise_mm in text
    out = smoke_dag / "results/smoke/se3_registration"
    for stem in ("chain", "start"):
        assert (out / "figures" / f"{stem}.csv").exists()
    for stem in ("steps", "cdf", "examples", "denoise", "training"):
        assert (out / "figures" / f"{stem}.png").exists() and (
            out / "figures" / f"{stem}.json"
        ).exists()
    table = pd.read_csv(out / "figures" / "results.csv")
    assert len(table) == 6 and "2 cm (released, squared)" in table.columns
    assert "1 cm* (scaled)" in table.columns
    for name in ("models.npz", "train.npz", "test.npz"):
        assert (out / "data" / name).exists()
    assert (out / "data/bop/models/models_info.json").exists()
    assert not list(out.rglob("checkpoint.pt"))  # removed once the outputs are written
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["status"]) == {"SMOKE"}
