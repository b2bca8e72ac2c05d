"""Typed config schema: a wrong key or a wrongly typed value is a one-line error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from common.config import RunConfig, require

DTYPES = ("float32", "float64")
X1_FAMILIES = ("gaussian", "sparse", "ones", "balanced")
INIT_KINDS = ("diagonal", "gaussian")


@dataclass
class DataConfig:
    d: int = 5
    T: int = 50
    m_train: int = 2000
    m_test: int = 2000
    x1: str = MISSING  # gaussian | sparse | ones | balanced (Gaussian, symmetric set)
    x1_scale: float = 1.0  # sigma (Gaussian) or c (sparse, all-ones)


@dataclass
class TrainConfig:
    lr: float = MISSING  # the authors' step size at T = 100
    epochs: int = MISSING  # the authors' number of full-batch steps
    lr_multiplier: float = 1.0  # scale-dependent (T_paper / T keeps the dynamics per step)
    epochs_multiplier: float = 1.0
    max_step_curvature: float = 0.0  # > 0: cap lr x lambda_max at this (see train.py); 0: off
    test_every: int = 5  # epochs between passes over the test set (ratio, test MSE)
    checkpoint_every: int = 100
    dtype: str = "float64"  # float32 halves the memory traffic of an epoch


@dataclass
class InitConfig:
    kind: str = "diagonal"  # diagonal | gaussian
    a0: float = 0.1
    b0: float = 0.1
    std: float = 1.0  # entry std of the Gaussian init


@dataclass
class SweepConfig:
    """Shape of the Snakemake DAG (not hashed): which runs a scale makes."""

    experiments: list[str] = field(default_factory=list)
    inits: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    gaussian_init_experiments: list[str] = field(default_factory=list)
    oracle_experiments: list[str] = field(default_factory=list)  # run at every diagonal init


@dataclass
class Config:
    scale_name: str = MISSING
    exp_name: str = MISSING
    init_name: str = MISSING
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init: InitConfig = field(default_factory=InitConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    run: RunConfig = field(default_factory=RunConfig)  # run.data_dir unused: data in-process


def validate(cfg: DictConfig) -> None:
    """Reject nonsense values with one line naming the field."""
    dc, tc, ic = cfg.data, cfg.train, cfg.init
    require(cfg, {
        "data.d": (dc.d > 0, "must be > 0"),
        "data.T": (dc.T >= 3, "must be >= 3 (the loss sums over T - 2 positions)"),
        "data.m_train": (dc.m_train > 0, "must be > 0"),
        "data.m_test": (dc.m_test > 0, "must be > 0"),
        "data.x1": (dc.x1 in X1_FAMILIES, f"must be one of {X1_FAMILIES}"),
        "data.x1_scale": (dc.x1_scale > 0, "must be > 0"),
        "train.lr": (tc.lr > 0, "must be > 0"),
        "train.epochs": (tc.epochs > 0, "must be > 0"),
        "train.lr_multiplier": (tc.lr_multiplier > 0, "must be > 0"),
        "train.epochs_multiplier": (tc.epochs_multiplier > 0, "must be > 0"),
        "train.max_step_curvature": (tc.max_step_curvature >= 0, "must be >= 0 (0: off)"),
        "train.test_every": (tc.test_every > 0, "must be > 0"),
        "train.checkpoint_every": (tc.checkpoint_every > 0, "must be > 0"),
        "train.dtype": (tc.dtype in DTYPES, f"must be one of {DTYPES}"),
        "init.kind": (ic.kind in INIT_KINDS, f"must be one of {INIT_KINDS}"),
        "init.std": (ic.std > 0, "must be > 0"),
        "seed": (cfg.seed >= 0, "must be >= 0"),
    })  # fmt: skip


ConfigStore.instance().store(name="mesa_optimization_schema", node=Config)
