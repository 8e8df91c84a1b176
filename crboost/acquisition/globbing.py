"""The files a data glob (`data.movies`, `data.mdocs`) names, without hanging or exploding.

Python's `glob` follows symlinked directories under `**` without remembering where it has been:
a symlink loop makes it descend until paths are too long, and two loops make that exponential
(hours). Here `**` enters each directory once (by device and inode, so a loop or a second link
to the same folder is not walked again; symlinked data folders still work), and a search that
visits more than MAX_DIRECTORIES directories or matches more than MAX_FILES files stops with a
message instead of running for hours. Patterns without `**` have a fixed depth: plain `glob`.
Otherwise the rules are glob's: `*`, `?`, `[...]` within one name, hidden names only matched
by a pattern starting with `.`, `**` for any number of directories.
"""

from __future__ import annotations

import fnmatch
import glob
import os

from ..errors import CrboostError

MAX_DIRECTORIES = 100_000
MAX_FILES = 1_000_000


class GlobTooLarge(CrboostError):
    pass


def glob_files(
    root: str | os.PathLike,
    pattern: str,
    max_directories: int = MAX_DIRECTORIES,
    max_files: int = MAX_FILES,
) -> list[str]:
    """Files matching `pattern` (relative to `root` unless absolute), sorted."""
    full = pattern if os.path.isabs(pattern) else os.path.join(root, pattern)
    if "**" in full:
        return sorted(_Walk(max_directories, max_files).files(full))
    found = []
    for path in glob.iglob(full):
        if os.path.isfile(path):
            found.append(path)
            if len(found) > max_files:
                raise GlobTooLarge(f"matches more than {max_files} files; narrow the pattern")
    return sorted(found)


class _Walk:
    """Matches pattern parts against directories; a directory is searched at most once for each
    position in the pattern (so a loop ends, and a folder reached twice is not listed twice)."""

    def __init__(self, max_directories: int, max_files: int):
        self.max_directories = max_directories
        self.max_files = max_files
        self.searched: set[tuple[int, int, int]] = set()
        self.found: list[str] = []

    def files(self, pattern: str) -> list[str]:
        parts = pattern.split(os.sep)
        fixed = []
        for part in parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        base = os.sep.join(fixed) or os.sep
        if os.path.isdir(base):
            self._match(base, parts[len(fixed) :])
        return self.found

    def _match(self, folder: str, parts: list[str]) -> None:
        if not parts or not self._first_visit(folder, len(parts)):
            return
        part, rest = parts[0], parts[1:]
        if part == "**":
            self._match(folder, rest)  # zero directories
            for name in self._names(folder, part):
                path = os.path.join(folder, name)
                if os.path.isdir(path):
                    self._match(path, parts)
                elif not rest and os.path.isfile(path):
                    self._add(path)  # `**` as the last part also names files
            return
        names = self._names(folder, part) if glob.has_magic(part) else [part]
        for name in names:
            path = os.path.join(folder, name)
            if not rest:
                if os.path.isfile(path):
                    self._add(path)
            elif os.path.isdir(path):
                self._match(path, rest)

    def _names(self, folder: str, part: str) -> list[str]:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        hidden_ok = part.startswith(".")
        visible = [n for n in names if hidden_ok or not n.startswith(".")]
        return visible if part == "**" else [n for n in visible if fnmatch.fnmatchcase(n, part)]

    def _first_visit(self, folder: str, position: int) -> bool:
        try:
            st = os.stat(folder)
        except OSError:
            return False
        key = (st.st_dev, st.st_ino, position)
        if key in self.searched:
            return False
        self.searched.add(key)
        if len(self.searched) > self.max_directories:
            raise GlobTooLarge(
                f"searches more than {self.max_directories} directories; narrow the pattern"
            )
        return True

    def _add(self, path: str) -> None:
        self.found.append(path)
        if len(self.found) > self.max_files:
            raise GlobTooLarge(f"matches more than {self.max_files} files; narrow the pattern")
