"""A job as its driver sees it: the project root, the job dir, the recorded params, the items,
and running the job's tools (see driver.py)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import CrboostError
from ..project.config import CONFIG_NAME
from ..project.load import PARAMS_FILE
from ..tools.runner import ToolCall, ToolFailed, ToolResult, ToolRunner
from .jobsetup import find_project_root


class DriverError(CrboostError):
    """A job step failed; the message is the one-line reason."""

    def __init__(self, message: str, stderr_tail: str = "", output: str = ""):
        super().__init__(message)
        self.stderr_tail = stderr_tail
        self.output = output  # the tool's whole output, for drivers that read why it failed


@dataclass
class JobContext:
    """A job as its driver sees it; paths are relative to the project root (the cwd)."""

    root: Path
    dir: str
    spec: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        return self.spec["params"]

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def type(self) -> str:
        return self.spec["type"]

    @property
    def input_dir(self) -> str | None:
        return self.spec.get("input_dir")

    def path(self, *parts: str) -> Path:
        return Path(self.dir, *parts)

    def ts_star(self, ts: str) -> Path:
        return self.path("tilt_series", f"{ts}.star")

    def items(self) -> list[str]:
        """The tilt series (or tomograms) this job processes (crboost/project/items.py)."""
        from ..acquisition.manifest import read_index
        from ..project.curation import run_curation
        from ..project.items import job_items

        index = read_index(self.root)
        if index is None:
            raise DriverError("the tilt-series manifest .crboost/manifest.json is missing")
        return job_items(index.names, run_curation(self.root).excluded)

    @property
    def prepared_path(self) -> Path | None:
        """The file of the job's prepare step (see JobParams.prepare_output), if any."""
        from ..jobs import JOB_TYPES

        name = JOB_TYPES[self.type].prepare_output
        return self.path(name) if name else None

    def prepared(self) -> dict[str, Any]:
        """What the job's prepare step decided (for the per-item tasks)."""
        path = self.prepared_path
        if path is None:
            raise DriverError(f"job type {self.type} has no prepare step")
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise DriverError(f"{path}: missing (the prepare step did not run)") from None

    def upstream_ts_star(self, ts: str) -> Path:
        if not self.input_dir:
            raise DriverError("this job has no input job")
        return Path(self.input_dir, "tilt_series", f"{ts}.star")

    def rel(self, path: str | Path) -> str:
        """A project-relative path as seen from inside the job dir (where tools run)."""
        return os.path.relpath(self.root / path, self.root / self.dir)

    @cached_property
    def config(self):
        from ..project.config import load_config_file, parse_config

        # the workflow validated it against the schema already: the models suffice here
        return parse_config(load_config_file(self.root / CONFIG_NAME), schema=False)

    @cached_property
    def runner(self) -> ToolRunner:
        return ToolRunner(self.config, self.root, self.type)

    def run(self, call: ToolCall) -> ToolResult:
        try:
            return self.runner.run(call)
        except ToolFailed as e:
            raise DriverError(str(e), e.stderr_tail, e.output) from None


def open_job(job: str | None) -> JobContext:
    """Locate the project root and job dir; make the root the cwd."""
    here = Path.cwd().resolve()
    root = find_project_root(here)
    job_dir = job.rstrip("/") if job else str(here.relative_to(root))
    os.chdir(root)
    spec_path = Path(job_dir) / PARAMS_FILE
    try:
        spec = json.loads(spec_path.read_text())
    except FileNotFoundError:
        raise CrboostError(f"{spec_path}: missing; the job was never set up by crboost") from None
    return JobContext(root=root, dir=job_dir, spec=spec)
