"""`crboost check PROJECT`: before cluster time is spent, one line per problem.

Cheap checks first (nothing started): the tools' files (preflight.missing_tools), free disk in
the project, no other live run, the partitions and constraints named in `resources:` (sinfo, with
the slurm profile). Then the ones that start the tools: WarpTools answers with its usage text
(its version and option set, tools/warpenv.py); the programs WarpTools starts itself (AreTomo2/3,
IMOD's batchruntomo/submfg) are on the PATH of WarpTools' environment (inside its image, where
one is configured); the GPUs a GPU job needs are visible (locally; on SLURM they are on the
compute nodes); every data folder is visible from inside the container. With a cluster profile,
the tools declared `nodes_only` are looked for on a node, in a tiny job (running/nodecheck.py).

`crboost run` runs the cheap part first (`cheap_problems`). Each problem is one line naming the
config key or the thing that is wrong; `ok` lines say what was found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..project.load import Project
from ..tools.runner import ToolCall, ToolRunner

#: less free space than this in the project is a problem (a tilt series' Warp output is GBs)
MIN_FREE_GB = 20.0
#: the programs WarpTools starts, by what needs them
IMOD_PROGRAMS = ("batchruntomo", "submfg")


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"ok: {line}" for line in self.ok] + [f"problem: {p}" for p in self.problems]


def run_check(root: Path, profile: str, snakemake_args: list[str] | None = None) -> int:
    """`crboost check`: the report's lines on stdout; 1 if there is a problem. With a cluster
    profile, the tools declared nodes_only are looked for in a job on a node (nodecheck.py);
    `snakemake_args` go to that Snakemake run."""
    from ..errors import CrboostError
    from ..project.config import CONFIG_NAME
    from ..project.load import load_project
    from ..resources import profile_dir
    from .slurm import on_cluster

    config = root / CONFIG_NAME
    if not config.is_file():
        raise CrboostError(f"{config}: no such file")
    profile_path = Path(profile) if "/" in profile else profile_dir(profile)
    if not (profile_path / "config.yaml").is_file():
        raise CrboostError(f"--profile {profile}: no {profile_path}/config.yaml")
    kind = "slurm" if on_cluster(profile_path) else "local"
    project = load_project(config)
    report = check_project(project, kind)
    if kind == "slurm":
        from .nodecheck import check_on_nodes

        ok, problems = check_on_nodes(project, profile_path, snakemake_args or [])
        report.ok += ok
        report.problems += problems
    for line in report.lines():
        print(line)
    return 1 if report.problems else 0


def cheap_problems(project: Project, profile: str = "local") -> list[str]:
    """What can be checked without starting anything (crboost run does this first)."""
    from .preflight import missing_tools
    from .runstate import run_is_alive

    problems = list(missing_tools(project, project.jobs, cluster=profile == "slurm"))
    disk = disk_problem(project)
    if disk:
        problems.append(disk)
    if run_is_alive(project.root):
        problems.append(f"{project.root}: another crboost run is live on this project "
                        "(crboost status shows it)")  # fmt: skip
    if profile == "slurm":
        problems += slurm_problems(project)
    return problems


def disk_problem(project: Project) -> str | None:
    free = shutil.disk_usage(project.root).free / 1e9
    if free < MIN_FREE_GB:
        return (f"{project.root}: only {free:.1f} GB free (at least {MIN_FREE_GB:g} GB advised: "
                "Warp's outputs per tilt series are GBs)")  # fmt: skip
    return None


def slurm_problems(project: Project) -> list[str]:
    """Partitions and constraints named in `resources:` that the cluster does not have."""
    wanted_partitions: dict[str, set[str]] = {}
    wanted_features: dict[str, set[str]] = {}
    for job in project.jobs:
        res = job.resources
        if res.partition:
            wanted_partitions.setdefault(res.partition, set()).add(job.name)
        if res.constraint:
            for feature in _features(res.constraint):
                wanted_features.setdefault(feature, set()).add(job.name)
    if not wanted_partitions and not wanted_features:
        return []
    if shutil.which("sinfo") is None:
        return ["sinfo: not found on PATH; cannot check the partitions/constraints in resources:"]
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%R|%f"], capture_output=True, text=True,
                             timeout=60).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"sinfo: {e}"]
    partitions, features = set(), set()
    for line in out.splitlines():
        name, _, feats = line.partition("|")
        partitions.add(name.strip())
        features.update(f for f in feats.strip().split(",") if f and f != "(null)")
    problems = []
    for name, jobs in sorted(wanted_partitions.items()):
        if name not in partitions:
            problems.append(f"resources: partition {name!r} (jobs {', '.join(sorted(jobs))}) does "
                            f"not exist; sinfo lists {', '.join(sorted(partitions)) or 'none'}")  # fmt: skip
    for name, jobs in sorted(wanted_features.items()):
        if name not in features:
            problems.append(f"resources: constraint {name!r} (jobs {', '.join(sorted(jobs))}) is "
                            "no node feature of this cluster (sinfo %f)")  # fmt: skip
    return problems


def _features(constraint: str) -> list[str]:
    import re

    return [f for f in re.split(r"[&|,\[\]()*\d]+", constraint) if f]


def check_project(project: Project, profile: str = "local") -> Report:
    report = Report(problems=cheap_problems(project, profile))
    if report.problems and any("tools." in p for p in report.problems):
        return report  # the tools cannot start: nothing more to learn from starting them
    runner = ToolRunner(project.config, project.root, "check")
    runner.print_only = False
    _warptools(project, runner, report)
    _programs(project, runner, report)
    _gpus(project, runner, report, profile)
    _data_visible(project, runner, report)
    return report


def _warptools(project: Project, runner: ToolRunner, report: Report) -> None:
    from ..tools.warpenv import ProbeFailed, warp_features

    where = _where(project)
    try:
        features = warp_features(runner)
    except ProbeFailed as e:
        report.problems.append(f"tools.warptools: WarpTools {where} did not answer: {e}")
        return
    report.ok.append(f"WarpTools {where}: {features.describe()}")
    if _uses(project, "aretomo3") and "ts_aretomo3" not in features.verbs:
        report.problems.append("tools.warptools: this WarpTools has no ts_aretomo3 (it came with "
                               "v2.0.0dev36); use program: aretomo2 or a newer WarpTools")  # fmt: skip


def _where(project: Project) -> str:
    tools = project.config.tools
    if tools.simulated("warptools"):
        return "(SIMULATOR)"
    if tools.warptools.container:
        return f"in {tools.warptools.container}"
    return f"({tools.warptools.executable or 'WarpTools'})"


def _uses(project: Project, program: str) -> list[str]:
    return [job.name for job in project.jobs if getattr(job.params, "program", None) == program]


def _in_warp_env(runner: ToolRunner, command: str) -> subprocess.CompletedProcess:
    """A shell command in WarpTools' environment (its image, or this machine with IMOD's PATH)."""
    config = runner.config
    call = ToolCall("warptools", ())
    if config.tools.warptools.container and not config.tools.simulated("warptools"):
        argv = runner.argv(call)
        image_at = argv.index(config.tools.warptools.container)
        argv = [*argv[: image_at + 1], "sh", "-c", command]
    else:
        argv = ["sh", "-c", command]
    try:
        return subprocess.run(argv, env=runner.environment(call), capture_output=True, text=True,
                              timeout=300)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        return subprocess.CompletedProcess(argv, 127, "", str(e))


def _programs(project: Project, runner: ToolRunner, report: Report) -> None:
    from ..tools.warpenv import program_name

    wanted: dict[str, tuple[str, list[str]]] = {}
    for program in ("aretomo2", "aretomo3"):
        jobs = _uses(project, program)
        if jobs:
            wanted[program_name(project.config, program)] = (f"tools.{program}.executable", jobs)
    imod_jobs = _uses(project, "imod")
    for name in IMOD_PROGRAMS if imod_jobs else ():
        wanted[name] = ("tools.imod.dir", imod_jobs)
    if not wanted:
        return
    where = _where(project)
    script = "; ".join(f"command -v {shlex_quote(name)} || echo MISSING:{shlex_quote(name)}"
                       for name in wanted)  # fmt: skip
    proc = _in_warp_env(runner, script)
    missing = {ln.split(":", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("MISSING:")}
    if proc.returncode != 0 and not proc.stdout:
        report.problems.append(f"tools.warptools: cannot look into WarpTools' environment {where}: "
                               f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")  # fmt: skip
        return
    for name, (key, jobs) in wanted.items():
        if name in missing:
            report.problems.append(f"{key}: {name} is not on the PATH of WarpTools' environment "
                                   f"{where} (WarpTools starts it for {', '.join(jobs)})")  # fmt: skip
        else:
            report.ok.append(f"{name} in WarpTools' environment {where}")
    if imod_jobs and "batchruntomo" not in missing:
        probe = _in_warp_env(runner, 'test -n "$IMOD_DIR" && echo "$IMOD_DIR"')
        if not probe.stdout.strip():
            report.problems.append(f"tools.imod.dir: IMOD_DIR is not set in WarpTools' "
                                   f"environment {where} (IMOD's programs need it)")  # fmt: skip


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _gpus(project: Project, runner: ToolRunner, report: Report, profile: str) -> None:
    from ..tools.gpus import allocated, machine_gpus

    jobs = [job.name for job in project.jobs if (job.resources.gpus or 0) > 0]
    if not jobs:
        return
    if profile == "slurm":
        report.ok.append("GPUs: on the compute nodes (not checked from here)")
        return
    tools = project.config.tools
    if tools.warptools.container and not tools.simulated("warptools"):
        proc = _in_warp_env(runner, "nvidia-smi -L")
        count = sum(1 for ln in proc.stdout.splitlines() if ln.startswith("GPU "))
    else:
        given = allocated()
        count = len(given) if given is not None else len(machine_gpus(tools.simulated("warptools")))
    if count == 0:
        report.problems.append(f"no GPU visible {_where(project)} (nvidia-smi), but "
                               f"{', '.join(jobs)} need one")  # fmt: skip
    else:
        report.ok.append(f"{count} GPU(s) visible {_where(project)}")


def _data_visible(project: Project, runner: ToolRunner, report: Report) -> None:
    """Every folder the tools read raw data from, as the tool will see it."""
    folders = _data_folders(project)
    tools = project.config.tools
    if tools.warptools.container and not tools.simulated("warptools"):
        proc = _in_warp_env(runner, "ls -d " + " ".join(shlex_quote(f) for f in folders))
        unseen = [f for f in folders if f"'{f}'" in proc.stderr or f" {f}:" in proc.stderr]
        where = f"inside {tools.warptools.container}"
    else:
        unseen = [f for f in folders if not os.path.isdir(f)]
        where = "here"
    for folder in unseen:
        report.problems.append(f"{folder}: not visible {where} (the movies' links point there; "
                               "bind it with tools.binds)")  # fmt: skip
    if folders and not unseen:
        report.ok.append(f"{len(folders)} data folder(s) visible {where}")


def _data_folders(project: Project) -> list[str]:
    """The folders the movies are in (resolved: the frames/ links point there), the gain's."""
    from ..acquisition.manifest import read_record

    found: set[str] = set()
    for name in project.manifest.names:
        try:
            tilts = read_record(project.root, name)["tilts"]
        except (OSError, ValueError, KeyError):
            continue
        found.update(os.path.dirname(os.path.realpath(t["movie_path"]))
                     for t in tilts if t.get("movie_path"))  # fmt: skip
    gain = project.config.data.gain_reference
    if gain:
        found.add(os.path.dirname(os.path.realpath(project.root / gain)))
    return sorted(found)
