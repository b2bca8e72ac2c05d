"""Helpers for the papers' workflow.smk files (included by the Snakefile before them)."""

import json
from pathlib import Path


def data_dir(paper, default):
    """The paper's input-data folder (run.data_dir): --config data_dir={paper: DIR} or default."""
    return str(config["data_dir"].get(paper, default))


def paper_out(paper):
    """results/<scale>/<paper>: every intermediate file of one paper at this scale."""
    return f"results/{SCALE}/{paper}"


def figures_output(paper, category):
    """A figures rule's output: the folder of <name>.png + <name>.json sidecars, registered for
    `snakemake --report` with each figure's own caption (read from its sidecar) as a label.
    """
    folder = f"{paper_out(paper)}/figures"

    def labels(wildcards):
        sidecar = Path(folder, f"{wildcards.name}.json")
        caption = json.loads(sidecar.read_text())["caption"] if sidecar.exists() else ""
        # Snakemake fills {wildcards} into label values (no escape): a caption's braces become ()
        caption = caption.replace("{", "(").replace("}", ")")
        return {"figure": wildcards.name, "caption": caption}

    return report(
        directory(folder),
        patterns=["{name}.png"],
        caption=str(Path(workflow.basedir, "common/templates/figure_caption.rst")),
        category=category,
        labels=labels,
    )
