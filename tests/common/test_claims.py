"""Tests for common.claims: validation, evaluation rules, CSV round trip and the CLI."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.claims import (
    evaluate_claims,
    load_claims,
    read_claims_csv,
    straddles,
    write_claims_csv,
)
from common.templating import render

REPO = Path(__file__).resolve().parents[2]

CLAIMS = [
    {"id": "C1", "claim": "error is tiny", "source": "Thm 1", "paper": "exact",
     "metric": "err", "check": {"op": "<", "value": "1e-3"}, "scales": ["cpu", "paper"],
     "why": "Thm 1"},
    {"id": "C2", "claim": "accuracy is high", "source": "Table 2", "paper": "0.95",
     "metric": "acc", "check": {"op": ">=", "value": 0.9}, "scales": ["cpu", "paper"],
     "note": "too few training steps on CPU", "why": "Table 2"},
    {"id": "C3", "claim": "slope near 0.2", "source": "Fig 3", "paper": 0.2,
     "metric": "slope", "check": {"op": "between", "low": 0.15, "high": 0.25},
     "scales": ["cpu"], "why": "Fig 3"},
    {"id": "C4", "claim": "per-seed gap", "source": "Fig 4", "paper": "0.5",
     "metric": "gap", "check": {"op": "abs_diff_le", "target": 0.5, "value": 0.05},
     "scales": ["cpu"], "why": "Fig 4"},
    {"id": "C5", "claim": "absent metric", "source": "Sec 5", "paper": "1",
     "metric": "nowhere", "check": {"op": ">", "value": 0}, "scales": ["cpu"], "why": "x"},
    {"id": "C6", "claim": "paper only", "source": "Sec 6", "paper": "1",
     "metric": "acc", "check": {"op": ">", "value": 0}, "scales": ["paper"], "why": "x"},
]  # fmt: skip
METRICS = {"err": 2e-4, "acc": 0.5, "slope": 0.2, "gap": [0.49, 0.50, 0.51], "_unused": 1.0}


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def claims(tmp_path):
    return load_claims(write_yaml(tmp_path / "claims.yaml", CLAIMS))


def test_evaluate_at_cpu_scale(claims):
    df = evaluate_claims(claims, METRICS, "cpu").set_index("id")
    assert df["status"].to_dict() == {
        "C1": "PASS", "C2": "FAIL", "C3": "PASS", "C4": "PASS", "C5": "MISSING", "C6": "SKIP",
    }  # fmt: skip
    assert df.loc["C1", "check"] == "< 0.001"
    assert df.loc["C3", "check"] == "in [0.15, 0.25]"
    assert df.loc["C4", "check"] == "|x - 0.5| <= 0.05"
    assert df.loc["C2", "note"] == "too few training steps on CPU"
    assert df.loc["C3", "paper"] == "0.2"
    gap = df.loc["C4"]
    assert gap["value"] == pytest.approx(0.50) and gap["n"] == 3
    assert gap["value_std"] == pytest.approx(0.01)
    assert gap["ci_low"] == pytest.approx(0.5 - 4.302653 * 0.01 / 3**0.5, rel=1e-5)
    assert df.loc["C1", "n"] == 1 and math.isnan(df.loc["C1", "value_std"])
    assert math.isnan(df.loc["C5", "value"]) and df.loc["C5", "n"] == 0


def test_between_and_abs_diff_fail_outside(claims):
    df = evaluate_claims(claims, {**METRICS, "slope": 0.3, "gap": [0.6, 0.6]}, "cpu")
    assert df.set_index("id").loc[["C3", "C4"], "status"].tolist() == ["FAIL", "FAIL"]


def test_smoke_never_asserts_but_reports_value(claims):
    df = evaluate_claims(claims, METRICS, "smoke").set_index("id")
    assert set(df.loc[["C1", "C2", "C3", "C4", "C6"], "status"]) == {"SMOKE"}
    assert df.loc["C5", "status"] == "MISSING"
    assert df.loc["C2", "value"] == 0.5


def test_nan_or_null_metric_is_missing(claims):
    df = evaluate_claims(claims, {**METRICS, "err": None, "gap": [0.5, None]}, "cpu")
    assert df.set_index("id").loc[["C1", "C4"], "status"].tolist() == ["MISSING", "MISSING"]


def test_skip_takes_precedence_over_missing(claims):
    metrics = {k: v for k, v in METRICS.items() if k != "acc"}
    df = evaluate_claims(claims, metrics, "cpu").set_index("id")
    assert df.loc[["C2", "C6"], "status"].tolist() == ["MISSING", "SKIP"]


def test_csv_round_trip(claims, tmp_path):
    df = evaluate_claims(claims, METRICS, "cpu")
    write_claims_csv(tmp_path / "claims.csv", df)
    back = read_claims_csv(tmp_path / "claims.csv")
    assert back["status"].tolist() == df["status"].tolist()
    assert back["note"].tolist() == df["note"].tolist()
    assert back["value"].iloc[3] == pytest.approx(0.50)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"check": {"op": "~", "value": 1}}, "claim C1: field 'check.op' must be one of <, <=,"),
        ({"check": {"op": "<", "value": "small"}}, "claim C1: field 'check.value' must be a"),
        ({"check": {"op": "between", "low": 1}}, "claim C1: missing 'check.high'"),
        ({"scales": ["gpu"]}, "claim C1: field 'scales' must be a non-empty list drawn from"),
        ({"metric": None}, "claim C1: field 'metric' must be a non-empty string"),
        ({"extra": 1}, "claim C1: unknown field 'extra'"),
        ({"source": ...}, "claim C1: missing field 'source' (required: id, claim, source,"),
        ({"why": ...}, "claim C1: missing field 'why'"),
        ({"requires": ["C9"]}, "claim C1: requires unknown claim 'C9'"),
        ({"requires": "C1"}, "claim C1: field 'requires' must be a list"),
    ],
)
def test_validation_errors_are_one_line(tmp_path, change, expected):
    entry = {**CLAIMS[0], **change}
    entry = {k: v for k, v in entry.items() if v is not ...}
    path = write_yaml(tmp_path / "claims.yaml", [entry])
    with pytest.raises(ValueError) as err:
        load_claims(path)
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_duplicate_id(tmp_path):
    path = write_yaml(tmp_path / "claims.yaml", [CLAIMS[0], CLAIMS[0]])
    with pytest.raises(ValueError, match="claim C1: field 'id' is duplicated"):
        load_claims(path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "common.claims", *args]
    return subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_cli_end_to_end(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({**METRICS, "_meta": {"git_commit": "abc"}}))
    claims = write_yaml(tmp_path / "claims.yaml", CLAIMS)
    out = tmp_path / "out" / "claims.csv"
    args = ["--claims", str(claims), "--metrics", str(metrics), "--scale", "cpu", "--out", str(out)]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert read_claims_csv(out)["status"].tolist()[:2] == ["PASS", "FAIL"]


def test_cli_bad_claims_leaves_no_output(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps(METRICS))
    claims = write_yaml(tmp_path / "claims.yaml", [{**CLAIMS[0], "check": {"op": "=="}}])
    out = tmp_path / "claims.csv"
    args = ["--claims", str(claims), "--metrics", str(metrics), "--scale", "cpu", "--out", str(out)]
    result = run_cli(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "check.op" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.yaml", "metrics.json"]


# --- calibration, gating, intervals, templated notes -----------------------------------------

BASE = {"claim": "effect", "source": "Fig 1", "paper": "yes", "metric": "ours",
        "check": {"op": ">", "value": 0.5}, "scales": ["cpu"], "why": "Fig 1"}  # fmt: skip


def statuses(tmp_path, entries, metrics, scale="cpu"):
    claims = load_claims(write_yaml(tmp_path / "claims.yaml", entries))
    return evaluate_claims(claims, metrics, scale).set_index("id")


def test_check_that_passes_on_its_null_is_uninformative(tmp_path):
    df = statuses(tmp_path, [{**BASE, "id": "C1", "null": "noise"}], {"ours": 0.9, "noise": 0.8})
    assert df.loc["C1", "status"] == "UNINFORMATIVE" and df.loc["C1", "point"] == "PASS"
    assert df.loc["C1", "null_value"] == 0.8 and df.loc["C1", "null_point"] == "PASS"


def test_check_that_fails_on_its_oracle_is_mis_specified(tmp_path):
    entry = {**BASE, "id": "C1", "null": "noise", "oracle": "exact"}
    df = statuses(tmp_path, [entry], {"ours": 0.2, "noise": 0.1, "exact": 0.4})
    assert df.loc["C1", "status"] == "MIS-SPECIFIED" and df.loc["C1", "point"] == "FAIL"


def test_calibrated_check_keeps_its_verdict(tmp_path):
    entry = {**BASE, "id": "C1", "null": "noise", "oracle": "exact"}
    assert (
        statuses(tmp_path, [entry], {"ours": 0.9, "noise": 0.1, "exact": 1.0}).loc["C1", "status"]
        == "PASS"
    )
    assert (
        statuses(tmp_path, [entry], {"ours": 0.2, "noise": 0.1, "exact": 1.0}).loc["C1", "status"]
        == "FAIL"
    )


def test_declared_reference_absent_is_missing(tmp_path):
    df = statuses(tmp_path, [{**BASE, "id": "C1", "null": "noise"}], {"ours": 0.9})
    assert df.loc["C1", "status"] == "MISSING"


def test_claim_with_failing_control_is_blocked(tmp_path):
    entries = [
        {**BASE, "id": "C0", "metric": "control"},
        {**BASE, "id": "C1", "requires": ["C0"], "check": {"op": "<", "value": 0.1}},
        {**BASE, "id": "C2", "requires": ["C1"]},
    ]
    # an untrained model: the control scores 0 and the "curse" metric is trivially low
    df = statuses(tmp_path, entries, {"control": 0.0, "ours": 0.0})
    assert df["status"].to_dict() == {"C0": "FAIL", "C1": "BLOCKED", "C2": "BLOCKED"}
    assert df.loc["C1", "point"] == "PASS"
    df = statuses(tmp_path, entries, {"control": 1.0, "ours": 0.0})
    assert df["status"].to_dict() == {"C0": "PASS", "C1": "PASS", "C2": "FAIL"}


def test_requires_cycle_is_an_error(tmp_path):
    entries = [{**BASE, "id": "A", "requires": ["B"]}, {**BASE, "id": "B", "requires": ["A"]}]
    with pytest.raises(ValueError, match="cycle"):
        load_claims(write_yaml(tmp_path / "claims.yaml", entries))


def test_interval_straddling_the_threshold_is_inconclusive(tmp_path):
    entry = {**BASE, "id": "C1"}
    df = statuses(tmp_path, [entry], {"ours": [0.3, 0.6, 0.9]})
    assert df.loc["C1", "status"] == "INCONCLUSIVE" and df.loc["C1", "point"] == "PASS"
    assert df.loc["C1", "ci_low"] < 0.5 < df.loc["C1", "ci_high"]
    assert statuses(tmp_path, [entry], {"ours": [0.8, 0.9, 0.85]}).loc["C1", "status"] == "PASS"
    assert statuses(tmp_path, [entry], {"ours": [0.1, 0.2, 0.15]}).loc["C1", "status"] == "FAIL"


def test_named_interval_metric_is_used(tmp_path):
    entry = {**BASE, "id": "C1", "interval": "ours_ci"}
    df = statuses(tmp_path, [entry], {"ours": 0.7, "ours_ci": [0.45, 0.95]})
    assert df.loc["C1", "status"] == "INCONCLUSIVE"
    df = statuses(tmp_path, [entry], {"ours": 0.7, "ours_ci": [0.6, 0.8]})
    assert df.loc["C1", "status"] == "PASS"


@pytest.mark.parametrize(
    ("check", "low", "high", "expected"),
    [
        ({"op": "<", "value": 1}, 0.2, 0.9, False),
        ({"op": "<", "value": 1}, 0.2, 1.5, True),
        ({"op": "<", "value": 1}, 1.0, 1.5, False),
        ({"op": ">=", "value": 1}, 1.0, 1.5, False),
        ({"op": "between", "low": 0, "high": 1}, -1, 2, True),
        ({"op": "between", "low": 0, "high": 1}, 2, 3, False),
        ({"op": "between", "low": 0, "high": 1}, 0.2, 0.3, False),
        ({"op": "abs_diff_le", "target": 0, "value": 1}, 0.5, 1.5, True),
    ],
)
def test_straddles(check, low, high, expected):
    assert straddles(check, low, high) is expected


def test_note_is_rendered_from_the_metrics(tmp_path):
    entry = {**BASE, "id": "C1", "note": "ours {{ m.ours | sig(2) }} ({{ m['a.b'] | pct }})"}
    df = statuses(tmp_path, [entry], {"ours": [0.912, 0.914], "a.b": 0.25})
    assert df.loc["C1", "note"] == "ours 0.91 (25.0%)"


def test_note_with_unknown_metric_renders_a_dash_but_strict_mode_raises():
    assert render("x {{ m.gone | sig }}", {}) == "x —"
    assert render("{{ m.gone | int }} of {{ m.n | int }}", {"n": [1319.0]}) == "— of 1319"
    for template in ("x {{ m.gone | sig }}", "x {{ m.gone | int }}"):
        with pytest.raises(ValueError, match="gone"):
            render(template, {}, strict=True)


def test_unquoted_null_key_is_the_null_field(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text(
        "- {id: C1, claim: c, source: s, paper: p, metric: ours, why: w, scales: [cpu],\n"
        "   check: {op: '>', value: 0.5}, null: noise}\n"
    )
    assert load_claims(path)[0]["null"] == "noise"
