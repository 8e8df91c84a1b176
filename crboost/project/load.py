"""A project: its config, its job instances with their RELION job dirs, and its tilt series.

`load_project` is what the Snakefile calls at parse time; it reads files and writes nothing.
Job directories come from default_pipeline.star: an instance keeps the directory of the process
with its alias (`<TypeDir>/<name>/`) or the one `adopt:` maps it to; new instances get the next
numbers from `_rlnPipeLineJobCounter`, in pipeline order. `register()` (called when a real run
starts) writes them into default_pipeline.star, so the numbers computed here hold from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..acquisition.manifest import Manifest, load_manifest, skipped_lines
from ..acquisition.mdoc_values import setting_values
from ..errors import ConfigError
from ..jobs import JOB_TYPES, JobParams
from ..relion.pipeline import PIPELINE_FILE, Pipeline, PipelineIndex, read_pipeline_index
from .config import CONFIG_NAME, ProjectConfig, Resources, load_config_file, parse_config
from .curation import Curation, check_names, read_curation, run_curation
from .items import job_items
from .location import moved_from
from .schema_check import checked_before, schema_digest

SENTINEL_SUCCESS = "RELION_JOB_EXIT_SUCCESS"
SENTINEL_FAILURE = "RELION_JOB_EXIT_FAILURE"
PARAMS_FILE = "job_params.json"


@dataclass
class Job:
    """One job instance of the pipeline, placed in its RELION job directory. Its files' paths
    (relative to the project) are plain attributes, fixed when the job is placed."""

    name: str
    type: str
    params: JobParams
    dir: str
    upstream: Job | None
    resources: Resources
    is_new: bool
    index: int
    cls: type[JobParams] = field(init=False, repr=False)
    alias: str = field(init=False, repr=False)
    relion_name: str = field(init=False, repr=False)
    number: str = field(init=False, repr=False)
    output_star: str = field(init=False, repr=False)
    #: the file the job's prepare step writes, if the type has one
    prepared: str | None = field(init=False, repr=False)
    params_file: str = field(init=False, repr=False)
    success: str = field(init=False, repr=False)
    failure: str = field(init=False, repr=False)
    #: its tilt-series tasks run as cluster jobs (and may be batched: resources.group_size)
    batched: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.cls = cls = type(self.params)
        self.alias = f"{cls.type_dir}/{self.name}/"
        self.relion_name = self.dir + "/"
        self.number = self.dir.rsplit("/", 1)[-1]
        self.output_star = f"{self.dir}/{cls.output_star}"
        self.prepared = f"{self.dir}/{cls.prepare_output}" if cls.prepare_output else None
        self.params_file = f"{self.dir}/{PARAMS_FILE}"
        self.success = f"{self.dir}/{SENTINEL_SUCCESS}"
        self.failure = f"{self.dir}/{SENTINEL_FAILURE}"
        self.batched = cls.per_item() and not cls.local_tasks

    def ts_star(self, ts: str) -> str:
        return f"{self.dir}/tilt_series/{ts}.star"

    def item_input(self, ts: str) -> str:
        """What a downstream per-item task reads of this job for one item: the item's STAR
        file, or the job's STAR file when this job works on the whole job at once."""
        return self.ts_star(ts) if self.cls.per_item() else self.output_star

    def input_of_item(self, ts: str) -> str:
        """What this job's per-item task reads of its upstream job for one item."""
        if self.cls.items_read_upstream_job:
            return self.upstream.output_star
        return self.upstream.item_input(ts)


@dataclass
class Project:
    root: Path
    config_path: Path
    config: ProjectConfig
    jobs: list[Job]
    manifest: Manifest
    counter: int
    #: the decisions this load works with: curation.yaml, or in a cluster job the run's
    #: snapshot of it
    curation: Curation = field(default_factory=Curation)
    #: the decisions the last run worked with (its snapshot)
    used_curation: Curation = field(default_factory=Curation)
    #: where the project was last run from, when it moved since (Warp's metadata names it)
    moved_from: str | None = None
    #: loaded in a cluster job or for a quick status (see load_project)
    remote: bool = False
    #: digest of the config and schema if this load checked the config against the schema
    schema_checked: str | None = None
    by_name: dict[str, Job] = field(default_factory=dict)
    by_dir: dict[str, Job] = field(default_factory=dict)
    #: the usable tilt series, in the manifest's order
    tilt_series: list[str] = field(default_factory=list)
    _items: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_name = {j.name: j for j in self.jobs}
        self.by_dir = {j.dir: j for j in self.jobs}
        self.tilt_series = self.manifest.names

    def items(self, job: Job) -> list[str]:
        """The tilt series (or tomograms) the job processes (see items.py)."""
        if job.dir not in self._items:
            self._items[job.dir] = job_items(self.tilt_series, self.curation.excluded)
        return self._items[job.dir]

    def data_notes(self) -> list[str]:
        """What a run says about the data before it starts: the tilt series not imported and
        why, mdoc values present but not usable with what replaces them (`warning: ...`), and
        new tilt series whose names had to be made safe."""
        return [*skipped_lines(self.manifest.skipped),
                *(f"warning: {line}" for line in self.unusable_lines()),
                *self.manifest.renamed()]  # fmt: skip

    def unusable_lines(self) -> list[str]:
        """`FILE: KEY = NaN in SECTIONS: not a number; the project's X = V is used`, for the
        mdoc values present but not usable of the project's tilt series."""
        return self.manifest.unusable_lines(setting_values(self.config))

    def batch_sizes(self) -> dict[str, int]:
        """{tilt-series rule: tasks per cluster job} where resources.group_size batches them."""
        sizes: dict[str, int] = {}
        for job in self.jobs:
            if job.resources.group_size and job.batched:
                rule = f"{job.type}_tilt_series"
                sizes[rule] = max(sizes.get(rule, 1), job.resources.group_size)
        return sizes

    def of_type(self, type_name: str) -> list[Job]:
        return [j for j in self.jobs if j.type == type_name]

    def job_at(self, job_dir: str) -> Job:
        try:
            return self.by_dir[job_dir.rstrip("/")]
        except KeyError:
            raise ConfigError(f"{job_dir}: not a job of this project's pipeline") from None


def project_root_of(config_path: str | Path) -> Path:
    return Path(config_path).resolve().parent


def load_project(
    config_path: str | Path,
    data: dict[str, Any] | None = None,
    remote: bool = False,
    schema: bool = True,
) -> Project:
    """Everything the workflow needs at parse time. Reads files, writes nothing.

    remote: in a cluster job or a quick status: trust the manifest the main process wrote, use
    the curation decisions of the run (its snapshot), and check the config against the schema
    unless it passed when the run started (schema_check.py).
    schema: also check the config against the JSON schema (the models check it anyway).
    """
    config_path = Path(config_path).resolve()
    root = config_path.parent
    if data is None:
        data = load_config_file(config_path)
    source = config_path.name if config_path.name == CONFIG_NAME else str(config_path)
    digest = None
    if schema:
        digest = schema_digest(data)
        if remote and checked_before(root, digest):
            schema, digest = False, None
    config = parse_config(data, source, schema=schema)
    try:
        jobs, counter = build_jobs(config, read_pipeline_index(root))
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    manifest = load_manifest(root, config.data, trust_index=remote)
    used = run_curation(root)
    if remote:
        return Project(root, config_path, config, jobs, manifest, counter, used, used,
                       remote=True, schema_checked=digest)  # fmt: skip
    curation = read_curation(root)
    check_names(curation, {*manifest.names, *manifest.skipped})
    return Project(root, config_path, config, jobs, manifest, counter, curation, used,
                   moved_from=moved_from(root), schema_checked=digest)  # fmt: skip


def build_jobs(config: ProjectConfig, pipeline: Pipeline | PipelineIndex) -> tuple[list[Job], int]:
    """Job instances with params, upstream and directory; returns them and the next counter."""
    _check_resource_keys(config)
    processes = pipeline.process_list()
    by_alias = {p.alias: p for p in processes if p.alias not in ("None", "")}
    known_dirs = {p.name for p in processes}
    counter = pipeline.next_number
    jobs: list[Job] = []
    used_dirs: dict[str, str] = {}
    for index, entry in enumerate(config.pipeline):
        where = f"pipeline[{index}]"
        cls = JOB_TYPES.get(entry.type)
        if cls is None:
            raise ConfigError(
                f"{where}.type = {entry.type!r}: unknown job type (allowed: {', '.join(JOB_TYPES)})"
            )
        if any(j.name == entry.name for j in jobs):
            raise ConfigError(f"{where}.name = {entry.name!r}: used by an earlier job")
        params = cls.from_config(entry.params, config, f"{where}.params")
        upstream = _upstream(entry, cls, jobs, where)
        chain, job = [], upstream
        while job is not None:
            chain.append((job.name, job.params))
            job = job.upstream
        problem = params.check_upstream(chain)
        if problem:
            raise ConfigError(f"{where}.params ({entry.name}): {problem}")
        alias = f"{cls.type_dir}/{entry.name}/"
        is_new = False
        if entry.name in config.adopt:
            job_dir = config.adopt[entry.name].rstrip("/") + "/"
            if job_dir not in known_dirs:
                raise ConfigError(
                    f"adopt.{entry.name} = {config.adopt[entry.name]!r}: no such process in "
                    f"{PIPELINE_FILE}"
                )
        elif alias in by_alias:
            job_dir = by_alias[alias].name
        else:
            job_dir = f"{cls.type_dir}/job{counter:03d}/"
            counter += 1
            is_new = True
        if not job_dir.startswith(cls.type_dir + "/"):
            raise ConfigError(
                f"{where}: job {entry.name!r} of type {entry.type} cannot live in {job_dir} "
                f"(expected {cls.type_dir}/)"
            )
        if job_dir in used_dirs:
            raise ConfigError(
                f"{where}: {job_dir} is already the directory of job {used_dirs[job_dir]!r}"
            )
        used_dirs[job_dir] = entry.name
        jobs.append(
            Job(
                name=entry.name,
                type=entry.type,
                params=params,
                dir=job_dir.rstrip("/"),
                upstream=upstream,
                resources=_resources(config, entry),
                is_new=is_new,
                index=index,
            )
        )
    imports = [j for j in jobs if j.type == "importmovies"]
    if len(imports) != 1:
        raise ConfigError(
            f"pipeline: needs exactly one importmovies job, has {len(imports)} "
            "(the tilt series, frames/ and mdoc/ come from it)"
        )
    for type_name, cls in JOB_TYPES.items():
        count = sum(1 for j in jobs if j.type == type_name)
        if cls.one_per_project and count > 1:
            raise ConfigError(f"pipeline: at most one {type_name} job per project, has {count}")
    return jobs, counter


def _upstream(entry, cls: type[JobParams], earlier: list[Job], where: str) -> Job | None:
    if entry.input is not None:
        match = next((j for j in earlier if j.name == entry.input), None)
        if match is None:
            raise ConfigError(
                f"{where}.input = {entry.input!r}: no earlier job of that name in the pipeline"
            )
        if match.type not in cls.accepts:
            raise ConfigError(
                f"{where}.input = {entry.input!r}: a {match.type} job; {entry.type} reads "
                f"{' or '.join(cls.accepts) or 'no input'}"
            )
        return match
    if not cls.accepts:
        return None
    for job in reversed(earlier):
        if job.type in cls.accepts:
            return job
    raise ConfigError(
        f"{where}: {entry.type} job {entry.name!r} needs an earlier "
        f"{' or '.join(cls.accepts)} job in the pipeline"
    )


def _check_resource_keys(config: ProjectConfig) -> None:
    for key in config.resources:
        if key not in ("default", "node") and key not in JOB_TYPES:
            raise ConfigError(
                f"resources.{key}: unknown job type "
                f"(allowed: default, node, {', '.join(JOB_TYPES)})"
            )


#: What a task gets when nothing is configured.
BASE_RESOURCES = {"cpus": 1, "mem_mb": 4000, "runtime": 60, "gpus": 0}


def _resources(config: ProjectConfig, entry) -> Resources:
    """The job type's built-in needs <- resources.default <- per job type <- per instance."""
    merged: dict[str, Any] = dict(BASE_RESOURCES)
    merged.update(JOB_TYPES[entry.type].default_resources)
    for layer in (
        config.resources.get("default"),
        config.resources.get(entry.type),
        entry.resources,
    ):
        if layer is not None:
            merged.update(layer.model_dump(exclude_none=True))
    return Resources(**merged)
