"""The one way drivers run external tools: an argument list, in a container or as an executable.

Per tool (`tools:` in the config): `container: image.sif` runs
`apptainer exec --nv --cleanenv -B <project> -B <data dirs> ... image.sif <executable> args`, with
the host's conda/SLURM/MPI/container variables removed and CUDA_VISIBLE_DEVICES passed in;
`executable: name` runs it directly; `path: DIR` names the directory of a tool's programs.
`tools.simulate: true` (or a list of tools) runs crboost's tool SIMULATOR instead (demo and tests
only). Commands are never strings given to a shell, so file and tilt-series
names cannot break or inject into them. CRBOOST_PRINT_COMMANDS=1 prints commands instead of
running them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CrboostError
from ..project.config import ProjectConfig

#: config key -> the program's name (inside containers and on PATH).
EXECUTABLES = {"warptools": "WarpTools", "aretomo2": "AreTomo2", "aretomo3": "AreTomo3"}
#: tools made of several programs: a call's first argument names the program.
PROGRAMS = {
    "cryocare": (
        "cryoCARE_extract_train_data.py",
        "cryoCARE_train.py",
        "cryoCARE_predict.py",
    ),
    "pytom": ("pytom_match_template.py", "pytom_extract_candidates.py"),
    "relion": ("relion_tomo_subtomo", "relion_tomo_reconstruct_particle"),
}
#: host variables that break tools inside a container or leak the host's setup into it
_STRIPPED_PREFIXES = ("SINGULARITY", "APPTAINER", "CONDA", "SLURM_", "PMI_", "OMPI_", "PMIX_")
_STRIPPED = {"LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME"}


class ToolFailed(CrboostError):
    def __init__(self, message: str, stderr_tail: str = ""):
        super().__init__(message)
        self.stderr_tail = stderr_tail


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation: which tool, its arguments, where it runs, what it is about."""

    tool: str
    args: tuple[str, ...]
    cwd: str = "."
    item: str = ""  # tilt series (for logs, fault injection of the simulator)

    def __post_init__(self):
        if self.tool not in EXECUTABLES and self.tool not in PROGRAMS:
            raise ValueError(f"unknown tool {self.tool!r}")
        if self.tool in PROGRAMS and (not self.args or self.args[0] not in PROGRAMS[self.tool]):
            raise ValueError(f"{self.tool}: the first argument must name one of its programs")
        bad = [a for a in self.args if not isinstance(a, str)]
        if bad:
            raise TypeError(f"tool arguments must be strings, got {bad!r}")


@dataclass
class ToolRunner:
    config: ProjectConfig
    root: Path
    job_type: str = ""
    print_only: bool = field(
        default_factory=lambda: os.environ.get("CRBOOST_PRINT_COMMANDS") == "1"
    )

    def executable(self, tool: str) -> str:
        configured = getattr(self.config.tools, tool)
        name = configured.executable or EXECUTABLES[tool]
        return os.path.join(configured.path, name) if configured.path else name

    def program(self, call: ToolCall) -> list[str]:
        """The program and its arguments as the tool's environment sees them."""
        if call.tool in PROGRAMS:
            return list(call.args)
        return [EXECUTABLES[call.tool], *call.args]

    def argv(self, call: ToolCall) -> list[str]:
        """The full argument list for a call, as it will be executed."""
        tools = self.config.tools
        if tools.simulated(call.tool):
            return [sys.executable, "-m", "crboost.simulator", *self.program(call)]
        configured = getattr(tools, call.tool)
        if configured.container:
            cmd = [tools.container_runtime, "exec", "--nv", "--cleanenv"]
            for path in self.bind_paths():
                cmd += ["-B", path]
            gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
            if gpus:
                cmd += ["--env", f"CUDA_VISIBLE_DEVICES={gpus}"]
            program = self.program(call)
            if call.tool not in PROGRAMS:
                program[0] = configured.executable or program[0]
            return [*cmd, configured.container, *program]
        if call.tool in PROGRAMS:
            name = call.args[0]
            return [os.path.join(configured.path, name) if configured.path else name,
                    *call.args[1:]]  # fmt: skip
        return [self.executable(call.tool), *call.args]

    def bind_paths(self) -> list[str]:
        """The project, the raw data directories, the gain reference, extra binds."""
        paths = [str(self.root.resolve())]
        data = self.config.data
        for pattern in (data.movies, data.mdocs, data.gain_reference):
            if pattern:
                paths.append(_fixed_prefix(pattern, self.root))
        paths += list(self.config.tools.binds)
        for path in paths:
            if any(c in path for c in ":,"):
                raise ToolFailed(f"{path}: a container bind path cannot contain ':' or ','")
        return _dedup(p for p in paths if p)

    def environment(self, call: ToolCall) -> dict[str, str]:
        env = dict(os.environ)
        if self.config.tools.simulated(call.tool):
            env["CRBOOST_SIM_JOB"] = self.job_type
            env["CRBOOST_SIM_ITEM"] = call.item
            return env
        if getattr(self.config.tools, call.tool).container:
            env = {
                k: v
                for k, v in env.items()
                if not k.startswith(_STRIPPED_PREFIXES) and k not in _STRIPPED
            }
        return env

    def run(self, call: ToolCall) -> None:
        """Run one call, its output going to this process's stdout (the task's log).
        Raises ToolFailed on a non-zero exit, with the tail of the tool's stderr."""
        argv = self.argv(call)
        print(f"$ (cd {shlex.quote(call.cwd)} && {shlex.join(argv)})", flush=True)
        if self.print_only:
            return
        try:
            proc = subprocess.run(
                argv, cwd=call.cwd, env=self.environment(call), stderr=subprocess.PIPE, text=True
            )
        except FileNotFoundError:
            raise ToolFailed(
                f"{argv[0]}: not found (set tools.{call.tool} in crboost.yaml)"
            ) from None
        except PermissionError:
            raise ToolFailed(f"{argv[0]}: not executable (tools.{call.tool})") from None
        sys.stdout.write(proc.stderr)
        sys.stdout.flush()
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
            name = self.program(call)[0]
            verb = (
                call.args[0]
                if call.tool not in PROGRAMS and call.args and not call.args[0].startswith("-")
                else ""
            )
            raise ToolFailed(
                f"{name} {verb} exited with {proc.returncode}".replace("  ", " "), tail
            )


def _fixed_prefix(pattern: str, root: Path) -> str:
    """The directory part of a glob before any wildcard, absolute."""
    path = pattern if os.path.isabs(pattern) else str(root / pattern)
    parts = []
    for part in Path(path).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    prefix = Path(*parts) if parts else Path("/")
    return str(prefix if prefix.is_dir() else prefix.parent)


def _dedup(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
