#!/usr/bin/env python
"""crboost benchmarks: what orchestration costs next to the science, beside a baseline.

    python bench/run.py [--quick] [--sizes 10,100,1000] [--plan-sizes 5000]

tests/test_bench.py runs it at the smallest sizes (that it runs and reports, no timing).

1. plan      `snakemake -n` on a project of N tilt series x the six-job chain, vs a bare
             Snakefile with the same DAG (same rules, jobs and files, no logic). Target <= 1.3x.
             Also at --plan-sizes (5000 tilt series, with the parse measure only).
2. parse     what a cluster job pays: parse the workflow and plan one target job, as the SLURM
             job step does (--mode remote --target-jobs), in a project whose run has started
             (what hooks.on_start keeps is there). Target < 1.5 s at 1000 tilt series, < 4 s at
             5000 (--plan-sizes). The baseline is Snakemake's floor: a one-rule Snakefile run
             the same way, what any cluster job pays whatever its workflow. It used to be the
             bare Snakefile with crboost's DAG (target <= 1.2x), but a cluster job of crboost
             makes the rules' lists of every item for its target job only (common.smk
             `listed`), which the bare one cannot: crboost is the faster one, so that ratio
             no longer tells what crboost adds; the ratio to the floor does.
3. status    `crboost status` on a finished project vs `snakemake --summary`.
             Target < 0.5 s and >= 20x faster.
4. makespan  8 tilt series, 2 cores, local executor, the simulator with CRBOOST_SIM_DELAY:
             actual vs the ideal schedule (lower bound from the measured task times), and vs
             running job by job (every tilt series of a job, then the next job: CryoBoost's
             model). Target <= 1.10x ideal. And the time to the first finished tomogram (the
             first tsReconstruct tilt series done), crboost vs job by job.
5. driver    driver start to tool start, median of 20 runs.
6. walk      the reading walk of `crboost run` (bench/walk.py): how often a reader following
             the code climbs back up the layers. Target < 8 (issue 20 counted 16).

Synthetic projects come from the demo generator (`--no-run`); planning needs no movies processed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crboost.demo import DEMO_SETTINGS, write_demo_data  # noqa: E402
from crboost.project.init import init_project  # noqa: E402
from crboost.project.load import load_project  # noqa: E402

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SNAKEFILE = str(REPO / "workflow" / "Snakefile")


def timed(cmd: list[str], cwd: Path, env: dict | None = None, repeat: int = 3) -> float:
    """Median wall time of a command (it must succeed)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})},
                              capture_output=True, text=True)  # fmt: skip
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            )
    return statistics.median(times)


def make_project(base: Path, n: int, max_angle: float = 6.0, sets: dict | None = None) -> Path:
    project = base / f"p{n}"
    raw = write_demo_data(project, n, max_angle=max_angle)
    init_project(project, str(raw / "frames" / "*.mrc"), str(raw / "mdoc" / "*.mdoc"),
                 sets={**DEMO_SETTINGS, **(sets or {})})  # fmt: skip
    return project


# --- the bare baseline ----------------------------------------------------------------------


def bare_snakefile(project: Path, folder: Path) -> Path:
    """A Snakefile with crboost's DAG for this project and no logic: literal names only."""
    p = load_project(project / "crboost.yaml", remote=True)
    names = p.tilt_series
    dirs = {j.type: j.dir for j in p.jobs}
    outputs = {j.type: j.cls.output_star for j in p.jobs}
    lines = [
        f"TS = {names!r}",
        "",
        "rule all:",
        "    input:",
        f"        {[j.success for j in p.jobs]!r},",
        f"        [f'{{d}}/tilt_series/{{ts}}.star' for d in {[j.dir for j in p.jobs]!r} for ts in TS],",
        "",
        "rule job_setup:",
        "    output: '{jobdir}/job_params.json', '{jobdir}/job.star'",
        "    log: '{jobdir}/logs/setup.log'",
        "    benchmark: '{jobdir}/logs/setup.benchmark.tsv'",
        f"    wildcard_constraints: jobdir='{'|'.join(dirs.values())}'",
        "    shell: 'touch {output}'",
        "",
    ]
    previous = None
    for job in p.jobs:
        d, t = job.dir, job.type
        upstream = f"'{previous}/tilt_series/{{ts}}.star', " if previous else ""
        lines += [
            f"rule {t}_tilt_series:",
            f"    input: '{d}/job_params.json', {upstream}",
            f"    output: '{d}/tilt_series/{{ts}}.star'",
            f"    log: '{d}/logs/{{ts}}.log'",
            f"    benchmark: '{d}/logs/{{ts}}.benchmark.tsv'",
            "    shell: 'touch {output}'",
            "",
            f"rule {t}:",
            f"    input: '{d}/job_params.json', expand('{d}/tilt_series/{{ts}}.star', ts=TS)",
            f"    output: '{d}/{outputs[t]}', '{d}/RELION_JOB_EXIT_SUCCESS'",
            f"    log: '{d}/run.out'",
            f"    benchmark: '{d}/logs/gather.benchmark.tsv'",
            "    shell: 'touch {output}'",
            "",
        ]
        previous = d
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Snakefile"
    path.write_text("\n".join(lines))
    return path


# --- 1 and 2: planning and parsing ----------------------------------------------------------


def bench_plan(project: Path, bare: Path, repeat: int) -> tuple[float, float]:
    ours = timed([*SNAKEMAKE, "-n", "--snakefile", SNAKEFILE, "--configfile",
                  str(project / "crboost.yaml"), "--cores", "1", "--quiet", "all"], project,
                 repeat=repeat)  # fmt: skip
    base = timed([*SNAKEMAKE, "-n", "--snakefile", str(bare), "--cores", "1", "--quiet", "all"],
                 bare.parent, repeat=repeat)  # fmt: skip
    return ours, base


def remote_job(target: str, rule: str) -> list[str]:
    """The arguments of a cluster job's Snakemake (as the SLURM executor's job step has them)."""
    return ["--mode", "remote", "--target-jobs", target, "--allowed-rules", rule, "--force",
            "--nolock", "--cores", "1", "-n", "--quiet", "all"]  # fmt: skip


def bench_parse(project: Path, repeat: int) -> float:
    from crboost.project.schema_check import record_checked

    # a cluster job runs after its run started: the config checked then is known (on_start)
    record_checked(project, load_project(project / "crboost.yaml").schema_checked)
    p = load_project(project / "crboost.yaml", remote=True)
    ts = p.tilt_series[len(p.tilt_series) // 2]
    job = p.of_type("tsCtf")[0]
    target = f"tsCtf_tilt_series:job={job.number},ts={ts}"
    return timed([*SNAKEMAKE, "--snakefile", SNAKEFILE, "--configfiles",
                  str(project / "crboost.yaml"), *remote_job(target, "tsCtf_tilt_series")],
                 project, repeat=repeat)  # fmt: skip


def bench_parse_floor(folder: Path, repeat: int) -> float:
    """Snakemake's own cost of a cluster job: a one-rule Snakefile, run as bench_parse runs."""
    folder.mkdir(parents=True, exist_ok=True)
    snakefile = folder / "Snakefile"
    snakefile.write_text("rule one:\n    output: 'x/{ts}.star'\n    shell: 'touch {output}'\n")
    return timed([*SNAKEMAKE, "--snakefile", str(snakefile), *remote_job("one:ts=TS_1", "one")],
                 folder, repeat=repeat)  # fmt: skip


# --- 3: status ----------------------------------------------------------------------------


def finish_fake(project: Path) -> None:
    """Make the project look finished without running tools: set-up, per-tilt-series STAR
    files, job STAR files and sentinels, registered in default_pipeline.star."""
    from crboost.running.hooks import register_jobs
    from crboost.running.jobsetup import set_up

    p = load_project(project / "crboost.yaml", remote=True)
    p.manifest.write(project) if p.manifest.changed else None
    register_jobs(p)
    star = "data_x\n\nloop_\n_rlnMicrographMovieName #1\nframes/a.mrc\n"
    for job in p.jobs:
        set_up(p, job)
        folder = project / job.dir / "tilt_series"
        folder.mkdir(parents=True, exist_ok=True)
        for ts in p.tilt_series:
            (folder / f"{ts}.star").write_text(star)
        (project / job.output_star).write_text(star)
        (project / job.success).touch()
    from crboost.relion.lock import updating_pipeline

    with updating_pipeline(project) as pipeline:
        for job in p.jobs:
            pipeline.set_status(job.relion_name, "Succeeded")


def bench_status(project: Path, repeat: int) -> tuple[float, float]:
    ours = timed([sys.executable, "-m", "crboost.cli", "status", str(project), "--json"], project,
                 repeat=repeat)  # fmt: skip
    base = timed([*SNAKEMAKE, "--summary", "--snakefile", SNAKEFILE, "--configfile",
                  str(project / "crboost.yaml"), "--cores", "1"], project, repeat=repeat)  # fmt: skip
    return ours, base


# --- 4: makespan ----------------------------------------------------------------------------


def bench_makespan(base: Path, n: int, delay: float, cores: int) -> dict:
    env = {"CRBOOST_SIM_DELAY": str(delay)}
    project = make_project(base / "makespan", n, max_angle=6.0)
    copy = base / "makespan_job_by_job"
    shutil.copytree(project, copy, symlinks=True)

    start, wall = time.perf_counter(), time.time()
    run(
        [sys.executable, "-m", "crboost.cli", "run", str(project), "--", "--cores", str(cores)], env
    )
    actual = time.perf_counter() - start
    first = first_tomogram(project) - wall
    ideal, work = ideal_schedule(project, cores)

    p = load_project(copy / "crboost.yaml", remote=True)
    start, wall = time.perf_counter(), time.time()
    for job in p.jobs:  # each job completely before the next one starts
        run([sys.executable, "-m", "crboost.cli", "run", str(copy), "--", "--cores", str(cores),
             job.success], env)  # fmt: skip
    job_by_job = time.perf_counter() - start
    return {"actual": actual, "ideal": ideal, "job_by_job": job_by_job, "task_seconds": work,
            "first_tomogram": first, "first_tomogram_job_by_job": first_tomogram(copy) - wall}  # fmt: skip


def first_tomogram(project: Path) -> float:
    """When the first tomogram was finished: the first tsReconstruct tilt series' STAR file
    (written last, after the tomogram), as a time stamp."""
    p = load_project(project / "crboost.yaml", remote=True)
    folder = project / p.of_type("tsReconstruct")[0].dir / "tilt_series"
    return min(path.stat().st_mtime for path in folder.glob("*.star"))


def run(cmd: list[str], env: dict) -> None:
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")


def ideal_schedule(project: Path, cores: int) -> tuple[float, float]:
    """Lower bound of any schedule on `cores` cores: max(total work / cores, longest path of the
    DAG), from every task's measured wall time (Snakemake's benchmark files): each job's set-up,
    its tilt-series tasks (after the set-up and the same tilt series upstream) and its gathering
    (after all its tilt series and the upstream gathering)."""
    p = load_project(project / "crboost.yaml", remote=True)

    def seconds(job, name: str) -> float:
        tsv = project / job.dir / "logs" / f"{name}.benchmark.tsv"
        return float(tsv.read_text().splitlines()[1].split("\t")[0])

    total = 0.0
    finish_ts: dict[tuple[str, str], float] = {}
    finish_gather: dict[str, float] = {}
    for job in p.jobs:
        setup = seconds(job, "setup")
        total += setup
        for ts in p.tilt_series:
            task = seconds(job, ts)
            total += task
            before = finish_ts.get((job.upstream.dir, ts), 0.0) if job.upstream else 0.0
            finish_ts[(job.dir, ts)] = max(setup, before) + task
        gather = seconds(job, "gather")
        total += gather
        ready = max(finish_ts[(job.dir, ts)] for ts in p.tilt_series)
        upstream = finish_gather.get(job.upstream.dir, 0.0) if job.upstream else 0.0
        finish_gather[job.dir] = max(ready, upstream) + gather
    return max(total / cores, max(finish_gather.values())), total


# --- 5: driver overhead -------------------------------------------------------------------


STUB = """#!{python}
import sys, time
open({stamp!r}, "w").write(repr(time.time()))
sys.exit(3)
"""


def bench_driver(base: Path, runs: int) -> float:
    project = make_project(base / "driver", 1, max_angle=6.0)
    run([sys.executable, "-m", "crboost.cli", "run", str(project), "--", "--cores", "2",
         "External/job003/RELION_JOB_EXIT_SUCCESS", "External/job004/job_params.json"], {})  # fmt: skip
    stamp = base / "driver" / "stamp"
    stub = base / "driver" / "WarpTools-stub"
    stub.write_text(STUB.format(python=sys.executable, stamp=str(stamp)))
    stub.chmod(0o755)
    import yaml

    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["tools"]["simulate"] = False
    data["tools"]["warptools"] = {"executable": str(stub)}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    delays = []
    p = load_project(config, remote=True)
    ts = p.tilt_series[0]
    for _ in range(runs):
        start = time.time()
        # as in a Slurm job given one GPU (the alignment asks for one)
        proc = subprocess.run([sys.executable, "-m", "crboost.cli", "driver", "tsAlignment", "--job",
                               "External/job004", "--ts", ts], cwd=project, capture_output=True,
                              text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": "0"})  # fmt: skip
        if not stamp.exists():
            raise RuntimeError(f"the driver did not reach the tool:\n{proc.stderr[-2000:]}")
        delays.append(float(stamp.read_text()) - start)
        stamp.unlink()
    return statistics.median(delays)


# --- 6: the reading walk of crboost run (bench/walk.py) ------------------------------------


def reading_walks(finished: Path) -> list[tuple[str, str, str, str, str]]:
    """Climbs back up the layers of a dry run (`crboost run P -- -n`) and a run on a finished project."""
    rows = []
    for label, args in (("dry run", ["-n"]), ("run", [])):
        copy = finished.parent / f"walk{len(args)}"
        shutil.copytree(finished, copy, symlinks=True)
        proc = subprocess.run([sys.executable, str(REPO / "bench" / "walk.py"), str(copy), *args],
                              capture_output=True, text=True)  # fmt: skip
        counts = dict(ln.split(": ", 1) for ln in proc.stdout.splitlines() if ": " in ln
                      and not ln.startswith(" "))  # fmt: skip
        if proc.returncode != 0 or "climbs back" not in counts:
            raise RuntimeError(f"bench/walk.py failed:\n{proc.stderr[-2000:]}")
        rows.append((f"reading walk, {label}", f"{counts['climbs back']} climbs back",
                     f"{counts['files']} files", "", "< 8 climbs back"))  # fmt: skip
    return rows


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())  # fmt: skip
    mem = next((int(ln.split()[1]) // 1024 for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)  # fmt: skip
    import snakemake

    return (f"{cpu}, {os.cpu_count()} cores, {mem // 1024} GiB; Python {platform.python_version()}, "
            f"Snakemake {snakemake.__version__}, {platform.platform()}")  # fmt: skip


def versus_bare(
    measure: str, ours: float, bare: float, target: str
) -> tuple[str, str, str, str, str]:
    return (measure, f"{ours:.2f} s", f"{bare:.2f} s", f"{ours / bare:.2f}x", target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    parser.add_argument("--sizes", help="tilt-series counts, e.g. 10,100,1000")
    parser.add_argument(
        "--plan-sizes",
        help="tilt-series counts measured for planning and parsing only (default 5000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the synthetic projects")
    parser.add_argument("--makespan-ts", type=int, default=8, help="tilt series of the makespan")
    parser.add_argument("--delay", type=float, help="simulated seconds per tool call (makespan)")
    parser.add_argument("--driver-runs", type=int, help="driver starts measured")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results",
                        help="folder of latest.json")  # fmt: skip
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("10,100" if args.quick else "10,100,1000")).split(",")]
    plan_sizes = [
        int(s)
        for s in (
            ("" if args.quick else "5000") if args.plan_sizes is None else args.plan_sizes
        ).split(",")
        if s
    ]
    repeat = 1 if args.quick else 3
    base = Path(tempfile.mkdtemp(prefix="crboost-bench-"))
    rows: list[tuple[str, str, str, str, str]] = []
    try:
        print(f"machine: {machine()}", flush=True)
        floor = bench_parse_floor(base / "floor", repeat)

        def parse_row(n: int, project: Path, target: str) -> tuple[str, str, str, str, str]:
            ours = bench_parse(project, repeat)
            return (f"parse per cluster job, {n} TS", f"{ours:.2f} s",
                    f"{floor:.2f} s (one rule)", f"{ours / floor:.2f}x", target)  # fmt: skip

        for n in sizes:
            largest = n == max(sizes)
            project = make_project(base, n)
            bare = bare_snakefile(project, base / f"bare{n}")
            ours, bare_t = bench_plan(project, bare, repeat)
            rows.append(versus_bare(f"plan, {n} TS", ours, bare_t, "<= 1.3x" if largest else ""))
            rows.append(parse_row(n, project, "< 1.5 s" if largest else ""))
            finish_fake(project)
            ours, summary = bench_status(project, repeat)
            rows.append((f"status, {n} TS", f"{ours:.2f} s", f"{summary:.2f} s (--summary)",
                         f"{summary / ours:.1f}x faster", "< 0.5 s, >= 20x faster" if largest else ""))  # fmt: skip
            print(*rows[-3:], sep="\n", flush=True)
        for n in plan_sizes:
            project = make_project(base, n)
            bare = bare_snakefile(project, base / f"bare{n}")
            ours, bare_t = bench_plan(project, bare, repeat)
            rows.append(versus_bare(f"plan, {n} TS", ours, bare_t, "<= 1.3x"))
            rows.append(parse_row(n, project, "< 4 s"))
            print(*rows[-2:], sep="\n", flush=True)
            shutil.rmtree(project, ignore_errors=True)
        delay = args.delay if args.delay is not None else 2.0 if args.quick else 5.0
        n = args.makespan_ts
        m = bench_makespan(base, n, delay, 2)
        rows.append((f"makespan, {n} TS, 2 cores", f"{m['actual']:.1f} s", f"{m['ideal']:.1f} s (ideal)",
                     f"{m['actual'] / m['ideal']:.2f}x", "<= 1.10x ideal"))  # fmt: skip
        rows.append(("makespan, job by job", f"{m['job_by_job']:.1f} s", f"{m['actual']:.1f} s (crboost)",
                     f"{m['job_by_job'] / m['actual']:.2f}x", ""))  # fmt: skip
        rows.append((f"first tomogram, {n} TS, 2 cores", f"{m['first_tomogram']:.1f} s",
                     f"{m['first_tomogram_job_by_job']:.1f} s (job by job)",
                     f"{m['first_tomogram_job_by_job'] / m['first_tomogram']:.1f}x sooner", ""))  # fmt: skip
        print(*rows[-3:], sep="\n", flush=True)
        rows += reading_walks(base / "makespan" / f"p{n}")
        print(*rows[-2:], sep="\n", flush=True)
        d = bench_driver(base, args.driver_runs or (5 if args.quick else 20))
        rows.append(("driver start to tool start", f"{d:.2f} s", "", "", "median"))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    header = ("measure", "crboost", "baseline", "ratio", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print()
    print(f"machine: {machine()}")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
