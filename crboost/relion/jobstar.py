"""job.star files: rendered from the job type's template in `config/jobs/<type>.star`.

A template is a RELION job.star whose option values may hold `{placeholders}`: names of the job's
params fields, or of the extra values the caller passes (paths, the driver command, ...).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from ..errors import CrboostError
from .star import atomic_write, format_value, relion_text


def read_job_star(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(data_job key/values, {option: value}) of a job.star, values as written."""
    import pandas as pd
    import starfile

    try:
        blocks = starfile.read(
            path, always_dict=True, parse_as_string=["rlnJobOptionVariable", "rlnJobOptionValue"]
        )
    except Exception as e:  # starfile raises many kinds on malformed input
        raise CrboostError(f"{path}: cannot read job.star: {e}") from None
    job = blocks.get("job", {})
    options = blocks.get("joboptions_values")
    values: dict[str, str] = {}
    if isinstance(options, pd.DataFrame):
        for var, val in zip(
            options["rlnJobOptionVariable"], options["rlnJobOptionValue"], strict=True
        ):
            values[str(var)] = str(val)
    elif isinstance(options, dict):
        values[str(options["rlnJobOptionVariable"])] = str(options["rlnJobOptionValue"])
    return dict(job), values


def render_job_star(template: str | Path, values: dict[str, Any]) -> str:
    """Fill a job.star template; options are written sorted by name, as RELION does."""
    import pandas as pd

    job, options = read_job_star(template)
    filled = {}
    for option, raw in options.items():
        value: Any = raw.strip('"') if raw == '""' else raw
        fields = [f for _, f, _, _ in string.Formatter().parse(raw) if f]
        if fields:
            missing = [f for f in fields if f not in values]
            if missing:
                raise CrboostError(f"{template}: option {option}: no value for {{{missing[0]}}}")
            if raw == "{" + fields[0] + "}":
                value = values[fields[0]]
            else:
                value = raw.format(**{f: format_value(values[f]) for f in fields})
        filled[option] = value if value != '""' else ""
    table = pd.DataFrame(
        {
            "rlnJobOptionVariable": sorted(filled),
            "rlnJobOptionValue": [format_value(filled[k]) for k in sorted(filled)],
        }
    )
    data_job = {
        "rlnJobTypeLabel": job.get("rlnJobTypeLabel", "relion.external"),
        "rlnJobIsContinue": int(job.get("rlnJobIsContinue", 0)),
        "rlnJobIsTomo": int(job.get("rlnJobIsTomo", 0)),
    }
    return relion_text({"job": data_job, "joboptions_values": table})


def write_job_star(path: str | Path, template: str | Path, values: dict[str, Any]) -> None:
    atomic_write(path, render_job_star(template, values))


def write_output_nodes(path: str | Path, nodes: list[tuple[str, str]]) -> None:
    """RELION_OUTPUT_NODES.star: the files a job made and their RELION 5 node type labels."""
    import pandas as pd

    table = pd.DataFrame(
        {
            "rlnPipeLineNodeName": [n for n, _ in nodes],
            "rlnPipeLineNodeTypeLabel": [label for _, label in nodes],
        }
    )
    atomic_write(path, relion_text({"output_nodes": table}))
