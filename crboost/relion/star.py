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

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CrboostError

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
    """Write data blocks the way RELION 5's Python tomography programs do (via `starfile`).
    A missing value (NaN, NA, None, infinity, an empty string) is never written: StarError."""
    from starfile.writer import StarWriter

    for name, table in blocks.items():
        check_values(path, name, table)
    writer = StarWriter(blocks, float_format="%.6f", separator="\t")
    text = "\n".join([STARFILE_HEADER, "", "", *writer.data_block_generator()]) + "\n"
    atomic_write(path, text)


class StarError(CrboostError):
    """A STAR file would get a value no reader can take; nothing was written."""


def check_values(path: str | Path, block: str, table: pd.DataFrame | dict[str, Any]) -> None:
    """StarError naming file, block, column and row of the first missing or non-finite value."""
    import pandas as pd

    if isinstance(table, dict):
        rows = [(label, None, value) for label, value in table.items()]
    else:
        rows = []
        for column in table.columns:
            values = table[column]
            if pd.api.types.is_bool_dtype(values):
                continue
            numeric = pd.api.types.is_numeric_dtype(values)
            bad = ~np_isfinite(values) if numeric else values.map(_missing)
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                rows.append((column, row, values.iloc[row]))
    for label, row, value in rows:
        if row is not None or _missing(value):
            where = f" row {row + 1}" if row is not None else ""
            raise StarError(
                f"{path}: data_{block} {label}{where} would be {value!r}, not a value; "
                "nothing written"
            )


def np_isfinite(values: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return pd.Series(np.isfinite(numbers.to_numpy()), index=values.index)


#: strings that starfile reads back as NaN
_NAN_TEXTS = {"nan", "<na>"}


def _missing(value: Any, empty_ok: bool = False) -> bool:
    """NaN, NA, None, infinity or an empty string: what a STAR reader cannot take back."""
    if value is None:
        return True
    if isinstance(value, str):
        return (not value.strip() and not empty_ok) or value.strip().lower() in _NAN_TEXTS
    if isinstance(value, bool):
        return False
    try:
        import pandas as pd

        if pd.isna(value):
            return True
    except (TypeError, ValueError):
        return False
    return isinstance(value, float) and not math.isfinite(value)


def relion_block(name: str, table: pd.DataFrame | dict[str, Any]) -> str:
    """One block in RELION's C++ layout. A dict is a key/value block, a DataFrame a loop."""
    import pandas as pd

    head = f"\n{RELION_VERSION_LINE}\n\ndata_{name}\n\n"
    _check_relion_values(name, table)
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


def _check_relion_values(name: str, table: pd.DataFrame | dict[str, Any]) -> None:
    """RELION's layout writes empty strings as "" (RELION does); anything else missing stops."""
    items = table.items() if isinstance(table, dict) else table.to_dict("list").items()
    for label, values in items:
        for row, value in enumerate(values if isinstance(values, list) else [values]):
            if _missing(value, empty_ok=True):
                where = f" row {row + 1}" if isinstance(values, list) else ""
                raise StarError(f"data_{name} {label}{where} would be {value!r}, not a value")


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
