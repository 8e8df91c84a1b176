"""What every job type is: a params model that also knows its RELION identity and its files.

A job type is four files named after it: `crboost/jobs/<type>.py` (this model),
`config/jobs/<type>.star` (job.star template), `workflow/rules/<type>.smk` and `drivers/<type>.py`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

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


def synced_from_globals(*names: str) -> dict[str, str]:
    """The `synced` table of a job type using these global values (field name = value name)."""
    return {name: GLOBAL_VALUES[name] for name in names}


class JobParams(BaseModel):
    """Parameters of one job instance. Subclasses declare fields and the class-level facts."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

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

    @classmethod
    def from_config(cls, user_params: dict[str, Any], config: Any, where: str) -> JobParams:
        """Build the params of an instance: user values plus values synced from the globals
        (`config` is the ProjectConfig; not imported here, since the config imports the jobs)."""
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


def _lookup(config: Any, dotted: str) -> Any:
    node = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node
