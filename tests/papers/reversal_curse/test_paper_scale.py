"""Paper scale on CPU: released-shaped files, a from-scratch tiny decoder, the authors' probes."""

from __future__ import annotations

import pytest

from common.io import read_metrics
from papers.reversal_curse.stats import chance_mrr
from tests.papers.reversal_curse.released import AUTHORS_SEVEN, write_released

TINY = ["model.pretrained=", "train.epochs=0", "train.steps=3", "model.layers=1",
        "model.width=32", "model.heads=2", "eval.batch_size=8"]  # fmt: skip


@pytest.mark.parametrize("variant", ["decoder", "untrained"])
def test_paper_scale_tiny_run_on_released_files(tmp_path, variant):
    from papers.reversal_curse import data, evaluate, train

    released = tmp_path / "released"
    released.mkdir()
    subsets = write_released(released, per_subset=3)
    out, run = tmp_path / "data", tmp_path / "run"
    data.main(["scale=paper", f"run.data_dir={released}", f"run.out_dir={out}"])
    args = ["scale=paper", f"variant={variant}", "seed=0", *TINY, f"run.data_dir={out}"]
    train.main([*args, f"run.out_dir={run}"])
    evaluate.main([*args, f"run.out_dir={run}"])
    metrics, _ = read_metrics(run / "metrics.json")
    for stem in AUTHORS_SEVEN + ("validation_prompts",):
        assert f"logp.{stem}" in metrics
        assert (f"acc.{stem}" in metrics) == (not stem.endswith("_randomized"))
    # candidates: the subset's 3 people, not the d2p training file's 12 distinct completions
    for stem in ("d2p_prompts_train", "d2p_prompts_test", "p2d_reverse_prompts_test"):
        assert metrics[f"mrr_chance.{stem}"] == pytest.approx(chance_mrr(len(subsets["d2p"])))
        assert 0.0 <= metrics[f"logp_p.{stem}"] <= 1.0
