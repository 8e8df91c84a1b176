"""The project's frames/ directory: one symlink per movie, named by the tilt-series manifest.

Import makes the links; when the raw data moves (same movies, new paths), the manifest's records
change but their fingerprints do not, so nothing re-runs: the links are re-pointed instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FRAMES_DIR = "frames"


def link_target(root: Path, movie_path: str) -> str:
    """What frames/<name> should hold: relative when the movie is inside the project."""
    frames = (root / FRAMES_DIR).resolve()
    target = Path(movie_path).resolve()
    try:
        relative = os.path.relpath(target, frames)
    except ValueError:  # another drive
        return str(target)
    return str(target) if relative.startswith(".." + os.sep + "..") else relative


def link_movie(root: Path, movie_path: str, frames_name: str) -> bool:
    """frames/<name> -> the movie, replaced atomically; True when the link changed."""
    frames = root / FRAMES_DIR
    frames.mkdir(exist_ok=True)
    target = link_target(root, movie_path)
    link = frames / frames_name
    if link.is_symlink() and os.readlink(link) == target:
        return False
    tmp = link.with_name(f".{frames_name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    return True


def relink_moved_movies(root: Path, records: Iterable[dict[str, Any]]) -> int:
    """Re-point existing links whose movie now lives elsewhere; links not made yet are left to
    import. Returns how many links changed."""
    changed = 0
    for record in records:
        for tilt in record["tilts"]:
            link = root / FRAMES_DIR / tilt["frames_name"]
            if tilt.get("movie_path") and link.is_symlink():
                changed += link_movie(root, tilt["movie_path"], tilt["frames_name"])
    return changed
