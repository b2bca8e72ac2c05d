"""Typed config schema: a wrong key or a wrongly typed value is a one-line error; the stages'
hashed config keys; the family member of a size."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from common.cli import UserError
from common.config import RunConfig


@dataclass
class DataConfig:
    source: str = "potts"  # potts (synthetic, offline) | proteingym (paper scale, local files)
    families: int = 8  # potts: number of protein families (= DMS assays)
    length: int = 48  # potts: sequence length
    # potts: homogeneous = stationary families (one field vector, one coupling block per offset
    # 1..contacts, the same at every site); site = per-site fields, random contacts (README)
    potts_kind: str = "homogeneous"
    contacts: int = 3  # potts: coupled partners per site (homogeneous: offsets on each side)
    h_scale: float = 1.0  # potts: std of the fields
    j_scale: float = 0.5  # potts: std of the couplings
    pretrain_per_family: int = 2000  # potts: masked-LM training sequences per family
    fit_per_family: int = 125  # potts: scaler-fitting sequences per family (separate chains)
    # potts: further families in the pre-training table only (no assay, no fitting rows), named
    # extraNN; a member of model.family trains on the first of them (SizeConfig.extra_families)
    extra_families: int = 0
    samples_per_chain: int = 9  # potts: recorded samples per Gibbs chain
    burn_in: int = 40  # potts: Gibbs sweeps before the first sample
    thin: int = 4  # potts: sweeps between recorded samples
    singles_per_site: int = 19  # potts: random single mutants per position (19: all)
    doubles: int = 300  # potts: random double mutants per assay (plus the singles)
    noise: float = 0.3  # potts: fitness noise std, relative to the std of single-mutant effects
    # proteingym: the substitution CSVs <run.data_dir>/<id>.csv (data stage only), e.g. the
    # folder cv_folds_singles_substitutions, whose files carry the released fold columns
    assays: list[str] = field(default_factory=list)  # proteingym: the assay ids evaluated
    max_variants: int = 0  # proteingym: first n variants per assay (0: all)
    fit_fasta: str = "data/reverse_distillation/fit.fasta"  # proteingym: scaler-fitting set
    fit_sequences: int = 1000  # proteingym: sequences read from fit_fasta


@dataclass
class SizeConfig:
    name: str = MISSING  # model folder name (the DAG's size wildcard wants it to start with esm2)
    layers: int = MISSING
    dim: int = MISSING
    heads: int = MISSING
    extra_families: int = 0  # trained here: how many of data.extra_families join its corpus
    repo: str = ""  # pretrained: the hub repository (download only), e.g. facebook/esm2_t6_8M_UR50D
    revision: str = ""  # pretrained: hub commit to download ("": the repository's main branch)
    sha256: str = ""  # pretrained: sha256 of model.safetensors ("": not checked)


@dataclass
class ModelConfig:
    family: list[SizeConfig] = MISSING  # increasing embedding dimension
    pretrained: bool = False  # true: published weights (paper); false: trained here
    weights_dir: str = "data/esm2"  # pretrained: model folders <weights_dir>/<name>
    download: bool = False  # pretrained: fetch a missing folder from the hub (member's repo)


@dataclass
class TrainConfig:
    steps: int = 600
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 50
    weight_decay: float = 0.01
    mask_prob: float = 0.15  # BERT masking: 80% <mask>, 10% random, 10% unchanged
    checkpoint_every: int = 100  # steps between resume checkpoints (not part of the result)


@dataclass
class EmbedConfig:
    tokens_per_batch: int = 8192
    max_fit_residues: int = 500000  # per-residue scaler-fitting rows kept (random subset)


@dataclass
class RDConfig:
    regressor: str = "pcr"  # pcr (noise-threshold principal-component regression) | ols | ridge
    ridge_alpha: float = 1.0


@dataclass
class ProbeConfig:
    # the claims' probe: ridge on the embedding as given (false) or on standardised features;
    # evaluate also reports the other one
    standardize: bool = False
    folds: int = 5
    splits: list[str] = field(default_factory=lambda: ["random", "modulo", "contiguous"])
    alphas: list[float] = field(default_factory=lambda: [10.0**k for k in range(-3, 5)])


@dataclass
class SweepConfig:
    seeds: list[int] = field(default_factory=lambda: [0])  # replicates (data, models, probes)


@dataclass
class Config:
    scale_name: str = MISSING
    seed: int = 0
    size: str = ""  # train / embed: which member of model.family (a Snakemake wildcard)
    models_dir: str = "results/manual/models"  # where train wrote the tiny checkpoints
    embeddings_dir: str = "results/manual/embeddings"  # where embed wrote pooled embeddings
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    rd: RDConfig = field(default_factory=RDConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    # run.data_dir: the data stage's input (ProteinGym CSVs at paper scale; unused by potts);
    # for train / embed / evaluate: the folder of the data stage's tables
    run: RunConfig = field(default_factory=RunConfig)


#: The config keys (dotted) each stage reads: its DAG rule hashes only these (so a probe change
#: reruns evaluate, never training) and training's resume checkpoint is tied to them.
#: train.checkpoint_every is left out: it does not change the trained model.
STAGE_KEYS = {
    "data": ("seed", "data"),
    "train": (  # training also writes the model's embeddings (train.py)
        "seed", "data", "model", "size", "train.steps", "train.batch_size", "train.lr",
        "train.warmup", "train.weight_decay", "train.mask_prob", "embed",
    ),
    "embed": ("seed", "data", "model", "embed", "size"),
    "evaluate": ("seed", "data", "model", "embed", "rd", "probe"),
}  # fmt: skip


def size_spec(cfg: DictConfig, size: str) -> DictConfig:
    """The family member called ``size``; a wrong name is a one-line error."""
    names = [m.name for m in cfg.model.family]
    if size not in names:
        raise UserError(f"size must be one of {names}, got {size!r}")
    return cfg.model.family[names.index(size)]


ConfigStore.instance().store(name="reverse_distillation_schema", node=Config)
