"""One seaborn theme; figures and tables saved with a provenance sidecar for the report."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from common import provenance  # noqa: E402
from common.io import atomic_path, write_csv, write_json  # noqa: E402

log = logging.getLogger(__name__)


def set_theme() -> None:
    """The project's single plotting style."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.bbox": "tight", "pdf.fonttype": 42,
        "figure.constrained_layout.use": True,
    })  # fmt: skip


def overlapping_ticklabels(fig: plt.Figure) -> list[str]:
    """Descriptions of axes whose neighbouring tick labels overlap when drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for index, ax in enumerate(fig.axes):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            boxes = [
                t.get_window_extent(renderer)
                for t in axis.get_ticklabels()
                if t.get_visible() and t.get_text()
            ]
            if any(a.overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False)):
                found.append(f"axes {index} ({ax.get_title() or 'untitled'}), {name} axis")
    return found


def _sidecar(stem: Path, caption: str, script: str, config_hash: str | None, order: int) -> None:
    write_json(
        stem.with_suffix(".json"),
        {
            "caption": caption,
            "script": script,
            "config_hash": config_hash,
            "order": order,
            "provenance": provenance.collect(config_hash=config_hash),
        },
    )


def savefig(
    fig: plt.Figure,
    stem: str | os.PathLike,
    caption: str,
    script: str,
    config_hash: str | None = None,
    order: int = 0,
) -> None:
    """Write ``<stem>.pdf``, ``<stem>.png`` and the ``<stem>.json`` sidecar, then close ``fig``."""
    stem = Path(stem)
    for where in overlapping_ticklabels(fig):
        log.warning("%s: overlapping tick labels in %s", stem.name, where)
    # no creation date in the PDF: identical runs give byte-identical figures
    for ext, kwargs in ((".pdf", {"metadata": {"CreationDate": None}}), (".png", {"dpi": 150})):
        with atomic_path(stem.with_suffix(ext)) as tmp:
            fig.savefig(tmp, format=ext[1:], **kwargs)
    plt.close(fig)
    _sidecar(stem, caption, script, config_hash, order)


def save_table(
    df,
    stem: str | os.PathLike,
    caption: str,
    script: str,
    config_hash: str | None = None,
    order: int = 0,
) -> None:
    """Write a table as ``<stem>.csv`` with the same sidecar as a figure."""
    stem = Path(stem)
    write_csv(stem.with_suffix(".csv"), df)
    _sidecar(stem, caption, script, config_hash, order)
