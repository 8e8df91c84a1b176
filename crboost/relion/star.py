"""Writing STAR files.

Two layouts:
- tomography metadata (tilt_series.star, tilt_series/<ts>.star, tomograms.star ...) is written with
  `starfile`, as RELION 5's Python programs do, but with a header line without a time stamp so
  that rewriting identical data gives an identical file (Snakemake then sees no change);
- pipeline files (default_pipeline.star, job.star, RELION_OUTPUT_NODES.star) are written in the
  layout of RELION's C++ MetaDataTable::write, which `starfile` cannot produce: `# version 50001`
  before every block, `loop_ ` and labels with a trailing space, values padded as RELION pads them,
  each table closed by a line holding one space.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

RELION_VERSION_LINE = "# version 50001"
#: Columns RELION writes as integers (right-aligned in 12 characters).
INT_COLUMNS = {
    "rlnPipeLineNodeTypeLabelDepth",
    "rlnPipeLineProcessType",
    "rlnPipeLineProcessStatus",
    "rlnPipeLineNodeType",
}
STARFILE_HEADER = "# Created by crboost with the starfile Python package"


def write_star(path: str | Path, blocks: dict[str, pd.DataFrame | dict[str, Any]]) -> None:
    """Write data blocks the way RELION 5's Python tomography programs do (via `starfile`)."""
    from starfile.writer import StarWriter

    writer = StarWriter(blocks, float_format="%.6f", separator="\t")
    text = "\n".join([STARFILE_HEADER, "", "", *writer.data_block_generator()]) + "\n"
    atomic_write(path, text)


def relion_block(name: str, table: pd.DataFrame | dict[str, Any]) -> str:
    """One block in RELION's C++ layout. A dict is a key/value block, a DataFrame a loop."""
    import pandas as pd

    head = f"\n{RELION_VERSION_LINE}\n\ndata_{name}\n\n"
    if isinstance(table, dict):
        width = max((len(label) for label in table), default=0) + 11
        body = [
            f"_{label:<{width}} {_pad(value, 10 if isinstance(value, str) else 12)}"
            for label, value in table.items()
        ]
    else:
        body = ["loop_ "]
        body += [f"_{label} #{i} " for i, label in enumerate(table.columns, 1)]
        widths = [
            12 if c in INT_COLUMNS or not pd.api.types.is_string_dtype(table[c]) else 10
            for c in table.columns
        ]
        for row in table.itertuples(index=False):
            body.append("".join(_pad(v, w) + " " for v, w in zip(row, widths, strict=True)))
    return head + "\n".join(body) + "\n \n"


def relion_text(blocks: dict[str, pd.DataFrame | dict[str, Any]]) -> str:
    """A whole file in RELION's layout; empty tables are omitted, as RELION does."""
    parts = [
        relion_block(name, table)
        for name, table in blocks.items()
        if isinstance(table, dict) or len(table)
    ]
    return "".join(parts)


def _pad(value: Any, width: int) -> str:
    text = format_value(value)
    return text.rjust(width) if len(text) < width else text


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else "nan"
    text = str(value)
    if text == "":
        return '""'
    if any(c.isspace() for c in text) and not (text.startswith('"') and text.endswith('"')):
        return f'"{text}"'
    return text


def atomic_write(path: str | Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
