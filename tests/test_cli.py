"""Every command has help text; the lint and format checks the project promises."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO, run_cli


@pytest.mark.parametrize("command", ["inspect", "init", "run", "demo", "driver"])
def test_every_command_has_help(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    assert f"usage: crboost {command}" in proc.stdout
    assert len(proc.stdout.splitlines()) > 4


def test_top_level_help_lists_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("inspect", "init", "run", "demo", "driver"):
        assert command in proc.stdout


def test_unknown_driver():
    proc = run_cli("driver", "nosuchjob", "--ts", "x")
    assert proc.returncode == 1 and "nosuchjob: no such driver" in proc.stderr


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return path


def test_ruff_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([_tool("ruff"), *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean():
    proc = subprocess.run(
        [_tool("snakefmt"), "--check", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_clean(demo_project):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--lint",
            "--configfile",
            str(demo_project / "crboost.yaml"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
