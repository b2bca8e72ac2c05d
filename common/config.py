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
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from common.cli import UserError, one_line_errors

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Top-level keys that say where/how to run or the DAG shape, not what to compute: not hashed.
RUNTIME_KEYS = ("run", "sweep")
#: Where the config cache for the DAG lives (Snakemake's own git-ignored folder).
CACHE_DIR = REPO_ROOT / ".snakemake" / "config-cache"
log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """Every paper's ``run`` node: where outputs go, where input data lives, how many threads.

    Not hashed: these say where and how, not what is computed. ``data_dir`` is the one key for
    a paper's input data (the data stage's output at smoke/cpu scale, the released files at
    paper scale); Snakemake sets it from ``--config data_dir=...``.
    """

    out_dir: str = "results/manual"
    data_dir: str = ""
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
        OmegaConf.resolve(cfg)
    except Exception as err:  # Hydra/OmegaConf raise many types; all are bad input here
        raise UserError(f"bad config for {paper}: {_one_line(err)}") from None
    finally:
        GlobalHydra.instance().clear()
    _check_seeds(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


#: What NumPy, PyTorch and JAX all accept as a seed.
SEED_RANGE = (0, 2**32 - 1)


def _check_seeds(node, prefix: str = "") -> None:
    """Every ``seed`` / ``*_seed`` value (any paper, any depth) is an int in `SEED_RANGE`."""
    for key, value in node.items():
        name = f"{prefix}{key}"
        if OmegaConf.is_dict(value):
            _check_seeds(value, f"{name}.")
        elif str(key) == "seed" or str(key).endswith("_seed"):
            low, high = SEED_RANGE
            if not isinstance(value, int) or not low <= value <= high:
                raise UserError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _select(data: dict, key: str):
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"config has no key {key!r} to hash")
        node = node[part]
    return node


def _drop(data: dict, key: str) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        data = data.get(part, {})
    if isinstance(data, dict):
        data.pop(leaf, None)


def config_hash(
    cfg: DictConfig | dict,
    sections: tuple[str, ...] | list[str] | None = None,
    exclude: tuple[str, ...] | list[str] = (),
) -> str:
    """Stable 12-hex-digit hash of the resolved config, ignoring runtime keys and comments.

    ``sections`` (dotted keys, e.g. ``("data", "stage1", "eval.n_cd")``) restricts the hash to
    what a stage reads, so it reruns only when those change; ``exclude`` (dotted keys) leaves
    out values that do not change the result (e.g. ``train.steps`` for a resumable trainer).
    """
    data = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    for key in RUNTIME_KEYS:
        data.pop(key, None)
    if sections is not None:
        data = {key: _select(data, key) for key in sections}
    data = json.loads(json.dumps(data))  # a deep copy that `exclude` may edit
    for key in exclude:
        _drop(data, key)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@functools.cache
def _fingerprint(paper: str) -> str:
    """Hash of everything a composed config depends on: the paper's YAML files and schema."""
    digest = hashlib.sha256()
    root = REPO_ROOT / "papers" / paper
    files = sorted((root / "conf").rglob("*.yaml")) + [root / "schema.py", Path(__file__)]
    for path in files:
        if path.exists():
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def _disk_cache(paper: str) -> dict:
    path = CACHE_DIR / f"{paper}-{_fingerprint(paper)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _container(paper: str, overrides: tuple[str, ...] | list[str]) -> dict:
    """The composed config as plain data, cached on disk until the paper's config files change.

    The Snakefile asks for many configs (one per job, to hash them); composing each with Hydra
    takes most of a dry run, and a dry run of an up-to-date tree should answer at once.
    """
    cache, key = _disk_cache(paper), json.dumps(list(overrides))
    if key not in cache:
        cache[key] = OmegaConf.to_container(compose_config(paper, overrides))
        from common.io import write_json

        write_json(CACHE_DIR / f"{paper}-{_fingerprint(paper)}.json", cache)
    return cache[key]


def cached_config(paper: str, overrides: tuple[str, ...] | list[str]) -> DictConfig:
    """``compose_config`` for the DAG (read-only), served from the disk cache."""
    cfg = OmegaConf.create(_container(paper, overrides))
    OmegaConf.set_readonly(cfg, True)
    return cfg


@functools.cache
def cached_hash(
    paper: str,
    overrides: tuple[str, ...],
    sections: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
) -> str:
    """Config hash for a Snakemake ``params:`` value (the DAG asks many times for each)."""
    return config_hash(_container(paper, tuple(overrides)), sections, exclude)


def require(cfg: DictConfig, checks: dict[str, tuple[bool, str]]) -> None:
    """Fail with one line naming the field for the first ``name: (ok, rule)`` that is not ok.

    >>> require(cfg, {"train.lr": (cfg.train.lr > 0, "must be > 0")})
    """
    for name, (ok, rule) in checks.items():
        if not ok:
            raise UserError(f"{name} {rule}, got {OmegaConf.select(cfg, name)!r}")


def _groups(paper: str) -> dict[str, list[str]]:
    conf = REPO_ROOT / "papers" / paper / "conf"
    return {
        d.name: sorted(p.stem for p in d.glob("*.yaml"))
        for d in sorted(conf.iterdir())
        if d.is_dir()
    }


def _help(paper: str, script: str, doc: str) -> str:
    groups = "\n".join(f"  {g}={{{','.join(opts)}}}" for g, opts in _groups(paper).items())
    cfg = compose_config(paper)
    return (
        f"usage: python -m papers.{paper}.{script} [--cfg job] [key=value ...]\n\n"
        f"{(doc or '').strip()}\n\nConfig groups (pick one option each):\n{groups}\n\n"
        "Keys and their defaults (override any with key=value; Hydra override syntax):\n"
        + OmegaConf.to_yaml(cfg)
        + "\nSweeps (-m, a=1,2) run through Snakemake: see the README.\n"
    )


def _quote_plain_value(arg: str, parser) -> str:
    """``key=value`` as given, or with the value single-quoted if only that makes it parse.

    Hydra's lexer refuses unquoted non-ASCII characters (``run.out_dir=/data/Müller``); a plain
    value (no quotes, backslashes or brackets) is a string the user meant literally.
    """
    key, sep, value = arg.partition("=")
    if not sep or any(c in value for c in "'\"[]{}(),"):
        return arg
    try:
        parser.parse_overrides([arg])
    except Exception:
        return f"{key}='{value}'"
    return arg


def _check_overrides(args: list[str]) -> list[str]:
    """Refuse what the entry points do not do: sweeps, Hydra's own settings, new keys.

    Returns the overrides to compose (plain values Hydra cannot lex are quoted).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if any(a in ("-m", "--multirun") for a in args):
        raise UserError("sweeps (-m/--multirun) run through Snakemake: run `snakemake` instead")
    flags = [a for a in args if a.startswith("-")]
    if flags:
        raise UserError(f"unknown option {flags[0]!r} (options: --help, --cfg job)")
    parser = OverridesParser.create()
    args = [_quote_plain_value(a, parser) for a in args]
    try:
        parsed = parser.parse_overrides(args)
    except Exception as err:
        raise UserError(f"bad override: {_one_line(err)}") from None
    for override in parsed:
        key = override.key_or_group
        if key == "hydra" or key.startswith("hydra."):
            raise UserError(f"unknown key {key!r}: Hydra's own settings are not used here")
        if override.is_sweep_override():
            raise UserError(
                f"{override.input_line!r} is a sweep: sweeps run through Snakemake "
                "(seeds and sweep points are its wildcards)"
            )
        if override.is_add() or override.is_force_add():
            raise UserError(f"{override.input_line!r} adds a key: only schema keys can be set")
    return args


def entry_point(paper: str) -> Callable[[Callable[[DictConfig], None]], Callable[[], None]]:
    """Decorate ``main(cfg)`` so that ``python -m papers.<paper>.<script> key=value ...`` works.

    ``--help`` lists the config groups and keys with their defaults; ``--cfg job`` prints the
    resolved config; bad overrides, sweeps and Hydra's own settings end with one line. Logging
    goes to stderr (Snakemake sends it to the rule's log).
    """

    def decorate(func: Callable[[DictConfig], None]) -> Callable[[], None]:
        @one_line_errors
        def main(argv: list[str] | None = None) -> None:
            args = list(sys.argv[1:] if argv is None else argv)
            if "--help" in args or "-h" in args:
                module = sys.modules.get(func.__module__)
                script = func.__module__.rsplit(".", 1)[-1]
                if script == "__main__":  # run with python -m: the module's name is its file's
                    script = Path(sys.argv[0]).stem
                print(_help(paper, script, getattr(module, "__doc__", "") or ""), end="")
                return
            show = "--cfg" in args
            if show:
                at = args.index("--cfg")
                what = args[at + 1] if at + 1 < len(args) and "=" not in args[at + 1] else "job"
                if what != "job":
                    raise UserError(f"--cfg {what}: only `--cfg job` is supported")
                del args[at : at + 1 + (args[at + 1 : at + 2] == [what])]
            args = _check_overrides(args)
            cfg = compose_config(paper, args)
            if show:
                print(OmegaConf.to_yaml(cfg), end="")
                return
            logging.basicConfig(
                level=logging.INFO, stream=sys.stderr, force=True,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )  # fmt: skip
            func(cfg)

        return main

    return decorate
