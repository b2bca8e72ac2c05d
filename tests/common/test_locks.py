"""A killed snakemake's lock is cleared, a running one's is kept."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.locks import clear_stale_lock, other_snakemakes

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")


def _lock(workdir: Path) -> Path:
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("results/x\n")
    return locks


def test_lock_of_a_killed_run_is_removed_with_one_note(tmp_path, capsys):
    locks = _lock(tmp_path)
    assert clear_stale_lock(tmp_path)
    assert not any(locks.iterdir())
    assert capsys.readouterr().err.count("removed the lock") == 1
    assert not clear_stale_lock(tmp_path)  # nothing left to remove


def test_lock_of_a_running_snakemake_is_kept(tmp_path):
    locks = _lock(tmp_path)
    fake = tmp_path / "bin" / "snakemake"  # a process named snakemake, working in tmp_path
    fake.parent.mkdir()
    fake.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(fake)], cwd=tmp_path)
    try:
        for _ in range(100):
            if other_snakemakes(tmp_path):
                break
            time.sleep(0.05)
        assert other_snakemakes(tmp_path) == [proc.pid]
        assert not clear_stale_lock(tmp_path)
        assert any(locks.iterdir())
    finally:
        proc.kill()
        proc.wait()
