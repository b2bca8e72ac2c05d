"""Train and evaluate one (variant, seed) in one process (Hydra entry point; the workflow's rule).

python -m papers.reversal_curse.run scale=cpu variant=decoder seed=0 \
    run.data_dir=results/cpu/reversal_curse/data \
    run.out_dir=results/cpu/reversal_curse/runs/decoder/seed0
The same overrides and outputs as ``train`` followed by ``evaluate``: one process imports torch
and transformers (several seconds of a short run) once per run instead of twice.
"""

from __future__ import annotations

from omegaconf import DictConfig

from common.config import entry_point
from papers.reversal_curse import evaluate, train


@entry_point("reversal_curse")
def main(cfg: DictConfig) -> None:
    train.run(cfg)
    evaluate.run(cfg)


if __name__ == "__main__":
    main()
