"""Per-stage config hashes for the Snakemake rules: a stage reruns only when the config
sections it reads change, so a probe or regressor edit does not retrain or re-embed.

(``common.config.cached_hash`` hashes the whole config; a ``keys=`` argument there would
make this module unnecessary.)
"""

from __future__ import annotations

import functools
import hashlib
import json

from omegaconf import OmegaConf

from common.config import compose_config

#: config sections each stage reads
STAGES = {
    "data": ("seed", "data"),
    "train": ("seed", "data", "model", "train", "size"),
    "embed": ("seed", "data", "model", "embed", "size"),
}


@functools.cache
def stage_hash(stage: str, overrides: tuple[str, ...]) -> str:
    """12-hex-digit hash of the config sections that ``stage`` reads."""
    cfg = OmegaConf.to_container(compose_config("reverse_distillation", overrides), resolve=True)
    blob = json.dumps({k: cfg[k] for k in STAGES[stage]}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
