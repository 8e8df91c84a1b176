"""The config JSON schema, generated from the pydantic models (checked by schema_check.py).

Regenerate after changing a model:
    python -m crboost.project.schema > workflow/schemas/config.schema.yaml
(a test fails while the committed file differs from what the models give).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml


def generate_schema() -> dict[str, Any]:
    from ..jobs import JOB_TYPES
    from .config import ProjectConfig

    schema = ProjectConfig.model_json_schema()
    defs = schema.setdefault("$defs", {})
    rules = []
    for name, cls in JOB_TYPES.items():
        params = copy.deepcopy(cls.model_json_schema())
        for key in cls.synced:
            params.get("properties", {}).pop(key, None)
            if key in params.get("required", []):
                params["required"].remove(key)
        if not params.get("required"):
            params.pop("required", None)
        params["additionalProperties"] = False
        params["title"] = f"{name} params"
        defs.update(params.pop("$defs", {}))
        defs[f"{cls.__name__}User"] = params
        rules.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": {"params": {"$ref": f"#/$defs/{cls.__name__}User"}}},
            }
        )
    entry = defs["JobEntry"]
    entry["properties"]["type"]["enum"] = list(JOB_TYPES)
    entry["allOf"] = rules
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    header = (
        "# GENERATED from the pydantic models in crboost/ by `python -m crboost.project.schema`.\n"
        "# Do not edit by hand; tests/test_config.py checks it is current.\n"
    )
    return header + yaml.safe_dump(generate_schema(), sort_keys=False, width=100)


if __name__ == "__main__":
    print(schema_text(), end="")
