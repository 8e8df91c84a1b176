"""Where the workflow, profiles, drivers and templates are: a source checkout or the wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def repo_root() -> Path:
    """Directory holding workflow/, profiles/, drivers/ and config/."""
    for candidate in (_PACKAGE / "_resources", _PACKAGE.parent):
        if (candidate / "workflow" / "Snakefile").is_file():
            return candidate
    raise RuntimeError(f"crboost workflow files not found next to {_PACKAGE}")


def resource_path(relative: str | Path) -> Path:
    return repo_root() / relative


def snakefile() -> Path:
    return resource_path("workflow/Snakefile")


def profile_dir(name: str) -> Path:
    return resource_path(Path("profiles") / name)


def driver(name: str) -> Path:
    return resource_path(Path("drivers") / f"{name}.py")


def job_template(type_name: str) -> Path:
    return resource_path(Path("config") / "jobs" / f"{type_name}.star")
