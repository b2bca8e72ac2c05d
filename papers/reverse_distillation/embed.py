"""Final-layer embeddings of one model (Hydra entry point), cached for reverse distillation.

python -m papers.reverse_distillation.embed scale=cpu size=esm2_t2_d48 run.data_dir=... \
    models_dir=... run.out_dir=results/cpu/reverse_distillation/embeddings
Writes ``<out_dir>/<size>.npz`` with ``fit_residues`` (per-residue rows of the
scaler-fitting set: the same random subset of residues for every model) and
``assay_pooled`` (one mean-pooled row per variant of ``assays.csv``).
Tiny models come from the folder ``<models_dir>/<size>``; published ones
(``model.pretrained``) from ``<model.weights_dir>/<size>``, else (``model.download``) the hub.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from common.config import entry_point, require
from common.io import read_csv, save_npz
from common.progress import progress
from common.threads import set_threads
from papers.reverse_distillation.model import load_esm2, locate_weights, residue_embeddings
from papers.reverse_distillation.schema import size_spec


def read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"missing {path} (run the data step first; set run.data_dir)")
    return read_csv(path)


def fit_rows(lengths: list[int], limit: int, seed: int) -> np.ndarray:
    """Sorted indices into the concatenated residues of the fitting set (all if <= limit)."""
    total = int(np.sum(lengths))
    if total <= limit:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))


def validate(cfg: DictConfig) -> None:
    """Reject nonsense embedding settings with one line naming the field."""
    ec = cfg.embed
    require(
        cfg,
        {
            "embed.tokens_per_batch": (ec.tokens_per_batch >= 1, "must be >= 1"),
            "embed.max_fit_residues": (ec.max_fit_residues >= 1, "must be >= 1"),
            **{
                f"model.family.{i}.sha256": (
                    m.sha256 == "" or re.fullmatch(r"[0-9a-fA-F]{64}", m.sha256) is not None,
                    "must be empty or 64 hex digits",
                )
                for i, m in enumerate(cfg.model.family)
            },
        },
    )


@entry_point("reverse_distillation")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    size = size_spec(cfg, cfg.size)
    validate(cfg)
    data = Path(cfg.run.data_dir)
    fit = read_table(data / "fit.csv")["sequence"].tolist()
    assays = read_table(data / "assays.csv")["sequence"].tolist()
    if cfg.model.pretrained:
        path = locate_weights(size, cfg.model.weights_dir, cfg.model.download)
    else:
        path = Path(cfg.models_dir) / size.name
    model, tokenizer = load_esm2(path)
    if model.config.hidden_size != size.dim:
        raise ValueError(
            f"{path}: embedding dim {model.config.hidden_size}, config says {size.dim}"
        )
    if torch.cuda.is_available():
        model = model.cuda()
    write_embeddings(cfg, model, tokenizer, fit, assays, Path(cfg.run.out_dir) / f"{size.name}.npz")


def write_embeddings(cfg: DictConfig, model, tokenizer, fit: list, assays: list, out: Path):
    """Embed the scaler-fitting sequences (per residue, the same random subset of residues for
    every model) and the assay variants (mean-pooled) with ``model``; write them to ``out``."""
    tpb = cfg.embed.tokens_per_batch
    rows = fit_rows([len(s) for s in fit], cfg.embed.max_fit_residues, cfg.seed)
    fit_emb = progress(residue_embeddings(model, tokenizer, fit, tpb), "embed fit", len(fit))
    residues = np.concatenate(list(fit_emb))[rows]
    assay_emb = residue_embeddings(model, tokenizer, assays, tpb)
    pooled = np.stack([r.mean(axis=0) for r in progress(assay_emb, "embed assays", len(assays))])
    save_npz(
        out,
        fit_residues=residues.astype(np.float32),
        assay_pooled=pooled.astype(np.float32),
    )


if __name__ == "__main__":
    main()
