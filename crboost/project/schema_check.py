"""Checking a config against the JSON schema; errors as one line.

The check is what `snakemake.utils.validate(data, schema, set_default=False)` does (a draft
2020-12 validator, no format assertions) without Snakemake's pure-Python YAML reader: the
schema is read with libyaml, once per process. Every parse of the workflow checks the config,
also in each cluster job, and reading the schema the Snakemake way cost 0.15 s of it.

A cluster job re-parses the workflow with the config its run started with, which the main
process checked just before: when a real run starts (hooks.on_start), the digest of that config
and of the schema is kept in `.crboost/schema_checked.json`, and a later load with remote=True
(a cluster job, set-up, status) skips the check for a config and schema of that digest only
(importing and running the validator was a twentieth of each cluster job's parse). An edited
crboost.yaml, --config values or another crboost version give another digest: checked again.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .validation import text_for_number

SCHEMA_PATH = Path("workflow") / "schemas" / "config.schema.yaml"


def schema_file() -> Path:
    from ..resources import resource_path

    return resource_path(SCHEMA_PATH)


@cache
def _validator():
    import jsonschema

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schema = yaml.load(schema_file().read_text(), Loader=loader)
    return jsonschema.Draft202012Validator(schema)


def validate_with_schema(data: dict[str, Any], source: str) -> None:
    """Validate against the schema; the first error becomes one line naming the key."""
    import jsonschema

    try:
        _validator().validate(data)
    except jsonschema.exceptions.ValidationError as e:
        raise ConfigError(f"{source}: {describe(e, data)}") from None


CHECKED_PATH = ".crboost/schema_checked.json"


def schema_digest(data: dict[str, Any]) -> str:
    """What decides the check: the config's values (with their types) and the schema."""
    digest = hashlib.sha256(schema_file().read_bytes())
    digest.update(_canonical(data).encode())
    return digest.hexdigest()


def _canonical(value: Any) -> str:
    """Text of a config value independent of key order; 1, 1.0, True and '1' all differ."""
    if isinstance(value, dict):
        items = sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[" + ",".join(_canonical(v) for v in value) + "]"
    return repr(value)


def checked_before(root: str | Path, digest: str) -> bool:
    """The config and schema of this digest passed the check when the current run started."""
    try:
        return json.loads((Path(root) / CHECKED_PATH).read_text()).get("digest") == digest
    except (OSError, ValueError, AttributeError):
        return False


def record_checked(root: str | Path, digest: str) -> None:
    from ..relion.star import write_if_changed

    path = Path(root) / CHECKED_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(path, json.dumps({"digest": digest}) + "\n")


def describe(error, data: Any = None) -> str:
    """A jsonschema error as `key = value: what is allowed`."""
    while error.context:
        # in "anyOf: [X, null]" the useful complaint is the one about X
        useful = [e for e in error.context if e.schema.get("type") != "null"]
        error = useful[0] if useful else error.context[0]
    path = list(error.absolute_path)
    key = _dotted(path) or "(top level)"
    where = f"{key}." if path else ""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))[0]
        synced = _synced_key(data, path, extra)
        if synced:
            return f"{where}{extra}: set globally as {synced}, not per job; remove it here"
        return f"{where}{extra}: unknown key (allowed: {', '.join(allowed)})"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{where}{missing}: required key is missing"
    value = error.instance
    shown = repr(value) if not isinstance(value, (dict, list)) else f"{type(value).__name__}"
    return f"{key} = {shown}: {_allowed(error)}{_meaning(error.schema)}"


def _meaning(schema: Any) -> str:
    """` (what the key is, with its unit)` for a number out of range."""
    described = isinstance(schema, dict) and schema.get("type") in ("number", "integer")
    text = schema.get("description", "") if described else ""
    return f" ({text.rstrip('.')})" if text else ""


def _allowed(error) -> str:
    v, arg = error.validator, error.validator_value
    words = {
        "exclusiveMinimum": f"must be > {arg}",
        "minimum": f"must be >= {arg}",
        "exclusiveMaximum": f"must be < {arg}",
        "maximum": f"must be <= {arg}",
        "minItems": f"must have at least {arg} item(s)",
        "maxItems": f"must have at most {arg} item(s)",
        "pattern": f"must match {arg}",
    }
    if v in words:
        return words[v]
    if v in ("enum", "const"):
        options = arg if isinstance(arg, list) else [arg]
        return "must be one of: " + ", ".join(str(o) for o in options)
    if v == "type":
        text = _number_as_text(error.instance, arg)
        if "number" in str(arg) or "integer" in str(arg):
            text = text or text_for_number(error.instance)
        return f"must be of type {arg}{text}"
    return error.message


def _number_as_text(value: Any, wanted: Any) -> str:
    """YAML 1.1 reads `1e12` (no dot) as text: say how to write it as a number."""
    if not isinstance(value, str) or "number" not in str(wanted):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    return f" (YAML reads {value} as text; write {number!r})" if math.isfinite(number) else ""


def _synced_key(data: Any, path: list[Any], key: str) -> str | None:
    """For `pipeline[i].params.<key>`: the global config key the job type syncs it from."""
    from ..jobs import JOB_TYPES

    if len(path) != 3 or path[0] != "pipeline" or path[2] != "params":
        return None
    try:
        cls = JOB_TYPES[data["pipeline"][path[1]]["type"]]
    except (KeyError, IndexError, TypeError):
        return None
    return cls.synced.get(key)


def _dotted(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
