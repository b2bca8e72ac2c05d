"""The DAG's runs: which stage-2 runs the sweeps need, their names, and the config sections each
rule hashes (shared by the workflow, the trainers, the aggregate and the figures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BASE_ORDER = "row"


@dataclass(frozen=True)
class Run:
    rep: str
    order: str
    width: int
    seed: int
    novelty: bool = field(default=False, compare=False)  # evaluate the novelty check too
    controls: bool = field(default=False, compare=False)  # score the reference generators too

    @property
    def name(self) -> str:
        return f"{self.rep}-{self.order}-w{self.width}-s{self.seed}"

    def overrides(self) -> tuple[str, ...]:
        return (f"stage1.rep={self.rep}", f"stage2.rep={self.rep}", f"stage2.order={self.order}",
                f"stage2.width={self.width}", f"seed={self.seed}")  # fmt: skip

    def evaluate_overrides(self) -> tuple[str, ...]:
        return (*self.overrides(), f"eval.novelty={str(self.novelty).lower()}",
                f"eval.controls={str(self.controls).lower()}")  # fmt: skip


def stage1_dir(out: Path, rep: str) -> Path:
    """Stage-1 run of ``rep`` next to a stage-2 run: <root>/gen/<run> -> <root>/stage1/<rep>."""
    return Path(out).parent.parent / "stage1" / rep


def base_width(cfg) -> int:
    return int(cfg.stage2.width)


def stage2_runs(cfg) -> list[Run]:
    """Representation ablation (every rep, row order, every seed; the latent-vector runs also
    get the novelty check, the first of them the reference generators), token-order ablation
    (column order for ``order_reps`` and ``order_seeds``) and the width sweep (latent, row,
    first seed)."""
    sw, w = cfg.sweep, base_width(cfg)
    first = ("latent", sw.seeds[0])
    runs = [
        Run(rep, BASE_ORDER, w, s, novelty=rep == "latent", controls=(rep, s) == first)
        for rep in sw.reps
        for s in sw.seeds
    ]
    runs += [
        Run(rep, o, w, s) for rep in sw.order_reps for s in sw.order_seeds for o in ("row", "col")
    ]
    runs += [Run("latent", BASE_ORDER, int(width), sw.seeds[0]) for width in sw.widths]
    return list(dict.fromkeys(runs))


#: Config sections each rule's outputs depend on (so an edit reruns exactly those rules); the
#: trainers hash the same sections for their checkpoints.
SECTIONS = {
    "data": ("data",),
    "stage1": ("data", "stage1", "eval.n_cd"),
    "stage2": ("data", "stage1", "stage2", "seed", "eval.n_cd"),
}


def rule_hash(scale: str, overrides: tuple[str, ...] = (), rule: str | None = None) -> str:
    """The workflow's ``cfg_hash`` param: the whole config at ``scale`` with ``overrides``, or only
    the sections ``rule`` depends on (``SECTIONS``)."""
    from common.config import cached_hash

    full = (f"scale={scale}", *overrides)
    return cached_hash("argus3d", full, SECTIONS[rule] if rule else None)
