"""The local SLURM cluster's bring-up logic, without daemons: retries and exit statuses."""

import os
import subprocess
import sys

import pytest

from tests import local_slurm


def test_bring_up_retries_only_a_daemon_that_died(monkeypatch):
    calls = []

    def flaky(timeout, cpus):
        calls.append(cpus)
        if len(calls) < 3:
            raise local_slurm.DaemonExited("slurmd (exit code 1) exited")
        return {"pids": {}}

    monkeypatch.setattr(local_slurm, "_up_once", flaky)
    assert local_slurm.up(cpus=4, attempts=3) == {"pids": {}}
    assert calls == [4, 4, 4]

    calls.clear()
    with pytest.raises(local_slurm.DaemonExited):
        local_slurm.up(cpus=4, attempts=2)
    assert len(calls) == 2


def test_other_bring_up_errors_are_not_retried(monkeypatch):
    calls = []

    def timeout(timeout, cpus):
        calls.append(1)
        raise local_slurm.LocalSlurmError("timed out after 30 s waiting for sinfo")

    monkeypatch.setattr(local_slurm, "_up_once", timeout)
    with pytest.raises(local_slurm.LocalSlurmError, match="timed out"):
        local_slurm.up(attempts=3)
    assert calls == [1]


@pytest.mark.parametrize(
    ("code", "expected"),
    [("raise SystemExit(3)", "exit code 3"), ("import os; os.kill(os.getpid(), 9)", "signal 9")],
)
def test_exit_status_of_a_dead_child(code, expected):
    proc = subprocess.Popen([sys.executable, "-c", code])
    proc.wait()  # reaps it: the status is gone
    assert "status unknown" in local_slurm._exit_status(proc.pid)
    proc = subprocess.Popen([sys.executable, "-c", code])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # until it exits; not reaped
    assert expected in local_slurm._exit_status(proc.pid)
    proc.returncode = 0  # reaped above; keep Popen from waiting again


def test_the_config_gets_two_distinct_free_ports(tmp_path):
    conf = dict(
        line.split("=", 1)
        for line in local_slurm.slurm_conf(tmp_path).splitlines()
        if "Port=" in line
    )
    assert conf["SlurmctldPort"] != conf["SlurmdPort"]
    assert all(1024 <= int(port) < 65536 for port in conf.values())
