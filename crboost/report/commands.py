"""The commands that look at a project and curate it: `crboost exclude|include`, `crboost
report`, `crboost serve` (their parsers, added to crboost's by `add_look_commands`)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli_values import port_value, project_dir
from ..errors import CrboostError

DEFAULT_PORT = 8765


def add_look_commands(sub) -> None:
    for action, text in (
        ("exclude", "leave out a tilt series (no TILT), or tilts of it, from the next run on"),
        ("include", "take a tilt series back (no TILT), or keep tilts of it whatever the "
         "tiltFilter rules say"),
    ):  # fmt: skip
        p = sub.add_parser(
            action,
            help=text,
            description=f"{text[0].upper()}{text[1:]}. Writes PROJECT/curation.yaml; "
            "`crboost run` then re-runs only what the change affects. A TILT is a movie name "
            "(as in frames/) or a nominal tilt angle in degrees.",
        )
        p.add_argument("project", metavar="PROJECT", help="project directory")
        p.add_argument("tilt_series", metavar="TS", help="tilt-series name")
        p.add_argument("tilts", nargs="*", metavar="TILT", help="movie names or tilt angles")
        p.set_defaults(func=cmd_curate, action=action)

    p = sub.add_parser(
        "report",
        help="write the HTML report: the project at a glance and a page per tilt series",
        description="Writes PROJECT/report/index.html and report/ts/<ts>.html (they open from "
        "the file system; nothing is fetched from the internet). crboost run refreshes it at "
        "the end of each job.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "serve",
        help="the report live in a browser, with curation (exclude tilts and tilt series)",
        description="Serves the report's pages live (they refresh while a run goes on) on "
        "HOST:PORT, by default 127.0.0.1 only; every request needs the random token in the "
        "printed URL. From your desktop: ssh -L PORT:127.0.0.1:PORT HEADNODE, then open the URL.",
    )
    p.add_argument("project", metavar="PROJECT", help="project directory")
    p.add_argument("--port", type=port_value, default=None,
                   help=f"port (default {DEFAULT_PORT}, or the next free one)")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")  # fmt: skip
    p.set_defaults(func=cmd_serve)


def cmd_report(args) -> int:
    from .build import write_report

    index = write_report(project_dir(args.project))
    print(f"wrote {index}  (open it in a browser: file://{index})")
    return 0


def cmd_serve(args) -> int:
    from .server import serve

    return serve(project_dir(args.project), args.host, args.port, DEFAULT_PORT)


def cmd_curate(args) -> int:
    from ..acquisition.manifest import read_index
    from ..project.curation import edit

    project = project_dir(args.project)
    index = read_index(project)
    if index is None:
        raise CrboostError(f"{project}: no tilt-series manifest yet (run crboost init first)")
    specs = [_tilt_spec(t) for t in args.tilts]
    print(edit(project, args.tilt_series, specs, args.action, {*index.names, *index.skipped}))
    if specs and not _has_filter(project):
        print("crboost: warning: the pipeline has no tiltFilter job: tilt decisions take no "
              "effect until it has one", file=sys.stderr)  # fmt: skip
    print(f"next: crboost run {args.project}   (re-runs only what the change affects)")
    return 0


def _tilt_spec(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


def _has_filter(project: Path) -> bool:
    from ..project.config import CONFIG_NAME, load_config_file

    try:
        pipeline = load_config_file(project / CONFIG_NAME).get("pipeline") or []
    except CrboostError:
        return True  # the run will say what is wrong with the config
    return any(isinstance(e, dict) and e.get("type") == "tiltFilter" for e in pipeline)
