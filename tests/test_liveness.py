"""Is the project's recorded run alive? A zombie, a reused pid, another program, another host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import copy_project, run_cli

from crboost.relion.lock import LOCK_DIR, LOCK_FILE, pipeline_lock
from crboost.running import liveness
from crboost.running.runstate import RUN_FILE, record_run, run_liveness


@pytest.fixture
def sleeper():
    """A child process of the test; killed and reaped at the end."""
    procs = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(["sleep", "300"])
        procs.append(proc)
        # until the child has exec'd, its command line is the parent's (or empty)
        deadline = time.monotonic() + 10
        while b"sleep" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline, "sleep did not start"
            time.sleep(0.01)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def zombie(proc: subprocess.Popen) -> None:
    """Kill it and leave it unreaped, as a container's first process that never reaps does."""
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.time() + 10
    while _state(proc.pid) != "Z":
        assert time.time() < deadline, "the child did not become a zombie"
        time.sleep(0.01)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def write_record(root: Path, record: dict) -> None:
    (root / ".crboost").mkdir(exist_ok=True)
    (root / RUN_FILE).write_text(json.dumps(record))


def test_a_live_run_is_alive(tmp_path, sleeper):
    proc = sleeper()
    record_run(tmp_path, pid=proc.pid)
    record, verdict = run_liveness(tmp_path)
    assert verdict.alive and verdict.local and record["pid"] == proc.pid
    assert "sleep 300" in record["cmdline"] and record["start_ticks"] > 0


def test_a_zombie_is_dead(tmp_path, sleeper):
    proc = sleeper()
    record_run(tmp_path, pid=proc.pid)
    zombie(proc)
    _, verdict = run_liveness(tmp_path)
    assert verdict.alive is False and "zombie" in verdict.why


def test_a_reused_pid_is_dead(tmp_path, sleeper):
    proc = sleeper()
    record = {**liveness.identity(proc.pid), "started": time.time()}
    write_record(tmp_path, {**record, "start_ticks": record["start_ticks"] - 1000})
    _, verdict = run_liveness(tmp_path)
    assert verdict.alive is False and "reused" in verdict.why
    # a record of an older crboost (host, pid, start time only): the process started later
    old = {"host": record["host"], "pid": proc.pid, "started": time.time() - 3600}
    write_record(tmp_path, old)
    assert run_liveness(tmp_path)[1].alive is False


def test_a_pid_of_another_program_is_dead(tmp_path, sleeper):
    proc = sleeper()
    write_record(tmp_path, {**liveness.identity(proc.pid), "cmdline": "python -m snakemake x"})
    _, verdict = run_liveness(tmp_path)
    assert verdict.alive is False and "another program" in verdict.why


def test_a_run_on_another_host_lives_while_its_heartbeat_is_fresh(tmp_path):
    write_record(tmp_path, {"host": "node17", "pid": 4242, "started": time.time() - 600})
    record, verdict = run_liveness(tmp_path)
    assert verdict.alive and not verdict.local and "last heartbeat" in verdict.why
    stale = time.time() - liveness.STALE_AFTER - 10
    os.utime(tmp_path / RUN_FILE, (stale, stale))
    _, verdict = run_liveness(tmp_path)
    assert verdict.alive is False and "no heartbeat" in verdict.why
    # the same host name after a reboot (another boot id) cannot be checked by pid either
    write_record(tmp_path, {**liveness.identity(), "boot_id": "another-boot"})
    os.utime(tmp_path / RUN_FILE, (stale, stale))
    assert run_liveness(tmp_path)[1].alive is False


def test_heartbeat_refreshes_the_record_while_it_is_ours(tmp_path):
    write_record(tmp_path, {"host": "x", "pid": 7})
    path = tmp_path / RUN_FILE
    os.utime(path, (1, 1))
    beat = liveness.Heartbeat(path, 7, interval=0.05).start()
    deadline = time.time() + 10
    while path.stat().st_mtime < 10:
        assert time.time() < deadline, "no heartbeat"
        time.sleep(0.02)
    write_record(tmp_path, {"host": "x", "pid": 8})  # another run took over
    time.sleep(0.2)
    os.utime(path, (1, 1))
    time.sleep(0.3)
    beat.stop()
    assert path.stat().st_mtime == 1, "a heartbeat must not refresh another run's record"


def test_a_lock_held_by_a_zombie_is_cleared(tmp_path, sleeper):
    proc = sleeper()
    lock = tmp_path / LOCK_DIR
    lock.mkdir()
    owner = {**liveness.identity(proc.pid), "since": time.time()}
    (lock / LOCK_FILE).write_text(json.dumps(owner))
    zombie(proc)
    with pipeline_lock(tmp_path, timeout=5):
        pass
    assert not lock.exists()


@pytest.mark.slow
def test_recovery_starts_after_a_zombie_run_and_refuses_a_live_one(
    tmp_path, finished_demo, sleeper
):
    project = copy_project(finished_demo, tmp_path / "p")
    proc = sleeper()
    record_run(project, pid=proc.pid)
    out = run_cli("run", str(project))
    assert out.returncode == 1
    line = out.stderr.strip()
    assert "\n" not in line and "another run of this project is alive" in line
    assert f"pid {proc.pid}" in line and f"kill {proc.pid}" in line
    zombie(proc)
    out = run_cli("run", str(project))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "another run" not in out.stderr
    # a fresh record of a run on another host: refused, saying what crboost can know
    write_record(project, {"host": "node17", "pid": 4242, "started": time.time()})
    out = run_cli("run", str(project))
    assert out.returncode == 1
    assert "may be alive" in out.stderr and "cannot see processes on another host" in out.stderr
