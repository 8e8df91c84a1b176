"""Crash recovery: real runs of a small demo killed at random moments, then `crboost run` again.

Every kill is SIGKILL, at a random time of the run: either of the whole process group (a power
cut, `kill -9` of everything: the tasks die too) or of the orchestrator alone (`crboost run` and
Snakemake; the tasks they started go on and finish by themselves). The test process is the
child subreaper of the runs, and never reaps them while they run: the killed processes stay
zombies, as in a container whose first process does not reap.

Each kill is followed by a new `crboost run`, which may itself be killed (KILLS_PER_PROJECT kills
per project, then a run to the end). The end result must be identical to an uninterrupted run of
the same data: every STAR file (text) and every MRC file (data and pixel size). The simulator's
ledger of tool calls (CRBOOST_SIM_LEDGER) shows that no tilt series' finished work was started
again and that no two calls did the same work at once.

CRBOOST_CRASH_KILLS (default 20) and CRBOOST_CRASH_KILLS_PER_PROJECT (default 4) set the numbers.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mrcfile
import numpy as np
import pytest
from conftest import copy_project, run_cli

from crboost.demo import DEMO_SETTINGS, write_demo_data
from crboost.project.init import init_project

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("CRBOOST_CRASH_KILLS", "20"))
KILLS_PER_PROJECT = int(os.environ.get("CRBOOST_CRASH_KILLS_PER_PROJECT", "4"))
_PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def subreaper():
    """Orphans of the runs become children of this process, and stay zombies until the end."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("cannot become a child subreaper here")
    yield
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    deadline = time.time() + 120
    while time.time() < deadline:  # leftover tasks finish; then reap every zombie
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.1)


def small_demo(project: Path) -> Path:
    """2 tilt series of 5 tilts, initialised, not run."""
    raw = write_demo_data(project, 2, max_angle=6)
    init_project(project, movies=str(raw / "frames" / "*.mrc"),
                 mdocs=str(raw / "mdoc" / "*.mdoc"), sets=DEMO_SETTINGS)  # fmt: skip
    return project


def start_run(project: Path, ledger: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CRBOOST_SIM_LEDGER": str(ledger)}
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "crboost.cli", "run", str(project)],
                                env=env, stdout=out, stderr=out, start_new_session=True)  # fmt: skip


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def processes(where) -> list[int]:
    """Live (not zombie) processes for which where(fields of /proc/PID/stat) holds."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields and fields[0] not in "ZX" and where(fields):
                found.append(int(entry.name))
    return found


def wait_dead(pids: list[int], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while any((s := _proc_stat(p)) and s[0] not in "ZX" for p in pids):
        assert time.time() < deadline, f"processes {pids} did not end"
        time.sleep(0.05)


def kill(run: subprocess.Popen, mode: str) -> list[int]:
    """SIGKILL the run's process group, or only its orchestrator; returns the tasks left."""
    group = processes(lambda f: int(f[2]) == run.pid)
    if mode == "group":
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        wait_dead(group)
        return []
    os.kill(run.pid, signal.SIGSTOP)  # no new snakemake child between looking and killing
    snakemake = processes(lambda f: int(f[1]) == run.pid)
    for pid in snakemake:
        os.kill(pid, signal.SIGKILL)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    wait_dead(snakemake)
    return [p for p in group if p != run.pid and p not in snakemake]


def snapshot_when_gone(pids: list[int], project: Path, snapshots: list) -> None:
    wait_dead(pids)
    snapshots.append((time.time(), finished_work(project)))


def finished_work(project: Path) -> set[tuple[str, str]]:
    """(job dir, tilt series) whose STAR file (a task's completion mark, written last) exists."""
    return {(str(p.parent.parent.relative_to(project)), p.stem)
            for p in project.glob("*/job*/tilt_series/*.star")}  # fmt: skip


def completion_marks(project: Path) -> list[Path]:
    """Tilt-series STAR files and job sentinels: how far a run has come."""
    return [*project.glob("*/job*/tilt_series/*.star"),
            *project.glob("*/job*/RELION_JOB_EXIT_SUCCESS")]  # fmt: skip


def results(project: Path) -> dict[str, object]:
    """Every STAR file's text and every MRC file's (data, pixel size), by path."""
    out: dict[str, object] = {}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if rel.parts[0] in (".snakemake", "raw") or path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix == ".star":
            out[str(rel)] = path.read_text()
        elif path.suffix in (".mrc", ".st", ".mrcs"):
            with mrcfile.open(path, permissive=True) as mrc:
                out[str(rel)] = (np.array(mrc.data), float(mrc.voxel_size.x))
    return out


def compare(expected: dict, got: dict, where: str) -> None:
    assert sorted(got) == sorted(expected), f"{where}: other files than an uninterrupted run"
    for path, value in expected.items():
        if isinstance(value, str):
            assert got[path] == value, f"{where}: {path} differs"
        else:
            assert got[path][1] == value[1] and np.array_equal(got[path][0], value[0]), (
                f"{where}: {path} differs"
            )


def ledger_calls(ledger: Path, project: Path) -> list[dict]:
    """Tool calls from the ledger: start/end joined, the job dir from the working directory."""
    calls: dict[int, dict] = {}
    for line in ledger.read_text().splitlines():
        entry = json.loads(line)
        call = calls.setdefault(entry["pid"], {**entry, "end": None})
        if entry["event"] == "end":
            call["end"] = entry["time"]
        else:
            call["start"] = entry["time"]
    for call in calls.values():
        parts = Path(call["cwd"]).relative_to(project).parts
        call["dir"] = "/".join(parts[:2])
    return list(calls.values())


def check_no_work_twice(calls: list[dict], snapshots: list[tuple[float, set]], where: str):
    """No call for a tilt series started after its task was finished; no two calls for the
    same work at once."""
    per_ts = [c for c in calls if c["item"]]
    for taken, finished in snapshots:
        again = [c for c in per_ts if c["start"] > taken and (c["dir"], c["item"]) in finished]
        assert not again, f"{where}: finished work started again: {again[0]}"
    by_work: dict[tuple, list[dict]] = {}
    for c in per_ts:
        by_work.setdefault((c["dir"], c["program"], c["verb"], c["item"]), []).append(c)
    for work, same in by_work.items():
        same.sort(key=lambda c: c["start"])
        for first, second in zip(same, same[1:], strict=False):
            ended = first["end"] if first["end"] is not None else float("inf")
            if first["end"] is None:  # killed with its task: it ended by the next run at the latest
                continue
            assert second["start"] >= ended, f"{where}: two calls did {work} at once"


def test_random_kills_recover_to_identical_results(tmp_path, subreaper):
    rng = random.Random(os.environ.get("CRBOOST_CRASH_SEED") or time.time_ns())
    template = small_demo(tmp_path / "template")
    reference = copy_project(template, tmp_path / "reference")
    started = time.monotonic()
    out = run_cli("run", str(reference), env={"CRBOOST_SIM_LEDGER": str(tmp_path / "ref.ledger")})
    duration = time.monotonic() - started
    assert out.returncode == 0, out.stderr[-3000:]
    started = time.monotonic()
    assert run_cli("run", str(reference)).returncode == 0
    overhead = time.monotonic() - started  # a run with nothing to do
    expected = results(reference)
    assert any(p.endswith(".mrc") for p in expected) and any(p.endswith(".star") for p in expected)
    marks = len(completion_marks(reference))

    kills: list[str] = []
    trial = 0
    while len(kills) < KILLS:
        trial += 1
        project = copy_project(template, tmp_path / f"trial{trial}")
        ledger, log = tmp_path / f"trial{trial}.ledger", tmp_path / f"trial{trial}.log"
        snapshots: list[tuple[float, set]] = []
        watchers: list[threading.Thread] = []
        in_project = 0
        while in_project < KILLS_PER_PROJECT and len(kills) < KILLS:
            # a random moment of the run: its expected length from what is left to do
            todo = 1 - len(completion_marks(project)) / marks
            delay = rng.uniform(0.1, overhead + (duration - overhead) * todo)
            run = start_run(project, ledger, log)
            try:
                run.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
            if run.poll() is not None:  # it finished before the kill: this project is done
                assert run.returncode == 0, f"trial {trial}: a run failed:\n{log.read_text()}"
                break
            mode = "group" if len(kills) % 2 == 0 else "orchestrator"
            left = kill(run, mode)
            kills.append(f"trial {trial}: {mode} at {delay:.1f} s")
            in_project += 1
            # the tasks the orchestrator left go on while the next run starts (it must wait for
            # them): what is finished is known once they are gone
            watcher = threading.Thread(target=snapshot_when_gone, args=(left, project, snapshots))
            watcher.start()
            watchers.append(watcher)
        final = start_run(project, ledger, log)
        assert final.wait(timeout=900) == 0, f"trial {trial} ({kills}):\n{log.read_text()[-5000:]}"
        for watcher in watchers:
            watcher.join()
        where = (
            f"trial {trial} after {', '.join(k for k in kills if k.startswith(f'trial {trial}:'))}"
        )
        assert "another run of this project is alive" not in log.read_text(), where
        compare(expected, results(project), where)
        check_no_work_twice(ledger_calls(ledger, project), snapshots, where)
        status = json.loads(run_cli("status", str(project), "--json", check=True).stdout)
        assert {j["status"] for j in status["jobs"]} == {"Succeeded"}, where
        shutil.rmtree(project)
    assert len(kills) == KILLS
    print(
        f"{KILLS} kills in {trial} projects (run: {duration:.0f} s, nothing to do: "
        f"{overhead:.1f} s):",
        *kills,
        sep="\n  ",
    )
    assert {k.split(": ")[1].split()[0] for k in kills} == {"group", "orchestrator"}
