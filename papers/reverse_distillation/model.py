"""ESM-2 models through fair-esm: build tiny ones, save/load in fair-esm's checkpoint format,
find paper-scale weights (local directory, then the torch-hub cache, then a download),
and pool final-layer embeddings.

Checkpoints are the files fair-esm's own loader reads: ``<name>.pt`` holding
``{"model": state_dict with the "encoder.sentence_encoder." prefix, "cfg": {"model":
Namespace(encoder_layers, encoder_embed_dim, encoder_attention_heads, token_dropout)}}``
and ``<name>-contact-regression.pt`` next to it. Names start with ``esm2`` because fair-esm
picks its ESM-2 code path by name. Loading goes through
``esm.pretrained.load_model_and_alphabet_local`` with ``weights_only`` unpickling
(``argparse.Namespace`` is the one allowed class).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import esm
import numpy as np
import torch

from common.io import atomic_path

URL = "https://dl.fbaipublicfiles.com/fair-esm"
CONTACT_KEYS = ("contact_head.regression.weight", "contact_head.regression.bias")


def build_esm2(layers: int, dim: int, heads: int) -> esm.model.esm2.ESM2:
    """A randomly initialised ESM-2 with fair-esm's ESM-1b alphabet."""
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    return esm.model.esm2.ESM2(
        num_layers=layers, embed_dim=dim, attention_heads=heads, alphabet=alphabet
    )


def regression_path(path: Path) -> Path:
    return Path(str(path.with_suffix("")) + "-contact-regression.pt")


def save_esm2(model: esm.model.esm2.ESM2, path: str | Path) -> None:
    """Write ``model`` as fair-esm ESM-2 checkpoint files (``path`` must be ``esm2*.pt``)."""
    path = Path(path)
    if not (path.name.startswith("esm2") and path.suffix == ".pt"):
        raise ValueError(f"ESM-2 checkpoint names must look like esm2*.pt, got {path.name}")
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    cfg = argparse.Namespace(
        encoder_layers=model.num_layers,
        encoder_embed_dim=model.embed_dim,
        encoder_attention_heads=model.attention_heads,
        token_dropout=model.token_dropout,
    )
    body = {f"encoder.sentence_encoder.{k}": v for k, v in state.items() if k not in CONTACT_KEYS}
    regression = {"model": {k: state[k] for k in CONTACT_KEYS}}
    for target, obj in (
        (regression_path(path), regression),
        (path, {"model": body, "cfg": {"model": cfg}}),
    ):
        with atomic_path(target) as tmp:
            torch.save(obj, tmp)


def load_esm2(path: str | Path) -> tuple[esm.model.esm2.ESM2, esm.data.Alphabet]:
    """Load a fair-esm ESM-2 checkpoint (weights-only unpickling), in eval mode."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing checkpoint: {path}")
    with torch.serialization.safe_globals([argparse.Namespace]):
        model, alphabet = esm.pretrained.load_model_and_alphabet_local(str(path))
    return model.eval(), alphabet


def locate_weights(name: str, weights_dir: str, download: bool) -> Path:
    """Path of ``<name>.pt``: ``weights_dir`` first, then the torch-hub cache, then a download
    into that cache (only when ``download`` is true)."""
    for folder in (Path(weights_dir), Path(torch.hub.get_dir()) / "checkpoints"):
        if (folder / f"{name}.pt").exists():
            return folder / f"{name}.pt"
    if not download:
        raise FileNotFoundError(
            f"no weights for {name}: looked in {weights_dir} and {torch.hub.get_dir()}/checkpoints"
            " (set model.download=true to fetch them)"
        )
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{name}.pt"
    for url, dest in (
        (f"{URL}/regression/{name}-contact-regression.pt", regression_path(target)),
        (f"{URL}/models/{name}.pt", target),
    ):
        with atomic_path(dest) as tmp:
            torch.hub.download_url_to_file(url, str(tmp), progress=False)
    return target


def batches(seqs: list[str], tokens_per_batch: int) -> Iterator[list[str]]:
    """Consecutive slices of ``seqs`` of about ``tokens_per_batch`` residues each."""
    start = 0
    while start < len(seqs):
        stop, total = start, 0
        while stop < len(seqs) and (stop == start or total + len(seqs[stop]) <= tokens_per_batch):
            total += len(seqs[stop])
            stop += 1
        yield seqs[start:stop]
        start = stop


def window_starts(length: int, width: int) -> list[int]:
    """Starts of overlapping windows of ``width`` residues covering ``length`` (half-overlap)."""
    if length <= width:
        return [0]
    n = int(np.ceil(length / (width / 2))) - 1
    return [int(s) for s in np.linspace(0, length - width, n).round()]


@torch.no_grad()
def residue_embeddings(
    model: esm.model.esm2.ESM2,
    alphabet: esm.data.Alphabet,
    seqs: list[str],
    tokens_per_batch: int = 4096,
) -> Iterator[np.ndarray]:
    """Final-layer per-residue embeddings (len(seq), dim) of each sequence, special tokens
    removed; sequences longer than 1,022 residues are embedded in windows and averaged."""
    converter = alphabet.get_batch_converter()
    width = 1022
    for batch in batches(seqs, tokens_per_batch):
        pieces = [
            (k, s[a : a + width]) for k, s in enumerate(batch) for a in window_starts(len(s), width)
        ]
        _, _, tokens = converter([(str(k), w) for k, w in pieces])
        tokens = tokens.to(next(model.parameters()).device)
        reps = model(tokens, repr_layers=[model.num_layers])["representations"][model.num_layers]
        reps = reps.float().cpu().numpy()
        per_seq: dict[int, list[np.ndarray]] = {}
        for row, (k, w) in enumerate(pieces):
            per_seq.setdefault(k, []).append(reps[row, 1 : len(w) + 1])  # drop <cls>, <eos>, pads
        for k, seq in enumerate(batch):
            yield stitch(seq, per_seq[k], width)


def stitch(seq: str, parts: list[np.ndarray], width: int) -> np.ndarray:
    """Average overlapping window embeddings back onto the residues of ``seq``."""
    if len(parts) == 1:
        return parts[0]
    total = np.zeros((len(seq), parts[0].shape[1]))
    count = np.zeros((len(seq), 1))
    for s, part in zip(window_starts(len(seq), width), parts, strict=True):
        total[s : s + len(part)] += part
        count[s : s + len(part)] += 1
    return (total / count).astype(np.float32)
