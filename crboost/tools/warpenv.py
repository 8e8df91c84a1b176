"""WarpTools' environment: where AreTomo and IMOD live (WarpTools starts them), the simulated
environment, and what the installed WarpTools can do.

AreTomo2/3 and IMOD's batchruntomo/submfg are started by WarpTools, by name or path, from its own
environment (WarpWorker.cs; Helper.ExeutableIsOnPath): they must be inside WarpTools' image, or
on the PATH crboost gives an installed WarpTools. `tools.imod.dir` is IMOD's folder there:
crboost sets IMOD_DIR to it and puts its bin/ first on PATH.

The simulator's environment (`tools.simulate: true`) is a folder of programs in the project,
`.crboost/simulator/`: bin/ holds WarpTools, AreTomo2 and AreTomo3, IMOD/bin/ holds
batchruntomo and submfg, each a two-line script that runs crboost's SIMULATOR.

WarpTools prints version 2.0.0 in every release since dev36, so crboost tells versions apart by
their options: `WarpTools fs_motion_and_ctf --help` lists --task_dir only in versions with the
filesystem work queue (after v2.0.0dev39), and the verb list says whether ts_aretomo3 exists
(dev36 on). The answer is cached per WarpTools (path, size, time) in .crboost/warptools.json.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

SIM_DIR = ".crboost/simulator"
SIM_PROGRAMS = {
    "bin": ("WarpTools", "AreTomo2", "AreTomo3"),
    "IMOD/bin": ("batchruntomo", "submfg"),
}
CACHE = ".crboost/warptools.json"


def simulated_environment(root: Path) -> Path:
    """The simulator's WarpTools environment under the project (made or refreshed)."""
    base = root / SIM_DIR
    for folder, programs in SIM_PROGRAMS.items():
        (base / folder).mkdir(parents=True, exist_ok=True)
        for program in programs:
            text = (
                "#!/bin/sh\n# crboost's tool SIMULATOR (demo and tests only), not the real "
                f"{program}\nexec '{sys.executable}' -m crboost.simulator {program} \"$@\"\n"
            )
            path = base / folder / program
            if not _stale(path):
                continue
            tmp = path.with_name(f".{program}.tmp{os.getpid()}")
            tmp.write_text(text)
            tmp.chmod(0o755)
            os.replace(tmp, path)
    return base


def _stale(program: Path) -> bool:
    """A simulated program is made again only when missing or when the Python it starts is gone
    (another interpreter of the same install starting it is fine: a look at a finished project,
    `crboost check` say, rewrites nothing)."""
    try:
        exec_line = program.read_text().splitlines()[-1]
    except (OSError, IndexError):
        return True
    interpreter = exec_line.split("'")[1] if exec_line.count("'") >= 2 else ""
    return not (interpreter and os.access(interpreter, os.X_OK))


def imod_dir(config, root: Path) -> str | None:
    """IMOD's folder in WarpTools' environment, if crboost sets it."""
    if config.tools.simulated("warptools"):
        return str(root / SIM_DIR / "IMOD")
    return config.tools.imod.dir


def program_name(config, program: str) -> str:
    """What WarpTools is told to start for aretomo2/aretomo3 (--exe)."""
    configured = getattr(config.tools, program).executable
    default = {"aretomo2": "AreTomo2", "aretomo3": "AreTomo3"}[program]
    return default if config.tools.simulated("warptools") else (configured or default)


# --- what the installed WarpTools can do -----------------------------------------------------------


@dataclass
class WarpFeatures:
    version: str  # as WarpTools prints it
    verbs: list[str]
    work_queue: bool  # the distributed verbs take --task_dir

    def describe(self) -> str:
        kind = ("with the filesystem work queue (after v2.0.0dev39): per-call --task_dir"
                if self.work_queue else "no work queue (v2.0.0dev36 to dev39)")  # fmt: skip
        return f"version {self.version or 'unknown'}, {kind}"


class ProbeFailed(Exception):
    pass


def parse_help(verbs_text: str, fs_help: str) -> WarpFeatures:
    version = re.search(r"Version (\d+\.\d+\.\d+)", verbs_text + fs_help)
    verbs = re.findall(r"^([a-z][a-z0-9_]+)\s{2,}", verbs_text, re.MULTILINE)
    if "fs_motion_and_ctf" not in verbs or "--settings" not in fs_help:
        raise ProbeFailed("it printed no WarpTools usage text")
    return WarpFeatures(version.group(1) if version else "", sorted(set(verbs)),
                        "--task_dir" in fs_help)  # fmt: skip


def fingerprint(config) -> str:
    tools = config.tools
    if tools.simulated("warptools"):
        return "simulator:" + os.environ.get("CRBOOST_SIM_WARP_VERSION", "")
    exe = tools.warptools.executable or "WarpTools"
    if tools.warptools.path:
        exe = os.path.join(tools.warptools.path, exe)
    target = tools.warptools.container or exe
    path = target if os.sep in target else (_which(target) or target)
    try:
        st = os.stat(path)
        return f"{path}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return path


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def warp_features(runner) -> WarpFeatures:
    """What the configured WarpTools can do (run once per WarpTools, then cached)."""
    key = fingerprint(runner.config)
    cache = runner.root / CACHE
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return WarpFeatures(**known[key])
    code1, verbs_text, err1 = runner.capture("warptools", [])
    code2, fs_help, err2 = runner.capture("warptools", ["fs_motion_and_ctf", "--help"])
    try:
        features = parse_help(verbs_text, fs_help)
    except ProbeFailed as e:
        tail = (err2 or err1 or verbs_text).strip().splitlines()[-1:] or ["no output"]
        raise ProbeFailed(f"{e} (exit {code2}: {tail[0]})") from None
    known[key] = asdict(features)
    cache.parent.mkdir(exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=1) + "\n")
    os.replace(tmp, cache)
    return features
