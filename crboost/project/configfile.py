"""Writing `crboost.yaml` with a comment on every key, taken from the models' descriptions.

`config/config.yaml` (the template in the repository) is this rendering of the demo's values, and
the key reference in `config/README.md` comes from the same descriptions; tests keep both current.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from ..jobs import DEFAULT_PIPELINE, JOB_TYPES
from .config import ProjectConfig

HEADER = """\
# crboost project configuration: one file per project, PROJECT/crboost.yaml.
# Every key is explained in config/README.md of the crboost repository.
# Values marked "inferred" were read from the mdocs by `crboost init`: check them.
# Relative paths are relative to this project directory.
"""

SECTION_NOTES = {
    "resources": "Compute resources: 'default', then per job type, then pipeline[].resources.",
    "adopt": "Jobs of an existing RELION project to take over: {job name: External/job007/}.",
    "pipeline": "The jobs, in order; several of one type are fine. A job reads the output of "
    "the\n# nearest earlier job of a type it accepts, or of the job named by input:.",
}


def render_config(data: dict[str, Any], notes: dict[str, str] | None = None) -> str:
    """A commented crboost.yaml for a valid config dict; notes: {dotted key: inline comment}."""
    notes = notes or {}
    full = ProjectConfig.model_validate(data).model_dump(mode="json")
    out = [HEADER.rstrip("\n")]
    for section, field in ProjectConfig.model_fields.items():
        value = full[section]
        out.append("")
        if section in SECTION_NOTES:
            out.append(f"# {SECTION_NOTES[section]}")
        if section == "pipeline":
            out.append("pipeline:")
            out.extend(_pipeline_lines(data.get("pipeline", [])))
            continue
        model = _model_of(field.annotation)
        if model is None:
            out.append(f"{section}: {_flow(value)}")
            continue
        out.append(f"{section}:")
        for key, sub in model.model_fields.items():
            if sub.description:
                out.append(f"  # {sub.description}")
            note = notes.get(f"{section}.{key}")
            out.append(f"  {key}: {_flow(value[key])}" + (f"  # {note}" if note else ""))
    return "\n".join(out) + "\n"


def _pipeline_lines(entries: list[dict[str, Any]]) -> list[str]:
    lines = []
    for entry in entries:
        cls = JOB_TYPES[entry["type"]]
        lines.append(f"  - name: {entry['name']}")
        lines.append(f"    type: {entry['type']}")
        if entry.get("input"):
            lines.append(f"    input: {entry['input']}")
        given = entry.get("params") or {}
        lines.append("    params:" + ("" if given else " {}"))
        for name in cls.user_fields():
            field = cls.model_fields[name]
            if name in given:
                lines.append(f"      {name}: {_flow(given[name])}")
            else:
                default = field.get_default(call_default_factory=True)
                text = f"{name}: {_flow(default)}"
                lines.append(f"      # {text:<38} # {field.description or ''}".rstrip())
        if entry.get("resources"):
            lines.append(f"    resources: {_flow(entry['resources'])}")
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True)
    elif isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("\n...")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def key_reference() -> str:
    """Markdown table of every config key with its description (for config/README.md)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for section, field in ProjectConfig.model_fields.items():
        model = _model_of(field.annotation)
        if model is None:
            rows.append(f"| `{section}` | | {field.description or ''} |")
            continue
        for key, sub in model.model_fields.items():
            default = (
                "required"
                if sub.is_required()
                else f"`{_flow(sub.get_default(call_default_factory=True))}`"
            )
            rows.append(f"| `{section}.{key}` | {default} | {_meaning(sub)} |")
    rows.append("")
    rows.append("Job parameters (`pipeline[].params`), per job type:")
    rows.append("")
    rows.append("| job type | key | default | meaning |")
    rows.append("|---|---|---|---|")
    for type_name, cls in JOB_TYPES.items():
        for key in cls.user_fields():
            sub = cls.model_fields[key]
            default = (
                "required"
                if sub.is_required()
                else f"`{_flow(sub.get_default(call_default_factory=True))}`"
            )
            rows.append(f"| {type_name} | `{key}` | {default} | {_meaning(sub)} |")
        synced = ", ".join(f"`{k}` ← `{v}`" for k, v in cls.synced.items())
        if synced:
            rows.append(f"| {type_name} | (from the globals) | | {synced} |")
    return "\n".join(rows) + "\n"


def _meaning(field) -> str:
    """The description, with the allowed range of a number."""
    words = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    limits = [
        f"{words[name]} {getattr(item, name):g}"
        for item in field.metadata
        for name in words
        if getattr(item, name, None) is not None
    ]
    text = field.description or ""
    return f"{text} Allowed: {' and '.join(limits)}." if limits else text


#: The values of the template config/config.yaml: a typical EER dataset.
EXAMPLE: dict[str, Any] = {
    "data": {
        "movies": "/data/session1/frames/*.eer",
        "mdocs": "/data/session1/mdoc/*.mdoc",
        "gain_reference": "/data/session1/gain.gain",
    },
    "microscope": {"pixel_size": 2.95, "voltage": 300.0},
    "acquisition": {
        "dose_per_tilt": 3.0,
        "tilt_axis": 84.23,
        "detector_size": [4096, 4096],
        "eer_ngroups": 10,
        "acquisition_software": "Tomo5",
    },
    "resources": {"default": {"cpus": 2, "mem_mb": 8000, "runtime": 60}},
    "pipeline": [{"name": name, "type": type_name} for name, type_name in DEFAULT_PIPELINE],
}
EXAMPLE_NOTES = {
    "microscope.pixel_size": "inferred: mdoc PixelSpacing/Binning",
    "acquisition.tilt_axis": "inferred: Tomo5 title TiltAxisAngle (-value - 90)",
}
KEYS_BEGIN = "<!-- keys: generated by python -m crboost.project.configfile -->"
KEYS_END = "<!-- /keys -->"


def regenerate(repo) -> None:
    """Rewrite config/config.yaml and the key table of config/README.md."""
    from pathlib import Path

    repo = Path(repo)
    (repo / "config" / "config.yaml").write_text(render_config(EXAMPLE, EXAMPLE_NOTES))
    readme = repo / "config" / "README.md"
    text = readme.read_text()
    start, end = text.index(KEYS_BEGIN) + len(KEYS_BEGIN), text.index(KEYS_END)
    readme.write_text(text[:start] + "\n\n" + key_reference() + "\n" + text[end:])


if __name__ == "__main__":
    from ..resources import repo_root

    regenerate(repo_root())
