"""Claims: check a paper's ``claims.yaml`` against its ``metrics.json`` and write ``claims.csv``.

A claim is a measuring instrument. Besides our metric it may name a ``null`` metric (a system
without the effect, on which the check must FAIL) and an ``oracle`` metric (a system with the
effect by construction, on which it must PASS), and ``requires`` other claims (positive
controls) that must PASS before it can be decided. Statuses, in order of precedence:

- SKIP: the claim is not checked at this scale; MISSING: a metric it needs is absent;
  SMOKE: smoke scale (values reported, nothing asserted);
- BLOCKED: a required control did not PASS;
- MIS-SPECIFIED: the check FAILs on its oracle (it cannot pass even for the true effect);
- UNINFORMATIVE: the check PASSes on its null (it cannot fail);
- INCONCLUSIVE: the 95% interval of our value straddles the threshold;
- PASS / FAIL: the point value against the threshold.

Usage: python -m common.claims --claims CLAIMS_YAML --metrics METRICS_JSON --scale SCALE
                               --out CLAIMS_CSV [--config-overrides ...]
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from common.cli import one_line_errors
from common.io import read_csv, read_metrics, read_yaml, write_csv
from common.templating import render

SCALES = ("smoke", "cpu", "paper")
STATUSES = (
    "PASS", "FAIL", "INCONCLUSIVE", "BLOCKED", "UNINFORMATIVE", "MIS-SPECIFIED",
    "SMOKE", "MISSING", "SKIP",
)  # fmt: skip
#: Check operators and the numeric keys each takes besides ``op``.
CHECK_KEYS = {
    "<": ("value",), "<=": ("value",), ">": ("value",), ">=": ("value",),
    "between": ("low", "high"), "abs_diff_le": ("target", "value"),
}  # fmt: skip
FIELDS = ("id", "claim", "source", "paper", "metric", "check", "why", "scales")
OPTIONAL_FIELDS = ("note", "null", "oracle", "requires", "interval")
COLUMNS = (
    "id", "claim", "source", "paper", "metric", "check", "why",
    "value", "value_std", "n", "ci_low", "ci_high", "point",
    "null", "null_value", "null_point", "oracle", "oracle_value", "oracle_point",
    "requires", "status", "note",
)  # fmt: skip
_TEXT_COLUMNS = (
    "id", "claim", "source", "paper", "metric", "check", "why", "point", "null", "null_point",
    "oracle", "oracle_point", "requires", "status", "note",
)  # fmt: skip
_NUMBER_COLUMNS = ("value", "value_std", "ci_low", "ci_high", "null_value", "oracle_value")


def _number(x: Any, where: str) -> float:
    """A finite threshold; numeric strings are accepted because YAML reads ``1e-3`` as text."""
    try:
        value = float(x) if not isinstance(x, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {x!r}")
    return value


def _text(value: Any, key: str, where: str) -> str:
    """A non-empty string field (``paper`` may also be a bare number)."""
    if key == "paper" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if key == "id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field '{key}' must be a non-empty string, got {value!r}")
    return value


def _check(check: Any, where: str) -> dict[str, Any]:
    ops = ", ".join(CHECK_KEYS)
    if not isinstance(check, dict) or check.get("op") not in CHECK_KEYS:
        op = check.get("op") if isinstance(check, dict) else check
        raise ValueError(f"{where}: field 'check.op' must be one of {ops}; got {op!r}")
    op, keys = check["op"], CHECK_KEYS[check["op"]]
    extra = sorted(set(check) - {"op", *keys}, key=str)
    missing = [k for k in keys if k not in check]
    if extra or missing:
        bad = f"missing 'check.{missing[0]}'" if missing else f"unknown key 'check.{extra[0]}'"
        raise ValueError(f"{where}: {bad}; op {op!r} takes keys {', '.join(keys)}")
    out = {"op": op, **{k: _number(check[k], f"{where}: field 'check.{k}'") for k in keys}}
    if op == "between" and out["low"] > out["high"]:
        raise ValueError(
            f"{where}: field 'check' needs low <= high, got {out['low']} > {out['high']}"
        )
    if op == "abs_diff_le" and out["value"] < 0:
        raise ValueError(f"{where}: field 'check.value' (tolerance) must be >= 0")
    return out


def _optional_text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field '{key}' must be a non-empty string, got {value!r}")
    return value


def _entry(entry: Any, index: int, path: Path) -> dict[str, Any]:
    where = f"{path}: claim #{index + 1}"
    if not isinstance(entry, dict) or not entry:
        raise ValueError(f"{where}: expected a mapping with fields {', '.join(FIELDS)}")
    entry = {"null" if k is None else k: v for k, v in entry.items()}  # YAML reads `null:` as None
    if isinstance(entry.get("id"), str | int) and not isinstance(entry.get("id"), bool):
        where = f"{path}: claim {entry['id']}"
    missing = [k for k in FIELDS if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing field '{missing[0]}' (required: {', '.join(FIELDS)})")
    unknown = sorted(set(entry) - set(FIELDS) - set(OPTIONAL_FIELDS), key=str)
    if unknown:
        allowed = ", ".join(FIELDS + OPTIONAL_FIELDS)
        raise ValueError(f"{where}: unknown field '{unknown[0]}' (allowed: {allowed})")
    scales = entry["scales"]
    if not isinstance(scales, list) or not scales or any(s not in SCALES for s in scales):
        raise ValueError(
            f"{where}: field 'scales' must be a non-empty list drawn from {', '.join(SCALES)}; "
            f"got {scales!r}"
        )
    requires = entry.get("requires") or []
    if not isinstance(requires, list) or not all(isinstance(r, str | int) for r in requires):
        raise ValueError(f"{where}: field 'requires' must be a list of claim ids, got {requires!r}")
    return {
        **{k: _text(entry[k], k, where) for k in ("id", "claim", "source", "paper", "metric")},
        "why": _text(entry["why"], "why", where),
        "check": _check(entry["check"], where),
        "scales": list(scales),
        **{k: _optional_text(entry, k, where) for k in ("note", "null", "oracle", "interval")},
        "requires": [str(r) for r in requires],
    }


def _in_dependency_order(claims: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """Claims sorted so that every claim comes after those it requires (cycles are errors)."""
    by_id = {c["id"]: c for c in claims}
    for claim in claims:
        for req in claim["requires"]:
            if req not in by_id:
                raise ValueError(f"{path}: claim {claim['id']}: requires unknown claim {req!r}")
            if req == claim["id"]:
                raise ValueError(f"{path}: claim {claim['id']}: requires itself")
    order: list[str] = []
    visiting: set[str] = set()

    def visit(cid: str) -> None:
        if cid in order:
            return
        if cid in visiting:
            raise ValueError(f"{path}: claim {cid}: 'requires' forms a cycle")
        visiting.add(cid)
        for req in by_id[cid]["requires"]:
            visit(req)
        visiting.discard(cid)
        order.append(cid)

    for claim in claims:
        visit(claim["id"])
    return [by_id[cid] for cid in order]


def load_claims(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and strictly validate a ``claims.yaml``; any problem is a one-line ``ValueError``."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty YAML list of claims")
    claims = [_entry(entry, i, path) for i, entry in enumerate(data)]
    seen: set[str] = set()
    for claim in claims:
        if claim["id"] in seen:
            raise ValueError(f"{path}: claim {claim['id']}: field 'id' is duplicated")
        seen.add(claim["id"])
    _in_dependency_order(claims, path)
    return claims


def check_text(check: dict[str, Any]) -> str:
    """Human form of a check: ``< 0.001``, ``in [0.15, 0.25]``, ``|x - 0.2| <= 0.05``."""
    if check["op"] == "between":
        return f"in [{check['low']:g}, {check['high']:g}]"
    if check["op"] == "abs_diff_le":
        return f"|x - {check['target']:g}| <= {check['value']:g}"
    return f"{check['op']} {check['value']:g}"


def passes(check: dict[str, Any], x: float) -> bool:
    """Whether value ``x`` passes ``check``."""
    op = check["op"]
    if op == "between":
        return check["low"] <= x <= check["high"]
    if op == "abs_diff_le":
        return abs(x - check["target"]) <= check["value"]
    return {"<": x < check["value"], "<=": x <= check["value"],
            ">": x > check["value"], ">=": x >= check["value"]}[op]  # fmt: skip


def _pass_region(check: dict[str, Any]) -> tuple[float, float]:
    """The closed hull of the values that pass (one interval for every operator)."""
    op = check["op"]
    if op == "between":
        return check["low"], check["high"]
    if op == "abs_diff_le":
        return check["target"] - check["value"], check["target"] + check["value"]
    return (-math.inf, check["value"]) if op in ("<", "<=") else (check["value"], math.inf)


def straddles(check: dict[str, Any], low: float, high: float) -> bool:
    """Whether the interval [low, high] holds both passing and failing values."""
    a, b = _pass_region(check)  # the passing values form one interval, so its ends decide
    ends = passes(check, low), passes(check, high)
    covers_region = low < a and b < high
    return not all(ends) and (any(ends) or covers_region)


def metric_value(metrics: dict[str, Any], name: str) -> tuple[float, float, int]:
    """(mean, sample std over seeds or NaN, number of seeds) of a metric; NaN mean if absent."""
    values = metric_values(metrics, name)
    if values.size == 0:
        return math.nan, math.nan, 0
    std = float(values.std(ddof=1)) if values.size > 1 else math.nan
    return float(values.mean()), std, int(values.size)


def metric_values(metrics: dict[str, Any], name: str) -> np.ndarray:
    """A metric's values (one per seed) as floats; empty if absent."""
    raw = metrics.get(name)
    if raw is None:
        return np.array([], dtype=float)
    try:
        raw = raw if isinstance(raw, list) else [raw]
        return np.array([math.nan if v is None else float(v) for v in raw], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"metric {name!r} must be a number or a list of numbers, got {raw!r}"
        ) from None


def interval95(metrics: dict[str, Any], claim: dict[str, Any]) -> tuple[float, float]:
    """95% interval of our value: the ``interval`` metric ([low, high], e.g. a bootstrap), else a
    Student-t interval of the mean over seeds (n >= 2), else (NaN, NaN)."""
    if claim["interval"]:
        bounds = metric_values(metrics, claim["interval"])
        if bounds.size != 2:
            return math.nan, math.nan
        return float(min(bounds)), float(max(bounds))
    values = metric_values(metrics, claim["metric"])
    if values.size < 2 or not np.all(np.isfinite(values)):
        return math.nan, math.nan
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean() - half), float(values.mean() + half)


def _point(check: dict[str, Any], value: float) -> str:
    return "" if math.isnan(value) else ("PASS" if passes(check, value) else "FAIL")


def _status(claim: dict, row: dict, scale: str, done: dict[str, str]) -> str:
    if scale != "smoke" and scale not in claim["scales"]:
        return "SKIP"
    needed = [row["value"]]
    needed += [row["null_value"]] if claim["null"] else []
    needed += [row["oracle_value"]] if claim["oracle"] else []
    if any(math.isnan(v) for v in needed):
        return "MISSING"
    if scale == "smoke":
        return "SMOKE"
    if any(done[req] != "PASS" for req in claim["requires"]):
        return "BLOCKED"
    if row["oracle_point"] == "FAIL":
        return "MIS-SPECIFIED"
    if row["null_point"] == "PASS":
        return "UNINFORMATIVE"
    if not math.isnan(row["ci_low"]) and straddles(claim["check"], row["ci_low"], row["ci_high"]):
        return "INCONCLUSIVE"
    return row["point"]


def evaluate_claims(
    claims: list[dict[str, Any]],
    metrics: dict[str, Any],
    scale: str,
    context: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Evaluate validated claims against metrics at ``scale``; one row per claim (``COLUMNS``).

    Notes are Jinja2 templates rendered with the metrics (``m``) and ``context`` (e.g. ``cfg``).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    done: dict[str, str] = {}
    rows: dict[str, dict[str, Any]] = {}
    for claim in _in_dependency_order(claims, Path("claims.yaml")):
        value, std, n = metric_value(metrics, claim["metric"])
        null = metric_value(metrics, claim["null"])[0] if claim["null"] else math.nan
        oracle = metric_value(metrics, claim["oracle"])[0] if claim["oracle"] else math.nan
        low, high = interval95(metrics, claim)
        row = {
            **{k: claim[k] for k in ("id", "claim", "source", "paper", "metric", "why")},
            "check": check_text(claim["check"]),
            "value": value, "value_std": std, "n": n, "ci_low": low, "ci_high": high,
            "point": _point(claim["check"], value),
            "null": claim["null"], "null_value": null, "null_point": _point(claim["check"], null),
            "oracle": claim["oracle"], "oracle_value": oracle,
            "oracle_point": _point(claim["check"], oracle),
            "requires": " ".join(claim["requires"]),
            "note": render(claim["note"], metrics, context),
        }  # fmt: skip
        row["status"] = done[claim["id"]] = _status(claim, row, scale, done)
        rows[claim["id"]] = row
    return pd.DataFrame([rows[c["id"]] for c in claims], columns=list(COLUMNS))


def write_claims_csv(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write the claims table atomically."""
    write_csv(path, df[list(COLUMNS)])


def read_claims_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``claims.csv``: text columns as strings ("" when empty), numbers as floats."""
    df = read_csv(
        path,
        COLUMNS,
        dtype={c: str for c in _TEXT_COLUMNS},
        keep_default_na=False,
        na_values={c: [""] for c in _NUMBER_COLUMNS},
    )
    return df[list(COLUMNS)]


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m common.claims", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--claims", required=True, help="the paper's claims.yaml")
    parser.add_argument("--metrics", required=True, help="aggregated metrics.json")
    parser.add_argument("--scale", required=True, choices=SCALES)
    parser.add_argument("--out", required=True, help="claims.csv to write")
    parser.add_argument(
        "--paper", help="paper name: its config at this scale is `cfg` in the notes"
    )
    args = parser.parse_args(argv)
    claims = load_claims(args.claims)
    metrics, _ = read_metrics(args.metrics)
    context = None
    if args.paper:
        from common.config import compose_config

        context = {"cfg": compose_config(args.paper, [f"scale={args.scale}"])}
    write_claims_csv(args.out, evaluate_claims(claims, metrics, args.scale, context))


if __name__ == "__main__":
    main()
