"""The tool simulator accepts exactly the real options and checks its inputs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crboost.simulator.aretomo import ARETOMO2_TAGS
from crboost.simulator.options import Opt, UsageError, parse_dotnet, parse_tags
from crboost.simulator.warp_options import WARP_VERBS


def sim(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "crboost.simulator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_unknown_option_is_an_error():
    proc = sim("WarpTools", "ts_ctf", "--settings", "x.settings", "--c_window", "512")
    assert proc.returncode == 2 and "Option 'c_window' is unknown" in proc.stderr


def test_missing_required_option_is_an_error():
    proc = sim("WarpTools", "ts_reconstruct", "--settings", "x.settings")
    assert proc.returncode == 2 and "Required option 'angpix' is missing" in proc.stderr
    proc = sim("WarpTools", "ts_import", "--mdocs", "m", "--frameseries", "f", "--output", "o")
    assert proc.returncode == 2 and "tilt_exposure" in proc.stderr


def test_unknown_verb_and_program():
    assert sim("WarpTools", "ts_magic").returncode == 2
    assert sim("MotionCor3", "-InMrc", "x").returncode == 2


def test_aretomo_tags():
    proc = sim("AreTomo2", "-InMrc", "a.st", "-OutMrc", "b.mrc", "-Bogus", "1")
    assert proc.returncode == 2 and "unknown tag -Bogus" in proc.stderr
    tags = parse_tags(
        ["-inmrc", "a.st", "-TiltAxis", "85.3", "-1", "-Patch", "0", "0"], ARETOMO2_TAGS
    )
    assert tags == {"InMrc": ["a.st"], "TiltAxis": ["85.3", "-1"], "Patch": ["0", "0"]}
    with pytest.raises(UsageError, match="at most 2"):
        parse_tags(["-TiltAxis", "1", "2", "3"], ARETOMO2_TAGS)


def test_input_files_must_exist(tmp_path):
    proc = sim("AreTomo2", "-InMrc", "missing.st", "-OutMrc", "out.mrc", cwd=tmp_path)
    assert proc.returncode == 1 and "File not found" in proc.stderr
    proc = sim("WarpTools", "ts_ctf", "--settings", "none.settings", cwd=tmp_path)
    assert proc.returncode == 1 and "File not found" in proc.stderr


def test_dotnet_parsing():
    opts = [Opt("settings", required=True), Opt("input_data", "list"), Opt("check", "switch"),
            Opt("output", short="o")]  # fmt: skip
    values = parse_dotnet(["--settings=s", "--input_data", "a", "b", "--check", "-o", "x"], opts)
    assert values == {"settings": "s", "input_data": ["a", "b"], "check": True, "output": "x"}
    with pytest.raises(UsageError, match="takes no value"):
        parse_dotnet(["--settings", "s", "--check=yes"], opts)
    with pytest.raises(UsageError, match="defined multiple times"):
        parse_dotnet(["--settings", "s", "--settings", "t"], opts)


def test_every_verb_the_drivers_use_is_simulated():
    for verb in ("create_settings", "fs_motion_and_ctf", "ts_import", "ts_aretomo", "ts_aretomo3",
                 "ts_etomo_patches", "ts_defocus_hand", "ts_ctf", "ts_reconstruct"):  # fmt: skip
        assert verb in WARP_VERBS


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
