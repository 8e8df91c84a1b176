"""Names that become STAR values: tilt-series names, job names, optics group names.

A tilt-series name is a data block name (`data_<name>`), the first value of a row
(`rlnTomoName`), a file name and a command-line argument; a job name becomes a RELION alias
(`External/<name>/`) in default_pipeline.star. STAR readers take a row starting with `_` for a
column label, `#` for a comment, `;` for a text field and `$` for a save-frame reference; a value
starting with `data_`, `loop_`, `save_`, `stop_` or `global_` (any case) for a keyword; a quote
for a quoted value (starfile even turns `'` into `"` inside values). pandas-based readers
(starfile) turn values that look like numbers or NaN (`01`, `1e5`, `nan`) into numbers, so such a
tilt-series name would no longer match its files.

Tilt-series names are made safe (with a message saying so); job names are refused when unsafe
(they are the user's choice in crboost.yaml, and renaming one silently would lose its job).
"""

from __future__ import annotations

import re

#: Characters of a tilt-series name; everything else becomes `_`.
SAFE_CHARACTERS = "A-Za-z0-9_+-"
_UNSAFE_CHARACTER = re.compile(f"[^{SAFE_CHARACTERS}]")
STAR_KEYWORDS = ("data_", "loop_", "save_", "stop_", "global_")
#: What may not start a STAR value: column label, comment, text field, save frame, quotes;
#: `-` starts a command-line option.
BAD_FIRST = "_-#;$'\""
#: Values pandas-based STAR readers (starfile) read as missing.
NA_WORDS = {"nan", "na", "n/a", "null", "none", "inf", "-inf", "+inf", "infinity", "<na>"}
#: Prefix given to a tilt-series name that would read as a number, NaN or a STAR keyword.
SAFE_PREFIX = "TS_"


def star_problem(name: str, numbers: bool = True) -> str | None:
    """Why `name` cannot be a STAR value as is, or None. numbers: also refuse what reads as a
    number or NaN (for values that stand alone; a job name is always inside its alias)."""
    if not name:
        return "is empty"
    if any(c.isspace() for c in name):
        return "contains whitespace"
    quote = next((c for c in name if c in "'\""), None)
    if quote:
        return f"contains a quote ({quote})"
    if name[0] in BAD_FIRST:
        return f"starts with {name[0]!r}"
    keyword = next((k for k in STAR_KEYWORDS if name.lower().startswith(k)), None)
    if keyword:
        return f"starts with the STAR keyword {keyword!r}"
    if numbers and looks_like_number(name):
        return "reads as a number (or NaN) in STAR readers"
    return None


def looks_like_number(text: str) -> bool:
    if text.lower() in NA_WORDS:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_tilt_series_name(raw: str) -> str | None:
    """`raw` made safe (see the module docstring); None when nothing usable is left."""
    safe = _UNSAFE_CHARACTER.sub("_", raw).lstrip("_-")
    if not safe.strip("_-+"):
        return None
    if star_problem(safe):  # a keyword, a number or NaN: keep it, behind a prefix
        safe = SAFE_PREFIX + safe
    return safe
