"""ESM-2 models through Hugging Face transformers: build tiny ones, save/load them as
safetensors folders, find the published weights (a local folder first, the hub only when
downloads are allowed, checked against a recorded sha256), and pool final-layer embeddings.

A model folder is what ``save_pretrained`` writes: ``config.json``, ``model.safetensors``
(no pickle anywhere) and the tokenizer's ``vocab.txt``. Tiny models use the 33-token ESM
alphabet written by this module, so nothing is downloaded at smoke/cpu scale.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

from common.io import unreadable

#: The ESM-2 alphabet in token-id order (the published models' vocab.txt).
ALPHABET = (
    "<cls>", "<pad>", "<eos>", "<unk>",
    *"LAGVSERTIDPKQNFYMHWCXBUZO.-",
    "<null_1>", "<mask>",
)  # fmt: skip
#: Files of a model folder that loading reads; the weights are moved in last.
FILES = ("config.json", "vocab.txt", "model.safetensors")
WEIGHTS = "model.safetensors"
WIDTH = 1022  # residues per window (1,024 positions with <cls> and <eos>)


def tiny_tokenizer() -> EsmTokenizer:
    """An ``EsmTokenizer`` over :data:`ALPHABET`, from a vocab file written here."""
    with tempfile.TemporaryDirectory() as folder:
        vocab = Path(folder) / "vocab.txt"
        vocab.write_text("\n".join(ALPHABET) + "\n")
        return EsmTokenizer(vocab_file=str(vocab))


def encode(tokenizer: EsmTokenizer, seqs: list[str]) -> dict[str, torch.Tensor]:
    """``tokenizer(seqs, padding=True, return_tensors="pt")`` for residue strings, through a
    lookup table of the tokenizer's vocabulary (tested equal; ~40x faster than its per-string
    Python path, which cost more CPU than the whole model import per job)."""
    lut = np.full(128, tokenizer.unk_token_id, dtype=np.int64)
    for token, idx in tokenizer.get_vocab().items():
        if len(token) == 1 and ord(token) < 128:
            lut[ord(token)] = idx
    width = max(map(len, seqs), default=0) + 2
    ids = np.full((len(seqs), width), tokenizer.pad_token_id, dtype=np.int64)
    ids[:, 0] = tokenizer.cls_token_id
    for row, seq in enumerate(seqs):
        ids[row, 1 : len(seq) + 1] = lut[np.frombuffer(seq.encode("ascii", "replace"), np.uint8)]
        ids[row, len(seq) + 1] = tokenizer.eos_token_id
    ids = torch.from_numpy(ids)
    return {"input_ids": ids, "attention_mask": (ids != tokenizer.pad_token_id).long()}


def build_esm2(layers: int, dim: int, heads: int) -> EsmForMaskedLM:
    """A randomly initialised ESM-2 (the published models' settings: rotary positions,
    token dropout, no dropout, final layer norm, 4x feed-forward)."""
    config = EsmConfig(
        vocab_size=len(ALPHABET),
        hidden_size=dim,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * dim,
        max_position_embeddings=WIDTH + 4,
        position_embedding_type="rotary",
        token_dropout=True,
        emb_layer_norm_before=False,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-5,
        mask_token_id=ALPHABET.index("<mask>"),
        pad_token_id=ALPHABET.index("<pad>"),
    )
    return EsmForMaskedLM(config)


def move_in(source: Path, folder: Path, names: tuple[str, ...] = FILES) -> None:
    """Move ``names`` from ``source`` into ``folder`` one ``os.replace`` each, the weights
    last, so a folder with ``model.safetensors`` is always complete."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(names, key=lambda n: n == WEIGHTS):
        os.replace(source / name, folder / name)


def save_esm2(model: EsmForMaskedLM, tokenizer: EsmTokenizer, folder: str | Path) -> None:
    """Write ``model`` and ``tokenizer`` to ``folder`` (safetensors), written elsewhere first."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        move_in(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_esm2(folder: str | Path) -> tuple[EsmForMaskedLM, EsmTokenizer]:
    """(model in eval mode, tokenizer) from a model folder; a missing or unreadable file is
    one error naming it."""
    from safetensors import SafetensorError

    folder = Path(folder)
    for name in FILES:
        if not (folder / name).is_file():
            raise FileNotFoundError(f"missing model file: {folder / name}")
    try:
        config = EsmConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as err:
        raise unreadable(folder / "config.json", err) from None
    try:
        model = EsmForMaskedLM.from_pretrained(
            folder, config=config, local_files_only=True, use_safetensors=True
        )
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:
        raise unreadable(folder / WEIGHTS, err) from None
    return model.eval(), EsmTokenizer.from_pretrained(folder, local_files_only=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, remove: bool) -> None:
    """Raise one line naming ``path`` and both hashes unless its sha256 is ``expected``
    (an empty ``expected`` checks nothing); ``remove`` deletes the file on a mismatch."""
    if not expected:
        return
    actual = sha256_of(path)
    if actual != expected.lower():
        if remove:
            path.unlink()
        raise ValueError(f"{path}: sha256 {actual}, expected {expected.lower()} (config sha256)")


def locate_weights(spec, weights_dir: str, download: bool) -> Path:
    """The model folder of family member ``spec`` (fields name, repo, revision, sha256):
    ``<weights_dir>/<name>`` when it holds the weights, else (``download`` only) the files
    of ``spec.repo`` at ``spec.revision`` from the hub, checked against ``spec.sha256`` before
    they enter ``<weights_dir>/<name>``."""
    folder = Path(weights_dir) / spec.name
    if (folder / WEIGHTS).is_file():
        check_sha256(folder / WEIGHTS, spec.sha256, remove=False)
        return folder
    if not download:
        raise FileNotFoundError(
            f"no weights for {spec.name}: {folder / WEIGHTS} is missing (put the files "
            f"{', '.join(FILES)} there, or set model.download=true)"
        )
    if not spec.repo:
        raise ValueError(f"model.family member {spec.name} has no repo to download from")
    from huggingface_hub import hf_hub_download

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=folder.parent))
    try:
        for name in FILES:
            hf_hub_download(spec.repo, name, revision=spec.revision or None, local_dir=tmp)
        check_sha256(tmp / WEIGHTS, spec.sha256, remove=True)
        move_in(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


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
    model: EsmForMaskedLM,
    tokenizer: EsmTokenizer,
    seqs: list[str],
    tokens_per_batch: int = 4096,
) -> Iterator[np.ndarray]:
    """Final-layer per-residue embeddings (len(seq), dim) of each sequence (the last hidden
    layer, after ESM-2's final layer norm), special tokens removed; sequences longer than
    1,022 residues are embedded in windows and averaged."""
    device = next(model.parameters()).device
    for batch in batches(seqs, tokens_per_batch):
        pieces = [
            (k, s[a : a + WIDTH]) for k, s in enumerate(batch) for a in window_starts(len(s), WIDTH)
        ]
        enc = {k: v.to(device) for k, v in encode(tokenizer, [w for _, w in pieces]).items()}
        reps = model.esm(**enc).last_hidden_state.float().cpu().numpy()
        per_seq: dict[int, list[np.ndarray]] = {}
        for row, (k, w) in enumerate(pieces):
            per_seq.setdefault(k, []).append(reps[row, 1 : len(w) + 1])  # drop <cls>, <eos>, pads
        for k, seq in enumerate(batch):
            yield stitch(seq, per_seq[k], WIDTH)


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
