"""What every job type is: a params model that also declares the job's shape and files.

A job type is what is named after it: `crboost/jobs/<type>.py` (this model, with its
declarations), `drivers/<type>.py`, `config/jobs/<type>.star` (job.star template), and its line in
the registry (`crboost/jobs/__init__.py`). Its Snakemake rules are generated from the declarations
(`workflow/rules/jobs.smk`); see docs/adding-a-job-type.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import ConfigError
from ..project.validation import format_validation_error

#: Where each value shared by all jobs lives in the project config.
GLOBAL_VALUES: dict[str, str] = {
    "pixel_size": "microscope.pixel_size",
    "voltage": "microscope.voltage",
    "cs": "microscope.cs",
    "amplitude_contrast": "microscope.amplitude_contrast",
    "dose_per_tilt": "acquisition.dose_per_tilt",
    "dose_source": "acquisition.dose_source",
    "tilt_axis": "acquisition.tilt_axis",
    "invert_defocus_hand": "acquisition.invert_defocus_hand",
    "eer_ngroups": "acquisition.eer_ngroups",
    "gain_flip_x": "acquisition.gain_flip_x",
    "gain_flip_y": "acquisition.gain_flip_y",
    "gain_transpose": "acquisition.gain_transpose",
    "sample_thickness_nm": "acquisition.sample_thickness_nm",
    "detector_size": "acquisition.detector_size",
    "gain_reference": "data.gain_reference",
}


#: The QC pictures a job type can declare (`qc`); made by crboost/qc/products.py.
QC_PRODUCTS = ("thumbnails", "motion", "ctf", "alignment", "tomogram")


def synced_from_globals(*names: str) -> dict[str, str]:
    """The `synced` table of a job type using these global values (field name = value name)."""
    return {name: GLOBAL_VALUES[name] for name in names}


class JobParams(BaseModel):
    """Parameters of one job instance. Subclasses declare fields and the class-level facts."""

    model_config = ConfigDict(
        extra="forbid", validate_default=True, frozen=True, allow_inf_nan=False
    )

    #: Job type name used in the config (`pipeline[].type`).
    type_name: ClassVar[str]
    #: RELION job directory (`Import`, `External`, ...).
    type_dir: ClassVar[str] = "External"
    #: RELION process type label in default_pipeline.star and job.star.
    process_label: ClassVar[str] = "relion.external"
    #: Job types whose output this type reads (the first match upstream is its input).
    accepts: ClassVar[tuple[str, ...]] = ()
    #: The job-level STAR file (relative to the job dir) and its RELION 5 node type label.
    output_star: ClassVar[str]
    output_node_label: ClassVar[str]
    #: Fields copied from the global config (field name -> dotted key); users cannot set them.
    synced: ClassVar[dict[str, str]] = {}
    #: How `crboost init` recognises this job type among an existing project's processes:
    #: lower-case substrings of the process type label or of the External job's fn_exe.
    adopt_patterns: ClassVar[tuple[str, ...]] = ()
    #: What one tilt-series task of this type needs, before the config's `resources:`.
    default_resources: ClassVar[dict[str, int]] = {}
    #: Tools this job runs (keys of the config's `tools:` section).
    tools: ClassVar[tuple[str, ...]] = ()

    # --- the job's shape: what the rules in workflow/rules/jobs.smk are generated from ---------

    #: What one task covers. "tilt_series": one task per tilt series; "tomogram": one per
    #: tomogram, i.e. per tilt series as well (rlnTomoName is the tilt-series name); both write
    #: `<job>/tilt_series/<ts>.star` last, as the item's completion mark, and a gathering step
    #: writes the job's files. "job": one task for the whole job (e.g. training one model from
    #: several tomograms), which writes the job's files itself.
    granularity: ClassVar[Literal["tilt_series", "tomogram", "job"]] = "tilt_series"
    #: Job-level files written besides output_star (relative to the job dir), e.g. an
    #: optimisation set; they are outputs of the job-level rule.
    extra_outputs: ClassVar[tuple[str, ...]] = ()
    #: The per-item tasks run on the submitting machine, never as cluster jobs (cheap Python
    #: work like the import); they then take no `resources:` and are never batched.
    local_tasks: ClassVar[bool] = False
    #: At most one instance per project: its rules name its directory literally (no `{job}`
    #: wildcard), e.g. the import, whose frames/ and mdoc/ are the project's.
    one_per_project: ClassVar[bool] = False
    #: Values that define one item's result besides the job's params: {name: f(project, job,
    #: item) -> str}, Snakemake `params:` of the per-item rule, so that a change re-runs that
    #: item (and what depends on it) only.
    item_params: ClassVar[dict[str, Callable[[Any, Any, str], str]]] = {}
    #: A job-level step that runs once all upstream items are done and before this job's
    #: per-item tasks (one dataset-wide decision, say), written by the driver's `prepare`
    #: function into this file (relative to the job dir), which every per-item task reads.
    #: None: no such step.
    prepare_output: ClassVar[str | None] = None
    #: QC pictures made per item right after its STAR file is written, into <job>/qc/<ts>/
    #: (crboost/qc): any of QC_PRODUCTS. They never fail the job.
    qc: ClassVar[tuple[str, ...]] = ()
    #: Where the job writes an item's tomogram (relative to the job dir; `{ts}` and the params
    #: as format fields), for the "tomogram" QC product and the report.
    tomogram_file: ClassVar[str | None] = None
    #: True: items already done keep their result when the prepare step runs again (new
    #: upstream items): the prepare output is an `ancient` input of the items, and the driver
    #: keeps its earlier decision for them (tsCtf's defocus hand). False: every item re-runs.
    prepare_keeps_done_items: ClassVar[bool] = False
    #: The per-item tasks read the upstream job's job-level files (its STAR with every item's
    #: row, e.g. the tomograms.star rows a RELION program needs) rather than the same item of
    #: it: they wait for the whole upstream job.
    items_read_upstream_job: ClassVar[bool] = False

    def check_upstream(self, chain: list[tuple[str, JobParams]]) -> str | None:
        """Why these params cannot work with the jobs upstream ((name, params), nearest first),
        or None: a value that needs an earlier job to have made something."""
        return None

    @classmethod
    def per_item(cls) -> bool:
        return cls.granularity != "job"

    @classmethod
    def check_declaration(cls) -> None:
        """A job type's declarations fit together (checked when the registry is built)."""
        where = f"job type {getattr(cls, 'type_name', cls.__name__)}"
        if cls.granularity not in ("tilt_series", "tomogram", "job"):
            raise TypeError(f"{where}: granularity {cls.granularity!r}")
        if cls.prepare_output and not cls.per_item():
            raise TypeError(f"{where}: a prepare step needs per-item tasks to prepare for")
        if cls.item_params and not cls.per_item():
            raise TypeError(f"{where}: item_params need per-item tasks")
        unknown = [name for name in cls.qc if name not in QC_PRODUCTS]
        if unknown or (cls.qc and not cls.per_item()):
            raise TypeError(f"{where}: qc {cls.qc!r} (per-item types only; known: {QC_PRODUCTS})")
        if "tomogram" in cls.qc and not cls.tomogram_file:
            raise TypeError(f"{where}: the tomogram QC product needs tomogram_file")
        if cls.items_read_upstream_job and not (cls.per_item() and cls.accepts):
            raise TypeError(f"{where}: items_read_upstream_job needs per-item tasks and an input")
        for name in (cls.output_star, *cls.extra_outputs, cls.prepare_output or "x"):
            if name.startswith("/") or ".." in name.split("/") or name.startswith("tilt_series/"):
                raise TypeError(f"{where}: {name!r} must be a file inside the job dir")

    @classmethod
    def from_config(cls, user_params: dict[str, Any], config: Any, where: str) -> JobParams:
        """Build the params of an instance: user values plus values synced from the globals
        (`config` is the ProjectConfig, not imported here: checking a config imports the jobs)."""
        clash = sorted(set(user_params) & set(cls.synced))
        if clash:
            key = clash[0]
            raise ConfigError(
                f"{where}.{key}: set globally as {cls.synced[key]}, not per job; remove it here"
            )
        values = {name: _lookup(config, dotted) for name, dotted in cls.synced.items()}
        try:
            return cls(**values, **user_params)
        except ValidationError as e:
            raise ConfigError(format_validation_error(e, cls, prefix=where)) from None

    def to_json(self) -> str:
        """Canonical JSON of the params: what a job dir records and Snakemake compares."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def user_fields(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in cls.synced]


def ordered(*pairs: tuple[str, str, str]):
    """A model check that in each (larger, smaller, what) pair the first field is the larger,
    e.g. a low-resolution limit in A above the high-resolution one."""

    def check(model):
        for larger, smaller, what in pairs:
            high, low = getattr(model, larger), getattr(model, smaller)
            if not high > low:
                raise ValueError(
                    f"{larger} = {high:g} must be larger than {smaller} = {low:g} ({what})"
                )
        return model

    return model_validator(mode="after")(check)


def resolution_default(field: str):
    """A high-resolution limit (A) that follows the pixel size: unset means max(6, 2.1 x pixel
    size), 5 % above Nyquist at the coarsest."""

    def fill(data: Any) -> Any:
        if isinstance(data, dict) and data.get(field) is None and data.get("pixel_size"):
            data = {**data, field: round(max(6.0, 2.1 * float(data["pixel_size"])), 2)}
        return data

    return model_validator(mode="before")(fill)


def nyquist_limit(field: str, strict: bool):
    """A high-resolution limit at or beyond Nyquist (2 x pixel size) is refused, as Warp would
    refuse it at run time: fs_motion_and_ctf (Movie.ProcessCTF.cs, 'Max frequency to fit is
    higher than the Nyquist frequency') below 2 x pixel size, ts_ctf (CTFTiltseries.cs) also at
    2 x pixel size (strict)."""

    def check(model):
        value, pixel = getattr(model, field), model.pixel_size
        beyond = value <= 2 * pixel if strict else value < 2 * pixel
        if beyond:
            raise ValueError(
                f"{field} = {value:g} A is beyond Nyquist for {pixel:g} A pixels (2 x pixel size "
                f"= {2 * pixel:g} A): Warp would refuse every fit; use "
                f"{'more than' if strict else 'at least'} {2 * pixel:g} A, or leave it unset for "
                "max(6, 2.1 x pixel size)"
            )
        return model

    return model_validator(mode="after")(check)


def _lookup(config: Any, dotted: str) -> Any:
    node = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def manifest_fingerprint(project: Any, job: Any, item: str) -> str:
    """The tilt series' fingerprint in the manifest: what its mdoc and movies say (item_params)."""
    return project.manifest.fingerprint(item)
