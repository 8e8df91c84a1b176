"""The tool SIMULATOR behaves as the real tools' source says (tools-real-behaviour.md section 4):
one named WarpTools version's options, exit 0 plus usage text on a command-line error, AreTomo's
tolerance of unknown tags, the Nyquist and DateTime checks, programs looked up on PATH."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crboost.simulator.aretomo import ARETOMO2_TAGS
from crboost.simulator.options import Opt, UsageError, parse_dotnet, parse_tags
from crboost.simulator.warp_options import verb_options, verbs


def sim(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "crboost.simulator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_command_line_error_prints_usage_and_exits_0():
    """D12/D17: WarpTools exits 0 after printing its usage text (CommandLineParserHelper.cs)."""
    proc = sim("WarpTools", "ts_ctf", "--settings", "x.settings", "--c_window", "512")
    assert proc.returncode == 0
    assert "Option 'c_window' is unknown" in proc.stdout
    assert "Showing all available options for command ts_ctf" in proc.stdout


def test_missing_required_option_prints_usage():
    proc = sim("WarpTools", "ts_reconstruct", "--settings", "x.settings")
    assert proc.returncode == 0 and "Required option 'angpix' is missing" in proc.stdout
    proc = sim("WarpTools", "ts_import", "--mdocs", "m", "--frameseries", "f", "--output", "o")
    assert proc.returncode == 0 and "tilt_exposure" in proc.stdout


def test_unknown_verb_and_program():
    proc = sim("WarpTools", "ts_magic")
    assert proc.returncode == 0 and "showing all available commands" in proc.stdout
    assert sim("MotionCor3", "-InMrc", "x").returncode == 2


def test_one_named_warptools_version_at_a_time():
    """D17: dev39 has --workers and no work queue; the unreleased HEAD the reverse; the options
    the simulator used to miss exist."""
    dev39 = {o.name for o in verb_options("fs_motion_and_ctf", "v2.0.0dev39")}
    head = {o.name for o in verb_options("fs_motion_and_ctf", "head")}
    assert "workers" in dev39 and "task_dir" not in dev39
    assert "task_dir" in head and "workers" not in head and "cluster_script" in head
    assert {"exclude_pattern", "strict"} <= {o.name for o in verb_options("ts_import", "head")}
    assert "thumbnails" in {o.name for o in verb_options("ts_aretomo", "v2.0.0dev39")}
    proc = sim("WarpTools", "fs_motion_and_ctf", "--settings", "x", "--task_dir", "t")
    assert proc.returncode == 0 and "Option 'task_dir' is unknown" in proc.stdout
    proc = sim("WarpTools", "fs_motion_and_ctf", "--settings", "x", "--workers", "a",
               env={"CRBOOST_SIM_WARP_VERSION": "head"})  # fmt: skip
    assert "Option 'workers' is unknown" in proc.stdout


def test_aretomo_tags():
    """AreTomo ignores unknown tags and drops extra values (Util/CParseArgs.cpp)."""
    tags = parse_tags(["-inmrc", "a.st", "-Bogus", "1", "-TiltAxis", "85.3", "-1", "-Patch",
                       "0", "0"], ARETOMO2_TAGS, strict=False)  # fmt: skip
    assert tags == {"InMrc": ["a.st"], "TiltAxis": ["85.3", "-1"], "Patch": ["0", "0"]}
    assert parse_tags(["-TiltAxis", "1", "2", "3"], ARETOMO2_TAGS, strict=False) == {
        "TiltAxis": ["1", "2"]
    }
    with pytest.raises(UsageError, match="at most 2"):
        parse_tags(["-TiltAxis", "1", "2", "3"], ARETOMO2_TAGS)


def test_input_files_must_exist(tmp_path):
    proc = sim("AreTomo2", "-InMrc", "missing.st", "-OutMrc", "out.mrc", cwd=tmp_path)
    assert proc.returncode == 1 and "File not found" in proc.stderr
    proc = sim("AreTomo2", "-InMrc", "missing.st", "-OutMrc", "out.mrc", "-Bogus", "1",
               cwd=tmp_path)  # fmt: skip
    assert "unknown tag" not in proc.stderr and "File not found" in proc.stderr
    proc = sim("WarpTools", "ts_ctf", "--settings", "none.settings", cwd=tmp_path)
    assert proc.returncode == 134 and "File not found" in proc.stderr


def test_dotnet_parsing():
    opts = [Opt("settings", required=True), Opt("input_data", "list"), Opt("check", "switch"),
            Opt("output", short="o")]  # fmt: skip
    values = parse_dotnet(["--settings=s", "--input_data", "a", "b", "--check", "-o", "x"], opts)
    assert values == {"settings": "s", "input_data": ["a", "b"], "check": True, "output": "x"}
    with pytest.raises(UsageError, match="bad format"):
        parse_dotnet(["--settings", "s", "--check=yes"], opts)
    with pytest.raises(UsageError, match="defined multiple times"):
        parse_dotnet(["--settings", "s", "--settings", "t"], opts)


def test_every_verb_the_drivers_use_is_simulated():
    for verb in ("create_settings", "fs_motion_and_ctf", "ts_import", "ts_aretomo", "ts_aretomo3",
                 "ts_etomo_patches", "ts_defocus_hand", "ts_ctf", "ts_reconstruct"):  # fmt: skip
        assert verb in verbs()


def test_fault_injection(tmp_path):
    from crboost.simulator.formats import should_fail

    env = {"CRBOOST_SIM_FAIL": "tsAlignment:TS_02,tsCtf:*", "CRBOOST_SIM_JOB": "tsAlignment"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert should_fail("TS_02") and not should_fail("TS_01")
        os.environ["CRBOOST_SIM_JOB"] = "tsCtf"
        assert should_fail("anything")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
