"""Probe one trained run on every test set (Hydra entry point).

python -m papers.reversal_curse.evaluate scale=cpu variant=decoder seed=0 \
    run.data_dir=results/cpu/reversal_curse/data \
    run.out_dir=results/cpu/reversal_curse/runs/decoder/seed0
Decoders: exact match of the greedy completion (``acc.<set>``); on the name sets of
``eval.name_sets`` also the log-probability of the correct vs a random name of the same set
(paired t-test over facts: ``logp_gap``, ``logp_p``, ``p_gt_005``, ``p_lt_1e6``) and the
mean reciprocal rank of the correct name among all the set's names (``mrr``). Encoders:
fill-in of the masked name and of the masked description (``fill_name``, ``fill_desc``).
Writes ``metrics.json`` and ``scores.npz`` (per-fact log-probabilities for the figures).
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
from papers.reversal_curse.data import TRAIN_FILE, Example, load_sets
from papers.reversal_curse.model import DECODERS, load_run
from papers.reversal_curse.schema import validate
from papers.reversal_curse.stats import (
    chance_mrr,
    logprob_test,
    mean_reciprocal_rank,
    random_partners,
)
from papers.reversal_curse.train import pad_batch


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def completion_scores(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int):
    """(sum log-probability of each completion, whether greedy decoding reproduces it exactly).

    Greedy decoding yields the completion exactly iff at every completion position the argmax
    given the true prefix is the true token, so one teacher-forced pass decides it.
    """
    import torch

    logp, exact = [], []
    for i in range(0, len(pairs), batch_size):
        seqs, spans = [], []
        for prompt, completion in pairs[i : i + batch_size]:
            p, c = [tokenizer.bos_token_id, *_ids(tokenizer, prompt)], _ids(tokenizer, completion)
            seqs.append(p + c)
            spans.append((len(p) - 1, len(p) - 1 + len(c)))  # positions predicting c
        ids, attention = pad_batch(seqs, tokenizer.pad_token_id)
        with torch.no_grad():
            out = model(input_ids=ids.to(model.device), attention_mask=attention.to(model.device))
            logits = out.logits[:, :-1].float().cpu()
        target = ids[:, 1:]
        token_lp = torch.log_softmax(logits, -1).gather(-1, target[..., None])[..., 0]
        hit = logits.argmax(-1) == target
        span = torch.zeros_like(target, dtype=torch.bool)
        for row, (a, b) in enumerate(spans):
            span[row, a:b] = True
        logp.append((token_lp * span).sum(1).numpy())
        exact.append((hit | ~span).all(1).numpy())
    return np.concatenate(logp), np.concatenate(exact)


def name_test(model, tokenizer, examples: list[Example], batch_size: int, rng) -> dict:
    """Log-probability test and MRR over the set's distinct completions (the subset's names)."""
    names = sorted({ex.completion for ex in examples})
    index = {n: i for i, n in enumerate(names)}
    correct = np.array([index[ex.completion] for ex in examples])
    pairs = [(ex.prompt, n) for ex in examples for n in names]
    scores = completion_scores(model, tokenizer, pairs, batch_size)[0].reshape(len(examples), -1)
    gap, p, good, rand = logprob_test(scores, correct, random_partners(len(names), rng))
    return {
        "metrics": {
            "logp_gap": gap, "logp_p": p, "p_gt_005": float(p > 0.05), "p_lt_1e6": float(p < 1e-6),
            "mrr": mean_reciprocal_rank(scores, correct), "mrr_chance": chance_mrr(len(names)),
        },
        "good": good, "rand": rand,
    }  # fmt: skip


def fill_in(model, tokenizer, examples: list[Example], field: str, batch_size: int) -> np.ndarray:
    """Whether the encoder restores the masked ``field`` (name or description) exactly.

    The field's tokens are all replaced by [MASK] and filled left to right, one token per pass,
    each from the argmax given the tokens filled so far.
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
            with torch.no_grad():
                out = model(
                    input_ids=ids.to(model.device), attention_mask=attention.to(model.device)
                )
                pred = out.logits.argmax(-1).cpu()
            for row, (a, b) in enumerate(spans):
                if a + k < b:
                    ids[row, a + k] = pred[row, a + k]
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
    rng = np.random.default_rng([cfg.seed, 11])
    for stem, examples in progress(list(sets.items()), f"evaluate {cfg.variant} seed {cfg.seed}"):
        if cfg.variant in DECODERS:
            pairs = [(ex.prompt, ex.completion) for ex in examples]
            metrics[f"acc.{stem}"] = float(completion_scores(model, tokenizer, pairs, bs)[1].mean())
            if stem in cfg.eval.name_sets:
                res = name_test(model, tokenizer, examples, bs, rng)
                metrics |= {f"{k}.{stem}": v for k, v in res["metrics"].items()}
                arrays |= {f"{stem}.correct": res["good"], f"{stem}.random": res["rand"]}
        else:
            for field, key in (("name", "fill_name"), ("description", "fill_desc")):
                if not all(getattr(ex, field) for ex in examples):
                    raise UserError(f"encoder fill-in needs the {field} field in {stem}.jsonl")
                metrics[f"{key}.{stem}"] = float(
                    fill_in(model, tokenizer, examples, field, bs).mean()
                )
    return metrics, arrays


@entry_point("reversal_curse")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    validate(cfg)
    require(cfg, {"run.data_dir": (bool(cfg.run.data_dir), "must name the data stage's output")})
    run_dir = Path(cfg.run.out_dir)
    metrics, arrays = measure(cfg, run_dir, Path(cfg.run.data_dir))
    save_npz(run_dir / "scores.npz", **arrays)
    write_metrics(run_dir / "metrics.json", metrics, provenance.collect(config_hash(cfg), cfg.seed))
    print("\n".join(f"{k}: {v:.4g}" for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    main()
