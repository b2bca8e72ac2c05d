"""Merge per-seed metrics files into a paper's metrics.json: each metric becomes a per-seed list.

python -m common.aggregate --out results/<scale>/<paper>/metrics.json results/.../seed*/metrics.json
A metric missing from some seed, or not finite in one, is left out (so its claims show MISSING).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from common import provenance
from common.cli import one_line_errors
from common.io import read_metrics, write_metrics


def merge(paths: list[Path]) -> tuple[dict[str, list[float]], list[str]]:
    """(metric -> values in the order of ``paths``, names left out because incomplete)."""
    runs = [read_metrics(p)[0] for p in paths]
    names = sorted(set().union(*runs))
    merged, dropped = {}, []
    for name in names:
        values = [run.get(name) for run in runs]
        if all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            merged[name] = [float(v) for v in values]
        else:
            dropped.append(name)
    return merged, dropped


@one_line_errors
def main(
    argv: list[str] | None = None,
    extend: Callable[[list[Path]], dict] | None = None,
    description: str = __doc__,
) -> None:
    """The aggregate command; a paper's ``extend(paths)`` adds metrics computed across seeds."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("metrics", nargs="+", type=Path)
    args = parser.parse_args(argv)
    merged, dropped = merge(args.metrics)
    if extend is not None:
        merged |= extend(args.metrics)
    meta = {**provenance.collect(), "runs": [str(p) for p in args.metrics], "dropped": dropped}
    write_metrics(args.out, merged, meta)
    if dropped:
        print(f"warning: left out (missing or not finite in some run): {dropped}")


if __name__ == "__main__":
    main()
