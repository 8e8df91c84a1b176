"""Names that come from the microscope's files, made safe for the project: tilt-series names
(from mdoc file names) and movie names (under frames/)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import MdocError

_IMAGE_EXTENSIONS = (".mrc", ".st", ".tif", ".tiff", ".eer", ".mrcs", ".ali")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_+-]")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9_.+-]")


def tilt_series_name(mdoc_path: str | Path, prefix: str = "") -> tuple[str, str | None]:
    """The tilt-series name of an mdoc, and a warning when it had to be made safe.

    `TS_01.mrc.mdoc` -> `TS_01`. Characters other than letters, digits, `_ + -` become `_`
    because the name is a STAR data-block name (`data_<name>`), a file name and a command-line
    argument; RELION's block names cannot hold spaces.
    """
    base = Path(mdoc_path).name
    if base.lower().endswith(".mdoc"):
        base = base[: -len(".mdoc")]
    for ext in _IMAGE_EXTENSIONS:
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
            break
    raw = f"{prefix}_{base}" if prefix else base
    safe = _UNSAFE_NAME.sub("_", raw)
    if safe.startswith("-"):
        safe = "_" + safe[1:]
    if not safe.strip("_"):
        raise MdocError(f"{mdoc_path}: cannot make a tilt-series name from the file name")
    warning = None if safe == raw else f"tilt-series name {raw!r} made safe as {safe!r}"
    return safe, warning


def safe_movie_name(movie: str) -> str:
    """The name a movie gets under the project's frames/ directory."""
    safe = _UNSAFE_FILE.sub("_", movie)
    return "_" + safe[1:] if safe.startswith(("-", ".")) else safe


def movie_basename(sub_frame_path: str) -> str:
    """File name from a SubFramePath written on Windows, UNC or POSIX (`D:\\a\\b.tif` -> `b.tif`)."""
    return re.split(r"[\\/]", sub_frame_path.strip())[-1]
