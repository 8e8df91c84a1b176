"""Names that come from the microscope's files or the config and end up in STAR files: tilt-series
names (from mdoc file names), movie names (under frames/), job names and optics group names.

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
from pathlib import Path

from ..errors import MdocError

_IMAGE_EXTENSIONS = (".mrc", ".st", ".tif", ".tiff", ".eer", ".mrcs", ".ali")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9_.+-]")
#: how the message about a tilt-series name made safe starts
NAME_WARNING = "tilt-series name"


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


def tilt_series_name(mdoc_path: str | Path, prefix: str = "") -> tuple[str, str | None]:
    """The tilt-series name of an mdoc, and a warning when it had to be made safe.

    `TS_01.mrc.mdoc` -> `TS_01`. The name is a STAR data-block name and value, a file name and a
    command-line argument: characters other than letters, digits, `_ + -` become `_`, and names
    that would break a STAR file are changed (see the module docstring).
    """
    base = Path(mdoc_path).name
    if base.lower().endswith(".mdoc"):
        base = base[: -len(".mdoc")]
    for ext in _IMAGE_EXTENSIONS:
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
            break
    raw = f"{prefix}_{base}" if prefix else base
    safe = safe_tilt_series_name(raw)
    if safe is None:
        raise MdocError(f"{mdoc_path}: cannot make a tilt-series name from the file name")
    warning = None if safe == raw else f"{NAME_WARNING} {raw!r} made safe as {safe!r}"
    return safe, warning


def safe_movie_name(movie: str) -> str:
    """The name a movie gets under the project's frames/ directory."""
    safe = _UNSAFE_FILE.sub("_", movie)
    return "_" + safe[1:] if safe.startswith(("-", ".")) else safe


def movie_basename(sub_frame_path: str) -> str:
    """File name from a SubFramePath written on Windows, UNC or POSIX (`D:\\a\\b.tif` -> `b.tif`)."""
    return re.split(r"[\\/]", sub_frame_path.strip())[-1]
