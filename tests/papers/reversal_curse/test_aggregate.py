"""Per-seed merge of the (variant, seed) runs."""

import pytest

from common.io import read_metrics, write_metrics
from papers.reversal_curse.aggregate import aggregate, main


def _run(root, variant, seed, **metrics):
    path = root / "runs" / variant / f"seed{seed}" / "metrics.json"
    write_metrics(path, metrics, {})
    return path


def test_aggregate_prefixes_variants_and_orders_seeds(tmp_path):
    paths = [
        _run(tmp_path, "decoder", 1, **{"acc.a": 0.5}),
        _run(tmp_path, "decoder", 0, **{"acc.a": 1.0}),
        _run(tmp_path, "enc_fixed", 0, **{"fill_name.a": 0.2}),
        _run(tmp_path, "enc_fixed", 1, **{"fill_name.a": 0.4}),
    ]
    assert aggregate(paths) == {"decoder.acc.a": [1.0, 0.5], "enc_fixed.fill_name.a": [0.2, 0.4]}
    main(["--out", str(tmp_path / "m.json"), *map(str, paths)])
    assert read_metrics(tmp_path / "m.json")[0]["decoder.acc.a"] == [1.0, 0.5]
    with pytest.raises(ValueError, match="no run for seed"):
        aggregate(paths[:3])
