"""Compose a paper's Hydra config from Python or the command line, validate it, hash it.

We use Hydra's compose API (not ``@hydra.main``) so that the same call serves the
entry points and the Snakefile, outputs go where Snakemake says (no ``outputs/``
folder), and a bad override ends with one line instead of a traceback.
Each paper registers a dataclass schema named ``<paper>_schema`` in Hydra's
ConfigStore (module ``papers.<paper>.schema``) and lists it first in its defaults.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from common.cli import UserError, one_line_errors

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Top-level keys that say where/how to run or the DAG shape, not what to compute: not hashed.
RUNTIME_KEYS = ("run", "sweep")


@dataclass
class RunConfig:
    """Every paper's ``run`` node: where outputs go and how many threads (not hashed)."""

    out_dir: str = "results/manual"
    threads: int = 1


def _one_line(err: BaseException) -> str:
    parts = []
    while err is not None:
        text = " ".join(str(err).split())
        if text and text not in parts:
            parts.append(text)
        err = err.__cause__
    msg = ": ".join(parts)
    return msg.split(" full_key:")[0].split(" Set the environment variable")[0]


def compose_config(paper: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose ``papers/<paper>/conf/config.yaml`` with ``overrides`` (Hydra override syntax)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    conf_dir = REPO_ROOT / "papers" / paper / "conf"
    if not conf_dir.is_dir():
        raise UserError(f"unknown paper {paper!r}: no config directory {conf_dir}")
    importlib.import_module(f"papers.{paper}.schema")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir), job_name=paper):
            cfg = compose("config", overrides=list(overrides))
    except Exception as err:  # Hydra/OmegaConf raise many types; all are bad input here
        raise UserError(f"bad config for {paper}: {_one_line(err)}") from None
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.resolve(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def config_hash(cfg: DictConfig, keys: tuple[str, ...] | None = None) -> str:
    """Stable 12-hex-digit hash of the resolved config, ignoring runtime-only keys and comments.

    ``keys`` restricts the hash to those top-level sections: a pipeline stage that reads only
    them then reruns only when they change.
    """
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in RUNTIME_KEYS:
        data.pop(key, None)
    if keys is not None:
        data = {key: data[key] for key in keys}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@functools.cache
def cached_hash(paper: str, overrides: tuple[str, ...], keys: tuple[str, ...] | None = None) -> str:
    """Config hash for a Snakemake ``params:`` value (cached: the DAG asks many times)."""
    return config_hash(compose_config(paper, overrides), keys)


def entry_point(paper: str) -> Callable[[Callable[[DictConfig], None]], Callable[[], None]]:
    """Decorate ``main(cfg)`` so that ``python -m papers.<paper>.<script> key=value ...`` works.

    ``--cfg`` prints the resolved config and exits; errors in overrides end with one line.
    """

    def decorate(func: Callable[[DictConfig], None]) -> Callable[[], None]:
        @one_line_errors
        def main(argv: list[str] | None = None) -> None:
            args = list(sys.argv[1:] if argv is None else argv)
            show = "--cfg" in args
            cfg = compose_config(paper, [a for a in args if a != "--cfg"])
            if show:
                print(OmegaConf.to_yaml(cfg), end="")
                return
            func(cfg)

        return main

    return decorate
