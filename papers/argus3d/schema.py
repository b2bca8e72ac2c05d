"""Typed config schema: a wrong key or a wrongly typed value is a one-line error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from common.config import RunConfig


@dataclass
class DataConfig:
    # procedural (the data rule writes it into run.data_dir) | local (run.data_dir as given);
    # run.data_dir is the dataset folder in the ConvONet / ShapeNet layout
    source: str = "procedural"
    seed: int = 0  # procedural shapes
    categories: list[str] = field(default_factory=lambda: ["chair", "table", "airplane", "lamp"])
    n_train: int = 400  # procedural: shapes per category and split
    n_val: int = 32
    n_test: int = 64
    n_surface: int = 2048  # points in pointcloud.npz
    n_query: int = 2048  # points in points.npz / points_iou.npz
    near_fraction: float = 0.5  # share of near-surface training queries
    near_sigma: float = 0.02


@dataclass
class Stage1Config:
    rep: str = "latent"  # latent | triplane | grid
    seed: int = 0
    n_input: int = 1024  # surface points fed to the encoder
    input_noise: float = 0.005
    n_query: int = 512  # occupancy queries per shape and step
    plane_res: int = 32
    grid_res: int = 16
    channels: int = 16  # feature channels of planes / grid
    width: int = 32  # channels of the coupling / down / up convolutions
    hidden: int = 64  # point encoder and occupancy decoder
    n_down: int = 2  # stride-2 convolutions: tokens are res / 2**n_down per side
    token_dim: int = 64
    codebook_size: int = 512
    codebook_dim: int = 4  # low-dimensional codebook
    commitment: float = 0.4
    vq_decay: float = 0.8
    dead_code_threshold: int = 2
    steps: int = MISSING
    batch_size: int = 16
    lr: float = 1e-3
    threshold: float = 0.2  # occupancy probability of the surface (IoU, marching cubes)
    mc_res: int = 32  # occupancy grid for marching cubes
    checkpoint_every: int = 500


@dataclass
class Stage2Config:
    rep: str = "latent"
    order: str = "row"  # row | col: flattening order of each token plane
    width: int = 128
    layers: int = 4
    heads: int = 4
    dropout: float = 0.1
    steps: int = MISSING
    batch_size: int = 32
    lr: float = 1e-3
    top_k: int = 50
    n_gen: int = 64  # generated shapes per category
    checkpoint_every: int = 500


@dataclass
class EvalConfig:
    n_ref: int = 64  # test shapes per category, compared with as many generated shapes
    n_cd: int = 512  # surface points decoded per shape (stage 1 and 2 store them)
    n_cd_metric: int | None = None  # of those, points used for Chamfer distance (None: all)
    n_emd: int = 128  # surface points per shape for EMD (exact assignment)
    n_novelty: int = 256  # points per shape for the nearest-training-shape distances
    n_novelty_train: int | None = None  # training shapes per category searched (None: all)
    novelty: bool = False  # also compute the novelty check (set per run by the workflow)
    controls: bool = False  # also score the reference generators (set for the base run)
    n_boot: int = 1000  # bootstrap resamples of the 1-NNA intervals (aggregate)


@dataclass
class SweepConfig:
    """Shape of the Snakemake DAG (not hashed)."""

    reps: list[str] = field(default_factory=lambda: ["latent", "triplane", "grid"])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    order_reps: list[str] = field(default_factory=lambda: ["latent", "triplane"])
    order_seeds: list[int] = field(default_factory=lambda: [0, 1])  # column-major runs
    widths: list[int] = field(default_factory=lambda: [64, 128, 256])


@dataclass
class Config:
    scale_name: str = MISSING
    seed: int = 0  # stage 2 (GPT initialisation, batches, sampling)
    data: DataConfig = field(default_factory=DataConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    run: RunConfig = field(default_factory=RunConfig)


ConfigStore.instance().store(name="argus3d_schema", node=Config)
