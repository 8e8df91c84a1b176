"""Checking a config against the JSON schema with Snakemake's validate; errors as one line."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .validation import text_for_number

SCHEMA_PATH = Path("workflow") / "schemas" / "config.schema.yaml"


def schema_file() -> Path:
    from ..resources import resource_path

    return resource_path(SCHEMA_PATH)


def validate_with_schema(data: dict[str, Any], source: str) -> None:
    """Validate with snakemake.utils.validate; its error becomes one line naming the key."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(copy.deepcopy(data), str(schema_file()), set_default=False)
    except WorkflowError as e:
        # snakemake raises WorkflowError while handling jsonschema's ValidationError
        cause = e.__context__
        if not isinstance(cause, jsonschema.exceptions.ValidationError):
            raise ConfigError(f"{source}: {e}") from None
        raise ConfigError(f"{source}: {describe(cause, data)}") from None


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
