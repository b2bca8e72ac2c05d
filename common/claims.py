"""Claims: check a paper's ``claims.yaml`` against its ``metrics.json`` and write ``claims.csv``.

Usage: python -m common.claims --claims CLAIMS_YAML --metrics METRICS_JSON --scale SCALE
                               --out CLAIMS_CSV
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from common.cli import one_line_errors
from common.io import read_metrics, read_yaml, write_csv

SCALES = ("smoke", "cpu", "paper")
STATUSES = ("PASS", "FAIL", "SMOKE", "MISSING", "SKIP")
#: Check operators and the numeric keys each takes besides ``op``.
CHECK_KEYS = {
    "<": ("value",), "<=": ("value",), ">": ("value",), ">=": ("value",),
    "between": ("low", "high"), "abs_diff_le": ("target", "value"),
}  # fmt: skip
FIELDS = ("id", "claim", "source", "paper", "metric", "check", "scales")
OPTIONAL_FIELDS = ("note",)
COLUMNS = (
    "id", "claim", "source", "paper", "metric", "check",
    "value", "value_std", "n", "status", "note",
)  # fmt: skip
_TEXT_COLUMNS = ("id", "claim", "source", "paper", "metric", "check", "status", "note")


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


def _entry(entry: Any, index: int, path: Path) -> dict[str, Any]:
    where = f"{path}: claim #{index + 1}"
    if not isinstance(entry, dict) or not entry:
        raise ValueError(f"{where}: expected a mapping with fields {', '.join(FIELDS)}")
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
    note = entry.get("note")
    if note is not None and not isinstance(note, str):
        raise ValueError(f"{where}: field 'note' must be a string, got {note!r}")
    return {
        **{k: _text(entry[k], k, where) for k in ("id", "claim", "source", "paper", "metric")},
        "check": _check(entry["check"], where),
        "scales": list(scales),
        "note": note or "",
    }


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
    return claims


def check_text(check: dict[str, Any]) -> str:
    """Human form of a check: ``< 0.001``, ``in [0.15, 0.25]``, ``|x - 0.2| <= 0.05``."""
    if check["op"] == "between":
        return f"in [{check['low']:g}, {check['high']:g}]"
    if check["op"] == "abs_diff_le":
        return f"|x - {check['target']:g}| <= {check['value']:g}"
    return f"{check['op']} {check['value']:g}"


def _passes(check: dict[str, Any], x: float) -> bool:
    op = check["op"]
    if op == "between":
        return check["low"] <= x <= check["high"]
    if op == "abs_diff_le":
        return abs(x - check["target"]) <= check["value"]
    return {"<": x < check["value"], "<=": x <= check["value"],
            ">": x > check["value"], ">=": x >= check["value"]}[op]  # fmt: skip


def metric_value(metrics: dict[str, Any], name: str) -> tuple[float, float, int]:
    """(mean, sample std over seeds or NaN, number of seeds) of a metric; NaN mean if absent."""
    raw = metrics.get(name)
    try:
        if raw is None:
            return math.nan, math.nan, 0
        if isinstance(raw, list):
            values = np.array([math.nan if v is None else float(v) for v in raw], dtype=float)
            if values.size == 0:
                return math.nan, math.nan, 0
            std = float(values.std(ddof=1)) if values.size > 1 else math.nan
            return float(values.mean()), std, int(values.size)
        return float(raw), math.nan, 1
    except (TypeError, ValueError):
        raise ValueError(
            f"metric {name!r} must be a number or a list of numbers, got {raw!r}"
        ) from None


def _status(claim: dict[str, Any], value: float, scale: str) -> str:
    if scale != "smoke" and scale not in claim["scales"]:
        return "SKIP"
    if math.isnan(value):
        return "MISSING"
    if scale == "smoke":
        return "SMOKE"
    return "PASS" if _passes(claim["check"], value) else "FAIL"


def evaluate_claims(
    claims: list[dict[str, Any]], metrics: dict[str, Any], scale: str
) -> pd.DataFrame:
    """Evaluate validated claims against metrics at ``scale``; one row per claim (``COLUMNS``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    rows = []
    for claim in claims:
        value, std, n = metric_value(metrics, claim["metric"])
        rows.append({
            **{k: claim[k] for k in ("id", "claim", "source", "paper", "metric", "note")},
            "check": check_text(claim["check"]),
            "value": value, "value_std": std, "n": n,
            "status": _status(claim, value, scale),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_claims_csv(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write the claims table atomically."""
    write_csv(path, df[list(COLUMNS)])


def read_claims_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``claims.csv``: text columns as strings ("" when empty), value/value_std floats."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    df = pd.read_csv(
        path,
        dtype={c: str for c in _TEXT_COLUMNS},
        keep_default_na=False,
        na_values={"value": [""], "value_std": [""]},
    )
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a claims table, missing column '{missing[0]}'")
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
    args = parser.parse_args(argv)
    claims = load_claims(args.claims)
    metrics, _ = read_metrics(args.metrics)
    write_claims_csv(args.out, evaluate_claims(claims, metrics, args.scale))


if __name__ == "__main__":
    main()
