"""Probe one trained run on every test set (Hydra entry point).

python -m papers.reversal_curse.evaluate scale=cpu variant=decoder seed=0 \
    run.data_dir=results/cpu/reversal_curse/data \
    run.out_dir=results/cpu/reversal_curse/runs/decoder/seed0
Decoders, as the authors' evaluator: the mean log-probability of each set's completions
(``logp.<set>``) and, except on the ``_randomized`` sets (log-probabilities only), the accuracy
of the greedy completion under their rule ``completion.strip().lower().startswith(
target.strip().lower())`` (``acc.<set>``). On the name sets of ``eval.name_sets`` also the
log-probability of the correct name vs the average of the subset's other people (paired t-test
over facts: ``logp_gap``, ``logp_p``, ``p_lt_1e6``) and the mean reciprocal rank of the correct
name among the subset's people (``mrr``, ``mrr_chance``). Encoders: fill-in of the masked name
and of the masked description (``fill_name``, ``fill_desc``). Writes ``metrics.json`` and
``scores.npz`` (per-fact log-probabilities for the figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from common import provenance
from common.cli import UserError
from common.config import config_hash, entry_point, require
from common.io import save_npz, write_metrics
from common.progress import progress
from common.threads import set_threads
from papers.reversal_curse.data import (
    RANDOMIZED_SUFFIX,
    TRAIN_FILE,
    Example,
    gold_name,
    load_sets,
    people,
)
from papers.reversal_curse.model import DECODERS, load_run
from papers.reversal_curse.schema import validate
from papers.reversal_curse.stats import chance_mrr, logprob_test, mean_reciprocal_rank
from papers.reversal_curse.train import pad_batch


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def target(completion: str) -> str:
    """A completion as scored: with a leading space (validation prompts hold bare first names)."""
    return completion if completion[:1].isspace() else " " + completion


def completion_scores(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int):
    """Sum log-probability of each (prompt, completion) pair's completion tokens."""
    import torch

    logp, cache = [], {}  # the name test repeats every prompt and every name many times

    def tokens(text):
        if text not in cache:
            cache[text] = _ids(tokenizer, text)
        return cache[text]

    for i in range(0, len(pairs), batch_size):
        seqs, spans = [], []
        for prompt, completion in pairs[i : i + batch_size]:
            p, c = [tokenizer.bos_token_id, *tokens(prompt)], tokens(completion)
            seqs.append(p + c)
            spans.append((len(p) - 1, len(p) - 1 + len(c)))  # positions predicting c
        ids, attention = pad_batch(seqs, tokenizer.pad_token_id)
        with torch.no_grad():
            out = model(input_ids=ids.to(model.device), attention_mask=attention.to(model.device))
            logits = out.logits[:, :-1].float().cpu()
        token_lp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
        span = torch.zeros_like(token_lp, dtype=torch.bool)
        for row, (a, b) in enumerate(spans):
            span[row, a:b] = True
        logp.append((token_lp * span).sum(1).numpy())
    return np.concatenate(logp)


def name_scores(model, tokenizer, prompts: list[str], names: list[str], batch_size: int):
    """`completion_scores` of every (prompt, name) pair, as a (prompts, names) array: each
    prompt runs once and its key-value cache is shared by the names that follow it.

    Prompts are batched only with prompts of the same token count, so no prompt is padded and
    every name sits at the positions it has in `completion_scores`; names are right-padded
    (causal attention: padding after a token cannot change it).
    """
    import torch

    name_ids = [_ids(tokenizer, f" {n}") for n in names]
    ids, attention = pad_batch(name_ids, tokenizer.pad_token_id)
    span = attention.bool()
    encoded = [[tokenizer.bos_token_id, *_ids(tokenizer, p)] for p in prompts]
    scores = np.empty((len(prompts), len(names)))
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(encoded):
        by_length.setdefault(len(p), []).append(i)
    for rows in by_length.values():
        for start in range(0, len(rows), batch_size):  # batch_size prompts, each with every name
            chunk = rows[start : start + batch_size]
            prompt = torch.tensor([encoded[i] for i in chunk])
            with torch.no_grad():
                head = model(input_ids=prompt.to(model.device), use_cache=True)
                cache = head.cache
                cache.batch_repeat_interleave(len(names))
                full = torch.ones(len(chunk) * len(names), prompt.shape[1], dtype=torch.long)
                tail = model(
                    input_ids=ids.repeat(len(chunk), 1).to(model.device),
                    attention_mask=torch.cat([full, attention.repeat(len(chunk), 1)], 1),
                    cache=cache,
                )
            first = torch.log_softmax(head.logits[:, -1].float().cpu(), -1)[:, ids[:, 0]]
            rest = torch.log_softmax(tail.logits[:, :-1].float().cpu(), -1)
            rest = rest.reshape(len(chunk), len(names), *rest.shape[1:])
            later = rest.gather(-1, ids[None, :, 1:, None].expand(len(chunk), -1, -1, 1))[..., 0]
            scores[chunk] = (first + (later * span[None, :, 1:]).sum(-1)).numpy()
    return scores


def greedy_matches(model, tokenizer, examples: list[Example], batch_size: int) -> np.ndarray:
    """The authors' accuracy: the greedy completion, stripped and lower-cased, starts with the
    stripped, lower-cased target. Generates the target's token count plus two per prompt."""
    import torch

    hits = []
    for i in range(0, len(examples), batch_size):
        batch = examples[i : i + batch_size]
        prompts = [[tokenizer.bos_token_id, *_ids(tokenizer, ex.prompt)] for ex in batch]
        new = max(len(_ids(tokenizer, target(ex.completion))) for ex in batch) + 2
        width = max(map(len, prompts))
        ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left-padded, so that every row continues at the end
            ids[row, width - len(p) :] = torch.tensor(p)
            attention[row, width - len(p) :] = 1
        with torch.no_grad():
            out = model.generate(
                input_ids=ids.to(model.device), attention_mask=attention.to(model.device),
                max_new_tokens=new, do_sample=False, pad_token_id=tokenizer.pad_token_id,
            )  # fmt: skip
        texts = tokenizer.batch_decode(out[:, width:].cpu(), skip_special_tokens=True)
        hits += [
            text.strip().lower().startswith(ex.completion.strip().lower())
            for text, ex in zip(texts, batch, strict=True)
        ]
    return np.array(hits)


def name_test(model, tokenizer, examples: list[Example], names: list[str], batch_size: int):
    """Log-probability test and MRR of each prompt's person among the subset's ``names``."""
    index = {n: i for i, n in enumerate(names)}
    correct = np.array([index[gold_name(ex, names)] for ex in examples])
    scores = name_scores(model, tokenizer, [ex.prompt for ex in examples], names, batch_size)
    gap, p, good, rand = logprob_test(scores, correct)
    return {
        "metrics": {
            "logp_gap": gap, "logp_p": p, "p_lt_1e6": float(p < 1e-6),
            "mrr": mean_reciprocal_rank(scores, correct), "mrr_chance": chance_mrr(len(names)),
        },
        "good": good, "rand": rand,
    }  # fmt: skip


def fill_in(model, tokenizer, examples: list[Example], field: str, batch_size: int) -> np.ndarray:
    """Whether the encoder restores the masked ``field`` (name or description) exactly.

    The field's tokens are all replaced by [MASK] and filled left to right, one token per pass,
    each from the argmax given the tokens filled so far. A pass runs only the rows still filling,
    and the vocabulary head only at the position it fills.
    """
    import torch

    hits = []
    for i in range(0, len(examples), batch_size):
        seqs, spans = [], []
        for ex in examples[i : i + batch_size]:
            entity = getattr(ex, field)
            start = ex.text.index(entity)
            before = _ids(tokenizer, ex.text[:start])
            middle = _ids(tokenizer, entity)
            after = _ids(tokenizer, ex.text[start + len(entity) :])
            seqs.append([tokenizer.bos_token_id, *before, *middle, *after, tokenizer.eos_token_id])
            spans.append((1 + len(before), 1 + len(before) + len(middle)))
        gold, attention = pad_batch(seqs, tokenizer.pad_token_id)
        ids = gold.clone()
        for row, (a, b) in enumerate(spans):
            ids[row, a:b] = tokenizer.mask_token_id
        for k in range(max(b - a for a, b in spans)):
            rows = [r for r, (a, b) in enumerate(spans) if a + k < b]
            at = torch.tensor([spans[r][0] + k for r in rows])
            rows = torch.tensor(rows)
            with torch.no_grad():
                hidden = model.bert(
                    input_ids=ids[rows].to(model.device),
                    attention_mask=attention[rows].to(model.device),
                ).last_hidden_state
                ids[rows, at] = model.cls(hidden[torch.arange(len(rows)), at]).argmax(-1).cpu()
        hits += [bool((ids[r, a:b] == gold[r, a:b]).all()) for r, (a, b) in enumerate(spans)]
    return np.array(hits)


def measure(cfg: DictConfig, run_dir: Path, data_dir: Path):
    """(metrics, per-fact arrays) of one run."""
    model, tokenizer = load_run(run_dir, cfg.variant)
    sets = {k: v for k, v in load_sets(data_dir).items() if k != TRAIN_FILE.removesuffix(".jsonl")}
    missing = sorted(set(cfg.eval.name_sets) - set(sets))
    if missing:
        raise UserError(f"eval.name_sets {missing} not among the data's test sets {sorted(sets)}")
    bs = cfg.eval.batch_size
    metrics, arrays = {}, {}
    for stem, examples in progress(list(sets.items()), f"evaluate {cfg.variant} seed {cfg.seed}"):
        if cfg.variant in DECODERS:
            pairs = [(ex.prompt, target(ex.completion)) for ex in examples]
            metrics[f"logp.{stem}"] = float(completion_scores(model, tokenizer, pairs, bs).mean())
            if not stem.endswith(RANDOMIZED_SUFFIX):
                hits = greedy_matches(model, tokenizer, examples, bs)
                metrics[f"acc.{stem}"] = float(hits.mean())
            if stem in cfg.eval.name_sets:
                names = people(sets, stem.split("_")[0])
                res = name_test(model, tokenizer, examples, names, bs)
                metrics |= {f"{k}.{stem}": v for k, v in res["metrics"].items()}
                arrays |= {f"{stem}.correct": res["good"], f"{stem}.random": res["rand"]}
        elif not stem.endswith(RANDOMIZED_SUFFIX):  # their completions name another fact
            for field, key in (("name", "fill_name"), ("description", "fill_desc")):
                if not all(getattr(ex, field) for ex in examples):
                    raise UserError(f"encoder fill-in needs the {field} field in {stem}.jsonl")
                metrics[f"{key}.{stem}"] = float(
                    fill_in(model, tokenizer, examples, field, bs).mean()
                )
    return metrics, arrays


def run(cfg: DictConfig) -> None:
    """Evaluate one trained run directory (``main`` without the CLI)."""
    set_threads(cfg.run.threads)
    validate(cfg)
    require(cfg, {"run.data_dir": (bool(cfg.run.data_dir), "must name the data stage's output")})
    run_dir = Path(cfg.run.out_dir)
    metrics, arrays = measure(cfg, run_dir, Path(cfg.run.data_dir))
    save_npz(run_dir / "scores.npz", **arrays)
    write_metrics(run_dir / "metrics.json", metrics, provenance.collect(config_hash(cfg), cfg.seed))
    print("\n".join(f"{k}: {v:.4g}" for k, v in sorted(metrics.items())))


@entry_point("reversal_curse")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
