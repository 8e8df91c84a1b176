"""Where the project lives, as the tools see it: paths AreTomo3 and IMOD can take, and Warp's
metadata after the project moved.

- WarpTools hands AreTomo3 and IMOD the absolute tilt-stack folder inside one argument string that
  is split at spaces (WarpWorker.cs: `-OutDir {StackDir}`, `-CurrentLocation {TiltStackDir}`), and
  AreTomo3 keeps file names in 256-byte buffers (CSaveAlignFile.cpp): a project path with white
  space, or one that makes those paths 256 bytes or longer, is refused up front.
- Warp writes absolute paths into its XML metadata (`DataDirectory`, BaseOptions.cs); the frame
  series' one is how later WarpTools calls find the raw movies (TiltSeries.LoadMovieData). When
  the project moves, `relocate` rewrites them at the next run (the project's absolute path is
  recorded in .crboost/location.json).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import ConfigError

LOCATION_FILE = ".crboost/location.json"
#: AreTomo3's path buffers (char m_acXxx[256]), including the terminating 0
PATH_BYTES = 256
#: the longest file name AreTomo3 writes under a project: <root>/<this>, ts = the tilt series
_LONGEST = "External/job000/warp_tiltseries/tiltstack/{ts}/{ts}_Imod/{ts}_st.xtilt"


def path_problem(root: Path, names: list[str]) -> str | None:
    """Why AreTomo3/IMOD (started by WarpTools) could not take this project's paths, or None."""
    text = str(root.resolve())
    if re.search(r"\s", text):
        return (
            f"the project path {text!r} contains white space: WarpTools passes it to AreTomo3 "
            "and IMOD inside one space-separated argument string; use a path without spaces"
        )
    if names:
        longest = max(names, key=len)
        path = f"{text}/{_LONGEST.format(ts=longest)}"
        if len(path.encode()) >= PATH_BYTES:
            return (
                f"the project path {text!r} is too long: AreTomo3 would write "
                f"{len(path.encode())}-byte file names (tilt series {longest}) into "
                f"{PATH_BYTES}-byte buffers; use a shorter project path or tilt-series names"
            )
    return None


def check_path(root: Path, names: list[str]) -> None:
    problem = path_problem(root, names)
    if problem:
        raise ConfigError(problem)


def recorded_root(root: Path) -> str | None:
    try:
        return json.loads((root / LOCATION_FILE).read_text())["root"]
    except (OSError, ValueError, KeyError):
        return None


def record_root(root: Path) -> None:
    path = root / LOCATION_FILE
    path.parent.mkdir(exist_ok=True)
    text = json.dumps({"root": str(root.resolve())}) + "\n"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def moved_from(root: Path) -> str | None:
    """The project's former absolute path, when it moved since the last run."""
    old = recorded_root(root)
    return old if old and old != str(root.resolve()) else None


def warp_metadata(root: Path) -> list[Path]:
    """Every Warp XML of the project's job directories."""
    found = []
    for job in sorted(root.glob("*/job[0-9][0-9][0-9]*")):
        for folder in ("warp_frameseries", "warp_tiltseries"):
            if (job / folder).is_dir():
                found += sorted((job / folder).glob("*.xml"))
    return found


def relocate(root: Path, old: str | None) -> int:
    """After a move from `old` (moved_from: the path recorded in the project): rewrite the
    DataDirectory of Warp's XMLs from the old project path to the new one; record the new one.
    Returns how many files changed."""
    changed = 0
    if old:
        new = str(root.resolve())
        pattern = re.compile(r'(DataDirectory=")' + re.escape(old) + r'(/[^"]*|)"')
        folders: dict[Path, os.stat_result] = {}
        for xml in warp_metadata(root):
            data = xml.read_bytes()
            text = data.decode("utf-8-sig")
            fixed = pattern.sub(lambda m: f'{m.group(1)}{new}{m.group(2)}"', text)
            if fixed != text:
                folders.setdefault(xml.parent, xml.parent.stat())
                bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
                tmp = xml.with_name(f".{xml.name}.tmp{os.getpid()}")
                tmp.write_bytes(bom + fixed.encode())
                # the same result at its new place: keep its times, and its folder's (nothing
                # re-runs for it, and the project's files look as they were)
                times = xml.stat()
                os.utime(tmp, ns=(times.st_atime_ns, times.st_mtime_ns))
                os.replace(tmp, xml)
                changed += 1
        for folder, times in folders.items():
            os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))
    if old or recorded_root(root) is None:
        record_root(root)
    return changed
