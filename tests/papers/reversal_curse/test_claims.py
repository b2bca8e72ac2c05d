"""The claims' gating and calibration: an untrained model must not 'pass' the reversal curse,
and every claim's null must be able to fail it."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.claims import evaluate_claims, load_claims

CLAIMS = Path(__file__).resolve().parents[3] / "papers/reversal_curse/claims.yaml"
CURSE = ("C3a", "C3b", "C4b", "C4c")
CONTROLS = ("C1a", "C1b", "C5a", "C5b", "C5c", "C7c", "C7d", "C8c")
#: what a model that learned nothing scores: no match, no signal, chance ranks
UNTRAINED = {"logp_gap": 0.0, "mrr": 0.133, "mrr_chance": 0.133}
#: what a model that knows the probed fact scores
LEARNED = {"logp_gap": 5.0, "mrr": 1.0, "mrr_chance": 0.133}


def _value(name: str, table: dict) -> list[float]:
    return [table.get(name.split(".")[1], 0.0 if table is UNTRAINED else 1.0)] * 3


@pytest.fixture(scope="module")
def claims():
    return load_claims(CLAIMS)


def _metrics(claims, learned: set[str]) -> dict:
    names = {c[k] for c in claims for k in ("metric", "null", "oracle") if c[k]}
    return {n: _value(n, LEARNED if n in learned else UNTRAINED) for n in names}


def test_every_claim_says_why_and_has_a_null(claims):
    assert all(c["why"].strip() for c in claims)
    assert all(c["null"] for c in claims)


def test_untrained_model_blocks_the_reversal_curse_claims(claims):
    table = evaluate_claims(claims, _metrics(claims, set()), "cpu").set_index("id")
    # without the gating these would pass on a model that learned nothing
    assert set(table.loc[list(CURSE), "point"]) == {"PASS"}
    assert set(table.loc[list(CURSE), "status"]) == {"BLOCKED"}
    assert set(table.loc[list(CONTROLS), "status"]) == {"FAIL"}
    assert set(table.loc[["C2", "C7a", "C7b", "C8"], "status"]) == {"BLOCKED"}


def _trained(claims) -> set[str]:
    learned = {c["metric"] for c in claims if c["id"] in CONTROLS}
    learned |= {"decoder.acc.p2d_prompts_test"}
    return learned | {c["null"] for c in claims if c["null"].startswith("reverse.")}


def test_trained_model_decides_the_claims(claims):
    """With the controls passing, the curse claims are decided, and the nulls are informative."""
    table = evaluate_claims(claims, _metrics(claims, _trained(claims)), "cpu").set_index("id")
    assert set(table.loc[list(CURSE) + list(CONTROLS) + ["C2", "C6a", "C6b"], "status"]) == {"PASS"}
    assert set(table.loc[list(CURSE), "null_point"]) == {"FAIL"}


def test_a_null_with_the_curse_makes_the_claims_uninformative(claims):
    """Had reverse training not lifted the reverse direction, C3a and C4b could not fail."""
    learned = {n for n in _trained(claims) if not n.startswith("reverse.")}
    table = evaluate_claims(claims, _metrics(claims, learned), "cpu").set_index("id")
    assert set(table.loc[list(CURSE[:3]), "status"]) == {"UNINFORMATIVE"}


def test_c2_bar_is_the_papers_value_less_two_spreads(claims):
    """GPT-3 175B: 50.0 +- 2.1 % on held-out paraphrases; the paper itself must pass."""
    c2 = next(c for c in claims if c["id"] == "C2")
    assert c2["check"] == {"op": ">=", "value": pytest.approx(0.500 - 2 * 0.021)}
