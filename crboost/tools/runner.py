"""The one way drivers run external tools: an argument list, in a container or as an executable.

Per tool (`tools:` in the config): `container: image.sif` runs
`apptainer exec --nv --cleanenv -B <project> -B <data dirs> ... image.sif <executable> args`, with
the host's conda/SLURM/MPI/Python variables removed (apptainer's own settings, such as a site's
APPTAINER_BINDPATH, are kept), and CUDA_VISIBLE_DEVICES, IMOD_DIR and IMOD's bin/ passed in;
`executable: name` runs it directly; `path: DIR` names the directory of a tool's programs;
`modules: [...]` loads environment modules first (`bash -lc 'module load ... && exec "$@"'`).
`tools.simulate: true` (or a list of tools) runs crboost's tool SIMULATOR instead (demo and tests
only; WarpTools with AreTomo and IMOD from its environment, tools/warpenv.py). Commands are never
strings given to a shell, so file and tilt-series names cannot break or inject into them.
CRBOOST_PRINT_COMMANDS=1 prints commands instead of running them.

A call's result is more than its exit status: WarpTools exits 0 after printing its usage text for
a command line it refused (CommandLineParserHelper.cs), so that text is an error here. A call that
needs GPUs gets them (tools/gpus.py) and `--device_list` with their logical ids; a call with a
task folder gets `--task_dir` when the installed WarpTools has the work queue (tools/warpenv.py).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
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
#: (never APPTAINER*/SINGULARITY*: those configure apptainer itself, e.g. the site's binds)
_STRIPPED_PREFIXES = ("CONDA", "SLURM_", "PMI_", "OMPI_", "PMIX_")
_STRIPPED = {"LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME"}
#: what WarpTools prints when it refused its command line (and then exits 0)
_USAGE = re.compile(r"Showing all available options for command|showing all available commands")
_PARSE_ERROR = re.compile(
    r"^(Option '.*|Required option '.*|Verb '.*|Unknown command.*|No command specified.*)$",
    re.MULTILINE,
)


class ToolFailed(CrboostError):
    def __init__(self, message: str, stderr_tail: str = "", output: str = ""):
        super().__init__(message)
        self.stderr_tail = stderr_tail
        self.output = output


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation: which tool, its arguments, where it runs, what it is about."""

    tool: str
    args: tuple[str, ...]
    cwd: str = "."
    item: str = ""  # tilt series (for logs, binds, fault injection of the simulator)
    gpus: int = 0  # GPUs the call uses (it then gets --device_list)
    task_dir: str | None = None  # its own work-queue folder (--task_dir, where supported)

    def __post_init__(self):
        if self.tool not in EXECUTABLES and self.tool not in PROGRAMS:
            raise ValueError(f"unknown tool {self.tool!r}")
        if self.tool in PROGRAMS and (not self.args or self.args[0] not in PROGRAMS[self.tool]):
            raise ValueError(f"{self.tool}: the first argument must name one of its programs")
        bad = [a for a in self.args if not isinstance(a, str)]
        if bad:
            raise TypeError(f"tool arguments must be strings, got {bad!r}")


@dataclass
class ToolResult:
    stdout: str
    stderr: str


@dataclass
class ToolRunner:
    config: ProjectConfig
    root: Path
    job_type: str = ""
    print_only: bool = field(
        default_factory=lambda: os.environ.get("CRBOOST_PRINT_COMMANDS") == "1"
    )

    def executable(self, tool: str) -> str:
        if tool in EXECUTABLES and self.config.tools.simulated("warptools"):
            from .warpenv import SIM_DIR

            return str(self.root / SIM_DIR / "bin" / EXECUTABLES[tool])
        configured = getattr(self.config.tools, tool)
        name = configured.executable or EXECUTABLES[tool]
        folder = getattr(configured, "path", None)
        return os.path.join(folder, name) if folder else name

    def program(self, call: ToolCall) -> list[str]:
        """The program and its arguments as the tool's environment sees them."""
        if call.tool in PROGRAMS:
            return list(call.args)
        return [EXECUTABLES[call.tool], *call.args]

    def argv(self, call: ToolCall, cuda: str | None = None) -> list[str]:
        """The full argument list for a call, as it will be executed."""
        return with_modules(self.modules(call.tool), self._tool_argv(call, cuda))

    def modules(self, tool: str) -> list[str]:
        """The environment modules the tool's calls load first (none for the simulator)."""
        if self.config.tools.simulated(tool):
            return []
        return list(getattr(getattr(self.config.tools, tool), "modules", []))

    def _tool_argv(self, call: ToolCall, cuda: str | None) -> list[str]:
        tools = self.config.tools
        simulated = tools.simulated(call.tool)
        if simulated and call.tool in PROGRAMS:
            return [sys.executable, "-m", "crboost.simulator", *self.program(call)]
        configured = getattr(tools, call.tool)
        if not simulated and getattr(configured, "container", None):
            cmd = [tools.container_runtime, "exec", "--nv", "--cleanenv"]
            for path in self.bind_paths(call.item):
                cmd += ["-B", path]
            for key, value in self._warp_env(call).items():
                cmd += ["--env", f"{key}={value}"]
            gpus = cuda if cuda is not None else os.environ.get("CUDA_VISIBLE_DEVICES")
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

    def _warp_env(self, call: ToolCall) -> dict[str, str]:
        """IMOD for WarpTools' environment (PREPEND_PATH: apptainer's way to extend PATH)."""
        from .warpenv import imod_dir

        folder = imod_dir(self.config, self.root) if call.tool == "warptools" else None
        return {"IMOD_DIR": folder, "PREPEND_PATH": f"{folder}/bin"} if folder else {}

    def bind_paths(self, item: str = "") -> list[str]:
        """The project, the raw data directories (as given and resolved: movies are linked by
        their resolved path), the resolved folders of the item's movies, the gain, extra binds."""
        paths = [str(self.root.resolve())]
        data = self.config.data
        for pattern in (data.movies, data.mdocs, data.gain_reference):
            if pattern:
                prefix = _fixed_prefix(pattern, self.root)
                paths += [prefix, os.path.realpath(prefix)]
        paths += self._item_movie_dirs(item)
        paths += list(self.config.tools.binds)
        for path in paths:
            if any(c in path for c in ":,"):
                raise ToolFailed(f"{path}: a container bind path cannot contain ':' or ','")
        return _collapse(p for p in paths if p)

    def _item_movie_dirs(self, item: str) -> list[str]:
        if not item:
            return []
        from ..acquisition.manifest import read_record

        try:
            record = read_record(self.root, item)
        except (OSError, ValueError):
            return []
        return sorted({os.path.dirname(os.path.realpath(t["movie_path"]))
                       for t in record["tilts"] if t.get("movie_path")})  # fmt: skip

    def environment(self, call: ToolCall, cuda: str | None = None) -> dict[str, str]:
        """The environment a call runs in (made ready for it: the simulator's programs)."""
        env = dict(os.environ)
        tools = self.config.tools
        if call.tool in EXECUTABLES and tools.simulated("warptools"):
            from .warpenv import simulated_environment

            simulated_environment(self.root)  # made here, when a call runs, not when one is shown
        if cuda is not None:
            env["CUDA_VISIBLE_DEVICES"] = cuda
        simulated = tools.simulated(call.tool)
        if simulated:
            env["CRBOOST_SIM_JOB"] = self.job_type
            env["CRBOOST_SIM_ITEM"] = call.item
        if simulated or not getattr(tools, call.tool).container:
            imod = self._warp_env(call)
            if imod:
                env["IMOD_DIR"] = imod["IMOD_DIR"]
                env["PATH"] = imod["PREPEND_PATH"] + os.pathsep + env.get("PATH", "")
            if simulated and call.tool == "warptools":
                env["PATH"] = (
                    str(Path(self.executable("warptools")).parent) + os.pathsep + env["PATH"]
                )
            return env
        return {k: v for k, v in env.items()
                if not k.startswith(_STRIPPED_PREFIXES) and k not in _STRIPPED}  # fmt: skip

    def capture(self, tool: str, args: list[str]) -> tuple[int, str, str]:
        """Run the tool quietly (probes); (exit status, stdout, stderr)."""
        call = ToolCall(tool, tuple(args), cwd=str(self.root))
        try:
            proc = subprocess.run(self.argv(call), cwd=call.cwd, env=self.environment(call),
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as e:
            return 127, "", str(e)
        return proc.returncode, proc.stdout, proc.stderr

    def with_run_options(self, call: ToolCall, device_ids: list[int]) -> ToolCall:
        """The call with --device_list and (where supported) --task_dir."""
        extra: list[str] = []
        if device_ids:
            extra += ["--device_list", *(str(i) for i in device_ids)]
        if call.task_dir:
            from .warpenv import ProbeFailed, warp_features

            try:
                work_queue = warp_features(self).work_queue
            except ProbeFailed as e:
                raise ToolFailed(
                    f"{EXECUTABLES[call.tool]}: cannot tell its version: {e}"
                ) from None
            if work_queue:
                extra += ["--task_dir", call.task_dir]
        return ToolCall(call.tool, (*call.args, *extra), call.cwd, call.item)

    def run(self, call: ToolCall) -> ToolResult:
        """Run one call, its output going to this process's stdout (the task's log).
        Raises ToolFailed on a non-zero exit (with the tail of the tool's stderr) and when
        WarpTools printed its usage text instead of working."""
        from .gpus import NoGpu, lease

        if self.print_only:
            print(self.describe(call), flush=True)
            return ToolResult("", "")
        try:
            simulated = self.config.tools.simulated(call.tool)
            locks = self.root / ".crboost/simulator/gpus" if simulated else None
            with lease(call.gpus, simulated, 0.5 if simulated else 5.0, locks) as (cuda, ids):
                full = self.with_run_options(call, ids)
                return self._execute(full, cuda)
        except NoGpu as e:
            name = self.program(call)[0]
            raise ToolFailed(f"{name}: needs {call.gpus} GPU(s): {e}") from None

    def describe(self, call: ToolCall, cuda: str | None = None) -> str:
        """The call as a shell line (for logs and --print-commands; never run by a shell)."""
        return f"$ (cd {shlex.quote(call.cwd)} && {shlex.join(self.argv(call, cuda))})"

    def _execute(self, call: ToolCall, cuda: str | None) -> ToolResult:
        argv = self.argv(call, cuda)
        print(self.describe(call, cuda), flush=True)
        try:
            proc = subprocess.Popen(argv, cwd=call.cwd, env=self.environment(call, cuda),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    errors="replace")  # fmt: skip
        except FileNotFoundError:
            raise ToolFailed(
                f"{argv[0]}: not found (set tools.{call.tool} in crboost.yaml)"
            ) from None
        except PermissionError:
            raise ToolFailed(f"{argv[0]}: not executable (tools.{call.tool})") from None
        out: list[str] = []
        err: list[str] = []
        readers = [threading.Thread(target=_tee, args=(proc.stdout, out), daemon=True),
                   threading.Thread(target=_tee, args=(proc.stderr, err), daemon=True)]  # fmt: skip
        for reader in readers:
            reader.start()
        status = proc.wait()
        for reader in readers:
            reader.join()
        stdout, stderr = "".join(out), "".join(err)
        name = self.program(call)[0]
        verb = call.args[0] if (call.tool not in PROGRAMS and call.args
                                and not call.args[0].startswith("-")) else ""  # fmt: skip
        if status != 0:
            tail = "\n".join(stderr.strip().splitlines()[-20:])
            raise ToolFailed(f"{name} {verb} exited with {status}".replace("  ", " "), tail,
                             stdout + stderr)  # fmt: skip
        if call.tool == "warptools" and _USAGE.search(stdout) and "--help" not in call.args:
            found = _PARSE_ERROR.search(stdout)
            reason = found.group(1).strip() if found else "usage text printed"
            raise ToolFailed(f"WarpTools {verb} refused its command line: {reason} (WarpTools "
                             "exits 0 then; nothing was done)", "", stdout)  # fmt: skip
        return ToolResult(stdout, stderr)


def with_modules(modules: list[str], argv: list[str]) -> list[str]:
    """argv run after `module load` (a shell function of the site's module system, defined in
    login shells). The program and its arguments stay an argument list ("$@"), never shell text;
    module names are checked in the config."""
    if not modules:
        return argv
    load = "module load " + " ".join(shlex.quote(m) for m in modules)
    return ["bash", "-lc", f'{load} && exec "$@"', "crboost-tool", *argv]


def _tee(stream, into: list[str]) -> None:
    for line in iter(stream.readline, ""):
        into.append(line)
        sys.stdout.write(line)
        sys.stdout.flush()
    stream.close()


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


def _collapse(items: Iterable[str]) -> list[str]:
    """Unique paths, dropping those inside another one of the list."""
    unique: list[str] = []
    for item in items:
        item = os.path.normpath(item)
        if item not in unique:
            unique.append(item)
    return [p for p in unique
            if not any(o != p and (p + "/").startswith(o.rstrip("/") + "/") for o in unique)]  # fmt: skip
