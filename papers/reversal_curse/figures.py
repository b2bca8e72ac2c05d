"""Table-1-style accuracy table, accuracy bars, Figure-4-style log-probabilities, loss curves.

python -m papers.reversal_curse.figures scale=cpu run.out_dir=results/cpu/reversal_curse
Reads ``<out_dir>/metrics.json`` (per-seed lists) and ``<out_dir>/runs/<variant>/seed<n>/
{scores.npz,train_log.csv}``; writes ``<out_dir>/figures/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.config import config_hash, entry_point
from common.io import load_npz, read_csv, read_metrics
from common.plotting import plt, save_table, savefig, set_theme
from papers.reversal_curse.model import DECODERS, UNTRAINED

SCRIPT = "papers/reversal_curse/figures.py"
LABELS = {
    "decoder": "GPT-2 decoder",
    "reverse": "decoder + reverse training",
    "enc_fixed": "BERT, fixed masking rate",
    "enc_uniform": "BERT, uniform masking rate",
    "untrained": "untrained decoder (null)",
    "enc_untrained": "untrained BERT (null)",
}
#: (subset, probe, test set, entity the probe asks for: name | desc, "backward" encoder probe)
N2D, D2N = "NameToDescription", "DescriptionToName"
ROWS = (
    (N2D, "same direction", "p2d_prompts_train", "desc", False),
    (N2D, "same, held-out templates", "p2d_prompts_test", "desc", False),
    (N2D, "reverse", "p2d_reverse_prompts_test", "name", False),
    (N2D, "reverse, held-out templates", "p2d_reverse_prompts_heldout", "name", False),
    (N2D, "name masked in trained sentence", "p2d_prompts_train", "name", True),
    (D2N, "same direction", "d2p_prompts_train", "name", False),
    (D2N, "same, held-out templates", "d2p_prompts_test", "name", False),
    (D2N, "reverse", "d2p_reverse_prompts_test", "desc", False),
    (D2N, "reverse, held-out templates", "d2p_reverse_prompts_heldout", "desc", False),
    (D2N, "description masked in trained sentence", "d2p_prompts_train", "desc", True),
    ("Both", "description -> name", "both_d2p_prompts_train", "name", False),
    ("Both", "name -> description", "both_p2d_prompts_train", "desc", False),
)
#: name sets of the log-probability figure: (test set, label)
LOGP_SETS = (
    ("p2d_reverse_prompts_test", "NameToDescription\nreverse"),
    ("d2p_prompts_train", "DescriptionToName\nsame direction"),
    ("both_d2p_prompts_train", "Both\ndescription -> name"),
)
CAPTIONS = {
    "accuracy_table": (
        "Table 1 analogue: accuracy (mean +- std over seeds) of each probe for each model. "
        "Decoders: the greedy completion starts with the target (stripped, case-insensitive: the "
        "authors' rule). Encoders: fill-in of the masked entity (all "
        "its tokens masked, filled left to right). 'reverse' probes word the untrained direction "
        "with the other direction's training templates; the 'masked in trained sentence' rows "
        "mask the entity that comes first in the trained order (encoders only)."
    ),
    "accuracy": (
        "Accuracy (decoders) or fill-in (encoders) per probe and model (bars: mean over seeds; "
        "dots: seeds). The decoder's trained direction and Both subset are the positive controls "
        "of its reverse failure."
    ),
    "logprob": (
        "Figure 4 analogue: mean log-probability of the correct name and the average over the "
        "subset's other people, given description-first prompts (mean over facts and prompts; "
        "dots: seeds). Title: paired t-test p-values per seed (one pair per fact)."
    ),
    "loss": (
        "Training loss per trained model (mean over seeds; masked-LM loss for the encoders); "
        "the untrained nulls take no step."
    ),
}


def _key(variant: str, entity: str, stem: str) -> str:
    if variant in DECODERS:
        return f"{variant}.acc.{stem}"
    return f"{variant}.fill_{entity}.{stem}"


def accuracy_frame(metrics: dict, variants: list[str]) -> pd.DataFrame:
    """Long table: one row per (probe, variant, seed) with the exact-match value."""
    rows = []
    for subset, probe, stem, entity, backward in ROWS:
        for variant in variants:
            if backward and variant in DECODERS:
                continue
            for seed, value in enumerate(metrics.get(_key(variant, entity, stem), [])):
                rows.append({"subset": subset, "probe": probe, "set": stem, "model": variant,
                             "seed": seed, "exact_match": value})  # fmt: skip
    return pd.DataFrame(rows)


def accuracy_table(long: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    """Table-1-style: rows probes, columns models, cells 'mean +- std'."""
    table = pd.DataFrame([{"subset": r[0], "probe": r[1], "test set": r[2]} for r in ROWS])
    stats = long.groupby(["subset", "probe", "model"])["exact_match"].agg(["mean", "std", "size"])
    for variant in variants:
        cells = []
        for row in ROWS:
            key = (row[0], row[1], variant)
            if key not in stats.index:
                cells.append("")
                continue
            mean, std, n = stats.loc[key]
            cells.append(f"{mean:.3f} +- {std if n > 1 else 0.0:.3f}")
        table[LABELS[variant]] = cells
    return table


def plot_accuracy(long: pd.DataFrame):
    import seaborn as sns

    long = long.assign(probe=long["subset"].str.replace("To", "->") + ": " + long["probe"],
                       model=long["model"].map(LABELS))  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 7))
    sns.barplot(long, y="probe", x="exact_match", hue="model", errorbar=None, ax=ax, alpha=0.8)
    sns.stripplot(long, y="probe", x="exact_match", hue="model", dodge=True, size=3,
                  palette="dark:k", legend=False, ax=ax)  # fmt: skip
    ax.set(xlabel="accuracy (decoders) / fill-in (encoders)", ylabel="", xlim=(0, 1.02))
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_logprob(out: Path, metrics: dict, variants: list[str], seeds: list[int]):
    decoders = [v for v in variants if v in DECODERS]
    fig, axes = plt.subplots(1, len(decoders), figsize=(5 * len(decoders), 4), squeeze=False)
    for ax, variant in zip(axes[0], decoders, strict=True):
        scores = [load_npz(out / f"runs/{variant}/seed{s}/scores.npz") for s in seeds]
        sets = [(stem, lab) for stem, lab in LOGP_SETS if f"{stem}.correct" in scores[0]]
        for i, (stem, _) in enumerate(sets):
            for j, (kind, color) in enumerate((("correct", "C0"), ("random", "C1"))):
                label = "correct name" if kind == "correct" else "other names (mean)"
                vals = [sc[f"{stem}.{kind}"].mean() for sc in scores]
                x = i + (j - 0.5) * 0.38
                ax.bar(x, np.mean(vals), 0.36, color=color, alpha=0.8,
                       label=label if i == 0 else None)  # fmt: skip
                ax.plot([x] * len(vals), vals, "k.", ms=4)
        ax.set_xticks(range(len(sets)), [lab for _, lab in sets], fontsize=8)
        ps = metrics.get(f"{variant}.logp_p.{LOGP_SETS[0][0]}", [])
        ax.set(ylabel="log p(name | prompt)", title=f"{LABELS[variant]}\nreverse p: "
               + ", ".join(f"{p:.2g}" for p in ps))  # fmt: skip
        ax.title.set_fontsize(9)
        ax.legend(fontsize=8)
    return fig


def plot_loss(out: Path, variants: list[str], seeds: list[int]):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for variant in [v for v in variants if v not in UNTRAINED]:
        logs = [read_csv(out / f"runs/{variant}/seed{s}/train_log.csv") for s in seeds]
        ax.plot(logs[0]["step"], np.mean([lg["loss"] for lg in logs], 0), label=LABELS[variant])
    ax.set(xlabel="step", ylabel="training loss (nats / token)", yscale="log")
    ax.legend(fontsize=8)
    return fig


@entry_point("reversal_curse")
def main(cfg: DictConfig) -> None:
    set_theme()
    out = Path(cfg.run.out_dir)
    metrics, _ = read_metrics(out / "metrics.json")
    variants = list(cfg.sweep.variants)
    seeds = list(cfg.sweep.seeds)
    figs = out / "figures"
    h = config_hash(cfg)
    long = accuracy_frame(metrics, variants)
    save_table(accuracy_table(long, variants), figs / "accuracy_table", CAPTIONS["accuracy_table"],
               SCRIPT, h, order=0)  # fmt: skip
    savefig(plot_accuracy(long), figs / "accuracy", CAPTIONS["accuracy"], SCRIPT, h, order=1)
    if any(v in DECODERS for v in variants):
        fig = plot_logprob(out, metrics, variants, seeds)
        savefig(fig, figs / "logprob", CAPTIONS["logprob"], SCRIPT, h, order=2)
    savefig(plot_loss(out, variants, seeds), figs / "loss", CAPTIONS["loss"], SCRIPT, h, order=3)


if __name__ == "__main__":
    main()
