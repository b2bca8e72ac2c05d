"""Text with measured numbers rendered from the metrics (claim notes, report deviations,
README results), so that no typed number goes stale.

Templates are Jinja2: ``{{ m.ab_rel_err | sig(2) }}``, ``{{ m.acc | pct }}``,
``{{ cfg.data.n_train }}``. ``m`` maps each metric to its mean over seeds; ``raw`` holds the
metrics as stored (per-seed lists). An unknown name renders as "—" in the pipeline (a metric
a run dropped) and raises under ``strict=True`` (the tests, to catch typos).
"""

from __future__ import annotations

import math
from typing import Any

import jinja2
import numpy as np


def _finite(x: Any) -> float | None:
    """``x`` as a finite float, or None when it is missing, not a number or not finite."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def sig(x: Any, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits; "—" when missing or not finite."""
    return "—" if (x := _finite(x)) is None else f"{x:.{digits}g}"


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.123 -> "12.3%"; "—" when missing or not finite."""
    return "—" if (x := _finite(x)) is None else f"{100 * x:.{digits}f}%"


def whole(x: Any) -> str:
    """``x`` as a whole number (the ``int`` filter); "—" when missing or not finite (Jinja's own
    ``int`` fails on an undefined name instead of rendering the dash)."""
    return "—" if (x := _finite(x)) is None else str(int(x))


def _mean(value: Any) -> Any:
    if isinstance(value, list):
        nums = [float(v) for v in value if isinstance(v, int | float)]
        return float(np.mean(nums)) if nums else math.nan
    return value


class _Dash(jinja2.Undefined):
    """Undefined that renders as a dash and survives filters and attribute access."""

    def __str__(self) -> str:
        return "—"

    def __float__(self) -> float:
        return math.nan

    def __getattr__(self, name: str) -> _Dash:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    __getitem__ = __getattr__


def _env(strict: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined if strict else _Dash, autoescape=False
    )
    env.filters.update(sig=sig, pct=pct, int=whole)
    return env


def render(
    template: str,
    metrics: dict[str, Any],
    context: dict[str, Any] | None = None,
    strict: bool = False,
) -> str:
    """Render ``template`` with ``m`` (metric means), ``raw`` (metrics as stored) and
    ``context``."""
    if not template or "{" not in template:
        return template
    m = {k: _mean(v) for k, v in metrics.items() if not k.startswith("_")}
    try:
        return _env(strict).from_string(template).render(m=m, raw=metrics, **(context or {}))
    except jinja2.TemplateError as err:
        raise ValueError(f"cannot render template {template[:60]!r}...: {err}") from None
