"""The `crboost` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_values import count_value, dose_value, pixel_value, project_dir
from .errors import CrboostError
from .report.commands import add_look_commands

DESCRIPTION = """\
crboost runs cryo-ET preprocessing (import, motion correction and CTF, tilt-series alignment,
CTF, reconstruction) as a Snakemake workflow that keeps a valid RELION 5 project.

  crboost inspect DATA/*.mdoc            what the mdocs say
  crboost init PROJECT --movies ... --mdocs ...   make a project
  crboost run PROJECT                    run (and resume) it
  crboost status PROJECT                 where it stands
  crboost exclude PROJECT TS [TILT...]   leave out a tilt series, or some of its tilts
  crboost report PROJECT                 an HTML report: every tilt series, its pictures
  crboost serve PROJECT                  the same, live in a browser, with curation
  crboost demo PROJECT                   a synthetic project, run with the tool simulator
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    args.snakemake_args = extra
    try:
        return args.func(args) or 0
    except CrboostError as e:
        print(f"crboost: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # the environment (permissions, a full disk, a missing directory)
        where = f"{e.filename}: " if e.filename else ""
        print(f"crboost: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (the usage is a --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="crboost",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"crboost {_version()}")
    sub = parser.add_subparsers(title="commands")

    p = sub.add_parser(
        "inspect",
        help="show what tilt-series mdocs say and the acquisition parameters inferred from them",
        description="Per tilt series: name, tilts, tilt range, dose, movies found, warnings; "
        "then the inferred acquisition parameters. Exit status 1 if no mdoc is usable.",
    )
    p.add_argument("mdocs", nargs="+", metavar="MDOC", help="tilt-series .mdoc files")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--movies", metavar="GLOB", help="where the movies are (default: next to the mdoc)"
    )
    p.add_argument(
        "--dose-per-tilt",
        type=dose_value,
        metavar="E_PER_A2",
        help="dose per tilt, for mdocs without dose information",
    )
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "init",
        help="create PROJECT/crboost.yaml from the data, with inferred parameters",
        description="Scan the mdocs and movies, infer the acquisition parameters and write a "
        "commented PROJECT/crboost.yaml with the default pipeline. Nothing is written if "
        "anything is wrong.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory (created if needed)")
    p.add_argument("--movies", required=True, metavar="GLOB", help="glob of the tilt movies")
    p.add_argument("--mdocs", required=True, metavar="GLOB", help="glob of the tilt-series mdocs")
    p.add_argument("--gain", metavar="FILE", help="gain reference")
    p.add_argument(
        "--template",
        metavar="MRC",
        help="template for template matching (the tomograms' voxel size and contrast): the "
        "pipeline goes on to denoising, matching, candidates and an average",
    )
    p.add_argument("--mask", metavar="MRC", help="mask of the template (same box)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config value, e.g. microscope.pixel_size=1.35 or "
        "pipeline.import.params.optics_group_name=og1 (repeatable)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing crboost.yaml")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "check",
        help="check the set-up before a run: tools, AreTomo/IMOD in WarpTools, GPUs, data, disk",
        description="One line per problem (cheap checks first, then the ones that start the "
        "tools): each tool found with its version, AreTomo/IMOD inside WarpTools' environment, "
        "GPUs visible, every data folder visible inside the container, free disk, SLURM "
        "partitions/constraints (with --profile slurm), no other live run. Exit status 1 if "
        "there is a problem.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory")
    p.add_argument("--profile", default="local", help="local (default) or slurm")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "run",
        help="run or resume the project's pipeline (snakemake)",
        description="Runs snakemake on the project with a profile. Arguments after -- go to "
        "snakemake, e.g.  crboost run PROJECT -- -n  for a dry run.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory")
    p.add_argument(
        "--profile",
        default="local",
        help="profile name under profiles/ or a path (default: local; slurm for a cluster)",
    )
    p.add_argument(
        "--leftovers",
        choices=("wait", "cancel"),
        default="wait",
        help="tasks a killed run left running: wait for them (default) or cancel them",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="show Snakemake's whole log as it comes (it is always kept in PROJECT/.crboost/logs/)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "status",
        help="where the project stands: per job, status, tilt series done/failed, changed params",
        description="Reads the project's files (no Snakemake DAG unless --deep) and reconciles "
        "default_pipeline.star: a job left Running by a run that is gone becomes Failed.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--deep",
        action="store_true",
        help="also ask Snakemake (dry run) what would run and why (slower)",
    )
    p.set_defaults(func=cmd_status)

    add_look_commands(sub)

    p = sub.add_parser(
        "demo",
        help="write a synthetic dataset and project, and run it with the tool simulator",
        description="Writes N small tilt series (MRC movies, SerialEM mdocs) under PROJECT/raw, "
        "a project config that uses the tool simulator, and runs the pipeline.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory to create")
    p.add_argument(
        "--tilt-series", type=count_value, default=4, metavar="N", help="how many (default 4)"
    )
    p.add_argument("--no-run", action="store_true", help="only write the data and the config")
    p.add_argument(
        "--pixel-size",
        type=pixel_value,
        default=2.7,
        metavar="A",
        help="pixel size of the movies, A (default 2.7)",
    )
    p.add_argument(
        "--no-datetime",
        action="store_true",
        help="mdocs without DateTime lines (as some acquisition tools write them)",
    )
    p.add_argument(
        "--to",
        choices=("tomograms", "particles"),
        default="tomograms",
        help="how far the pipeline goes: tomograms (default), or particles (denoising, "
        "template matching with a template of the demo's particle, candidates, an average)",
    )
    p.add_argument("--profile", default="local", help="profile for the run (default: local)")
    p.add_argument("--verbose", action="store_true", help="show Snakemake's whole log")
    p.set_defaults(func=cmd_demo, leftovers="wait")

    p = sub.add_parser(
        "driver",
        help="run a job type's driver (what the workflow runs; to re-run one tilt series by hand)",
        description="Runs drivers/JOBTYPE.py with the remaining arguments, e.g. from inside a job "
        "directory:  crboost driver importmovies --ts TS_01",
    )
    p.add_argument("job_type", metavar="JOBTYPE", help="job type, e.g. importmovies")
    p.add_argument("driver_args", nargs=argparse.REMAINDER, help="arguments for the driver")
    p.set_defaults(func=cmd_driver)
    return parser


def cmd_inspect(args) -> int:
    from .acquisition.inspection import format_report, inspect_mdocs

    report = inspect_mdocs(args.mdocs, args.movies, args.dose_per_tilt)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    if not report["usable"]:
        if not args.json:
            print("crboost: no usable tilt series", file=sys.stderr)
        return 1
    return 0


def cmd_init(args) -> int:
    from .project.init import init_project, parse_set

    project = project_dir(args.project, exists=False)
    result = init_project(
        project, args.movies, args.mdocs, args.gain, parse_set(args.set), args.force,
        template=args.template, mask=args.mask,
    )  # fmt: skip
    _print_init(result)
    return 0


def _print_init(result) -> None:
    m = result.manifest
    print(f"wrote {result.config_path}")
    print(f"tilt series: {len(m.tilt_series)} usable, {len(m.skipped)} skipped")
    for name, reason in m.skipped.items():
        print(f"  skipped {name}: {reason}")
    for message in m.renamed():
        print(f"  {message}")
    for line in result.unusable:
        print(f"  warning: {line}")
    for w in result.inferred.warnings:
        print(f"  warning: {w}")
    for name, job_dir in result.adopted.items():
        state = "done" if job_dir.rstrip("/") in result.adopted_done else "to be re-run in place"
        print(f"  adopted {job_dir} as job {name!r} ({state})")
    print(f"next: check {result.config_path.name}, then  crboost run {result.config_path.parent}")


def cmd_run(args) -> int:
    project = project_dir(args.project)
    return run_project(project, args.profile, args.snakemake_args, args.leftovers, args.verbose)


def cmd_check(args) -> int:
    from .running.check import run_check

    return run_check(project_dir(args.project), args.profile, args.snakemake_args)


def cmd_status(args) -> int:
    from .project.config import CONFIG_NAME
    from .project.load import load_project
    from .running.curation_state import pending_changes
    from .running.status import as_json, format_table, project_status

    config = project_dir(args.project) / CONFIG_NAME
    if not config.is_file():
        raise CrboostError(f"{config}: no such file")
    project = load_project(config, remote=True, schema=False)
    jobs = project_status(project)
    if args.deep:
        from .running.deep import planned_work

        planned = planned_work(Path(args.project))
    skipped = project.manifest.skipped
    excluded = sorted(project.curation.excluded & set(project.tilt_series))
    pending = pending_changes(project)
    unusable = project.unusable_lines()
    if args.json:
        data = as_json(jobs, skipped, excluded, pending, unusable)
        if args.deep:
            for entry in data["jobs"]:
                entry["planned"] = planned.get(entry["dir"], {"tasks": 0, "reasons": []})
        print(json.dumps(data, indent=2))
    else:
        print(format_table(jobs, skipped, excluded, pending, unusable))
        if args.deep:
            for job in jobs:
                work = planned.get(job.dir)
                if work:
                    print(
                        f"would run in {job.dir}: {work['tasks']} task(s): {'; '.join(work['reasons'])}"
                    )
    return 0


def run_project(
    project: Path,
    profile: str,
    snakemake_args: list[str],
    leftovers: str = "wait",
    verbose: bool = False,
) -> int:
    from .report.build import refresh_quietly
    from .running.launcher import run_project as launch

    return launch(project, profile, snakemake_args, leftovers, verbose=verbose,
                  refresh=lambda: refresh_quietly(project))  # fmt: skip


def cmd_demo(args) -> int:
    from .demo import DEMO_PARTICLE_SETTINGS, demo_settings, write_demo_data
    from .project.init import init_project

    project = project_dir(args.project, exists=False)
    if (project / "crboost.yaml").exists():
        raise CrboostError(f"{project}/crboost.yaml: exists already; pick a new directory")
    raw = write_demo_data(
        project, args.tilt_series, pixel_size=args.pixel_size, datetime_stamps=not args.no_datetime
    )
    sets, template, mask = demo_settings(args.pixel_size), None, None
    if args.to == "particles":
        from .demo import write_template

        voxel = round(2 * args.pixel_size, 4)
        template, mask = (str(p) for p in write_template(project / "templates", voxel))
        sets.update(DEMO_PARTICLE_SETTINGS)
    result = init_project(
        project,
        movies=str(raw / "frames" / "*.mrc"),
        mdocs=str(raw / "mdoc" / "*.mdoc"),
        sets=sets,
        template=template,
        mask=mask,
    )
    _print_init(result)
    if args.no_run:
        return 0
    return run_project(project, args.profile, args.snakemake_args, args.leftovers, args.verbose)


def cmd_driver(args) -> int:
    import runpy

    from .resources import driver

    path = driver(args.job_type)
    if not path.is_file():
        raise CrboostError(f"{args.job_type}: no such driver ({path})")
    sys.argv = [str(path), *args.driver_args, *args.snakemake_args]
    runpy.run_path(str(path), run_name="__main__")
    return 0


def _version() -> str:
    from . import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
