"""Argument types of the command line: each turns a bad value into one line naming it."""

from __future__ import annotations

import argparse
from pathlib import Path

from .acquisition.sanity import DOSE_PER_TILT, PIXEL_SIZE, SenseError
from .errors import CrboostError


def dose_value(text: str) -> float:
    """--dose-per-tilt: a number that can be a dose per tilt."""
    try:
        return DOSE_PER_TILT.check(text)
    except SenseError as e:
        raise argparse.ArgumentTypeError(f"{text}: {e}") from None


def pixel_value(text: str) -> float:
    """--pixel-size: a number that can be a pixel size."""
    try:
        return PIXEL_SIZE.check(text)
    except SenseError as e:
        raise argparse.ArgumentTypeError(f"{text}: {e}") from None


def count_value(text: str, most: int = 1000) -> int:
    """A count of 1 to `most`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: not a whole number") from None
    if not 1 <= value <= most:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 to {most}")
    return value


def project_dir(text: str, exists: bool = True) -> Path:
    """A project directory: PROJECT must be a directory (or not exist yet, for init/demo)."""
    path = Path(text)
    for part in [path, *path.parents]:
        if part.exists() and not part.is_dir():
            raise CrboostError(f"{part}: exists and is not a directory (PROJECT is a directory)")
        if part.exists():
            break
    if exists and not path.is_dir():
        raise CrboostError(f"{text}: no such project directory")
    return path


def port_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 to 65535")
    return value
