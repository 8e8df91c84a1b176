"""mdoc DateTime values: read with their 2-digit-year ambiguity, written in one unambiguous form."""

from __future__ import annotations

import re
from datetime import datetime

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DATE = re.compile(r"^\s*(\d{1,4})-([A-Za-z]{3})-(\d{1,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def parse_mdoc_datetime(text: str, software: str) -> datetime:
    """Parse an mdoc DateTime. 2-digit years are ambiguous: SerialEM writes dd-MMM-yy, Tomo5 yy-MMM-dd."""
    m = _DATE.match(text)
    if not m:
        raise ValueError(f"unrecognised DateTime {text!r}")
    a, mon, b, hh, mm, ss = m.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        raise ValueError(f"unrecognised month in DateTime {text!r}")
    if len(a) == 4:
        year, day = int(a), int(b)
    elif len(b) == 4:
        year, day = int(b), int(a)
    elif software == "Tomo5":
        year, day = 2000 + int(a), int(b)
    else:
        year, day = 2000 + int(b), int(a)
    return datetime(year, month, day, int(hh), int(mm), int(ss or 0))


def format_mdoc_datetime(when: datetime) -> str:
    """dd-MMM-yyyy  HH:MM:SS with English month names, whatever the locale."""
    month = list(_MONTHS)[when.month - 1].capitalize()
    return f"{when.day:02d}-{month}-{when.year:04d}  {when:%H:%M:%S}"
