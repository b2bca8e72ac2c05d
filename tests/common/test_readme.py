"""README tables are rendered from the results, between markers, and nowhere else."""

import os

import pandas as pd
import pytest

from common.claims import evaluate_claims
from common.readme import costs_table, results_table, update_readme

CLAIM = {"id": "C1", "claim": "x > 0.5", "source": "Fig 1", "paper": "0.9", "metric": "x",
         "check": {"op": ">", "value": 0.5}, "why": "Fig 1", "scales": ["cpu"], "note": "",
         "null": "x_null", "oracle": "", "interval": "", "requires": []}  # fmt: skip


def test_results_table_from_claims_csv(tmp_path):
    df = evaluate_claims([CLAIM], {"x": [0.7, 0.8, 0.9], "x_null": 0.1}, "cpu")
    df.to_csv(tmp_path / "claims.csv", index=False)
    table = results_table(tmp_path / "claims.csv")
    assert table.startswith("1 PASS.")
    assert "| C1 | x > 0.5 | 0.8 ± 0.1 (n=3) [0.5516, 1.048] | 0.1 (FAIL) | — |" in table


def test_update_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:cpu -->\nold\n<!-- /results:cpu -->\noutro\n")
    assert update_readme(readme, "cpu", "new table")
    assert (
        readme.read_text()
        == "intro\n<!-- results:cpu -->\nnew table\n<!-- /results:cpu -->\noutro\n"
    )
    assert not update_readme(readme, "cpu", "new table")
    with pytest.raises(ValueError, match="no '<!-- results:paper -->'"):
        update_readme(readme, "paper", "x")


def test_costs_table_sums_benchmarks(tmp_path):
    bench = tmp_path / "toy" / "benchmarks"
    bench.mkdir(parents=True)
    for name, cpu, end in (("train", 10.0, 1000.0), ("evaluate", 2.5, 1020.0)):
        path = bench / f"{name}.tsv"
        pd.DataFrame({"s": [cpu + 1], "max_rss": [100.0], "cpu_time": [cpu]}).to_csv(
            path, sep="\t", index=False
        )
        os.utime(path, (end, end))
    table = costs_table(tmp_path, ["toy"])
    # span: train started at 1000 - 11 = 989, evaluate ended at 1020
    assert "| toy | 2 | 12 | 14 | 31 | 100 |" in table and "**12**" in table
    os.utime(bench / "evaluate.tsv", (2000.0, 2000.0))  # rerun later, alone: no DAG span
    assert "| toy | 2 | 12 | 14 | — | 100 |" in costs_table(tmp_path, ["toy"])


def test_a_paper_readme_with_a_costs_block_gets_its_own_row(tmp_path, monkeypatch):
    import common.readme as readme_mod

    monkeypatch.setattr(readme_mod, "REPO_ROOT", tmp_path)
    out = tmp_path / "results" / "paper" / "toy"
    (out / "benchmarks").mkdir(parents=True)
    evaluate_claims([CLAIM], {"x": [0.7], "x_null": 0.1}, "cpu").to_csv(
        out / "claims.csv", index=False
    )
    pd.DataFrame({"s": [5.0], "max_rss": [50.0], "cpu_time": [4.0]}).to_csv(
        out / "benchmarks" / "train.tsv", sep="\t", index=False
    )
    readme = tmp_path / "papers" / "toy" / "README.md"
    readme.parent.mkdir(parents=True)
    blocks = "<!-- results:paper -->\n<!-- /results:paper -->\n"
    readme.write_text(blocks + "<!-- costs:paper -->\n<!-- /costs:paper -->\n")
    readme_mod.main(["--scale", "paper", "toy"])
    assert "| toy | 1 | 4 | 5 | 5 | 50 |" in readme.read_text()  # one job: span = its wall
    readme.write_text(blocks)  # no costs block: only the scorecard, no error
    readme_mod.main(["--scale", "paper", "toy"])
    assert "costs" not in readme.read_text()
