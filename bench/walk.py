#!/usr/bin/env python
"""The reading walk of `crboost run`: how often a reader following the code climbs back up.

    python bench/walk.py PROJECT [SNAKEMAKE ARGS...]      e.g.  bench/walk.py P -n

Runs `crboost run` on PROJECT (local profile) and follows it as a reader would: every crboost
function the run calls is opened at its first call, in call order (each function once; a
property counts as a function), and the reader goes back to the caller when it returns. The
walk is the sequence of files the reader is in. A *climb back* is a step of the walk from a
lower layer back into `running/` or above (cli > report > running > project > jobs >
acquisition, relion, tools, qc): the launcher asking a lower layer one more question. Issue 20
counted 16 for `crboost run` on a finished project; the target is fewer than 8.

Prints `files: N`, `climbs back: N` and each climb. Used by bench/run.py (the `reading walk`
rows).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import crboost  # noqa: E402

PACKAGE = str(Path(crboost.__file__).parent)
LAYERS = {"cli.py": 6, "demo.py": 6, "report": 5, "running": 4, "project": 3, "jobs": 2}
RUNNING = LAYERS["running"]


def layer(module: str) -> int:
    return LAYERS.get(module.split("/")[0], 1)


def follow(run) -> list[str]:
    """The files a reader is in while `run()` runs, repeats collapsed."""
    walk: list[str] = []
    stack: list[str] = []
    seen: set = set()
    skipped = [0]  # depth inside a function already read

    def visit(module: str) -> None:
        if not walk or walk[-1] != module:
            walk.append(module)

    def profile(frame, event, arg):
        code = frame.f_code
        name = code.co_filename
        if not name.startswith(PACKAGE) or code.co_name.startswith("<"):
            return
        if name.endswith(("errors.py", "resources.py")):  # names of things, nothing to follow
            return
        if event == "call":
            if skipped[0] or code in seen:
                skipped[0] += 1
                return
            seen.add(code)
            module = str(Path(name).relative_to(PACKAGE))
            stack.append(module)
            visit(module)
        elif event == "return":
            if skipped[0]:
                skipped[0] -= 1
                return
            stack.pop()
            if stack:
                visit(stack[-1])

    # importing is not reading: every module first, then follow the run
    for info in pkgutil.walk_packages(crboost.__path__, "crboost."):
        if ".simulator" not in info.name and "__main__" not in info.name:
            importlib.import_module(info.name)
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return walk


def climbs_back(walk: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(walk, walk[1:], strict=False)
            if layer(b) > layer(a) and layer(b) >= RUNNING]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a crboost project (best: a finished one)")
    parser.add_argument("snakemake_args", nargs=argparse.REMAINDER,
                        help="passed to crboost run, e.g. -n")  # fmt: skip
    args = parser.parse_args()
    from crboost.running.launcher import run_project

    project, args = args.project, args.snakemake_args
    # the run's own output (Snakemake's plan, crboost's messages) is not the walk's
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as quiet:
        os.dup2(quiet.fileno(), 1)
        os.dup2(quiet.fileno(), 2)
        try:
            walk = follow(lambda: run_project(project, "local", args, progress=False))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    climbs = climbs_back(walk)
    print(f"files: {len(set(walk))}")
    print(f"climbs back: {len(climbs)}")
    for a, b in climbs:
        print(f"  {a} -> {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
