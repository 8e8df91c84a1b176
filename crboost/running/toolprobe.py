"""Is a tool there, as a job of this project would start it? One JSON line on stdout.

    python -m crboost.running.toolprobe --project PROJECT --tool relion

Run by `crboost check --profile slurm` inside a tiny job on a compute node (workflow/toolcheck.smk)
for the tools declared `nodes_only`: the same config, the same modules, the same container
settings as the tool runner uses, on the kind of node the jobs that call it get. Only looks: it
starts no tool except WarpTools' own usage text (its version).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
from pathlib import Path

from ..project.config import CONFIG_NAME, load_config_file, parse_config
from ..tools.runner import EXECUTABLES, PROGRAMS, ToolRunner
from .preflight import look_up, not_found


def probe(root: Path, tool: str) -> dict:
    config = parse_config(load_config_file(root / CONFIG_NAME), schema=False)
    configured = getattr(config.tools, tool)
    modules = list(getattr(configured, "modules", []))
    result: dict = {"tool": tool, "host": socket.gethostname(), "modules": modules,
                    "missing": [], "version": None}  # fmt: skip
    if configured.container:
        if not os.path.isfile(configured.container):
            result["missing"] = [configured.container]
        elif not_found([config.tools.container_runtime], modules):
            result["missing"] = [config.tools.container_runtime]
        return result
    if tool in PROGRAMS:
        names = [os.path.join(configured.path, n) if configured.path else n for n in PROGRAMS[tool]]
    else:
        executable = configured.executable or EXECUTABLES[tool]
        names = [os.path.join(configured.path, executable) if configured.path else executable]
    result["missing"], load_error = look_up(names, modules)
    if load_error:
        result["error"] = load_error
    if tool == "warptools" and not result["missing"]:
        from ..tools.warpenv import ProbeFailed, warp_features

        try:
            result["version"] = warp_features(ToolRunner(config, root, "check")).describe()
        except ProbeFailed as e:
            result["missing"], result["error"] = names, str(e)
    if not modules and not result["missing"]:
        result["found"] = [shutil.which(n) for n in names]
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--tool", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(probe(Path(args.project).resolve(), args.tool)))


if __name__ == "__main__":
    main()
