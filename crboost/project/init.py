"""`crboost init`: a new project's crboost.yaml from the data, with inferred acquisition values.

Nothing is written unless the whole config is valid.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..acquisition.inference import Inferred, infer
from ..acquisition.manifest import Manifest, load_manifest
from ..acquisition.mdoc_values import setting_values
from ..acquisition.sanity import DOSE_PER_TILT, checked
from ..errors import ConfigError
from ..jobs import DEFAULT_PIPELINE, PARTICLE_PIPELINE
from ..relion.pipeline import PIPELINE_FILE, Pipeline, read_pipeline
from .adopt import mark_done, plan_adoption
from .config import CONFIG_NAME, DataConfig, parse_config, set_dotted
from .configfile import render_config
from .load import build_jobs, load_project
from .location import check_path, record_root

#: Config keys filled from the mdocs, and the inferred attribute each comes from.
INFERRED_KEYS = {
    "microscope.pixel_size": "pixel_size",
    "microscope.voltage": "voltage",
    "acquisition.dose_per_tilt": "dose_per_tilt",
    "acquisition.tilt_axis": "tilt_axis",
    "acquisition.detector_size": "detector_size",
    "acquisition.eer_ngroups": "eer_ngroups",
    "acquisition.acquisition_software": "acquisition_software",
}


@dataclass
class InitResult:
    config_path: Path
    manifest: Manifest
    inferred: Inferred
    adopted: dict[str, str] = field(default_factory=dict)
    adopted_done: list[str] = field(default_factory=list)
    #: mdoc values present but not usable, and the project's values that replace them
    unusable: list[str] = field(default_factory=list)


def parse_set(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings -> {key: YAML-parsed value}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: value is not valid YAML") from None
    return out


def portable_glob(pattern: str, root: Path, cwd: Path) -> str:
    """Globs are stored relative to the project when inside it (the project can move)."""
    absolute = pattern if os.path.isabs(pattern) else os.path.normpath(os.path.join(cwd, pattern))
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:
        return absolute
    return absolute if rel.startswith("..") else rel


def initial_config(
    movies: str, mdocs: str, gain: str | None, template: str | None = None, mask: str | None = None
) -> dict[str, Any]:
    """The default pipeline; with a template and mask, on to candidates and an average."""
    pipeline = [{"name": name, "type": type_name} for name, type_name in DEFAULT_PIPELINE]
    if template is not None:
        for name, type_name in PARTICLE_PIPELINE:
            entry: dict[str, Any] = {"name": name, "type": type_name}
            if type_name == "templatematching":
                entry["params"] = {"template": template, "mask": mask}
            pipeline.append(entry)
    return {
        "data": {"movies": movies, "mdocs": mdocs, "gain_reference": gain},
        "microscope": {},
        "acquisition": {},
        "pipeline": pipeline,
    }


def init_project(
    project: str | Path,
    movies: str,
    mdocs: str,
    gain: str | None = None,
    sets: dict[str, Any] | None = None,
    force: bool = False,
    cwd: str | Path | None = None,
    template: str | None = None,
    mask: str | None = None,
) -> InitResult:
    root = Path(project).resolve()
    cwd = Path(cwd or os.getcwd()).resolve()
    config_path = root / CONFIG_NAME
    if config_path.exists() and not force:
        raise ConfigError(f"{config_path}: exists already (use --force to replace it)")
    if gain is not None:
        gain_path = Path(gain) if os.path.isabs(gain) else cwd / gain
        if not gain_path.is_file():
            raise ConfigError(f"--gain {gain}: no such file")
        gain = portable_glob(str(gain_path), root, cwd)
    if (template is None) != (mask is None):
        raise ConfigError("--template and --mask: give both (pytom matches with a mask) or neither")
    inputs = {}
    for key, value in (("template", template), ("mask", mask)):
        if value is not None:
            path = Path(value) if os.path.isabs(value) else cwd / value
            if not path.is_file():
                raise ConfigError(f"--{key} {value}: no such file")
            inputs[key] = portable_glob(str(path), root, cwd)
    data = initial_config(portable_glob(movies, root, cwd), portable_glob(mdocs, root, cwd), gain,
                          inputs.get("template"), inputs.get("mask"))  # fmt: skip
    sets = sets or {}
    for key, value in sets.items():
        _apply_set(data, key, value)

    try:
        data_cfg = DataConfig(**data["data"])
    except Exception as e:
        raise ConfigError(f"data: {e}") from None
    manifest = load_manifest(root, data_cfg, reuse=False)
    check_path(root, manifest.names)
    if not manifest.tilt_series:
        reasons = "; ".join(f"{k}: {v}" for k, v in manifest.skipped.items())
        raise ConfigError(f"data.mdocs = {data_cfg.mdocs!r}: no usable tilt series ({reasons})")
    dose = sets.get("acquisition.dose_per_tilt")
    if dose is not None:
        dose = checked(DOSE_PER_TILT, dose, "--set acquisition.dose_per_tilt")
    inferred = infer(list(manifest.parsed.values()), dose_override=dose)

    notes = {}
    missing = []
    for key, attr in INFERRED_KEYS.items():
        if key in sets:
            notes[key] = "given"
            continue
        value = getattr(inferred, attr)
        if value is None and key == "acquisition.eer_ngroups":
            continue
        if value is None:
            missing.append(key)
            continue
        set_dotted(data, key, list(value) if isinstance(value, tuple) else value)
        notes[key] = f"inferred: {inferred.sources.get(attr, 'mdocs')}"

    if missing:
        raise ConfigError(
            f"{', '.join(missing)}: not found in the mdocs{_unusable_in(manifest, missing)}; give "
            + ("it" if len(missing) == 1 else "them")
            + " with "
            + " ".join(f"--set {k}=VALUE" for k in missing)
        )
    pipeline_file = root / PIPELINE_FILE
    existing = read_pipeline(pipeline_file) if pipeline_file.exists() else Pipeline.empty()
    explicit = dict(data.get("adopt") or {})
    adopted = (
        plan_adoption(root, data["pipeline"], existing, explicit) if pipeline_file.exists() else {}
    )
    if adopted or explicit:
        data["adopt"] = {**explicit, **adopted}
    config = parse_config(copy.deepcopy(data), CONFIG_NAME)
    unusable = manifest.unusable_lines(setting_values(config))
    jobs, counter = build_jobs(config, existing)
    if template is not None:
        _check_particle_jobs(root, config, jobs, counter, manifest)
    text = render_config(data, notes)
    parse_config(yaml.safe_load(text), CONFIG_NAME)  # what is written must read back

    root.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text)
    manifest.write(root)
    record_root(root)
    done = mark_done(load_project(config_path)) if data.get("adopt") else []
    return InitResult(config_path, manifest, inferred, data.get("adopt", {}), done, unusable)


def _unusable_in(manifest: Manifest, keys: list[str]) -> str:
    """` (FILE: PixelSpacing = NaN in the header: not a number)`: why the mdocs do not give a
    missing value, when they hold one that is not usable."""
    from ..acquisition.mdoc_values import Unusable

    found = [
        (manifest.tilt_series[name]["mdoc"], Unusable.from_dict(note))
        for name, notes in sorted(manifest.unusable.items())
        for note in notes
        if note.get("setting") in keys
    ]
    if not found:
        return ""
    mdoc, note = found[0]
    more = len({m for m, _ in found}) - 1
    return f" ({mdoc}: {note.head()}" + (f"; and in {more} more mdocs)" if more else ")")


def _check_particle_jobs(root: Path, config, jobs, counter: int, manifest: Manifest) -> None:
    """The template and mask against the tomograms the pipeline will make, and the rest of
    what a run would refuse at its start (running/jobpreflight.py), before anything is written."""
    from ..running.jobpreflight import problems_of
    from .load import Project

    project = Project(root, root / CONFIG_NAME, config, jobs, manifest, counter)
    problems = [p for job in jobs for p in problems_of(project, job)]
    if problems:
        raise ConfigError(problems[0])


def _apply_set(data: dict[str, Any], key: str, value: Any) -> None:
    """--set KEY=VALUE; `pipeline.<job name>.<key>` addresses a pipeline job by name."""
    if key.startswith("pipeline."):
        _, name, *rest = key.split(".")
        entry = next((e for e in data["pipeline"] if e["name"] == name), None)
        if entry is None or not rest:
            raise ConfigError(f"--set {key}: no pipeline job named {name!r}")
        set_dotted(entry, ".".join(rest), value)
        return
    set_dotted(data, key, value)
