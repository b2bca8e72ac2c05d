"""Write the procedural shape dataset in the ConvONet layout (Hydra entry point).

python -m papers.argus3d.make_data scale=cpu run.out_dir=results/cpu/argus3d/data
"""

from __future__ import annotations

from omegaconf import DictConfig

from common.cli import UserError
from common.config import entry_point
from papers.argus3d.data import write_procedural


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    if cfg.data.source != "procedural":
        raise UserError(f"data.source is {cfg.data.source!r}: only 'procedural' data is written")
    write_procedural(cfg.run.out_dir, cfg.data, cfg.data.seed)


if __name__ == "__main__":
    main()
