"""Reports: one PDF per paper and scale, and a summary PDF across papers (Jinja2 -> WeasyPrint).

Usage:
  python -m common.report paper --paper NAME --scale S --claims F --metrics F --figures DIR
                                --benchmarks DIR --out PDF [--papers-root DIR]
  python -m common.report summary --scale S --out PDF [--papers-root DIR] CLAIMS_CSV...
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import operator
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from common.claims import SCALES, STATUSES, read_claims_csv
from common.cli import one_line_errors
from common.config import compose_config
from common.io import atomic_path, read_csv, read_json, read_metrics, read_yaml
from common.templating import render

with warnings.catch_warnings():  # "HarfBuzz-Subset will be required" is not actionable here
    warnings.simplefilter("ignore", DeprecationWarning)
    import weasyprint

TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORT_FIELDS = ("title", "authors", "year", "url", "summary", "deviations")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(x: Any, spec: str = ".4g") -> str:
    """A number (4 significant digits by default); NaN or None as a dash."""
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def load_report_meta(paper: str, papers_root: str | os.PathLike = Path("papers")) -> dict[str, Any]:
    """Read and validate ``<papers_root>/<paper>/report.yaml``."""
    path = Path(papers_root) / paper / "report.yaml"
    data = read_yaml(path)
    fields = ", ".join(REPORT_FIELDS)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a mapping with keys {fields}")
    missing = [k for k in REPORT_FIELDS if k not in data]
    unknown = sorted(set(data) - set(REPORT_FIELDS), key=str)
    if missing or unknown:
        bad = f"missing key '{missing[0]}'" if missing else f"unknown key '{unknown[0]}'"
        raise ValueError(f"{path}: {bad} (keys: {fields})")

    def fail(key: str, want: str) -> None:
        raise ValueError(f"{path}: key '{key}' must be {want}, got {data[key]!r}")

    for key in ("title", "url", "summary"):
        if not isinstance(data[key], str) or not data[key].strip():
            fail(key, "a non-empty string")
    authors = data["authors"]
    if isinstance(authors, list) and authors and all(isinstance(a, str) for a in authors):
        authors = ", ".join(authors)
    if not isinstance(authors, str) or not authors.strip():
        fail("authors", "a string or a list of strings")
    if isinstance(data["year"], bool) or not isinstance(data["year"], int):
        fail("year", "an integer")
    devs = data["deviations"]
    if not isinstance(devs, list) or not all(isinstance(d, str) for d in devs):
        fail("deviations", "a list of strings")
    return {**data, "authors": authors}


def _reference(row: dict[str, Any], kind: str) -> str:
    """A null/oracle cell: its value and whether the check passes on it."""
    if not row[kind]:
        return ""
    return f"{_fmt(row[f'{kind}_value'])} ({row[f'{kind}_point'] or '—'})"


def _scorecard(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Claims rows with our value as ``mean ± std (n=k)`` and its 95% interval, and the
    null/oracle references (``not calibrated`` when a claim names neither)."""
    rows = []
    for row in df.to_dict("records"):
        ours = _fmt(row["value"])
        if row["n"] > 1 and not math.isnan(row["value"]):
            ours = f"{ours} ± {_fmt(row['value_std'])} (n={row['n']})"
        if not math.isnan(row["ci_low"]):
            ours += f" [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        calibrated = bool(row["null"] or row["oracle"])
        rows.append({
            **row, "ours": ours, "null_cell": _reference(row, "null"),
            "oracle_cell": _reference(row, "oracle"), "calibrated": calibrated,
        })  # fmt: skip
    return rows


def _counts(df: pd.DataFrame) -> dict[str, int]:
    counts = Counter(df["status"])
    return {s: counts[s] for s in STATUSES if counts[s]}


def _sidecar(path: Path) -> dict[str, Any]:
    side = read_json(path)
    ok = (
        isinstance(side, dict)
        and all(isinstance(side.get(k), str) for k in ("caption", "script"))
        and isinstance(side.get("config_hash") or "", str)
        and isinstance(side.get("order") or 0, int)
        and isinstance(side.get("provenance") or {}, dict)
    )
    if not ok:
        raise ValueError(
            f"{path}: sidecar needs caption (str), script (str), config_hash (str or null), "
            "order (int, optional), provenance (dict)"
        )
    prov = side.get("provenance") or {}
    dirty = " (dirty)" if prov.get("git_dirty") else ""
    commit = (prov.get("git_commit") or "unknown")[:7] + dirty
    config = (side.get("config_hash") or "none")[:12]
    return {
        "stem": path.stem,
        "caption": side["caption"],
        "made_by": f"Made by {side['script']}, config {config}, commit {commit}.",
        "order": side.get("order") or 0,
    }


def load_figures(figures_dir: str | os.PathLike) -> tuple[list[dict], list[dict]]:
    """Figures (``<stem>.png``) and tables (``<stem>.csv``) with their sidecars, sorted by order."""
    figures_dir = Path(figures_dir)
    if not figures_dir.is_dir():
        raise FileNotFoundError(f"missing figures directory: {figures_dir}")
    figures, tables = [], []
    for path in sorted(figures_dir.iterdir()):
        if path.suffix not in (".png", ".csv", ".json"):
            continue
        sidecar = path.with_suffix(".json")
        png, csv = path.with_suffix(".png"), path.with_suffix(".csv")
        if not sidecar.exists():
            raise ValueError(f"{path}: missing sidecar {sidecar.name} (caption, script, ...)")
        if path.suffix == ".json" and not (png.exists() or csv.exists()):
            raise ValueError(f"{path}: sidecar without {png.name} or {csv.name}")
        if path.suffix == ".png":
            figures.append({**_sidecar(sidecar), "src": path.resolve().as_uri()})
        elif path.suffix == ".csv":
            html = read_csv(path).to_html(
                index=False, border=0, float_format=_fmt, na_rep="—", classes="data"
            )
            tables.append({**_sidecar(sidecar), "html": Markup(html)})
    key = operator.itemgetter("order", "stem")
    return sorted(figures, key=key), sorted(tables, key=key)


def load_benchmarks(benchmarks_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """One row per Snakemake benchmark TSV: job, mean wall and CPU seconds, max RSS (MB), and
    ``end``, the file's modification time (Snakemake writes it when the job ends).

    CPU seconds say what a job costs when the machine is shared and wall time misleads. They are
    Snakemake's ``cpu_time``, sampled every 0.5 s for 15 s and every 30 s after: a lower bound
    that misses up to 30 s at the end of each job.
    """
    benchmarks_dir = Path(benchmarks_dir)
    files = sorted(benchmarks_dir.rglob("*.tsv")) if benchmarks_dir.is_dir() else []
    jobs = []
    for path in files:
        df = read_csv(path, sep="\t")
        if not {"s", "max_rss"} <= set(df.columns):
            raise ValueError(f"{path}: not a Snakemake benchmark file (needs columns s, max_rss)")
        jobs.append({
            "job": path.relative_to(benchmarks_dir).with_suffix("").as_posix(),
            "seconds": float(pd.to_numeric(df["s"], errors="coerce").mean()),
            "cpu_seconds": (
                float(pd.to_numeric(df["cpu_time"], errors="coerce").mean())
                if "cpu_time" in df else math.nan
            ),
            "max_rss": float(pd.to_numeric(df["max_rss"], errors="coerce").max()),
            "end": path.stat().st_mtime,
        })  # fmt: skip
    return jobs


def _provenance(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Label/value pairs of the metrics file's ``_meta`` record (absent entries left out)."""
    machine = meta.get("machine") or {}
    items = [
        ("git commit", meta.get("git_commit") or "unknown"),
        ("uncommitted changes", {True: "yes", False: "no"}.get(meta.get("git_dirty"))),
        ("timestamp", meta.get("timestamp")),
        ("config hash", meta.get("config_hash")),
        ("machine", ", ".join(f"{k} {v}" for k, v in machine.items()) if machine else None),
        ("python", meta.get("python")),
        ("platform", meta.get("platform")),
        ("packages", ", ".join(f"{k} {v}" for k, v in (meta.get("packages") or {}).items())),
    ]
    return [(label, str(value)) for label, value in items if value not in (None, "")]


def _write_pdf(html: str, out_pdf: str | os.PathLike, base_url: str | None) -> None:
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with atomic_path(out_pdf) as tmp:
        weasyprint.HTML(string=html, base_url=base_url).write_pdf(tmp)


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")


def render_paper_report(
    paper: str,
    scale: str,
    claims_csv: str | os.PathLike,
    metrics_json: str | os.PathLike,
    figures_dir: str | os.PathLike,
    benchmarks_dir: str | os.PathLike,
    out_pdf: str | os.PathLike,
    papers_root: str | os.PathLike = Path("papers"),
) -> None:
    """Render ``out_pdf``: scorecard, figures, tables, deviations, provenance, run times."""
    _check_scale(scale)
    meta = load_report_meta(paper, papers_root)
    claims = read_claims_csv(claims_csv)
    metrics, prov = read_metrics(metrics_json)
    has_config = (Path(papers_root) / paper / "conf").is_dir()
    context = {"cfg": compose_config(paper, [f"scale={scale}"])} if has_config else {}
    meta["deviations"] = [render(d, metrics, context) for d in meta["deviations"]]
    meta["summary"] = render(meta["summary"], metrics, context)
    figures, tables = load_figures(figures_dir)
    jobs = load_benchmarks(benchmarks_dir)
    total = sum(j["seconds"] for j in jobs if not math.isnan(j["seconds"]))
    cpu = sum(j["cpu_seconds"] for j in jobs if not math.isnan(j["cpu_seconds"]))
    html = _ENV.get_template("paper.html.j2").render(
        paper=paper, scale=scale, meta=meta, rows=_scorecard(claims), counts=_counts(claims),
        figures=figures, tables=tables, provenance=_provenance(prov), jobs=jobs,
        total=f"{total:.1f} s wall ({dt.timedelta(seconds=round(total))}), {cpu:.1f} s CPU",
        fmt=_fmt,
        benchmarks_dir=str(benchmarks_dir),
    )  # fmt: skip
    _write_pdf(html, out_pdf, base_url=Path(figures_dir).resolve().as_uri() + "/")


def render_summary(
    scale: str,
    claims_csvs: list[Path],
    out_pdf: str | os.PathLike,
    papers_root: str | os.PathLike = Path("papers"),
) -> None:
    """Render the cross-paper summary; a paper's name is its claims.csv's directory name."""
    _check_scale(scale)
    if not claims_csvs:
        raise ValueError("summary needs at least one claims.csv")
    papers = []
    for csv in map(Path, claims_csvs):
        name, claims = csv.parent.name, read_claims_csv(csv)
        papers.append({
            "name": name, "title": load_report_meta(name, papers_root)["title"],
            "counts": _counts(claims), "rows": _scorecard(claims),
            "link": f"{name}.pdf", "link_text": f"reports/{scale}/{name}.pdf",
        })  # fmt: skip
    html = _ENV.get_template("summary.html.j2").render(scale=scale, papers=papers)
    # No base_url: the links to the paper reports stay relative to the summary PDF.
    _write_pdf(html, out_pdf, base_url=None)


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m common.report", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="command", required=True)
    paper = sub.add_parser("paper", help="one paper's report")
    for flag in ("--paper", "--claims", "--metrics", "--figures", "--benchmarks", "--out"):
        paper.add_argument(flag, required=True)
    summary = sub.add_parser("summary", help="the summary across papers")
    summary.add_argument("--out", required=True)
    summary.add_argument("claims_csvs", nargs="+", type=Path, metavar="CLAIMS_CSV")
    for p in (paper, summary):
        p.add_argument("--scale", required=True, choices=SCALES)
        p.add_argument("--papers-root", default="papers", type=Path)
    args = parser.parse_args(argv)
    if args.command == "paper":
        render_paper_report(
            args.paper, args.scale, args.claims, args.metrics, args.figures, args.benchmarks,
            args.out, papers_root=args.papers_root,
        )  # fmt: skip
    else:
        render_summary(args.scale, args.claims_csvs, args.out, papers_root=args.papers_root)


if __name__ == "__main__":
    main()
