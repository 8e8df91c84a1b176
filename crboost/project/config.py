"""The project config (`PROJECT/crboost.yaml`): pydantic models, loading and one-line errors.

The models here are the single definition of the config; `workflow/schemas/config.schema.yaml`
is generated from them (`python -m crboost.project.schema`) and a test keeps the two identical.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from ..acquisition.names import star_problem
from ..acquisition.sanity import DOSE_PER_TILT, PIXEL_SIZE, TILT_AXIS, VOLTAGE
from ..errors import ConfigError
from .validation import format_validation_error

CONFIG_NAME = "crboost.yaml"

# RELION's alias rules (pipeliner.cpp setAliasJob) plus: no spaces, since the alias is a path.
_ALIAS_FORBIDDEN = re.compile(r'[*?()/"\\|#<>&%{}$\s]')


class _Strict(BaseModel):
    # NaN and infinity are never a value (they would reach STAR files and tools)
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Where the raw data is. Relative paths are relative to the project directory."""

    movies: str = Field(description="Glob of the tilt movies (.eer, .tif, .mrc).")
    mdocs: str = Field(description="Glob of the tilt-series .mdoc files.")
    gain_reference: str | None = Field(None, description="Gain reference file, if any.")
    tilt_series_prefix: str = Field(
        "",
        pattern=r"^([A-Za-z0-9][A-Za-z0-9_+-]*)?$",
        description="Prefix added to every tilt-series name (to merge sessions).",
    )
    min_tilts: int = Field(4, ge=1, description="Tilt series with fewer tilts are skipped.")
    skip_incomplete_mdocs: bool = Field(
        False,
        description="Skip (instead of stopping at) mdocs that are truncated or still being written.",
    )


class MicroscopeConfig(_Strict):
    pixel_size: float = Field(**PIXEL_SIZE.bounds(), description="Pixel size of the movies, A/px.")
    voltage: float = Field(300.0, **VOLTAGE.bounds(), description="Acceleration voltage, kV.")
    cs: float = Field(2.7, ge=0, le=20, description="Spherical aberration, mm.")
    amplitude_contrast: float = Field(0.1, ge=0, le=1, description="Amplitude contrast fraction.")


class AcquisitionConfig(_Strict):
    dose_per_tilt: float = Field(
        **DOSE_PER_TILT.bounds(), description="Electron dose per tilt image, e/A^2."
    )
    dose_source: Literal["mdoc", "config"] = Field(
        "mdoc",
        description="mdoc: per-tilt doses from the mdocs (dose_per_tilt where a tilt has none); "
        "config: dose_per_tilt for every tilt.",
    )
    tilt_axis: float = Field(
        **TILT_AXIS.bounds(), description="Tilt-axis angle, degrees, SerialEM/RELION convention."
    )
    detector_size: tuple[int, int] = Field(
        (4096, 4096), description="Movie frame size in pixels, [x, y]."
    )
    eer_ngroups: int | None = Field(
        None,
        ge=1,
        le=10000,
        description="EER movies: number of fractions to render (null: not EER).",
    )
    gain_flip_x: bool = Field(False, description="Flip the gain reference along X.")
    gain_flip_y: bool = Field(False, description="Flip the gain reference along Y.")
    gain_transpose: bool = Field(False, description="Transpose the gain reference.")
    invert_defocus_hand: bool = Field(
        True, description="Defocus handedness inverted (rlnTomoHand -1)."
    )
    sample_thickness_nm: float = Field(300.0, gt=0, le=5000, description="Sample thickness, nm.")
    acquisition_software: Literal["SerialEM", "Tomo5", "unknown"] = Field(
        "SerialEM", description="Software that wrote the mdocs (informational)."
    )

    @field_validator("detector_size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) <= 0:
            raise ValueError("both sizes must be > 0")
        return value


class ToolConfig(_Strict):
    """How to run one tool: a container image, or an executable on PATH / an absolute path.
    Tools made of several programs (cryoCARE, pytom-match-pick, RELION) take `path`: the
    directory holding their programs (e.g. the bin/ of the tool's own Python environment)."""

    container: str | None = Field(None, description="Apptainer/Singularity image (.sif).")
    executable: str | None = Field(None, description="Executable name or path.")
    path: str | None = Field(
        None, description="Directory holding the tool's programs (default: found on PATH)."
    )
    modules: list[str] = Field(
        default_factory=list,
        description="Environment modules loaded (module load, in a login shell) before each "
        "call of the tool, wherever it runs, e.g. [warp/2.0.0].",
    )
    nodes_only: bool = Field(
        False,
        description="The tool exists only on the compute nodes (a node-local install, modules "
        "found only there): a cluster run does not look for it on the submitting host; "
        "crboost check --profile slurm looks for it in a job on a node.",
    )

    @field_validator("modules")
    @classmethod
    def _module_names(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+/-]*", m)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a module name (letters, digits, _ . + / -)")
        return value


class WarpProgramConfig(_Strict):
    """A program WarpTools starts itself (AreTomo2/3): it runs in WarpTools' environment."""

    executable: str | None = Field(
        None,
        description="Its name on the PATH of WarpTools' environment (inside WarpTools' image), "
        "or an absolute path there.",
    )
    container: str | None = Field(
        None, description="Not allowed: WarpTools starts the program in its own environment."
    )

    @field_validator("container")
    @classmethod
    def _no_image(cls, value: str | None) -> str | None:
        if value:
            raise ValueError(
                "WarpTools starts AreTomo itself (ts_aretomo --exe), inside WarpTools' own "
                "environment, never from a separate image: put AreTomo into the WarpTools image "
                "or environment and give its name or path there as executable"
            )
        return value


class ImodConfig(_Strict):
    """IMOD as WarpTools uses it (ts_etomo_patches runs batchruntomo and submfg by name)."""

    dir: str | None = Field(
        None,
        description="IMOD's installation folder in WarpTools' environment (IMOD_DIR; its bin/ "
        "goes first on PATH); null: the environment provides batchruntomo and IMOD_DIR.",
    )


class ToolsConfig(_Strict):
    simulate: bool | list[str] = Field(
        False,
        description="Use crboost's tool SIMULATOR instead of the real tools (demo and tests "
        "only): true for all, or a list of the tools to simulate.",
    )

    def simulated(self, tool: str) -> bool:
        return self.simulate is True or (isinstance(self.simulate, list) and tool in self.simulate)

    container_runtime: Literal["apptainer", "singularity"] = Field(
        "apptainer", description="Program that runs container images."
    )
    binds: list[str] = Field(default_factory=list, description="Extra container bind paths.")
    warptools: ToolConfig = Field(
        default_factory=lambda: ToolConfig(executable="WarpTools"),
        description="WarpTools: its image, or its executable. AreTomo and IMOD run inside it.",
    )
    aretomo2: WarpProgramConfig = Field(
        default_factory=lambda: WarpProgramConfig(executable="AreTomo2"),
        description="AreTomo2, as WarpTools finds it (ts_aretomo --exe).",
    )
    aretomo3: WarpProgramConfig = Field(
        default_factory=lambda: WarpProgramConfig(executable="AreTomo3"),
        description="AreTomo3, as WarpTools finds it (ts_aretomo3 --exe).",
    )
    imod: ImodConfig = Field(
        default_factory=ImodConfig, description="IMOD, in WarpTools' environment."
    )
    cryocare: ToolConfig = Field(
        default_factory=ToolConfig,
        description="cryoCARE 0.3 (cryoCARE_extract_train_data.py, _train.py, _predict.py).",
    )
    pytom: ToolConfig = Field(
        default_factory=ToolConfig,
        description="pytom-match-pick (pytom_match_template.py, pytom_extract_candidates.py).",
    )
    relion: ToolConfig = Field(
        default_factory=ToolConfig,
        description="RELION 5 (relion_tomo_subtomo, relion_tomo_reconstruct_particle).",
    )

    @field_validator("simulate")
    @classmethod
    def _known_tools(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, list):
            # (AreTomo and IMOD run in WarpTools' environment: simulated with it)
            kinds = (ToolConfig, WarpProgramConfig)
            known = [n for n, f in cls.model_fields.items() if f.annotation in kinds]
            unknown = [v for v in value if v not in known]
            if unknown:
                raise ValueError(f"unknown tool {unknown[0]!r} (tools: {', '.join(known)})")
        return value

    @field_validator("cryocare", "pytom", "relion")
    @classmethod
    def _programs_not_executables(cls, value: ToolConfig) -> ToolConfig:
        if value.executable:
            raise ValueError(
                "this tool has several programs: give the directory holding them as path "
                "(or a container image), not executable"
            )
        return value


class Resources(_Strict):
    """Compute resources of one job's tasks (SLURM or local)."""

    partition: str | None = Field(None, description="SLURM partition.")
    cpus: int | None = Field(None, ge=1, le=1024, description="CPUs per task.")
    mem_mb: int | None = Field(None, ge=1, description="Memory per task, MB.")
    runtime: int | None = Field(None, ge=1, description="Wall time per task, minutes.")
    gpus: int | None = Field(None, ge=0, le=64, description="GPUs per task.")
    constraint: str | None = Field(None, description="SLURM node constraint.")
    slurm_extra: str | None = Field(None, description="Extra sbatch flags, verbatim.")
    group_size: int | None = Field(
        None, ge=1, description="Tilt series per SLURM submission (batching)."
    )


class JobEntry(_Strict):
    """One job instance of the pipeline."""

    name: str = Field(description="Unique name; also the RELION alias of the job.")
    type: str = Field(description="Job type (importmovies, fsMotionAndCtf, ...).")
    params: dict[str, Any] = Field(default_factory=dict, description="Job parameters.")
    input: str | None = Field(
        None,
        description="Name of the job whose output this job reads (default: the nearest "
        "earlier job of a type it accepts).",
    )
    resources: Resources | None = Field(None, description="Resources for this instance only.")

    @field_validator("name")
    @classmethod
    def _relion_alias(cls, name: str) -> str:
        if len(name) < 2:
            raise ValueError("must have at least 2 characters")
        if name.startswith("job"):
            raise ValueError("must not start with 'job' (RELION reserves it)")
        bad = sorted(set(_ALIAS_FORBIDDEN.findall(name)))
        if bad:
            raise ValueError(f"must not contain {' '.join(repr(c) for c in bad)}")
        problem = star_problem(name, numbers=False)
        if problem:  # it becomes the alias External/<name>/ in default_pipeline.star
            raise ValueError(f"{problem}: not allowed in a job name (a RELION alias)")
        return name


class ProjectConfig(_Strict):
    """The whole project: `PROJECT/crboost.yaml`."""

    data: DataConfig
    microscope: MicroscopeConfig
    acquisition: AcquisitionConfig
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    resources: dict[str, Resources] = Field(
        default_factory=dict,
        description="'default', then per job type, then pipeline[].resources; 'node': the "
        "largest node (cpus, mem_mb, gpus) a batch of tasks may ask for.",
    )
    adopt: dict[str, str] = Field(
        default_factory=dict,
        description="Existing RELION jobs to take over: {instance name: 'External/job007/'}.",
    )
    pipeline: list[JobEntry] = Field(min_length=1, description="The jobs, in order.")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a dict; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    return data


def parse_config(
    data: dict[str, Any], source: str = CONFIG_NAME, schema: bool = True
) -> ProjectConfig:
    """Validate a config dict with the JSON schema and the pydantic models."""
    if schema:
        from .schema_check import validate_with_schema

        validate_with_schema(data, source)
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {format_validation_error(e, ProjectConfig)}") from None


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Apply a `--set a.b.c=value` override to a config dict."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {part} is not a section")
        node = child
    node[parts[-1]] = value
