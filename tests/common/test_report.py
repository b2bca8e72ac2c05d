"""Tests for common.report: a tiny fake paper rendered to a paper report and a summary."""

import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from pypdf import PdfReader

from common import provenance
from common.claims import evaluate_claims, load_claims, write_claims_csv
from common.io import write_json, write_metrics
from common.report import render_paper_report, render_summary

REPO = Path(__file__).resolve().parents[2]
META = {
    "title": "A Toy Paper",
    "authors": ["Ada Lovelace", "Alan Turing"],
    "year": 2024,
    "url": "https://example.org/toy",
    "summary": "We reproduce the toy result on synthetic data.",
    "deviations": ["Smaller model, because of the CPU budget (loss {{ m.loss | sig(2) }})."],
}
CLAIMS = [
    {"id": "T1", "claim": "loss is small", "source": "Sec 1", "paper": "0.01", "metric": "loss",
     "check": {"op": "<", "value": 0.05}, "scales": ["cpu"], "why": "Sec 1"},
    {"id": "T2", "claim": "accuracy is high", "source": "Tab 1", "paper": "0.9", "metric": "acc",
     "check": {"op": ">", "value": 0.8}, "scales": ["cpu"], "why": "Tab 1",
     "note": "undertrained on CPU: {{ m.acc | pct }}"},
]  # fmt: skip


def text_of(pdf: Path) -> str:
    return " ".join(page.extract_text() for page in PdfReader(pdf).pages)


@pytest.fixture
def paper(tmp_path):
    """A papers_root with one paper, its claims.csv, metrics.json, figures and benchmarks."""
    root, results = tmp_path / "papers", tmp_path / "results" / "cpu" / "toy"
    (root / "toy").mkdir(parents=True)
    (root / "toy" / "report.yaml").write_text(yaml.safe_dump(META))
    (root / "toy" / "claims.yaml").write_text(yaml.safe_dump(CLAIMS))
    metrics = {"loss": [0.01, 0.02, 0.03], "acc": 0.5}
    write_metrics(results / "metrics.json", metrics, provenance.collect(config_hash="cafe"))
    claims = evaluate_claims(load_claims(root / "toy" / "claims.yaml"), metrics, "cpu")
    write_claims_csv(results / "claims.csv", claims)

    figures = results / "figures"
    figures.mkdir()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 4])
    for ext in ("png", "pdf"):
        fig.savefig(figures / f"curve.{ext}")
    plt.close(fig)
    side = {"script": "papers/toy/figures.py", "config_hash": "0123456789abcdef",
            "provenance": provenance.collect()}  # fmt: skip
    write_json(figures / "curve.json", {**side, "caption": "Loss curve of the toy model."})
    pd.DataFrame({"width": [1, 2], "error": [0.123456, 1 / 3]}).to_csv(
        figures / "sweep.csv", index=False
    )
    write_json(figures / "sweep.json", {**side, "caption": "Error per width.", "order": 1})

    bench = results / "benchmarks"
    bench.mkdir()
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for job, secs in (("train_toy_seed0", 12.0), ("evaluate_toy", 30.5)):
        row = f"{secs}\t0:00:{int(secs):02d}\t150.2\t300\t140\t145\t0\t1\t50\t{secs / 2}\n"
        (bench / f"{job}.tsv").write_text(header + row)
    return root, results


def test_paper_report(paper, tmp_path):
    root, results = paper
    out = tmp_path / "reports" / "cpu" / "toy.pdf"
    render_paper_report(
        "toy", "cpu", results / "claims.csv", results / "metrics.json", results / "figures",
        results / "benchmarks", out, papers_root=root,
    )  # fmt: skip
    text = text_of(out)
    for expected in ("A Toy Paper", "T1", "T2", "PASS", "FAIL", "undertrained on CPU: 50.0%",
                     "0.02 ± 0.01 (n=3) [-0.004841, 0.04484]", "not calibrated",
                     "Why this check: Sec 1", "Loss curve of the toy model.",
                     "papers/toy/figures.py",
                     "0123456789ab", "Error per width.", "0.3333", "train_toy_seed0",
                     "42.5 s wall", "21.2 s CPU", "CPU budget (loss 0.02)"):  # fmt: skip
        assert expected in text, expected
    assert "0.333333" not in text
    assert not [p for p in out.parent.iterdir() if p.name != "toy.pdf"]  # no temp file left


def test_missing_benchmarks_dir(paper, tmp_path):
    root, results = paper
    out = tmp_path / "toy.pdf"
    render_paper_report(
        "toy", "smoke", results / "claims.csv", results / "metrics.json", results / "figures",
        tmp_path / "nowhere", out, papers_root=root,
    )  # fmt: skip
    assert "No benchmark files" in text_of(out)


def test_summary(paper, tmp_path):
    root, results = paper
    out = tmp_path / "summary.pdf"
    render_summary("cpu", [results / "claims.csv"], out, papers_root=root)
    text = text_of(out)
    for expected in ("A Toy Paper", "T1", "T2", "1 PASS", "1 FAIL", "reports/cpu/toy.pdf"):
        assert expected in text, expected
    links = [a.get_object()["/A"]["/URI"] for a in PdfReader(out).pages[0]["/Annots"]]
    assert "toy.pdf" in links


def test_missing_report_key_is_one_line(paper, tmp_path):
    root, results = paper
    meta = {k: v for k, v in META.items() if k != "summary"}
    (root / "toy" / "report.yaml").write_text(yaml.safe_dump(meta))
    out = tmp_path / "summary.pdf"
    with pytest.raises(ValueError, match=r"report\.yaml: missing key 'summary' \(keys: title,"):
        render_summary("cpu", [results / "claims.csv"], out, papers_root=root)
    assert not out.exists()


def test_cli_missing_report_key(paper, tmp_path):
    root, results = paper
    (root / "toy" / "report.yaml").write_text(yaml.safe_dump({**META, "year": "soon"}))
    out = tmp_path / "summary.pdf"
    cmd = [sys.executable, "-m", "common.report", "summary", "--scale", "cpu", "--out", str(out),
           "--papers-root", str(root), str(results / "claims.csv")]  # fmt: skip
    result = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {root / 'toy' / 'report.yaml'}: key 'year' must be an integer, got 'soon'"
    ]
    assert not out.exists()


def test_overlapping_tick_labels_are_found():
    from common.plotting import overlapping_ticklabels, set_theme

    set_theme()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks(range(30), [f"label number {i}" for i in range(30)])
    assert overlapping_ticklabels(fig) == ["axes 0 (untitled), x axis"]
    ax.set_xticks(range(0, 30, 10), ["a", "b", "c"])
    assert overlapping_ticklabels(fig) == []
    plt.close(fig)
