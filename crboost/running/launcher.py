"""`crboost run`: start Snakemake on a project so that coming back always works.

Before a real run it makes sure no other run of the project is alive (and says which one is),
clears the Snakemake lock a dead run left behind, and deals with tasks of a killed run that are
still running (waits for them, or cancels them when asked) so that no output is written twice.
During the run it shows each job's progress (running/progress.py) and keeps Snakemake's output in
the project's run log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import CrboostError
from ..project.load import Project
from .hooks import save_run_state
from .liveness import STALE_AFTER, Heartbeat
from .progress import RunDisplay, new_run_log
from .runplan import RunPlan
from .runstate import RUN_FILE, describe_run, record_run

#: what identifies a process working for a crboost project (the cwd tells which project)
_TASK_MARKERS = (
    "crboost.cli driver",
    "crboost driver",
    "crboost.running.jobsetup",
    "crboost.simulator",
)


def run_project(
    project_dir: Path,
    profile: str,
    snakemake_args: list[str],
    orphans: str = "wait",
    progress: bool = True,
    verbose: bool = False,
    refresh: Callable[[], str | None] | None = None,
) -> int:
    """Run Snakemake on the project. A real run writes Snakemake's output to the project's run
    log and shows progress (running/progress.py; `verbose`: the log too); `refresh` is called
    when a job ends (the report's). A dry run shows Snakemake's output as it is."""
    plan = RunPlan.prepare(project_dir, profile, snakemake_args)  # the project, read once
    print_skipped(plan)
    check_tools(plan)
    cmd = plan.snakemake_command(run_options(plan))
    if plan.dry:
        print_param_changes(plan)
        # snakemake writes its own logs to .snakemake/ of the cwd: keep them in the project
        return _dry_run(cmd, project_dir, bool(snakemake_args))
    take_over(plan, orphans)
    save_run_state(plan.project)  # also when Snakemake finds nothing to do
    return run_snakemake(plan, cmd, progress, verbose, refresh)


def run_snakemake(plan: RunPlan, cmd: list[str], progress: bool, verbose: bool,
                  refresh: Callable[[], str | None] | None) -> int:  # fmt: skip
    """Snakemake's output into the project's run log, the run recorded with its heartbeat, the
    progress shown; Snakemake's exit status."""
    log_path = new_run_log(plan.root)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=plan.root, stdout=log, stderr=subprocess.STDOUT)
    record_run(plan.root, pid=proc.pid)
    # the run's sign of life for other hosts, from the start (snakemake beats too, once its
    # onstart ran: that can be minutes later for a large project)
    heartbeat = Heartbeat(plan.root / RUN_FILE, proc.pid).start()
    display = RunDisplay(plan.project, log_path, verbose=verbose, refresh=refresh)
    if progress:
        display.start()
    try:
        status = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        status = proc.wait()
    finally:
        heartbeat.stop()
    usage = usage_error_line(log_path)
    if progress:
        display.stop(status, quiet=bool(usage))
    if usage:
        print(usage, file=sys.stderr)
    return status


def usage_error_line(log: Path) -> str | None:
    """Snakemake refused its arguments (a wrong one after --): its error line, made ours."""
    try:
        with open(log, errors="replace") as f:
            head = f.read(65536)
    except OSError:
        return None
    if not head.startswith("usage:"):
        return None
    error = next((ln for ln in head.splitlines() if ": error: " in ln), None)
    if error is None:
        return head.rstrip("\n")
    return (f"crboost: snakemake: {error.split(': error: ', 1)[1]} (the arguments after -- go "
            "to snakemake; see snakemake --help)")  # fmt: skip


def _dry_run(cmd: list[str], project_dir: Path, relay: bool) -> int:
    """Snakemake's plan as it prints it (stderr relayed for a usage error's one line)."""
    stderr = subprocess.PIPE if relay else None
    proc = subprocess.Popen(cmd, cwd=project_dir, stderr=stderr, text=True)
    usage_error: list[str] = []
    thread = _start_relay(proc.stderr, usage_error) if relay else None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()
    finally:
        if thread:
            thread.join(timeout=10)


def _start_relay(stream, usage_error: list[str]) -> threading.Thread:
    thread = threading.Thread(
        target=relay_stderr, args=(stream, sys.stderr, usage_error), daemon=True
    )
    thread.start()
    return thread


def relay_stderr(stream, out, usage_error: list[str]) -> None:
    """Copy Snakemake's stderr; if it starts with argparse's usage text (a wrong argument after
    --), print only Snakemake's error line (and note it in usage_error)."""
    first = stream.readline()
    if first.startswith("usage:"):
        text = first + stream.read()
        error = next((ln for ln in text.splitlines() if ": error: " in ln), None)
        if error is None:
            out.write(text)
        else:
            usage_error.append(error)
            out.write(f"crboost: snakemake: {error.split(': error: ', 1)[1]} (the arguments "
                      "after -- go to snakemake; see snakemake --help)\n")  # fmt: skip
        out.flush()
        return
    out.write(first)
    out.flush()
    for line in iter(stream.readline, ""):  # line by line, as it comes
        out.write(line)
        out.flush()


def run_options(plan: RunPlan) -> list[str]:
    """Snakemake options that come from the project: batching, node size, SLURM job names."""
    from .slurm import job_name_prefix

    project = plan.project
    options: list[str] = []
    groups = project.batch_sizes()
    if groups:
        options += ["--group-components", *(f"{k}={v}" for k, v in sorted(groups.items()))]
    node = project.config.resources.get("node")
    if node is not None:
        # a batch of tasks never asks for more than one node has (it would pend forever)
        if node.cpus:
            options += ["--cores", str(node.cpus)]
    caps = [f"gpu={node.gpus}"] if node is not None and node.gpus is not None else []
    caps += [f"mem_mb={node.mem_mb}"] if node is not None and node.mem_mb else []
    slurm = plan.profile.get("executor") == "slurm"
    if not slurm and not any(c.startswith("gpu=") for c in caps):
        from ..tools.gpus import visible_count

        # locally, no more GPU tasks at once than there are GPUs (each leases its own)
        count = visible_count(project.config.tools.simulated("warptools"))
        caps += [f"gpu={count}"] if count else []
    if caps:
        options += ["--resources", *caps]
    if slurm:
        options += ["--slurm-jobname-prefix", job_name_prefix(project.root)]
    return options


def check_tools(plan: RunPlan) -> None:
    """The cheap part of `crboost check` (running/check.py): the tools that the work of the
    run's targets calls, found before anything starts (a dry run only warns); little free disk
    is a warning."""
    from .check import disk_problem
    from .preflight import missing_tools

    problems = []
    if plan.project.config.tools.simulate is not True:  # the simulator needs nothing
        problems = missing_tools(plan.project, plan.jobs_to_run, plan.on_cluster)
    if problems and not plan.dry:
        raise CrboostError("; ".join(problems))
    for problem in [*problems, disk_problem(plan.project)]:
        if problem:
            print(f"crboost: warning: {problem}", file=sys.stderr)


def print_skipped(plan: RunPlan) -> None:
    """What the data has that is not imported, and why, and mdoc values present but not usable
    with the project's values that replace them (both also in the import job's run.out and in
    `crboost status`); new tilt series whose names had to be made safe."""
    for line in plan.project.data_notes():
        print(f"crboost: {line}", file=sys.stderr)


def print_param_changes(plan: RunPlan) -> None:
    from .curation_state import pending_changes

    for job in plan.statuses:
        if job.changes:
            print(f"crboost: {job.job} ({job.dir}) re-runs, params changed: "
                  + "; ".join(job.changes), file=sys.stderr)  # fmt: skip
    for line in pending_changes(plan.project):
        print(f"crboost: curation.yaml: {line}", file=sys.stderr)


def take_over(plan: RunPlan, orphans: str) -> None:
    """Refuse if another run is alive; otherwise clean up after a dead one."""
    previous, verdict = plan.previous, plan.previous_alive
    if previous and verdict.alive and verdict.local:
        raise CrboostError(
            f"another run of this project is alive: {describe_run(previous)} ({verdict.why}); "
            f"wait for it or stop it (kill {previous.get('pid')})"
        )
    if previous and verdict.alive:
        raise CrboostError(
            f"another run of this project may be alive: {describe_run(previous)} ({verdict.why}); "
            "crboost cannot see processes on another host and counts that run as gone once "
            f"its heartbeat ({RUN_FILE}) is {STALE_AFTER:.0f} s old: stop it there, or wait"
        )
    handle_leftover_tasks(plan.project, orphans)
    settle_finished_tasks(plan.project)
    locks = plan.root / ".snakemake" / "locks"
    if locks.is_dir() and any(locks.iterdir()):
        who = f"host {previous['host']} pid {previous['pid']}" if previous else "an earlier run"
        why = f" ({verdict.why})" if previous else ""
        print(f"crboost: clearing the Snakemake lock left by {who}, which is gone{why}",
              file=sys.stderr)  # fmt: skip
        subprocess.run(plan.unlock_command(), cwd=plan.root, capture_output=True, check=False)


def handle_leftover_tasks(project: Project, policy: str) -> None:
    """Tasks a killed run left running keep writing their outputs: wait for them or cancel them,
    so that the new run does not start the same work a second time."""
    from .slurm import cancel_cluster_jobs, leftover_cluster_jobs

    local = leftover_local_tasks(project.root)
    cluster = leftover_cluster_jobs(project.root)
    if not local and not cluster:
        return
    for pid, cmdline in local:
        print(f"crboost: a task of the previous run is still running: pid {pid}: {cmdline}",
              file=sys.stderr)  # fmt: skip
    for job_id, state, comment in cluster:
        print(f"crboost: a SLURM job of the previous run is {state}: {job_id} {comment}",
              file=sys.stderr)  # fmt: skip
    if policy == "cancel":
        for pid, _ in local:
            _terminate(pid)
        cancel_cluster_jobs([job_id for job_id, _, _ in cluster])
        print(f"crboost: cancelled {len(local) + len(cluster)} leftover task(s)", file=sys.stderr)
    else:
        print("crboost: waiting for them to finish (crboost run --leftovers cancel stops them "
              "instead)", file=sys.stderr)  # fmt: skip
    while leftover_local_tasks(project.root) or leftover_cluster_jobs(project.root):
        time.sleep(2)


def settle_finished_tasks(project: Project) -> list[str]:
    """Tasks that finished after their run was killed wrote their completion mark (a driver
    writes its tilt series' STAR file, a job's sentinel, job_params.json last): their outputs are
    complete, so Snakemake's incomplete markers for them go, and the work is not redone."""
    from ..project.load import PARAMS_FILE, SENTINEL_SUCCESS
    from .status import incomplete_markers

    root = project.root
    settled = []
    for path, marker in incomplete_markers(root).items():
        job = next((j for j in project.jobs if path.startswith(j.dir + "/")), None)
        if job is None:
            continue
        inside = path[len(job.dir) + 1 :]
        if inside.startswith("tilt_series/") or inside == job.cls.prepare_output:
            complete = (root / path).exists()
        elif inside in (PARAMS_FILE, "job.star"):
            complete = (root / job.params_file).exists() and _spec_current(project, job)
        else:
            complete = (root / job.dir / SENTINEL_SUCCESS).exists()
        if complete:
            marker.unlink(missing_ok=True)
            settled.append(path)
    if settled:
        print(f"crboost: {len(settled)} output(s) finished after the previous run was killed; "
              "kept", file=sys.stderr)  # fmt: skip
    return settled


def _spec_current(project: Project, job) -> bool:
    import json

    from .jobsetup import job_spec

    try:
        return json.loads((project.root / job.params_file).read_text()) == json.loads(
            json.dumps(job_spec(job))
        )
    except (OSError, ValueError):
        return False


def leftover_local_tasks(root: Path) -> list[tuple[int, str]]:
    """Processes on this machine working for this project (crboost drivers, job setup, tools)."""
    found = []
    mine = {os.getpid(), os.getppid()}
    root_text = str(root.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            cwd = os.readlink(entry / "cwd")
        except (OSError, UnicodeDecodeError):
            continue
        if any(m in cmdline for m in _TASK_MARKERS) and (cwd + "/").startswith(root_text + "/"):
            found.append((int(entry.name), cmdline))
    return found


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
