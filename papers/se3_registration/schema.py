"""Typed config schema: a wrong key or a wrongly typed value is a one-line error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from common.config import RunConfig


@dataclass
class SyntheticConfig:
    """The synthetic BOP dataset (data.name=synthetic)."""

    n_objects: int = 5  # the first n of mug, lblock, hammer, duck, bottle
    train_frames: int = 150  # per object
    test_frames: int = 20  # per object
    image_hw: list[int] = field(default_factory=lambda: [180, 240])
    focal: float = 220.0  # pixels
    max_rotation_deg: float = 60.0  # pose: rotation by a uniform axis, angle in [0, this]
    distance_mm: list[float] = field(default_factory=lambda: [600.0, 900.0])
    occlusion: list[float] = field(default_factory=lambda: [0.2, 0.5])  # hidden share of the view
    background_mm: float = 150.0  # background plane behind the object
    depth_noise_mm: float = 1.5


@dataclass
class DataConfig:
    # synthetic (written to run.data_dir by the data stage) | bop (the released BOP files the user
    # put in run.data_dir: TUD-L, LM, LM-O)
    name: str = "synthetic"
    train_split: str = "train"  # bop: e.g. train_real (TUD-L)
    test_split: str = "test"
    test_targets: str = ""  # bop: e.g. test_targets_bop19.json (relative to run.data_dir)
    obj_ids: list[int] = field(default_factory=list)  # empty: every object
    max_per_scene: int = 0  # 0: every image
    min_points: int = 32  # instances with fewer visible depth points are skipped
    n_store: int = 512  # observed points kept per frame (the network samples from these)
    n_model_store: int = 2048  # model surface points kept per object
    seed: int = 0  # the dataset's own seed (shared by all training seeds)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ModelConfig:
    """The DCP-style surrogate."""

    width: int = 64
    k: int = 8  # neighbours of the edge features
    heads: int = 4
    n_obs: int = 128  # observed points per sample
    n_model: int = 256  # model points per sample
    length_scale: float = 0.1  # metres; coordinates are divided by it
    temperature: float = 5.0  # initial inverse temperature of the correspondence softmax
    spatial: float = 10.0  # initial weight of the squared-distance term of the match scores


@dataclass
class DiffusionConfig:
    T: int = 200
    cosine_s: float = 0.008
    # noise scales in se(3): rotation in radians, translation in the released code's length unit
    # (length_unit_mm: it divides millimetres by 256, so 0.03 / 0.01 are 7.7 / 2.6 mm)
    sigma_r: float = 0.05  # training
    sigma_t: float = 0.03
    test_sigma_r: float = 0.1  # test time
    test_sigma_t: float = 0.01
    length_unit_mm: float = 256.0
    test_steps: int = 5  # reverse steps (= surrogate calls) of the headline Diff-DCP


@dataclass
class TrainConfig:
    kind: str = "diffusion"  # surrogate (one shot from the identity, DCP) | diffusion (Diff-DCP)
    steps: int = MISSING
    epochs: float = 0.0  # > 0: steps = ceil(epochs * n_train / batch_size) instead
    batch_size: int = 16
    lr: float = 1e-3
    # diffusion: weight of the identity-start loss (the one-shot prediction from the raw model
    # pose, as released: every step, full batch, beside the loss at H_t); 0 leaves it out
    identity_weight: float = 1.0
    # surrogate: train for as many network passes as the diffusion network (steps x passes per
    # diffusion step) instead of as many steps
    equal_passes: bool = True
    checkpoint_every: int = 200


@dataclass
class EvalConfig:
    steps_ablation: list[int] = field(default_factory=lambda: [1, 3, 5, 10])
    rot_deg: list[float] = field(default_factory=lambda: [5.0, 10.0, 20.0])
    trans_cm: list[float] = field(default_factory=lambda: [1.0, 2.0, 5.0])
    ref_diameter_mm: float = 200.0  # cm thresholds scale by object diameter / this
    add_frac: float = 0.1  # ADD(-S) threshold as a share of the diameter
    icp_iterations: int = 30
    n_examples: int = 4  # test samples kept for the qualitative figure


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
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    # run.data_dir: the BOP dataset folder for the data stage; the data stage's output folder
    # (train.npz, test.npz, models.npz, dataset.json) for train / evaluate / figures
    run: RunConfig = field(default_factory=RunConfig)


#: What each stage reads, for its config hash (checkpoints, train.json, the rules' params): the
#: data stage reads ``data``; a training run everything but ``eval``, and not the checkpoint
#: interval, which does not change the result.
DATA_SECTIONS = ("data",)
TRAIN_SECTIONS = ("seed", "data", "model", "diffusion", "train")
TRAIN_EXCLUDE = ("train.checkpoint_every",)


def overrides(scale: str, seed: int | str | None = None, kind: str | None = None) -> tuple:
    """The config overrides of one job of the DAG (workflow.smk): scale, seed, training kind."""
    out = [f"scale={scale}"]
    out += [f"seed={seed}"] if seed is not None else []
    out += [f"train.kind={kind}"] if kind is not None else []
    return tuple(out)


ConfigStore.instance().store(name="se3_registration_schema", node=Config)
