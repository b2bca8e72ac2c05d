"""Write the procedural shape dataset in the ConvONet layout into ``run.data_dir`` (entry point).

python -m papers.argus3d.make_data scale=cpu run.data_dir=results/cpu/argus3d/data
"""

from __future__ import annotations

from omegaconf import DictConfig

from common.config import entry_point, require
from papers.argus3d.data import write_procedural


def validate(cfg: DictConfig) -> None:
    dc = cfg.data
    require(cfg, {
        "data.source": (dc.source == "procedural", "must be 'procedural' to write data"),
        "run.data_dir": (bool(cfg.run.data_dir), "must name the folder to write"),
        "data.n_train": (dc.n_train >= 1, "must be >= 1"),
        "data.n_val": (dc.n_val >= 1, "must be >= 1"),
        "data.n_test": (dc.n_test >= 1, "must be >= 1"),
        "data.n_surface": (dc.n_surface >= 1, "must be >= 1"),
        "data.n_query": (dc.n_query >= 2, "must be >= 2"),
        "data.near_fraction": (0 <= dc.near_fraction <= 1, "must be in [0, 1]"),
        "data.near_sigma": (dc.near_sigma >= 0, "must be >= 0"),
        "data.categories": (len(dc.categories) >= 1, "must name at least one category"),
    })  # fmt: skip


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    validate(cfg)
    write_procedural(cfg.run.data_dir, cfg.data, cfg.data.seed)


if __name__ == "__main__":
    main()
