"""pydantic validation errors as one line: `key = value: problem`, or the allowed keys."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError


def format_validation_error(
    error: ValidationError, model: type[BaseModel], prefix: str = ""
) -> str:
    """First pydantic error of validating `model` as `key = value: problem`."""
    err = error.errors()[0]
    loc = list(err.get("loc", ()))
    key = dotted_key([*([prefix] if prefix else []), *loc])
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = f" (allowed: {', '.join(parent)})" if parent else ""
        return f"{key}: unknown key{allowed}"
    if kind == "missing":
        return f"{key}: required key is missing"
    msg = err.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    if isinstance(err.get("input"), dict):  # a check across fields: its message names them
        return f"{key}: {msg}"
    if kind == "finite_number":
        msg = "must be a finite number"
    if kind in _PARSING_ERRORS:
        msg = _PARSING_ERRORS[kind] + text_for_number(err.get("input"))
    if kind in _NUMBER_ERRORS or kind in _PARSING_ERRORS:
        meaning = _field_description(model, loc)
        msg += f" ({meaning.rstrip('.')})" if meaning else ""
    return f"{key} = {err.get('input')!r}: {msg}"


#: pydantic error types of a number out of range or not finite (their messages lack the unit)
_NUMBER_ERRORS = {
    "finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal",
}  # fmt: skip
#: pydantic error types of text or nothing where a number belongs, and what to say
_PARSING_ERRORS = {
    "float_parsing": "must be a number", "float_type": "must be a number",
    "int_parsing": "must be a whole number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
}  # fmt: skip
_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s.,+-].*)$")


def text_for_number(value: Any) -> str:
    """`, not empty text` or `, without a unit: write 2.7` for text where a number belongs (the
    unit is the key's, given in its description); '' otherwise."""
    if not isinstance(value, str):
        return ""
    if not value.strip():
        return ", not empty text"
    m = _WITH_UNIT.match(value)
    if m:
        return f", without a unit: write {m.group(1)}"
    return ""


def _field_description(model: Any, loc: list[Any]) -> str:
    """The description (with the unit) of the field at `loc`, if the models have one."""
    names = [part for part in loc if not isinstance(part, int)]
    if not names:
        return ""
    for part in names[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is not None:  # else a key of a dict of models (resources.<name>)
            model = _inner_model(field.annotation)
    field = getattr(model, "model_fields", {}).get(names[-1])
    return (field.description or "") if field is not None else ""


def dotted_key(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(model: Any, loc: list[Any]) -> list[str]:
    """Field names allowed at a location inside a model (for 'unknown key' messages)."""
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _inner_model(field.annotation)
    fields = getattr(model, "model_fields", None)
    return sorted(fields) if fields else []


def _inner_model(annotation: Any) -> Any:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        for inner in getattr(candidate, "__args__", ()):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None
