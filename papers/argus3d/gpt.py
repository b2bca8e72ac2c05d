"""Stage 2: a GPT over codebook indices with a category prefix (transformers' GPT2LMHeadModel).

The vocabulary is the codebook (indices 0..K-1) followed by one token per category; a
sequence is [category token] + the shape's codes in the chosen flattening order. Training
predicts the codes only; sampling is top-k over the codebook part of the vocabulary.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from common.progress import progress

ORDERS = ("row", "col")


def reorder(codes: np.ndarray, token_grid: tuple[int, ...], order: str) -> np.ndarray:
    """Natural (row-major) codes (S, T) -> the sequence order: ``col`` swaps the last two axes."""
    if order not in ORDERS:
        raise ValueError(f"stage2.order must be one of {', '.join(ORDERS)}, got {order!r}")
    if order == "row":
        return codes
    grid = codes.reshape(len(codes), *token_grid)
    return np.ascontiguousarray(np.swapaxes(grid, -1, -2)).reshape(len(codes), -1)


def restore(codes: np.ndarray, token_grid: tuple[int, ...], order: str) -> np.ndarray:
    """Inverse of ``reorder`` (swapping two axes is its own inverse once shapes are set)."""
    if order == "row":
        return codes
    swapped = (*token_grid[:-2], token_grid[-1], token_grid[-2])
    grid = codes.reshape(len(codes), *swapped)
    return np.ascontiguousarray(np.swapaxes(grid, -1, -2)).reshape(len(codes), -1)


def build_gpt(tc, codebook_size: int, n_categories: int, seq_len: int) -> GPT2LMHeadModel:
    """A pre-LN GPT-2 of the configured width / depth over codes + category tokens."""
    config = GPT2Config(
        vocab_size=codebook_size + n_categories, n_positions=seq_len + 1, n_embd=tc.width,
        n_layer=tc.layers, n_head=tc.heads, resid_pdrop=tc.dropout, embd_pdrop=tc.dropout,
        attn_pdrop=tc.dropout, bos_token_id=codebook_size, eos_token_id=codebook_size,
    )  # fmt: skip
    return GPT2LMHeadModel(config)


def sequences(codes: np.ndarray, category: np.ndarray, codebook_size: int) -> torch.Tensor:
    """(S, T+1) token ids: category token then codes."""
    prefix = codebook_size + category[:, None]
    return torch.as_tensor(np.concatenate([prefix, codes], axis=1), dtype=torch.long)


def nll(model: GPT2LMHeadModel, seqs: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per code token) of the codes given the prefix."""
    logits = model(input_ids=seqs[:, :-1]).logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seqs[:, 1:].reshape(-1))


@torch.no_grad()
def sample(
    model: GPT2LMHeadModel,
    category: np.ndarray,
    codebook_size: int,
    length: int,
    top_k: int,
    generator: torch.Generator,
) -> np.ndarray:
    """Codes (S, length) sampled autoregressively with top-k (codebook tokens only)."""
    model.eval()
    ids = torch.as_tensor(codebook_size + category[:, None], dtype=torch.long)
    out = model(input_ids=ids, use_cache=True)
    codes = []
    for _ in progress(range(length), "sample tokens"):
        logits = out.logits[:, -1, :codebook_size]
        top, idx = logits.topk(min(top_k, codebook_size), dim=-1)
        pick = torch.multinomial(torch.softmax(top, dim=-1), 1, generator=generator)
        tok = idx.gather(1, pick)
        codes.append(tok)
        out = model(input_ids=tok, past_key_values=out.past_key_values, use_cache=True)
    return torch.cat(codes, dim=1).numpy()
