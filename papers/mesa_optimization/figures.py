"""Figures and the per-run table of a sweep (Hydra entry point).

python -m papers.mesa_optimization.figures scale=cpu run.out_dir=results/cpu/mesa_optimization
Reads ``<out_dir>/runs/<experiment>-<init>-seed<seed>/`` for every run of ``cfg.sweep``
(first seed) and writes the figures and the ``runs`` table into ``<out_dir>/figures/``.
A family of x_1 absent from the sweep is skipped.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from omegaconf import DictConfig, OmegaConf

from common.config import REPO_ROOT, config_hash, entry_point
from common.io import load_npz, read_csv, read_metrics
from common.plotting import plt, save_table, savefig, set_theme
from papers.mesa_optimization.aggregate import DIAGONAL_INITS

SCRIPT = "papers/mesa_optimization/figures.py"
EXPERIMENT_CONF = REPO_ROOT / "papers" / "mesa_optimization" / "conf" / "experiment"
INIT_STYLE = {"small": "-", "medium": "--", "large": ":"}
SYMBOL = {"gaussian": r"\sigma", "sparse": "c", "ones": "c"}
#: family -> the paper's T -> infinity limit of ab
LIMITS = {"gaussian": r"$1/(5\sigma^2)$", "sparse": "$1/c^2$"}
TABLE_COLUMNS = [
    "ab",
    "ab_opt_finite_T",
    "ab_limit_T_inf",
    "gd_rel_err",
    "offblock_ratio",
    "test_rel_mse",
    "ratio",
    "train_wall_time_s",
]


AB_CAPTION = (
    "ab = mean_k Re[(W_KQ)_(d+k,k) (W_PV)_(k,k)] over training for {what}, for each diagonal init "
    "(solid), with the reduced two-parameter gradient flow integrated on the run's own training "
    "set (dashed), plain GD on the same reduced problem at the run's step size and epochs "
    "(thin, densely dotted: what the trained run follows when the step is large), the finite-T "
    "optimum of the reduced problem (dotted) and the paper's T -> "
    "infinity limit {limit} (dash-dot). The y-axis is cut at 1.5 times the larger of the two, "
    "so the large init (ab = 4) enters from above; a diverged run is flagged in its panel."
)
#: stem -> caption, in report order
CAPTIONS = {
    "ab_gaussian": AB_CAPTION.format(
        what="Gaussian x_1 (a panel per sigma)", limit="1/(5 sigma^2)"
    ),
    "ab_sparse": AB_CAPTION.format(what="sparse x_1 = +-c e_k (a panel per c)", limit="1/c^2"),
    "ratio_mse": (
        "Left: for Gaussian x_1, the ratio mean Re(yhat_T / x_T) at the last position on the test "
        "set over training (colour: sigma; line style: diagonal init), with the paper's value 0.2 "
        "(dotted); the y-axis is cut at 1, so the large init enters from above. Right: for sparse "
        "x_1, the test MSE relative to the zero predictor over training (log scale; exact zeros "
        "not drawn)."
    ),
    "heatmaps": (
        "Entry magnitudes |W_KQ| (2d x 2d, top) and |W_PV| (d x 2d, bottom) at the end of "
        "training (white lines: boundaries between the x_t and x_(t-1) halves of the embedding). "
        "The diagonal init puts all weight on the diagonals of W_KQ[d:, :d] and W_PV[:, :d]; any "
        "other non-zero entry grew during training (Gaussian, sparse and all-ones x_1, small "
        "init). The standard-Gaussian init (std given by init.std) is shown at its start and end. "
        "Each panel has its own colour scale."
    ),
    "ones": (
        "All-ones x_1 (outside the theorem's assumption). Left: ab over training per diagonal init "
        "(solid) with the reduced two-parameter flow (dashed) and its finite-T optimum (dotted), "
        "y-axis cut at 1.5 times the optimum. "
        "Right: norm of the weights outside the two block diagonals relative to all weights, for "
        "the all-ones, Gaussian (sigma=1) and sparse (c=1) starts (log scale; exact zeros, e.g. "
        "at initialization, not drawn)."
    ),
    "conservation": (
        "Change of a^2 - b^2 = mean_k |a_k|^2 - |b_k|^2 since initialization, relative to the "
        "current a^2 + b^2, over training for every diagonal-init run (colour: experiment; line "
        "style: init; log scale, exact zeros not drawn). Gradient flow on the reduced problem "
        "conserves a^2 - b^2; drift comes from the finite step and from weight leaking off the "
        "blocks."
    ),
    "runs": (
        "Per run: trained ab, the finite-T optimum of the reduced problem, the paper's T -> "
        "infinity limit (blank for all-ones), relative error of the prediction against one GD "
        "step with step size ab/rho_t, off-block weight ratio, relative test MSE, the ratio mean "
        "Re(yhat_T / x_T), and training wall time (s)."
    ),
}


@dataclass
class Run:
    """One trained and evaluated run."""

    exp: str
    init: str
    family: str  # gaussian | sparse | ones
    scale: float  # sigma or c
    log: pd.DataFrame
    theory: pd.DataFrame
    weights: dict[str, np.ndarray]
    metrics: dict[str, float]

    @property
    def label(self) -> str:
        return f"${SYMBOL[self.family]}={self.scale:g}$"


def load_runs(cfg: DictConfig) -> dict[tuple[str, str], Run]:
    """Every run of the sweep (first seed), keyed by (experiment, init)."""
    sw = cfg.sweep
    keys = [(e, i) for e in sw.experiments for i in sw.inits]
    keys += [(e, "gaussian") for e in sw.gaussian_init_experiments]
    runs = {}
    for exp, init in keys:
        run_dir = Path(cfg.run.out_dir) / "runs" / f"{exp}-{init}-seed{sw.seeds[0]}"
        if not run_dir.is_dir():
            raise FileNotFoundError(f"missing run directory {run_dir} (train and evaluate first)")
        data = OmegaConf.load(EXPERIMENT_CONF / f"{exp}.yaml").data
        runs[exp, init] = Run(
            exp,
            init,
            data.x1,
            float(data.x1_scale),
            log=read_csv(run_dir / "log.csv"),
            theory=read_csv(run_dir / "theory.csv"),
            weights=load_npz(run_dir / "params.npz"),
            metrics=read_metrics(run_dir / "metrics.json")[0],
        )
    return runs


def diagonal(runs: dict, family: str | None = None) -> dict[str, list[Run]]:
    """Diagonal-init runs (of one x_1 family) grouped by experiment, sorted by scale then init."""
    rank = {i: k for k, i in enumerate(DIAGONAL_INITS)}
    sel = [r for r in runs.values() if r.init in rank and family in (None, r.family)]
    groups: dict[str, list[Run]] = {}
    for r in sorted(sel, key=lambda r: (r.family, r.scale, rank[r.init])):
        groups.setdefault(r.exp, []).append(r)
    return groups


def palette() -> list[str]:
    """The theme's colour cycle."""
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def lines(specs: list[tuple[str, str, str]]) -> list[Line2D]:
    """Legend proxies from (label, colour, line style)."""
    return [Line2D([], [], color=c, ls=ls, label=label) for label, c, ls in specs]


def plot_by_init(ax, groups: dict[str, list[Run]], series, positive: bool = False) -> None:
    """``series(log)`` over epochs for every run: colour per experiment, line style per init.

    NaN (and, with ``positive``, non-positive) values are not drawn; the legend sits outside.
    """
    one_family = len({g[0].family for g in groups.values()}) == 1
    handles = []
    for color, (exp, group) in zip(itertools.cycle(palette()), groups.items()):
        for r in group:
            y = series(r.log)
            keep = y.notna() & (y > 0) if positive else y.notna()
            ax.plot(r.log["epoch"][keep], y[keep], color=color, ls=INIT_STYLE[r.init], lw=1.2)
        handles.append((group[0].label if one_family else exp, color, "-"))
    inits = sorted({r.init for g in groups.values() for r in g}, key=DIAGONAL_INITS.index)
    handles += [(f"init {i}", "0.3", INIT_STYLE[i]) for i in inits]
    ax.legend(handles=lines(handles), fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_xlabel("epoch")


def plot_ab(ax, group: list[Run]) -> None:
    """ab per init (solid) with the reduced flow (dashed), reduced GD (dotted) and the optima.

    The y-axis is cut at 1.5 times the larger optimum; a diverged run is flagged in text.
    """
    m = group[0].metrics
    refs = [m["ab_opt_finite_T"], m.get("ab_limit_T_inf", np.nan)]
    ax.axhline(refs[0], color="k", ls=":", lw=1.2)
    ax.axhline(refs[1], color="0.5", ls="-.", lw=1.2)
    for r in group:
        c = palette()[DIAGONAL_INITS.index(r.init)]
        ax.plot(r.log["epoch"], r.log["ab"], color=c, lw=1.8)
        ax.plot(r.theory["epoch"], r.theory["ab_theory"], color=c, ls="--", lw=1.2)
        ax.plot(r.theory["epoch"], r.theory["ab_discrete"], color=c, ls=(0, (1, 1)), lw=0.9)
    diverged = [r.init for r in group if not np.isfinite(r.log["ab"].iloc[-1])]
    if diverged:
        text = f"diverged: init {', '.join(diverged)}"
        ax.text(0.97, 0.45, text, transform=ax.transAxes, ha="right", color="C3", fontsize=8)
    ax.set(ylim=(0, 1.5 * np.nanmax(refs)), xlabel="epoch", ylabel="$ab$", title=group[0].label)


def ab_legend(ax, group: list[Run], limit_tex: str | None) -> None:
    """Legend of an ab panel, to its right."""
    specs = [(f"init {r.init}", palette()[DIAGONAL_INITS.index(r.init)], "-") for r in group]
    specs += [
        ("trained", "0.3", "-"),
        ("reduced flow", "0.3", "--"),
        ("reduced GD (same steps)", "0.3", (0, (1, 1))),
        ("finite-$T$ optimum", "k", ":"),
    ]
    if limit_tex:
        specs.append((f"$T\\to\\infty$: {limit_tex}", "0.5", "-."))
    ax.legend(handles=lines(specs), fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))


def fig_ab(runs, family: str) -> plt.Figure | None:
    """ab over training, one panel per scale of a family."""
    groups = diagonal(runs, family)
    if not groups:
        return None
    fig, axes = plt.subplots(
        1, len(groups), figsize=(3.3 * len(groups) + 1.8, 3.4), squeeze=False, layout="constrained"
    )
    for ax, group in zip(axes[0], groups.values(), strict=True):
        plot_ab(ax, group)
    ab_legend(axes[0, -1], group, LIMITS[family])
    return fig


def fig_ratio_mse(runs) -> plt.Figure | None:
    """Gaussian ratio and sparse test MSE over training."""
    panels = [
        (f, col)
        for f, col in (("gaussian", "ratio"), ("sparse", "test_rel_mse"))
        if diagonal(runs, f)
    ]
    if not panels:
        return None
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False, layout="constrained"
    )
    for ax, (family, col) in zip(axes[0], panels, strict=True):
        plot_by_init(ax, diagonal(runs, family), itemgetter(col), positive=family == "sparse")
        if family == "gaussian":
            ax.axhline(0.2, color="k", ls=":", lw=1.2)
            ax.set(
                ylabel=r"ratio mean Re$(\hat y_T / x_T)$",
                title="Gaussian $x_1$: ratio",
                ylim=(-0.05, 1.0),
            )
        else:
            ax.set(yscale="log", ylabel="relative test MSE", title="sparse $x_1$: test MSE")
    return fig


def heatmap_cases(runs) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(title, W_KQ, W_PV) for the heatmap figure, skipping runs absent from the sweep."""
    cases = [
        (f"{e}, init small", runs[e, "small"].weights)
        for e in ("gauss_s1", "sparse_c1")
        if (e, "small") in runs
    ]
    for (exp, init), r in runs.items():
        if init == "gaussian":
            w = r.weights
            cases.append((f"{exp}, Gaussian init: start", {"kq": w["kq0"], "pv": w["pv0"]}))
            cases.append((f"{exp}, Gaussian init: end", w))
    if ("ones", "small") in runs:
        cases.append(("ones, init small", runs["ones", "small"].weights))
    return [(title, w["kq"], w["pv"]) for title, w in cases]


def fig_heatmaps(runs) -> plt.Figure | None:
    """|W_KQ| (top) and |W_PV| (bottom), one column per run."""
    cases = heatmap_cases(runs)
    if not cases:
        return None
    fig, axes = plt.subplots(
        2,
        len(cases),
        figsize=(2.9 * len(cases), 4.6),
        squeeze=False,
        gridspec_kw={"height_ratios": [2, 1]},
        layout="constrained",
    )
    for col, (title, kq, pv) in enumerate(cases):
        d = pv.shape[0]
        for ax, w, name in ((axes[0, col], kq, "W_{KQ}"), (axes[1, col], pv, "W_{PV}")):
            im = ax.imshow(np.abs(w), cmap="viridis", vmin=0)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
            ax.axvline(d - 0.5, color="w", lw=1.2)
            if w.shape[0] == 2 * d:
                ax.axhline(d - 0.5, color="w", lw=1.2)
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"{title}\n$|{name}|$" if w is kq else f"$|{name}|$", fontsize=9)
            ax.grid(False)
    return fig


def fig_ones(runs) -> plt.Figure | None:
    """All-ones start: ab vs theory, and the off-block weight ratio against the other starts."""
    groups = diagonal(runs, "ones")
    if not groups:
        return None
    fig, (ax_ab, ax_off) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    plot_ab(ax_ab, groups["ones"])
    ax_ab.set_title("all-ones $x_1$: $ab$")
    ab_legend(ax_ab, groups["ones"], None)
    others = diagonal(runs)
    compare = {e: others[e] for e in ("ones", "gauss_s1", "sparse_c1") if e in others}
    plot_by_init(ax_off, compare, itemgetter("offblock_ratio"), positive=True)
    ax_off.set(yscale="log", ylabel="off-block weight ratio", title="weight off the diagonals")
    return fig


def drift(log: pd.DataFrame) -> pd.Series:
    """|a^2 - b^2 - (a^2 - b^2 at epoch 0)| / (a^2 + b^2)."""
    return (log["a2_minus_b2"] - log["a2_minus_b2"].iloc[0]).abs() / log["a2_plus_b2"]


def fig_conservation(runs) -> plt.Figure | None:
    """Drift of a^2 - b^2 over training for the diagonal runs."""
    groups = diagonal(runs)
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
    plot_by_init(ax, groups, drift, positive=True)
    ax.set(
        yscale="log", ylabel=r"$|\Delta(a^2-b^2)|\,/\,(a^2+b^2)$", title="conservation of $a^2-b^2$"
    )
    return fig


def runs_table(runs) -> pd.DataFrame:
    """One row per run with its headline metrics."""
    rows = [
        {"experiment": r.exp, "init": r.init, **{k: r.metrics.get(k) for k in TABLE_COLUMNS}}
        for r in runs.values()
    ]
    return pd.DataFrame(rows)


#: stem -> maker of its figure (or table) from the runs; None when its family is absent
MAKERS = {
    "ab_gaussian": functools.partial(fig_ab, family="gaussian"),
    "ab_sparse": functools.partial(fig_ab, family="sparse"),
    "ratio_mse": fig_ratio_mse,
    "heatmaps": fig_heatmaps,
    "ones": fig_ones,
    "conservation": fig_conservation,
    "runs": runs_table,
}


@entry_point("mesa_optimization")
def main(cfg: DictConfig) -> None:
    runs = load_runs(cfg)
    out = Path(cfg.run.out_dir) / "figures"
    set_theme()
    meta = {"script": SCRIPT, "config_hash": config_hash(cfg)}
    for order, (stem, caption) in enumerate(CAPTIONS.items(), start=1):
        result = MAKERS[stem](runs)
        save = save_table if isinstance(result, pd.DataFrame) else savefig
        if result is not None:
            save(result, out / stem, caption=caption, order=order, **meta)


if __name__ == "__main__":
    main()
