"""Datasets (Hydra entry point): pre-training, scaler-fitting and DMS assay tables.

python -m papers.reverse_distillation.data scale=cpu \
    run.out_dir=results/cpu/reverse_distillation/data
Writes ``pretrain.csv`` (family, sequence), ``fit.csv`` (family, sequence) and
``assays.csv`` (assay, mutant, positions, sequence, fitness).
potts: one random Potts model per family (``data.potts_kind``: stationary or site-specific);
Gibbs chains give the pre-training and (from separate chains) the scaler-fitting sequences;
the wild type is the family's lowest-energy sample; its assay holds every single and some
double mutants, fitness = -(E(mut) - E(wt)) plus Gaussian noise; ``data.extra_families``
more families (``extraNN``) add pre-training rows only. proteingym: the ProteinGym
substitution CSVs ``<run.data_dir>/<id>.csv`` of the ids in ``data.assays`` (mutant,
mutated_sequence, DMS_score, and the released fold columns when present) and a FASTA of
scaler-fitting sequences; no pre-training.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from common.cli import UserError
from common.config import entry_point, require
from common.io import read_csv, write_csv
from common.progress import progress
from papers.reverse_distillation.potts import (
    AMINO_ACIDS,
    Q,
    energy,
    gibbs,
    homogeneous_potts,
    random_potts,
    to_strings,
)

SOURCES = ("potts", "proteingym")
#: data.potts_kind -> the family generator (both take rng, length, contacts, h_scale, j_scale)
POTTS_KINDS = {"site": random_potts, "homogeneous": homogeneous_potts}
MUTANT = re.compile(r"^[A-Z](\d+)[A-Z]$")
#: ProteinGym's released 5-fold columns (cv_folds_singles_substitutions) per split type
FOLD_COLUMNS = {
    "random": "fold_random_5",
    "modulo": "fold_modulo_5",
    "contiguous": "fold_contiguous_5",
}


def mutants(
    rng: np.random.Generator, wt: np.ndarray, doubles: int, per_site: int = Q - 1
) -> tuple[np.ndarray, list]:
    """``per_site`` random single mutants at every position of ``wt`` (all 19 by default) and
    ``doubles`` random double mutants: (seqs, positions)."""
    L = len(wt)
    seqs, positions = [], []
    for i in range(L):
        alternatives = [a for a in range(Q) if a != wt[i]]
        if per_site < Q - 1:
            alternatives = sorted(rng.choice(alternatives, size=per_site, replace=False))
        for a in alternatives:
            s = wt.copy()
            s[i] = a
            seqs.append(s)
            positions.append((i,))
    seen = set()
    while len(seen) < doubles:
        i, j = sorted(rng.choice(L, size=2, replace=False))
        a, b = (rng.integers(1, Q) + wt[i]) % Q, (rng.integers(1, Q) + wt[j]) % Q
        if (i, j, a, b) not in seen:
            seen.add((i, j, a, b))
            s = wt.copy()
            s[i], s[j] = a, b
            seqs.append(s)
            positions.append((i, j))
    return np.array(seqs), positions


def mutant_name(wt: np.ndarray, seq: np.ndarray, pos: tuple) -> str:
    """ProteinGym-style name, e.g. ``A12C:K30L`` (1-based positions)."""
    return ":".join(f"{AMINO_ACIDS[wt[i]]}{i + 1}{AMINO_ACIDS[seq[i]]}" for i in pos)


def potts_tables(cfg: DictConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(pretrain, fit, assays) tables of ``cfg.data.families`` synthetic families."""
    dc = cfg.data
    family_potts = POTTS_KINDS[dc.potts_kind]
    rng = np.random.default_rng(cfg.seed)
    fit_chains = -(-dc.fit_per_family // dc.samples_per_chain)
    train_chains = -(-dc.pretrain_per_family // dc.samples_per_chain)
    chains = fit_chains + train_chains
    pretrain, fit, assays = [], [], []
    for f in progress(range(dc.families), "data: potts families"):
        potts = family_potts(rng, dc.length, dc.contacts, dc.h_scale, dc.j_scale)
        samples = gibbs(potts, rng, chains, dc.burn_in, dc.samples_per_chain, dc.thin)
        chain = np.arange(len(samples)) % chains  # gibbs stacks one block of all chains per sample
        fam = f"family{f:02d}"
        fit += [(fam, s) for s in to_strings(samples[chain < fit_chains][: dc.fit_per_family])]
        train = samples[chain >= fit_chains][: dc.pretrain_per_family]
        pretrain += [(fam, s) for s in to_strings(train)]
        e = energy(potts, samples)
        wt = samples[np.argmin(e)]
        seqs, positions = mutants(rng, wt, dc.doubles, dc.singles_per_site)
        delta = energy(potts, seqs) - e.min()
        single = np.array([len(p) == 1 for p in positions])
        fitness = -delta + dc.noise * delta[single].std() * rng.normal(size=len(delta))
        for seq, s, p, y in zip(seqs, to_strings(seqs), positions, fitness, strict=True):
            assays.append((fam, mutant_name(wt, seq, p), " ".join(map(str, p)), s, y))
    for f in progress(range(dc.extra_families), "data: extra pre-training families"):
        potts = family_potts(rng, dc.length, dc.contacts, dc.h_scale, dc.j_scale)
        samples = gibbs(potts, rng, train_chains, dc.burn_in, dc.samples_per_chain, dc.thin)
        pretrain += [(f"extra{f:02d}", s) for s in to_strings(samples[: dc.pretrain_per_family])]
    cols = ["family", "sequence"]
    return (
        pd.DataFrame(pretrain, columns=cols),
        pd.DataFrame(fit, columns=cols),
        pd.DataFrame(assays, columns=["assay", "mutant", "positions", "sequence", "fitness"]),
    )


def read_fasta(path: Path, limit: int) -> list[str]:
    """The first ``limit`` sequences of a FASTA file."""
    if not path.exists():
        raise UserError(f"missing scaler-fitting FASTA data.fit_fasta={path}")
    seqs, current = [], []
    for line in path.read_text().splitlines() + [">"]:
        if line.startswith(">"):
            if current:
                seqs.append("".join(current))
            current = []
            if len(seqs) >= limit:
                break
        elif line.strip():
            current.append(line.strip().upper())
    if not seqs:
        raise UserError(f"no sequences in data.fit_fasta={path}")
    return seqs


def read_assay(path: Path, max_variants: int) -> pd.DataFrame:
    """One ProteinGym substitution CSV -> (assay, mutant, positions, sequence, fitness) plus
    ``fold_<split>`` for each of ProteinGym's released fold columns the file has
    (``fold_random_5`` ...); modulo / contiguous folds are left empty for multiple mutants,
    which ProteinGym splits at random only."""
    df = read_csv(path)
    missing = {"mutant", "mutated_sequence", "DMS_score"} - set(df.columns)
    if missing:
        raise UserError(f"{path}: missing column(s) {sorted(missing)}")
    if max_variants:
        df = df.iloc[:max_variants]
    positions = []
    for name in df["mutant"]:
        parts = [MUTANT.match(m) for m in str(name).split(":")]
        if not all(parts):
            raise UserError(f"{path}: malformed mutant {name!r} (expected e.g. A12C or A12C:K30L)")
        positions.append(" ".join(str(int(m[1]) - 1) for m in parts))
    table = pd.DataFrame(
        {
            "assay": path.stem,
            "mutant": df["mutant"].astype(str),
            "positions": positions,
            "sequence": df["mutated_sequence"].astype(str),
            "fitness": df["DMS_score"].astype(float),
        }
    )
    single = ~table["mutant"].str.contains(":")
    for split, column in FOLD_COLUMNS.items():
        if column in df.columns:
            folds = pd.to_numeric(df[column], errors="coerce")
            table[f"fold_{split}"] = folds.where(single) if split != "random" else folds
    return table


def proteingym_tables(cfg: DictConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(empty pretrain, fit, assays) tables from local ProteinGym files."""
    dc = cfg.data
    folder = cfg.run.data_dir
    if not dc.assays:
        raise UserError(
            "data.assays is empty: list the ProteinGym assay ids to evaluate (the paper's 28"
            " single-site assays are not named in our brief; README, 'Paper scale')"
        )
    files = [Path(folder) / f"{name}.csv" for name in dc.assays]
    missing = [p.name for p in files if not p.exists()]
    if missing:
        raise UserError(f"no ProteinGym CSV for {missing} in run.data_dir={folder!r}")
    assays = pd.concat([read_assay(p, dc.max_variants) for p in files], ignore_index=True)
    fit = pd.DataFrame(
        {"family": "fit", "sequence": read_fasta(Path(dc.fit_fasta), dc.fit_sequences)}
    )
    return pd.DataFrame(columns=["family", "sequence"]), fit, assays


def validate(cfg: DictConfig) -> None:
    """Reject nonsense data settings with one line naming the field."""
    dc = cfg.data
    require(
        cfg,
        {
            "data.source": (dc.source in SOURCES, f"must be one of {SOURCES}"),
            "data.potts_kind": (
                dc.potts_kind in POTTS_KINDS,
                f"must be one of {tuple(POTTS_KINDS)}",
            ),
            "data.families": (dc.families >= 1, "must be >= 1"),
            "data.extra_families": (dc.extra_families >= 0, "must be >= 0"),
            "data.length": (dc.length >= 2, "must be >= 2"),
            "data.contacts": (0 <= dc.contacts < dc.length, "must be in [0, data.length)"),
            "data.h_scale": (dc.h_scale >= 0, "must be >= 0"),
            "data.j_scale": (dc.j_scale >= 0, "must be >= 0"),
            "data.pretrain_per_family": (dc.pretrain_per_family >= 1, "must be >= 1"),
            "data.fit_per_family": (dc.fit_per_family >= 1, "must be >= 1"),
            "data.samples_per_chain": (dc.samples_per_chain >= 1, "must be >= 1"),
            "data.burn_in": (dc.burn_in >= 0, "must be >= 0"),
            "data.thin": (dc.thin >= 1, "must be >= 1"),
            "data.doubles": (dc.doubles >= 0, "must be >= 0"),
            "data.noise": (dc.noise >= 0, "must be >= 0"),
            "data.singles_per_site": (
                1 <= dc.singles_per_site <= Q - 1,
                f"must be in [1, {Q - 1}]",
            ),
            "data.max_variants": (dc.max_variants >= 0, "must be >= 0 (0: all)"),
            "data.fit_sequences": (dc.fit_sequences >= 1, "must be >= 1"),
        },
    )


@entry_point("reverse_distillation")
def main(cfg: DictConfig) -> None:
    validate(cfg)
    tables = potts_tables(cfg) if cfg.data.source == "potts" else proteingym_tables(cfg)
    out = Path(cfg.run.out_dir)
    for name, df in zip(("pretrain", "fit", "assays"), tables, strict=True):
        write_csv(out / f"{name}.csv", df)


if __name__ == "__main__":
    main()
