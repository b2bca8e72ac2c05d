"""The claims' gating: an untrained model must not 'pass' the reversal curse."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.claims import evaluate_claims, load_claims

CLAIMS = Path(__file__).resolve().parents[3] / "papers/reversal_curse/claims.yaml"
CURSE = ("C3a", "C3b", "C4a", "C4b", "C4c")
CONTROLS = ("C1a", "C1b", "C5a", "C5b", "C5c", "C7c", "C7d", "C8c")


def _untrained_value(name: str) -> float:
    """What a model that learned nothing scores: no exact match, no signal, chance ranks."""
    metric = name.split(".")[1]
    return {"p_gt_005": 1.0, "logp_gap": 0.0, "mrr": 0.133, "mrr_chance": 0.133}.get(metric, 0.0)


@pytest.fixture(scope="module")
def claims():
    return load_claims(CLAIMS)


def test_every_claim_says_why(claims):
    assert all(c["why"].strip() for c in claims)


def test_untrained_model_blocks_the_reversal_curse_claims(claims):
    names = {c[k] for c in claims for k in ("metric", "null", "oracle") if c[k]}
    metrics = {name: [_untrained_value(name)] * 3 for name in names}
    table = evaluate_claims(claims, metrics, "cpu").set_index("id")
    # without the gating these would pass on a model that learned nothing
    assert set(table.loc[list(CURSE), "point"]) == {"PASS"}
    assert set(table.loc[list(CURSE), "status"]) == {"BLOCKED"}
    assert set(table.loc[list(CONTROLS), "status"]) == {"FAIL"}
    assert set(table.loc[["C7a", "C7b", "C8"], "status"]) == {"BLOCKED"}


def test_trained_model_decides_the_claims(claims):
    """With the controls passing, the curse claims are decided, and the nulls are informative."""
    names = {c[k] for c in claims for k in ("metric", "null", "oracle") if c[k]}
    metrics = {name: [_untrained_value(name)] * 3 for name in names}
    learned = [c["metric"] for c in claims if c["id"] in CONTROLS]
    learned += [
        "decoder.acc.p2d_prompts_test",
        "reverse.acc.p2d_reverse_prompts_test",
        "reverse.acc.d2p_reverse_prompts_test",
        "reverse.mrr.p2d_reverse_prompts_test",
    ]
    metrics |= {name: [1.0] * 3 for name in learned}
    table = evaluate_claims(claims, metrics, "cpu").set_index("id")
    assert set(table.loc[list(CURSE) + list(CONTROLS) + ["C6a", "C6b"], "status"]) == {"PASS"}
