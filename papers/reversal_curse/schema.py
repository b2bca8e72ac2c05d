"""Typed config schema: a wrong key or a wrongly typed value is a one-line error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from common.config import RunConfig

#: Model variants a run can train (Snakemake wildcard ``variant``).
VARIANTS = ("decoder", "reverse", "enc_fixed", "enc_uniform")


@dataclass
class DataConfig:
    source: str = "synthetic"  # synthetic (generated here) | released (the paper's JSONL files)
    dir: str = "data/reversal_curse"  # released: local directory of the paper's Experiment-1 files
    data_seed: int = 0  # synthetic: names, descriptions and subsets (one dataset for every seed)
    facts_per_subset: int = 30
    train_templates: int = 8  # per direction; the rest of each direction's templates are held out
    heldout_templates: int = 2


@dataclass
class ModelConfig:
    layers: int = 2
    width: int = 128
    heads: int = 4
    max_len: int = 32
    dropout: float = 0.0  # residual, embedding and attention dropout of the tiny models
    pretrained: str = ""  # paper scale: local path or hub id of a causal LM (decoder variant only)
    download: bool = False  # allow fetching ``pretrained`` from the hub when it is not a local path


@dataclass
class TrainConfig:
    steps: int = MISSING  # optimizer steps; 0 with epochs > 0: epochs x batches
    encoder_steps: int = 0  # optimizer steps of the encoder variants; 0: train.steps
    epochs: int = 0
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 50
    mask_rate: float = 0.15  # enc_fixed: BERT's fixed masking rate (enc_uniform draws U(0, 1))


@dataclass
class EvalConfig:
    batch_size: int = 256
    #: test files whose completions are names: log-probability test and mean reciprocal rank
    name_sets: list[str] = field(default_factory=list)


@dataclass
class SweepConfig:
    """Shape of the Snakemake DAG (not hashed)."""

    seeds: list[int] = field(default_factory=lambda: [0])
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))


@dataclass
class Config:
    scale_name: str = MISSING
    seed: int = 0
    variant: str = "decoder"  # one of VARIANTS
    data_dir: str = ""  # the run's data directory, written by papers.reversal_curse.data
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    run: RunConfig = field(default_factory=RunConfig)


ConfigStore.instance().store(name="reversal_curse_schema", node=Config)
