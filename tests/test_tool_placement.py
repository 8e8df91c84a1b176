"""Which tools a run looks for, and where: only those of the jobs the run's targets need; a tool
that exists only on the compute nodes (`nodes_only`) is not looked for on the submitting host of
a cluster run; a tool's environment modules are loaded before it is looked for and before each
call (with the site's real `module` command: Debian's environment-modules).

The checks on a node through the Slurm profile are in test_slurm_tools.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from crboost.project.config import parse_config
from crboost.tools.runner import ToolCall, ToolRunner

RELION_BIN = Path(os.environ.get("CRBOOST_RELION_BIN", "/opt/crboost-tools/relion/bin"))


def has_module_command() -> bool:
    return subprocess.run(["bash", "-lc", "type module"], capture_output=True).returncode == 0


needs_modules = pytest.mark.skipif(
    not has_module_command() and os.environ.get("CRBOOST_REQUIRE_MODULES") != "1",
    reason="no `module` command in a login shell (apt-get install environment-modules)",
)


def module_path(tmp_path: Path, name: str, bin_dir: Path) -> str:
    """A modulefile `name` that puts bin_dir on PATH; the folder to put on MODULEPATH."""
    folder = tmp_path / "modulefiles"
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#%Module1.0\nprepend-path PATH {bin_dir}\n")
    return str(folder)


def edit_config(project: Path, **tools) -> None:
    path = project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    data["tools"].update(tools)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def real_tools_project(tmp_path) -> Path:
    """A demo project that asks for the real WarpTools/AreTomo, which this host does not have."""
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "2", "--no-run", check=True)
    edit_config(project, simulate=False)
    assert shutil.which("WarpTools") is None
    return project


def test_a_target_needs_only_the_tools_of_its_jobs(real_tools_project):
    project = real_tools_project
    # the import runs in Python: it needs no tool, and runs
    proc = run_cli("run", str(project), "--", "Import/job001/RELION_JOB_EXIT_SUCCESS")
    assert proc.returncode == 0, proc.stderr
    assert (project / "Import/job001/RELION_JOB_EXIT_SUCCESS").exists()
    assert "tools." not in proc.stderr
    # the tilt-series import needs WarpTools for itself and the motion correction before it,
    # not for the jobs after it; an option's value is never taken for a target
    proc = run_cli("run", str(project), "--", "--cores", "1",
                   "External/job003/RELION_JOB_EXIT_SUCCESS")  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "tools.warptools.executable = 'WarpTools': not found on PATH" in proc.stderr
    assert "needed by motion, tiltseries;" in proc.stderr
    assert not (project / "External/job002/job_params.json").exists(), "nothing ran"
    # RELION's alias names its job; a rule name its job type's instances
    for target in ("External/motion/RELION_JOB_EXIT_SUCCESS", "fsMotionAndCtf_tilt_series"):
        proc = run_cli("run", str(project), "--", target)
        assert proc.returncode == 1 and "(needed by motion;" in proc.stderr, (target, proc.stderr)
    # no target: every job with work left
    proc = run_cli("run", str(project))
    assert "needed by motion, tiltseries, align, ctf, reconstruct" in proc.stderr


def test_nodes_only_tools_are_not_looked_for_here_on_a_cluster(real_tools_project):
    project = real_tools_project
    edit_config(project, warptools={"executable": "WarpTools", "nodes_only": True})
    dry_slurm = run_cli("run", str(project), "--profile", "slurm", "--", "-n")
    assert "tools.warptools" not in dry_slurm.stderr, dry_slurm.stderr
    # a local run starts the tools here: there, the tool is looked for as always
    local = run_cli("run", str(project))
    assert local.returncode == 1 and "tools.warptools.executable" in local.stderr


@needs_modules
@pytest.mark.skipif(not (RELION_BIN / "relion_tomo_subtomo").exists(), reason="no RELION 5")
def test_modules_are_loaded_before_a_tool_is_looked_for_and_run(tmp_path, monkeypatch):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--to", "particles", "--no-run",
            check=True)  # fmt: skip
    edit_config(project, simulate=["warptools", "cryocare", "pytom"],
                relion={"modules": ["crboost-test/relion5"]})  # fmt: skip
    assert shutil.which("relion_tomo_subtomo") is None, "RELION must not be on PATH here"
    monkeypatch.setenv("MODULEPATH", module_path(tmp_path, "crboost-test/relion5", RELION_BIN))
    # found after module load: the dry run does not warn about RELION
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0 and "tools.relion" not in proc.stderr, proc.stderr
    # a call runs the real program with the module loaded (its arguments stay a list)
    config = parse_config(yaml.safe_load((project / "crboost.yaml").read_text()), schema=False)
    runner = ToolRunner(config, project, "subtomoExtraction")
    runner.print_only = False
    call = ToolCall("relion", ("relion_tomo_subtomo", "--version"), cwd=str(project))
    assert runner.argv(call)[:2] == ["bash", "-lc"]
    result = runner.run(call)
    assert "RELION version: 5" in result.stdout + result.stderr
    # a module that does not exist is named, with the module system's own words
    edit_config(project, relion={"modules": ["crboost-test/relion6"]})
    proc = run_cli("run", str(project))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "tools.relion.modules: module load crboost-test/relion6 failed:" in proc.stderr


def test_module_names_are_checked_in_the_config(tmp_path):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--no-run", check=True)
    edit_config(project, warptools={"modules": ["warp; rm -rf /"]})
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "tools.warptools.modules" in proc.stderr and "not a module name" in proc.stderr
