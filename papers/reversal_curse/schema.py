"""Typed config schema: a wrong key or a wrongly typed value is a one-line error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from common.config import RunConfig, require

#: Model variants a run can train (Snakemake wildcard ``variant``).
VARIANTS = ("decoder", "reverse", "enc_fixed", "enc_uniform", "untrained", "enc_untrained")


@dataclass
class DataConfig:
    #: synthetic (generated here) | released (the paper's JSONL files, read from run.data_dir)
    source: str = "synthetic"
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
    uniform_steps: int = 0  # optimizer steps of enc_uniform; 0: train.encoder_steps
    epochs: int = 0
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 50
    mask_rate: float = 0.15  # enc_fixed: the fixed masking rate (enc_uniform draws U(0, 1))
    checkpoint_every: int = 100  # steps between resume checkpoints (not hashed: same result)


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
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    run: RunConfig = field(default_factory=RunConfig)


def validate(cfg) -> None:
    """Fail early with one line naming the field on values no stage can use."""
    dc, mc, tc = cfg.data, cfg.model, cfg.train
    require(cfg, {
        "variant": (cfg.variant in VARIANTS, f"must be one of {', '.join(VARIANTS)}"),
        "data.source": (dc.source in ("synthetic", "released"), "must be synthetic or released"),
        "data.facts_per_subset": (dc.facts_per_subset >= 1, "must be >= 1"),
        "data.train_templates": (dc.train_templates >= 1, "must be >= 1"),
        "data.heldout_templates": (dc.heldout_templates >= 0, "must be >= 0"),
        "model.layers": (mc.layers >= 1, "must be >= 1"),
        "model.width": (mc.width >= 1, "must be >= 1"),
        "model.heads": (mc.heads >= 1, "must be >= 1"),
        "model.max_len": (mc.max_len >= 2, "must be >= 2"),
        "model.dropout": (0 <= mc.dropout < 1, "must be in [0, 1)"),
        "train.steps": (tc.steps >= 0 and (tc.steps > 0 or tc.epochs > 0),
                        "must be >= 1 (or 0 with train.epochs >= 1)"),
        "train.epochs": (tc.epochs >= 0, "must be >= 0"),
        "train.encoder_steps": (tc.encoder_steps >= 0, "must be >= 0"),
        "train.uniform_steps": (tc.uniform_steps >= 0, "must be >= 0"),
        "train.batch_size": (tc.batch_size >= 1, "must be >= 1"),
        "train.lr": (tc.lr > 0, "must be > 0"),
        "train.weight_decay": (tc.weight_decay >= 0, "must be >= 0"),
        "train.warmup": (tc.warmup >= 0, "must be >= 0"),
        "train.mask_rate": (0 < tc.mask_rate < 1, "must be in (0, 1)"),
        "train.checkpoint_every": (tc.checkpoint_every >= 1, "must be >= 1"),
        "eval.batch_size": (cfg.eval.batch_size >= 1, "must be >= 1"),
    })  # fmt: skip


ConfigStore.instance().store(name="reversal_curse_schema", node=Config)


#: Config sections training reads (its checkpoint and the train rule hash only these).
TRAIN_SECTIONS = ("seed", "variant", "data", "model", "train")
TRAIN_EXCLUDE = ("train.checkpoint_every",)
