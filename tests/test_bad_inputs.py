"""Bad inputs at every door end with one clear line, exit != 0, and no new or changed output.

Entry points run in-process (the heavy imports are paid once); the Snakefile cases run
``snakemake -n`` in a copy of the repository. Full disks and unwritable folders are simulated
in the atomic writer: its temp file becomes a link to ``/dev/full`` (every write fails with
ENOSPC), or creating it fails with EACCES (root ignores a read-only folder's mode bits).
"""

from __future__ import annotations

import errno
import importlib
import io
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from common import io as cio
from common.checkpoint import Checkpoint
from common.cli import one_line_errors
from tests.dag import copy_repo, snakemake

GARBAGE = bytes(range(256)) * 4
GPT2_CONFIG = b'{"model_type": "gpt2", "n_layer": 1, "n_embd": 8, "n_head": 2, "vocab_size": 10}'


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden temp files included) and its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_refused(run, capsys, needle: str, root: Path) -> str:
    """Run ``run()``: exit != 0, one ``error:`` line holding ``needle``, ``root`` unchanged."""
    before = snapshot(root)
    with pytest.raises(SystemExit) as exc:
        run()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code not in (0, None), err
    assert len(errors) == 1 and needle in errors[0], err
    assert "Traceback" not in err
    assert snapshot(root) == before, "a refused run changed its output folder"
    return errors[0]


@pytest.fixture(autouse=True)
def _fresh_logging():
    """Entry points (and transformers) point logging at the stderr of their test, which is closed
    after it: send later records to the real stderr."""
    yield
    logging.getLogger().handlers.clear()
    for logger in logging.Logger.manager.loggerDict.values():
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler:
                handler.stream = sys.__stderr__  # not setStream: it flushes the closed one
                vars(handler).pop("flush", None)  # transformers binds the old stream's flush


def entry(module: str):
    return importlib.import_module(module).main


# -- config: typos, wrong types, out-of-range values, hostile strings -------------------------

CONFIG_CASES = [
    ("mesa_optimization.train", "train.epochz=3", "epochz"),
    ("mesa_optimization.train", "train.epochs=abc", "train.epochs=abc"),
    ("mesa_optimization.train", "train.epochs=-5", "train.epochs"),
    ("mesa_optimization.train", "train.epochs=0", "train.epochs"),
    ("mesa_optimization.train", "+bogus=1", "+bogus=1"),
    ("mesa_optimization.train", "data.d=0", "data.d"),
    ("mesa_optimization.train", "scale=huge", "scale/huge"),
    ("mesa_optimization.train", "seed=1e999", "seed"),
    ("mesa_optimization.train", "seed=1,2", "sweep"),
    ("mesa_optimization.train", "seed=${oc.env:REPRO_NOT_SET}", "REPRO_NOT_SET"),
    ("mesa_optimization.train", "run.out_dir=/tmp/it's ü", "bad override"),
    ("outline_first.train", "train.steps=0", "train.steps"),
    ("outline_first.train", "train.lr=-0.1", "train.lr"),
    ("reversal_curse.train", "model.layers=0", "model.layers"),
    ("reverse_distillation.train", ("size=esm2_t1_d16", "train.steps=0"), "train.steps"),
    ("reverse_distillation.data", "data.length=0", "data.length"),
    ("se3_registration.train", "train.lr=0", "train.lr"),
    ("se3_registration.data", "data.min_points=0", "data.min_points"),
    ("argus3d.train_stage1", "stage1.steps=0", "stage1.steps"),
    ("argus3d.make_data", "data.n_train=0", "data.n_train"),
    ("argus3d.train_stage1", "stage1.vq_decay=1.5", "stage1.vq_decay"),
    ("se3_registration.train", "seed=-1", "seed"),
    ("se3_registration.train", "model.temperature=0", "model.temperature"),
    ("reversal_curse.data", "data.data_seed=4294967296", "data.data_seed"),
]


@pytest.mark.parametrize(("module", "override", "needle"), CONFIG_CASES)
def test_bad_config_value_is_one_line(tmp_path, capsys, module, override, needle):
    data = tmp_path / "data"
    data.mkdir()
    extra = [override] if isinstance(override, str) else list(override)
    argv = ["scale=smoke", f"run.out_dir={tmp_path}/out", f"run.data_dir={data}", *extra]
    assert_refused(lambda: entry(f"papers.{module}")(argv), capsys, needle, tmp_path)
    assert not (tmp_path / "out").exists()


def test_paths_with_spaces_and_non_ascii_are_taken_literally(capsys):
    main = entry("papers.mesa_optimization.train")
    main(["scale=smoke", "--cfg", "job", "run.out_dir=/data/Müller runs/ü"])
    assert "out_dir: /data/Müller runs/ü" in capsys.readouterr().out


# -- unreadable inputs: missing, truncated, garbage, foreign ----------------------------------


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _npz_bytes(truncate: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, w=np.arange(1000.0))
    data = buffer.getvalue()
    return data[:300] if truncate else data


NPZ, TRUNCATED_NPZ = _npz_bytes(), _npz_bytes(truncate=True)

#: name: (entry point, overrides ({t}: the test's folder), files to write there, needle)
INPUT_CASES = {
    "mesa params missing": (
        "mesa_optimization.evaluate", ["run.out_dir={t}/run"], {}, "params.npz",
    ),
    "mesa params truncated": (
        "mesa_optimization.evaluate", ["run.out_dir={t}/run"],
        {"run/params.npz": TRUNCATED_NPZ}, "params.npz",
    ),
    "mesa params garbage": (
        "mesa_optimization.evaluate", ["run.out_dir={t}/run"],
        {"run/params.npz": GARBAGE}, "params.npz",
    ),
    "mesa log garbage csv": (
        "mesa_optimization.evaluate", ["run.out_dir={t}/run"],
        {"run/params.npz": NPZ, "run/log.csv": GARBAGE}, "log.csv",
    ),
    "mesa log empty csv": (
        "mesa_optimization.evaluate", ["run.out_dir={t}/run"],
        {"run/params.npz": NPZ, "run/log.csv": b""}, "log.csv",
    ),
    "outline params garbage": (
        "outline_first.evaluate", ["run.out_dir={t}/run"],
        {"run/params.npz": GARBAGE}, "params.npz",
    ),
    "se3 data truncated": (
        "se3_registration.train", ["run.data_dir={t}/data"],
        {f"data/{n}.npz": TRUNCATED_NPZ for n in ("train", "test", "models")}, "train.npz",
    ),
    "argus3d codes truncated": (
        "argus3d.train_stage2", ["run.out_dir={t}/gen/run"],
        {"stage1/latent/codes.npz": TRUNCATED_NPZ}, "codes.npz",
    ),
    "reversal data garbage jsonl": (
        "reversal_curse.train", ["run.data_dir={t}/data"],
        {"data/all_prompts_train.jsonl": b'{"prompt": "a"}\n\x00\xff'}, "all_prompts_train.jsonl",
    ),
    "reversal model missing": (
        "reversal_curse.evaluate", ["run.data_dir={t}", "run.out_dir={t}/run"], {}, "run/model",
    ),
    "reversal model garbage": (
        "reversal_curse.evaluate", ["run.data_dir={t}", "run.out_dir={t}/run"],
        {"run/model/config.json": GPT2_CONFIG, "run/model/model.safetensors": GARBAGE},
        "run/model",
    ),
    "rd embeddings garbage": (
        "reverse_distillation.evaluate", ["embeddings_dir={t}/emb"],
        {"emb/esm2_t1_d16.npz": GARBAGE}, "esm2_t1_d16.npz",
    ),
    "rd pretrain csv without sequence column": (
        "reverse_distillation.train", ["size=esm2_t1_d16", "run.data_dir={t}"],
        {"pretrain.csv": b"seq,x\nAC,1\n"}, "pretrain.csv",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(INPUT_CASES))
def test_unreadable_input_is_one_line_naming_the_file(tmp_path, capsys, case):
    module, overrides, files, needle = INPUT_CASES[case]
    for name, content in files.items():
        _write(tmp_path / name, content)
    argv = [
        "scale=smoke",
        f"run.out_dir={tmp_path}/out",
        *(o.format(t=tmp_path) for o in overrides),
    ]
    assert_refused(lambda: entry(f"papers.{module}")(argv), capsys, needle, tmp_path)


def _claims_argv(tmp: Path, metrics: bytes = b'{"x": 1.0}', claims: bytes | None = None):
    src = Path("papers/mesa_optimization/claims.yaml").read_bytes() if claims is None else claims
    _write(tmp / "in" / "metrics.json", metrics)
    _write(tmp / "in" / "claims.yaml", src)
    return [
        "--claims", str(tmp / "in" / "claims.yaml"), "--metrics", str(tmp / "in" / "metrics.json"),
        "--scale", "cpu", "--out",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("metrics", "claims", "needle"),
    [
        (b'{"x": 1.0', None, "metrics.json"),
        (GARBAGE, None, "metrics.json"),
        (b"[1, 2]", None, "metrics.json"),
        (b'{"x": 1.0}', b"- id: [unclosed\n", "claims.yaml"),
        (b'{"x": 1.0}', GARBAGE, "claims.yaml"),
    ],
    ids=["json-truncated", "json-garbage", "json-not-an-object", "yaml-malformed", "yaml-binary"],
)
def test_claims_cli_unreadable_input(tmp_path, capsys, metrics, claims, needle):
    argv = [*_claims_argv(tmp_path, metrics, claims), str(tmp_path / "out" / "claims.csv")]
    assert_refused(lambda: entry("common.claims")(argv), capsys, needle, tmp_path)


def test_aggregate_of_garbage_metrics(tmp_path, capsys):
    bad = _write(tmp_path / "runs" / "ones-small-seed0" / "metrics.json", GARBAGE)
    argv = ["--out", str(tmp_path / "metrics.json"), str(bad)]
    assert_refused(
        lambda: entry("papers.mesa_optimization.aggregate")(argv), capsys, "metrics.json", tmp_path
    )


def test_report_of_garbage_claims_csv(tmp_path, capsys):
    bad = _write(tmp_path / "claims.csv", b"\x00\x01" + GARBAGE)
    argv = ["summary", "--scale", "cpu", "--out", str(tmp_path / "summary.pdf"), str(bad)]
    assert_refused(lambda: entry("common.report")(argv), capsys, "claims.csv", tmp_path)


# -- output locations: a full disk, an unwritable folder, a file or folder in the way ---------


@pytest.fixture
def full_disk(monkeypatch):
    """Every atomic write goes to a temp file linked to /dev/full: writing it fails (ENOSPC)."""
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        os.close(fd)
        os.unlink(name)
        os.symlink("/dev/full", name)
        return os.open(name, os.O_WRONLY), name

    monkeypatch.setattr(cio.tempfile, "mkstemp", mkstemp)


@pytest.fixture
def unwritable(monkeypatch):
    """Creating a file in the output folder is refused (EACCES), as in a read-only folder."""

    def mkstemp(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    monkeypatch.setattr(cio.tempfile, "mkstemp", mkstemp)


def test_full_disk_claims_csv(tmp_path, capsys, full_disk):
    out = tmp_path / "out" / "claims.csv"
    argv = [*_claims_argv(tmp_path), str(out)]
    line = assert_refused(
        lambda: entry("common.claims")(argv),
        capsys,
        "disk is full",
        tmp_path,
    )
    assert str(out) in line


def test_full_disk_keeps_the_previous_output(tmp_path, capsys, full_disk):
    out = _write(tmp_path / "out" / "claims.csv", b"previous\n")
    argv = [*_claims_argv(tmp_path), str(out)]
    assert_refused(
        lambda: entry("common.claims")(argv),
        capsys,
        "disk is full",
        tmp_path,
    )
    assert out.read_bytes() == b"previous\n"


@pytest.mark.parametrize(
    "write",
    [
        lambda p: cio.save_npz(p / "a.npz", a=np.zeros(10)),
        lambda p: cio.save_torch(p / "a.pt", {"a": np.zeros(10)}),
        lambda p: cio.write_json(p / "a.json", {"a": 1}),
        lambda p: Checkpoint(p / "checkpoint.npz", "h", 1).save(1, {"a": np.zeros(3)}),
    ],
    ids=["npz", "pt", "json", "checkpoint"],
)
def test_full_disk_every_writer(tmp_path, capsys, full_disk, write):
    assert_refused(one_line_errors(lambda: write(tmp_path)), capsys, "disk is full", tmp_path)


def test_unwritable_output_folder(tmp_path, capsys, unwritable):
    argv = [*_claims_argv(tmp_path), str(tmp_path / "out" / "claims.csv")]
    assert_refused(
        lambda: entry("common.claims")(argv),
        capsys,
        "permission denied",
        tmp_path,
    )


def test_output_folder_is_a_file(tmp_path, capsys):
    _write(tmp_path / "out", b"a file where a folder should be")
    argv = [*_claims_argv(tmp_path), str(tmp_path / "out" / "claims.csv")]
    assert_refused(lambda: entry("common.claims")(argv), capsys, "a file is in the way", tmp_path)


def test_output_file_is_a_folder(tmp_path, capsys):
    (tmp_path / "out" / "claims.csv").mkdir(parents=True)
    argv = [*_claims_argv(tmp_path), str(tmp_path / "out" / "claims.csv")]
    assert_refused(lambda: entry("common.claims")(argv), capsys, "a folder is in the way", tmp_path)


def test_unreadable_torch_file_names_it(tmp_path, capsys):
    path = _write(tmp_path / "model.pt", GARBAGE)
    assert_refused(one_line_errors(lambda: cio.load_torch(path)), capsys, "model.pt", tmp_path)


# -- corrupt checkpoints: set aside with one log line naming them, then a fresh start ----------


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_truncated_checkpoint_is_set_aside_once(tmp_path, caplog, suffix):
    ckpt = Checkpoint(tmp_path / f"checkpoint{suffix}", "h", 1)
    ckpt.save(
        5, {"w": np.arange(4000.0)} if suffix == ".npz" else {"w": __import__("torch").ones(4000)}
    )
    ckpt.path.write_bytes(ckpt.path.read_bytes()[:500])
    caplog.set_level(logging.WARNING)
    assert ckpt.load() is None and not ckpt.path.exists()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and str(ckpt.path) in warnings[0] and "starting fresh" in warnings[0]
    assert ckpt.load() is None  # the rerun does not trip over it again (no crash loop)


# -- the Snakefile ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("repo"))


@pytest.mark.dag  # runs snakemake (dry runs)
@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("scal=smoke", "unknown --config key 'scal'"),
        ("scale=big", "config scale must be one of"),
        ("scale=[cpu]", "config scale must be one of"),
        ("papers=[]", "config papers must name some of"),
        ("papers=5", "config papers must name some of"),
        ("papers=[mesa optimization]", "config papers must name some of"),
        ("data_dir=/x", "config data_dir must map paper names to folders"),
    ],
)
def test_bad_snakemake_config_is_one_line(repo_copy, config, needle):
    proc = snakemake(repo_copy, "-n", config)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0
    assert len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not (repo_copy / "results").exists()
