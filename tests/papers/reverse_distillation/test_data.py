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
    assert len(pretrain) == (dc.families + dc.extra_families) * dc.pretrain_per_family
    assert len(fit) == dc.families * dc.fit_per_family
    per_assay = assays.groupby("assay").size()
    assert (per_assay == dc.length * 19 + dc.doubles).all()
    sub = potts_tables(
        compose_config("reverse_distillation", ["scale=smoke", "data.singles_per_site=5"])
    )[2]
    singles = sub[~sub["positions"].astype(str).str.contains(" ")]
    assert (singles.groupby(["assay", "positions"]).size() == 5).all()
    assert singles.groupby("assay")["mutant"].nunique().eq(dc.length * 5).all()
    first = assays.groupby("assay").first()
    assert (first["mutant"].str.len() >= 3).all() and np.isfinite(assays["fitness"]).all()
    # lowest-energy wild type: most single mutants are deleterious
    singles = assays[~assays["positions"].astype(str).str.contains(" ")]
    assert (singles["fitness"] < 0).mean() > 0.5


def test_extra_families_add_pretraining_rows_only():
    base = potts_tables(
        compose_config("reverse_distillation", ["scale=smoke", "data.extra_families=0"])
    )
    more = potts_tables(
        compose_config("reverse_distillation", ["scale=smoke", "data.extra_families=2"])
    )
    extra = more[0]["family"].str.startswith("extra")
    assert set(more[0]["family"][extra]) == {"extra00", "extra01"}
    pd.testing.assert_frame_equal(more[0][~extra], base[0])
    for a, b in zip(more[1:], base[1:], strict=True):
        pd.testing.assert_frame_equal(a, b)


def write_proteingym(tmp_path):
    gym = tmp_path / "gym"
    gym.mkdir()
    wt = "MKTAYIAKQR"
    pd.DataFrame(
        {
            "mutant": ["M1A", "K2C:T3D", "R10W"],
            "mutated_sequence": ["AKTAYIAKQR", "MCDAYIAKQR", "MKTAYIAKQW"],
            "DMS_score": [0.1, -1.2, 0.5],
            "fold_random_5": [3, 1, 0],
            "fold_modulo_5": [0, 2, 4],
        }
    ).to_csv(gym / "TEST_ASSAY.csv", index=False)
    pd.DataFrame({"mutant": ["A1C"], "mutated_sequence": ["C"], "DMS_score": [0.0]}).to_csv(
        gym / "NOT_LISTED.csv", index=False
    )
    (tmp_path / "fit.fasta").write_text(f">a\n{wt[:5]}\n{wt[5:]}\n>b\nGSHML\n>c\nACDEF\n")
    return gym


def test_proteingym_reader(tmp_path):
    gym = write_proteingym(tmp_path)
    over = ["scale=paper", f"run.data_dir={gym}", f"data.fit_fasta={tmp_path}/fit.fasta",
            "data.fit_sequences=2", "data.assays=[TEST_ASSAY]"]  # fmt: skip
    pretrain, fit, assays = proteingym_tables(compose_config("reverse_distillation", over))
    assert pretrain.empty and fit["sequence"].tolist() == ["MKTAYIAKQR", "GSHML"]
    assert assays["positions"].tolist() == ["0", "1 2", "9"]
    assert assays["assay"].unique().tolist() == ["TEST_ASSAY"]  # the listed assays only
    # the released folds as given; modulo left empty for the double mutant; no contiguous column
    assert assays["fold_random"].tolist() == [3, 1, 0]
    assert assays["fold_modulo"].tolist()[::2] == [0, 4] and np.isnan(assays["fold_modulo"][1])
    assert "fold_contiguous" not in assays


def test_released_folds_are_used_and_computed_ones_hold_singles_only():
    from papers.reverse_distillation.evaluate import split_folds

    table = pd.DataFrame({"positions": ["0", "1 2", "9", "3"], "fold_random": [3, 1, 0, 2.0]})
    assert split_folds(table, "random", 5, 0).tolist() == [3, 1, 0, 2]
    modulo = split_folds(table, "modulo", 5, 0)
    assert modulo.tolist() == [0, -1, 4, 3]  # the double mutant is left out
    table["fold_modulo"] = [1, np.nan, 2, 0]
    assert split_folds(table, "modulo", 5, 0).tolist() == [1, -1, 2, 0]


def test_bad_inputs_end_with_one_line_and_no_output(tmp_path, capsys):
    gym = write_proteingym(tmp_path)
    bad = gym / "TEST_ASSAY.csv"
    bad.write_text("mutant,mutated_sequence,DMS_score\nX12,AAA,0.1\n")
    out = tmp_path / "out"
    args = ["scale=paper", f"run.data_dir={gym}", f"data.fit_fasta={tmp_path}/fit.fasta",
            f"run.out_dir={out}", "data.assays=[TEST_ASSAY]"]  # fmt: skip
    with pytest.raises(SystemExit):
        main(args)
    assert "malformed mutant 'X12'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["scale=smoke", "data.source=uniprot", f"run.out_dir={out}"])
    assert "data.source must be one of" in capsys.readouterr().err
    with pytest.raises(UserError, match="data.assays is empty"):
        proteingym_tables(
            compose_config("reverse_distillation", ["scale=paper", f"run.data_dir={gym}"])
        )
    with pytest.raises(UserError, match=r"no ProteinGym CSV for \['MISSING.csv'\]"):
        proteingym_tables(
            compose_config(
                "reverse_distillation",
                ["scale=paper", f"run.data_dir={gym}", "data.assays=[TEST_ASSAY,MISSING]"],
            )
        )


@pytest.mark.parametrize(
    ("override", "field"),
    [("data.families=0", "data.families"), ("data.length=0", "data.length"),
     ("data.thin=0", "data.thin"), ("data.noise=-1", "data.noise"),
     ("data.pretrain_per_family=0", "data.pretrain_per_family"),
     ("data.singles_per_site=20", "data.singles_per_site"),
     ("data.extra_families=-1", "data.extra_families"),
     ("data.potts_kind=cyclic", "data.potts_kind")],
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


def test_an_assay_without_released_folds_gets_computed_ones():
    from papers.reverse_distillation.evaluate import split_folds

    table = pd.DataFrame({"positions": ["0", "5", "1 2"], "fold_modulo": [np.nan] * 3})
    assert split_folds(table, "modulo", 5, 0).tolist() == [0, 0, -1]
