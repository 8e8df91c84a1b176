"""default_pipeline.star values must read back as written, or crboost loses track of a job.

STAR readers change some values: starfile turns a `'` inside a value into `"`, a value starting
with `_` is taken for a label, one starting with `data_` for a new block. crboost's own names are
checked before they get here (acquisition/names.py); these are the last guards: a file RELION wrote
with such a value is refused when read, and a pipeline that would not read back is not written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CrboostError

if TYPE_CHECKING:
    import pandas as pd


def refuse_changed_quotes(path: Path, raw: str, data: dict) -> None:
    """starfile reads `'` inside a value as `"`; writing such a value back would rename a
    process (its alias, a node) and crboost would lose track of it: refuse instead."""
    for block, table in data.items():
        if not hasattr(table, "columns"):
            continue
        for column in table.columns:
            for value in table[column].astype(str):
                if '"' in value and value not in raw and value.replace('"', "'") in raw:
                    original = value.replace('"', "'")
                    raise CrboostError(
                        f"{path}: data_{block} {column} {original!r} holds a single quote, which "
                        "STAR readers change into a double quote; rename it in RELION first"
                    )


def risky_values(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether any value is one that STAR readers may change (then the file is read back)."""
    from ..acquisition.names import star_problem

    for table in tables.values():
        for column in table.columns:
            for value in table[column]:
                text = str(value)
                if text and text != '""' and star_problem(text, numbers=False):
                    return True
    return False


def check_reads_back(target: Path, text: str, tables: dict[str, pd.DataFrame], read) -> None:
    """CrboostError unless `text`, read with `read(path)` (which gives tables), gives `tables`."""
    probe = target.with_name(f".{target.name}.check{os.getpid()}")
    try:
        probe.write_text(text)
        again = read(probe)
    except CrboostError as e:
        reason = str(e).removeprefix(f"{probe}: ")
        raise CrboostError(f"{target}: not written: {reason}") from None
    finally:
        probe.unlink(missing_ok=True)
    for block, table in tables.items():
        before = table.astype(str).to_dict("records")
        after = again[block].astype(str).to_dict("records")
        if before != after:
            changed = next(
                (a, b) for a, b in zip(before, after, strict=False) if a != b
            ) if len(before) == len(after) else (len(before), len(after))  # fmt: skip
            raise CrboostError(
                f"{target}: data_{block} would not read back as written "
                f"({changed[0]} -> {changed[1]}); not written"
            )
