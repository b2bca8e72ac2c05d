"""Synthetic Potts datasets and the ProteinGym reader (on small files written here)."""

import numpy as np
import pandas as pd
import pytest

from common.cli import UserError
from common.config import compose_config
from papers.reverse_distillation.data import main, potts_tables, proteingym_tables


def test_potts_tables_shapes_and_assays():
    cfg = compose_config("reverse_distillation", ["scale=smoke"])
    pretrain, fit, assays = potts_tables(cfg)
    dc = cfg.data
    assert len(pretrain) == dc.families * dc.pretrain_per_family
    assert len(fit) == dc.families * dc.fit_per_family
    per_assay = assays.groupby("assay").size()
    assert (per_assay == dc.length * 19 + dc.doubles).all()
    first = assays.groupby("assay").first()
    assert (first["mutant"].str.len() >= 3).all() and np.isfinite(assays["fitness"]).all()
    # lowest-energy wild type: most single mutants are deleterious
    singles = assays[~assays["positions"].astype(str).str.contains(" ")]
    assert (singles["fitness"] < 0).mean() > 0.5


def write_proteingym(tmp_path):
    gym = tmp_path / "gym"
    gym.mkdir()
    wt = "MKTAYIAKQR"
    pd.DataFrame(
        {
            "mutant": ["M1A", "K2C:T3D", "R10W"],
            "mutated_sequence": ["AKTAYIAKQR", "MCDAYIAKQR", "MKTAYIAKQW"],
            "DMS_score": [0.1, -1.2, 0.5],
        }
    ).to_csv(gym / "TEST_ASSAY.csv", index=False)
    (tmp_path / "fit.fasta").write_text(f">a\n{wt[:5]}\n{wt[5:]}\n>b\nGSHML\n>c\nACDEF\n")
    return gym


def test_proteingym_reader(tmp_path):
    gym = write_proteingym(tmp_path)
    over = ["scale=paper", f"run.data_dir={gym}", f"data.fit_fasta={tmp_path}/fit.fasta",
            "data.fit_sequences=2"]  # fmt: skip
    pretrain, fit, assays = proteingym_tables(compose_config("reverse_distillation", over))
    assert pretrain.empty and fit["sequence"].tolist() == ["MKTAYIAKQR", "GSHML"]
    assert assays["positions"].tolist() == ["0", "1 2", "9"]
    assert assays["assay"].unique().tolist() == ["TEST_ASSAY"]


def test_bad_inputs_end_with_one_line_and_no_output(tmp_path, capsys):
    gym = write_proteingym(tmp_path)
    bad = gym / "TEST_ASSAY.csv"
    bad.write_text("mutant,mutated_sequence,DMS_score\nX12,AAA,0.1\n")
    out = tmp_path / "out"
    args = ["scale=paper", f"run.data_dir={gym}", f"data.fit_fasta={tmp_path}/fit.fasta",
            f"run.out_dir={out}"]  # fmt: skip
    with pytest.raises(SystemExit):
        main(args)
    assert "malformed mutant 'X12'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["scale=smoke", "data.source=uniprot", f"run.out_dir={out}"])
    assert "data.source must be one of" in capsys.readouterr().err
    with pytest.raises(UserError, match="no ProteinGym CSVs"):
        proteingym_tables(
            compose_config("reverse_distillation", ["scale=paper", f"run.data_dir={out}"])
        )


@pytest.mark.parametrize(
    ("override", "field"),
    [("data.families=0", "data.families"), ("data.length=0", "data.length"),
     ("data.thin=0", "data.thin"), ("data.noise=-1", "data.noise"),
     ("data.pretrain_per_family=0", "data.pretrain_per_family")],
)  # fmt: skip
def test_nonsense_data_settings_are_rejected(tmp_path, capsys, override, field):
    with pytest.raises(SystemExit):
        main(["scale=smoke", override, f"run.out_dir={tmp_path}/out"])
    err = capsys.readouterr().err
    assert err.startswith(f"error: {field} ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("override", "field"),
    [("probe.folds=1", "probe.folds"), ("rd.ridge_alpha=0", "rd.ridge_alpha"),
     ("probe.splits=[]", "probe.splits"), ("rd.regressor=lasso", "rd.regressor"),
     ("probe.alphas=[-1.0]", "probe.alphas")],
)  # fmt: skip
def test_nonsense_evaluation_settings_are_rejected(override, field):
    from papers.reverse_distillation.evaluate import validate

    with pytest.raises(UserError, match=field):
        validate(compose_config("reverse_distillation", ["scale=smoke", override]))
