"""Typed config schema: a wrong key or a wrongly typed value is a one-line error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from common.config import RunConfig


@dataclass
class DataConfig:
    name: str = "digits"  # digits | patches (offline, bundled) | mnist | cifar10 (paper scale)
    # mnist / cifar10 are read from run.data_dir (the one data-directory key, not hashed)
    download: bool = False  # fetch mnist / cifar10 into run.data_dir when missing (network)
    patch_size: int = 8  # patches: side of the grayscale patches
    max_images: int = 0  # 0: all images of the dataset


@dataclass
class ModelConfig:
    hidden: int = 256
    depth: int = 3
    sigma_data: float = 0.5  # EDM preconditioning


@dataclass
class TrainConfig:
    steps: int = MISSING
    batch_size: int = 256
    lr: float = 1e-3
    p_mean: float = -1.2  # EDM log-normal training noise levels
    p_std: float = 1.2
    ema: float = 0.999
    checkpoint_every: int = 1000


@dataclass
class SamplerConfig:
    num_steps: int = 51  # non-zero noise levels of the Karras schedule (then sigma = 0)
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    n_traj: int = 200


@dataclass
class MeasureConfig:
    top_k: int = 20  # principal directions used for commitment and change shares
    kick_norm: float = 0.5  # kick norm (VP units) relative to the data's RMS distance to its mean
    skip_sigmas: list[float] = field(default_factory=lambda: [40.0, 20.0, 10.0, 5.0, 2.5])


@dataclass
class SweepConfig:
    """Shape of the Snakemake DAG (not hashed)."""

    seeds: list[int] = field(default_factory=lambda: [0])


@dataclass
class Config:
    scale_name: str = MISSING
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    run: RunConfig = field(default_factory=RunConfig)


ConfigStore.instance().store(name="outline_first_schema", node=Config)
