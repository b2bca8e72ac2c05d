"""The reverse-distillation package inside the shared smoke-scale DAG run (fixture in conftest)."""

import pandas as pd
from pypdf import PdfReader

from common.io import load_npz, read_metrics
from papers.reverse_distillation.rd import load_chain


def test_reverse_distillation_smoke_pipeline(smoke_dag):
    report = smoke_dag / "reports/smoke/reverse_distillation.pdf"
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    for claim in ("C1", "C2a", "C2b", "C3"):
        assert claim in text
    out = smoke_dag / "results/smoke/reverse_distillation"
    for stem in ("scaling", "per_assay", "explained", "training"):  # figures
        assert (out / "figures" / f"{stem}.png").exists()
        assert (out / "figures" / f"{stem}.json").exists()
    for stem in ("spearman", "probes", "ablations"):  # tables
        assert (out / "figures" / f"{stem}.csv").exists()
        assert (out / "figures" / f"{stem}.json").exists()
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["status"]) == {"SMOKE"}
    assert not (out / "figures/nesting.png").exists()  # nesting is a unit test, not evidence
    metrics, _ = read_metrics(out / "metrics.json")
    assert len(metrics["rd_minus_raw_min"]) == 1  # one seed, aggregated
    # the rotation null scores exactly as raw under the (rotation-invariant) claims' probe
    assert abs(metrics["rot_minus_raw_min"][0]) < 1e-6
    # cached embeddings and fitted scalers are separate outputs that load back
    run = out / "seed0"
    assert (pd.read_csv(run / "evaluate/nesting.csv")["max_abs_diff"] == 0).all()
    emb = load_npz(run / "embeddings/esm2_t1_d16.npz")
    assert emb["fit_residues"].shape[1] == emb["assay_pooled"].shape[1] == 16
    assert len(load_chain(run / "evaluate/scalers_pcr.npz")) == 2
    assert (run / "models/esm2_t1_d16/model.safetensors").exists()


def test_probe_change_reruns_evaluate_but_not_training(smoke_dag, tmp_path):
    """Models and embeddings are cached outputs (of the training job, for models trained here):
    only a change to what they read reruns them."""
    import shutil

    from tests.dag import planned_jobs, snakemake

    work = shutil.copytree(smoke_dag, tmp_path / "repo", symlinks=True)
    scale = work / "papers/reverse_distillation/conf/scale/smoke.yaml"
    base = scale.read_text()
    args = ("papers=[reverse_distillation]", "-n")  # appended to --config scale=smoke
    scale.write_text(base + "probe:\n  folds: 4\n")
    jobs = planned_jobs(snakemake(work, *args))
    assert jobs.get("reverse_distillation_evaluate") == 1
    assert "reverse_distillation_train" not in jobs and "reverse_distillation_embed" not in jobs
    scale.write_text(base.replace("steps: 10", "steps: 12"))
    jobs = planned_jobs(snakemake(work, *args))
    assert jobs.get("reverse_distillation_train") == 3  # trained-here models embed in train
    assert "reverse_distillation_embed" not in jobs
