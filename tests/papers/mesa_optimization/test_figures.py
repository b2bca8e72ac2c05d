"""figures.py on a smoke sweep: every figure and the table with a captioned sidecar."""

import json
import warnings

import pandas as pd
import pytest

from papers.mesa_optimization import evaluate, figures, train

SMOKE_RUNS = [(e, i) for e in ("gauss_s1", "sparse_c1", "ones") for i in ("small", "large")]
SMOKE_RUNS.append(("gauss_s1", "gaussian"))
FIGURES = ["ab_gaussian", "ab_sparse", "ratio_mse", "heatmaps", "ones", "conservation"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The smoke sweep, trained and evaluated (seed 0); returns its output directory."""
    out = tmp_path_factory.mktemp("mesa_optimization")
    for exp, init in SMOKE_RUNS:
        args = ["scale=smoke", f"experiment={exp}", f"init={init}", "seed=0"]
        args.append(f"run.out_dir={out}/runs/{exp}-{init}-seed0")
        train.main(args)
        with warnings.catch_warnings():  # a run that diverges at smoke scale has NaN metrics
            warnings.simplefilter("ignore", RuntimeWarning)
            evaluate.main(args)
    return out


def sidecar(path):
    return json.loads(path.with_suffix(".json").read_text())


def test_all_figures_and_table(sweep):
    figures.main(["scale=smoke", f"run.out_dir={sweep}"])
    fig_dir = sweep / "figures"
    for order, stem in enumerate(FIGURES, start=1):
        for ext in (".png", ".pdf"):
            assert (fig_dir / stem).with_suffix(ext).stat().st_size > 0, (stem, ext)
        side = sidecar(fig_dir / stem)
        assert side["caption"].strip() and side["order"] == order
        assert side["script"] == "papers/mesa_optimization/figures.py"
        assert side["config_hash"]
    table = pd.read_csv(fig_dir / "runs.csv")
    assert len(table) == len(SMOKE_RUNS)
    assert {"experiment", "init", "ab", "ab_opt_finite_T", "gd_rel_err"} <= set(table.columns)
    assert table.loc[table["experiment"] == "ones", "ab_limit_T_inf"].isna().all()
    assert sidecar(fig_dir / "runs")["caption"].strip()


def test_absent_families_are_skipped(sweep, tmp_path):
    """A sweep of sparse starts only makes the sparse figures and no Gaussian/all-ones ones."""
    (tmp_path / "runs").symlink_to(sweep / "runs")
    only_sparse = ["sweep.experiments=[sparse_c1]", "sweep.gaussian_init_experiments=[]"]
    figures.main(["scale=smoke", f"run.out_dir={tmp_path}", *only_sparse])
    made = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert made == {"ab_sparse", "ratio_mse", "heatmaps", "conservation"}


def test_missing_run_directory_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        figures.main(["scale=smoke", f"run.out_dir={tmp_path}"])
    assert exc.value.code == 2
    assert "missing run directory" in capsys.readouterr().err
