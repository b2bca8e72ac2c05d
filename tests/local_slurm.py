"""A throwaway single-node SLURM cluster on this machine (Debian, root, no systemd).

    python -m tests.local_slurm up      # install slurm-wlm + munge if missing, start daemons
    python -m tests.local_slurm down    # stop exactly the daemons `up` started, clean up
    python -m tests.local_slurm status

Configuration lives in a temporary directory; `/etc/slurm/slurm.conf` is a symlink to it
(the job step clears SLURM_CONF, so the default path must work). Everything listens on
127.0.0.1. The daemons run in the foreground of their own sessions; their PIDs go to a state
file and `down` stops those PIDs and nothing else. See README, "Run on a cluster".
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATE = Path(os.environ.get("LOCAL_SLURM_STATE", "/tmp/local_slurm.json"))
CONF_LINK = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")


class LocalSlurmError(RuntimeError):
    pass


class DaemonExited(LocalSlurmError):
    """A daemon we started died while we waited for the cluster to come up."""


def unavailable_reason() -> str | None:
    """Why this machine cannot host the local cluster, or None if it can."""
    if os.geteuid() != 0:
        return "needs root (installs packages, writes /etc/slurm, starts daemons)"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "slurmctld missing and no apt-get to install slurm-wlm"
    if sys.platform != "linux":
        return "Linux only"
    return None


def install() -> None:
    """apt-get install the packages if slurmctld or munged is missing (update only if needed)."""
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise LocalSlurmError(f"apt-get install failed:\n{proc.stderr[-2000:]}")


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that nothing listens on now (the kernel picks
    them; all are held until all are picked, so none repeats)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def slurm_conf(tmp: Path, cpus: int | None = None) -> str:
    host = socket.gethostname().split(".")[0]
    mem_total_mb = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    real_memory = max(256, int(mem_total_mb * 0.9))  # a little below `free -m`
    # more CPUs than cores: slurmd must trust the config (lets short CI jobs share cores)
    overrides = "SlurmdParameters=config_overrides\n" if cpus and cpus > os.cpu_count() else ""
    ctld_port, slurmd_port = free_ports(2)
    return (
        overrides
        + f"""\
# Written by tests/local_slurm.py: a throwaway single-node cluster on 127.0.0.1
ClusterName=local
SlurmctldHost={host}(127.0.0.1)
# free ports, not 6817/6818: another daemon holding those must not stop this cluster
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# >= 3 x the executor's init wait, so `--slurm-status-command squeue` is honoured
MinJobAge=300
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus or os.cpu_count()} RealMemory={real_memory}
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )


def _alive(pid: int, name: str) -> bool:
    """True if `pid` is a live (non-zombie) process whose command is `name`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and Path(cmdline).name == name


def _prepare_munge() -> None:
    munge = pwd.getpwnam("munge")
    for d in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
        Path(d).mkdir(parents=True, exist_ok=True)
        os.chown(d, munge.pw_uid, munge.pw_gid)
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
        MUNGE_KEY.write_bytes(os.urandom(1024))
        MUNGE_KEY.chmod(0o400)
        os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)


def _spawn(cmd: list[str], log: Path, **kw) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, **kw
        )
    return proc.pid


def read_state() -> dict | None:
    try:
        return json.loads(STATE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def running_pids(state: dict | None = None) -> dict[str, int]:
    """The recorded daemons that are still alive."""
    state = state if state is not None else read_state() or {}
    return {n: p for n, p in state.get("pids", {}).items() if _alive(p, n)}


def up(timeout: float = 30, cpus: int | None = None, attempts: int = 3) -> dict:
    """Start the cluster; return the state (tmp dir, PIDs). A daemon that exits during
    bring-up is retried on a fresh config (new ports, new temp dir) up to `attempts` times;
    each failed try is torn down, and the last error, with the daemons' logs, is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return _up_once(timeout, cpus)
        except DaemonExited:
            if attempt == attempts:
                raise


def _up_once(timeout: float, cpus: int | None) -> dict:
    """One bring-up; tears down what it started on error."""
    if reason := unavailable_reason():
        raise LocalSlurmError(reason)
    if running_pids():
        raise LocalSlurmError(f"already up (state {STATE}); run `down` first")
    if CONF_LINK.exists() and not CONF_LINK.is_symlink():
        raise LocalSlurmError(f"{CONF_LINK} is a real file: not overwriting another cluster")
    for name in DAEMONS:  # zombies (exited, parent gone, PID 1 not reaping) do not count
        pids = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
        if any(_alive(int(pid), name) for pid in pids.split()):
            raise LocalSlurmError(f"a {name} not started by us is running; stop it first")
    install()
    tmp = Path(tempfile.mkdtemp(prefix="local_slurm_"))
    for d in ("state", "spool"):
        (tmp / d).mkdir()
    (tmp / "slurm.conf").write_text(slurm_conf(tmp, cpus))
    state = {"tmp": str(tmp), "link": str(CONF_LINK), "pids": {}}
    STATE.write_text(json.dumps(state))
    try:
        CONF_LINK.parent.mkdir(parents=True, exist_ok=True)
        CONF_LINK.unlink(missing_ok=True)
        CONF_LINK.symlink_to(tmp / "slurm.conf")
        _prepare_munge()
        cmds = {
            "munged": (["munged", "-F"], {"user": "munge", "group": "munge", "extra_groups": []}),
            "slurmctld": (["slurmctld", "-D", "-i"], {}),
            "slurmd": (["slurmd", "-D"], {}),
        }
        for name, (cmd, kw) in cmds.items():
            state["pids"][name] = _spawn(cmd, tmp / f"{name}.out", **kw)
            STATE.write_text(json.dumps(state))
            if name == "munged":
                _wait(lambda: Path("/run/munge/munge.socket.2").exists(), 10, "munged socket")
        _wait(lambda: _node_state() == "idle", timeout, "sinfo to show the node idle")
        return state
    except BaseException:
        down(state)
        raise


def _node_state() -> str:
    proc = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10
    )
    return proc.stdout.strip()


def _wait(ok, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state() or {}
        dead = [n for n, p in state.get("pids", {}).items() if not _alive(p, n)]
        if dead:
            tmp = Path(state["tmp"])
            files = [tmp / f"{n}{ext}" for n in dead for ext in (".out", ".log")]
            logs = "".join(f"\n--- {f.name}:\n{_tail(f)}" for f in files if f.exists())
            how = ", ".join(f"{n} ({_exit_status(state['pids'][n])})" for n in dead)
            raise DaemonExited(f"{how} exited while waiting for {what}{logs}")
        try:
            if ok():
                return
        except (subprocess.TimeoutExpired, OSError):
            pass
        time.sleep(0.2)
    raise LocalSlurmError(f"timed out after {timeout:.0f} s waiting for {what}")


def _exit_status(pid: int) -> str:
    """How our child `pid` ended (it is reaped here), or why that is unknown."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return "status unknown: not our child or already reaped"
    if not done:
        return "still running, but not as the daemon we started"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except FileNotFoundError:
        return "(no output)"


def down(state: dict | None = None, grace: float = 10) -> list[int]:
    """Stop the recorded daemons (SIGTERM, then SIGKILL after `grace` s), remove the temp dir
    and the symlink. Returns the PIDs still alive afterwards (should be empty)."""
    state = state if state is not None else read_state()
    if not state:
        return []
    alive = running_pids(state)
    if "slurmctld" in alive:  # cancel leftover jobs of this throwaway cluster first
        subprocess.run(["scancel", "--user", pwd.getpwuid(os.getuid()).pw_name],
                       capture_output=True, timeout=10)  # fmt: skip
    for name in ("slurmd", "slurmctld", "munged"):  # reverse start order
        if name in alive:
            try:
                os.kill(alive[name], signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    while running_pids(state) and time.monotonic() < deadline:
        _reap(state)
        time.sleep(0.1)
    for pid in running_pids(state).values():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    _reap(state)
    link = Path(state.get("link", CONF_LINK))
    if link.is_symlink() and str(os.readlink(link)).startswith(state["tmp"]):
        link.unlink()
    shutil.rmtree(state["tmp"], ignore_errors=True)
    left = list(running_pids(state).values())
    if not left and read_state() == state:
        STATE.unlink(missing_ok=True)
    return left


def _reap(state: dict) -> None:
    """Collect the daemons if this process started them, so they do not linger as zombies."""
    for pid in state.get("pids", {}).values():
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by another process): init reaps it
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.local_slurm", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--cpus", type=int, help="CPUs the node offers (default: nproc)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for idle")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            state = up(args.timeout, args.cpus)
            print(f"up: {state['pids']} (config {state['tmp']}/slurm.conf, state {STATE})")
        elif args.command == "down":
            left = down()
            print(f"down; still alive: {left}" if left else "down")
            return 1 if left else 0
        else:
            alive = running_pids()
            print(f"running: {alive}, node: {_node_state() if alive else '-'}")
    except LocalSlurmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
