"""Render the READMEs' measured tables from the results, so no typed number goes stale:
in ``papers/<name>/README.md`` the block between ``<!-- results:<scale> -->`` and
``<!-- /results:<scale> -->`` becomes the paper's current scorecard (from ``claims.csv``), and
in the top-level README the ``<!-- costs:<scale> -->`` block becomes the cost table (CPU and
wall seconds summed over each paper's Snakemake benchmark files, and the wall span of its jobs);
a paper README with its own
``<!-- costs:<scale> -->`` block gets that paper's row.

python -m common.readme --scale cpu [PAPER ...]     # `make reproduce` runs it after Snakemake
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from common.claims import SCALES, STATUSES, read_claims_csv
from common.cli import one_line_errors
from common.config import REPO_ROOT
from common.io import write_text
from common.report import _scorecard, load_benchmarks


def results_table(claims_csv: Path) -> str:
    """Markdown scorecard: counts, then one row per claim."""
    df = read_claims_csv(claims_csv)
    counts = Counter(df["status"])
    lines = [
        ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) + ".",
        "",
        "| id | claim | ours [95% CI] | null | oracle | check | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in _scorecard(df):
        cells = [r["id"], r["claim"], r["ours"], r["null_cell"] or "—", r["oracle_cell"] or "—",
                 f"`{r['check']}`", f"**{r['status']}**"]  # fmt: skip
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


#: Longer than this with no job running, the benchmark files come from several invocations
MAX_IDLE_S = 60.0


def _span(jobs: list[dict]) -> float:
    """Seconds from the first job's start (end minus wall time) to the last job's end; NaN
    when no job ran for more than MAX_IDLE_S in between (jobs rerun in a later invocation: the
    span would time the pause, not the DAG)."""
    runs = sorted((j["end"] - j["seconds"], j["end"]) for j in jobs if j["seconds"] == j["seconds"])
    if not runs:
        return float("nan")
    reach = runs[0][1]
    for start, end in runs[1:]:
        if start - reach > MAX_IDLE_S:
            return float("nan")
        reach = max(reach, end)
    return reach - runs[0][0]


def _seconds(value: float) -> str:
    return "—" if value != value else f"{value:,.0f}"


def costs_table(results: Path, papers: list[str]) -> str:
    """Markdown table: per paper, jobs, CPU seconds, summed job wall seconds, the wall span of
    its jobs (first start to last end, from the benchmark files' times: the DAG's wall time
    when the paper ran in one invocation; "—" when its jobs come from several) and peak
    memory."""
    lines = [
        "| paper | jobs | CPU seconds | job wall seconds (sum) | wall span (s) "
        "| peak memory (MB) |",
        "|---|---|---|---|---|---|",
    ]
    total_cpu = total_wall = 0.0
    every = []
    for paper in papers:
        jobs = load_benchmarks(results / paper / "benchmarks")
        every += jobs
        cpu = sum(j["cpu_seconds"] for j in jobs if j["cpu_seconds"] == j["cpu_seconds"])
        wall = sum(j["seconds"] for j in jobs if j["seconds"] == j["seconds"])
        peak = max((j["max_rss"] for j in jobs), default=float("nan"))
        total_cpu, total_wall = total_cpu + cpu, total_wall + wall
        lines.append(
            f"| {paper} | {len(jobs)} | {cpu:,.0f} | {wall:,.0f} | {_seconds(_span(jobs))} "
            f"| {peak:,.0f} |"
        )
    lines.append(
        f"| **all** | | **{total_cpu:,.0f}** | **{total_wall:,.0f}** | {_seconds(_span(every))} | |"
    )
    return "\n".join(lines)


def update_readme(readme: Path, scale: str, table: str, block: str = "results") -> bool:
    """Replace the scale's ``block`` in ``readme``; return whether the text changed."""
    start, end = f"<!-- {block}:{scale} -->", f"<!-- /{block}:{scale} -->"
    text = readme.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme}: no '{start}' ... '{end}' block to fill")
    new = pattern.sub(lambda _: f"{start}\n{table}\n{end}", text)
    if new != text:
        write_text(readme, new)
    return new != text


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m common.readme", description=__doc__)
    parser.add_argument("--scale", default="cpu", choices=SCALES)
    parser.add_argument("papers", nargs="*", help="default: every paper with results")
    args = parser.parse_args(argv)
    root = REPO_ROOT / "results" / args.scale
    papers = args.papers or sorted(p.parent.name for p in root.glob("*/claims.csv"))
    for paper in papers:
        readme = REPO_ROOT / "papers" / paper / "README.md"
        table = results_table(root / paper / "claims.csv")
        changed = update_readme(readme, args.scale, table)
        if f"<!-- costs:{args.scale} -->" in readme.read_text():  # the paper's own cost table
            changed |= update_readme(readme, args.scale, costs_table(root, [paper]), "costs")
        print(f"papers/{paper}/README.md: {'updated' if changed else 'unchanged'}")
    if not args.papers:
        changed = update_readme(
            REPO_ROOT / "README.md", args.scale, costs_table(root, papers), block="costs"
        )
        print(f"README.md: {'updated' if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
