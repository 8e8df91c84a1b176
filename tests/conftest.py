"""Shared fixtures: reference data from ../shared/reference, demo projects, CLI runner."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("CRBOOST_REFERENCE", REPO.parent / "shared" / "reference"))


def reference(*parts: str) -> Path:
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"reference file {path} missing (set CRBOOST_REFERENCE)")
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = False):
    """Run the installed `crboost` command; returns the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "crboost.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"crboost {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def plain_snakemake_dry_run(project: Path) -> subprocess.CompletedProcess:
    """`snakemake -n --profile profiles/local --configfile PROJECT/crboost.yaml` from the
    repository root, without the crboost wrapper."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", "profiles/local",
         "--configfile", str(project / "crboost.yaml")],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip


def pipeline_rows(path: Path) -> dict[str, list[dict]]:
    """Every table of a pipeline STAR file, as rows of strings."""
    import pandas as pd
    import starfile

    blocks = starfile.read(path, always_dict=True, parse_as_string=["rlnPipeLineProcessName"])
    return {
        k: v.astype(str).to_dict("records")
        for k, v in blocks.items()
        if isinstance(v, pd.DataFrame)
    }


@pytest.fixture
def demo_project(tmp_path) -> Path:
    """A demo project (3 tilt series) written but not run."""
    project = tmp_path / "demo"
    run_cli("demo", str(project), "--tilt-series", "3", "--no-run", check=True)
    return project


@pytest.fixture(scope="session")
def finished_demo(tmp_path_factory, request) -> Path:
    """A demo project (4 tilt series) run to the end once per session; tests must copy it
    before changing it (or take a copy: under pytest-xdist every worker gets its own)."""
    return shared_finished_demo(tmp_path_factory, request, "demo", "--tilt-series", "4")


@pytest.fixture(scope="session")
def finished_particle_demo(tmp_path_factory, request) -> Path:
    """The particle demo (2 tilt series, tomograms to a first average) run to the end once per
    session; tests must copy it before changing it."""
    return shared_finished_demo(
        tmp_path_factory, request, "particles", "--tilt-series", "2", "--to", "particles"
    )


def shared_finished_demo(tmp_path_factory, request, name: str, *demo_args: str) -> Path:
    """`crboost demo` run once per session. Under pytest-xdist the first worker that needs it
    runs it, the others wait for it, and each takes a copy (a moved project: nothing in it needs
    re-running)."""
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker is None:
        project = tmp_path_factory.mktemp(f"finished-{name}") / "demo"
        run_cli("demo", str(project), *demo_args, check=True)
        return project
    shared = tmp_path_factory.getbasetemp().parent / f"finished-{name}"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").exists():
            run_cli("demo", str(shared / "demo"), *demo_args, check=True)
            (shared / "done").touch()
    return copy_project(shared / "demo", tmp_path_factory.mktemp(f"finished-{name}") / "demo")


def copy_project(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


# --- spreading the suite over pytest-xdist workers (-n auto --dist loadfile) --------------------


def pytest_configure(config):
    # keep the order below instead of xdist's "most tests first"
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Long files start first (Slurm, then end-to-end runs), so that no worker is left with an
    hour-long file while the others are done; the many short tests fill the gaps at the end."""

    def rank(item) -> int:
        marks = {m.name for m in item.iter_markers()}
        return 0 if "slurm" in marks else 1 if "slow" in marks else 2

    by_file: dict[str, int] = {}
    for item in items:
        by_file[item.path] = min(by_file.get(item.path, 2), rank(item))
    items.sort(key=lambda item: by_file[item.path])
