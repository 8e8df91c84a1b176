"""The exact command lines each driver builds from given params, and their container form."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from conftest import REPO

from crboost.jobs import JOB_TYPES
from crboost.project.config import ProjectConfig
from crboost.running.driver import JobContext
from crboost.tools.runner import ToolCall, ToolRunner

BASE_CONFIG = {
    "data": {"movies": "/data/s1/frames/*.eer", "mdocs": "/data/s1/mdoc/*.mdoc",
             "gain_reference": "/data/s1/gain.gain"},
    "microscope": {"pixel_size": 2.95, "voltage": 300.0},
    "acquisition": {"dose_per_tilt": 3.0, "tilt_axis": 84.23, "eer_ngroups": 10,
                    "detector_size": [4096, 4096], "gain_flip_y": True},
    "pipeline": [{"name": "import", "type": "importmovies"}],
}  # fmt: skip


def driver_module(name: str) -> dict:
    return runpy.run_path(str(REPO / "drivers" / f"{name}.py"), run_name="test")


def context(tmp_path: Path, job_type: str, params: dict | None = None, config: dict | None = None):
    cfg = ProjectConfig.model_validate(config or BASE_CONFIG)
    model = JOB_TYPES[job_type].from_config(params or {}, cfg, "test")
    spec = {"name": "x", "type": job_type, "dir": "External/job005",
            "input_dir": "External/job004", "params": model.model_dump(mode="json")}  # fmt: skip
    ctx = JobContext(root=tmp_path, dir="External/job005", spec=spec)
    ctx.__dict__["config"] = cfg  # the cached config, without a file
    return ctx


def argv(call: ToolCall) -> list[str]:
    return [call.tool, *call.args]


def test_fs_motion_and_ctf(tmp_path):
    mod = driver_module("fsMotionAndCtf")
    ctx = context(tmp_path, "fsMotionAndCtf", {"m_grid": "1x1x5", "c_fit_phase": True})
    import pandas as pd

    table = pd.DataFrame({"rlnMicrographMovieName": ["frames/a_001.eer", "frames/a_002.eer"]})
    [call] = mod["commands"](ctx, "TS_01", table)
    assert call.cwd == "External/job005" and call.item == "TS_01"
    # D1, D10: one GPU (then --device_list), its own work queue (--task_dir where supported)
    assert call.gpus == 1 and call.task_dir == "warp_frameseries/tasks/TS_01"
    assert argv(call) == [
        "warptools", "fs_motion_and_ctf", "--settings", "warp_frameseries.settings",
        "--input_data", "../../frames/a_001.eer", "../../frames/a_002.eer",
        "--m_range_min", "500", "--m_range_max", "10", "--m_bfac", "-500", "--m_grid", "1x1x5",
        "--c_window", "512", "--c_range_min", "30", "--c_range_max", "6.2",
        "--c_defocus_min", "1.1", "--c_defocus_max", "8", "--c_voltage", "300",
        "--c_cs", "2.7", "--c_amplitude", "0.1", "--c_grid", "2x2x1", "--out_averages",
        "--out_skip_first", "0", "--out_skip_last", "0", "--perdevice", "1",
        "--out_average_halves", "--c_fit_phase",
    ]  # fmt: skip
    settings = mod["create_settings"](ctx, "s.tmp")
    assert argv(settings) == [
        "warptools", "create_settings", "--folder_data", "../../frames", "--extension", "*.eer",
        "--folder_processing", "warp_frameseries", "--output", "s.tmp", "--angpix", "2.95",
        "--exposure", "3", "--eer_ngroups", "10", "--gain_path", "/data/s1/gain.gain",
        "--gain_flip_y",
    ]  # fmt: skip


def test_ts_import(tmp_path):
    mod = driver_module("tsImport")
    ctx = context(tmp_path, "tsImport", {"tomo_z": 1200, "dont_invert": True})
    [call] = mod["commands"](ctx, "TS_01")
    assert argv(call) == [
        "warptools", "ts_import", "--mdocs", "../../mdoc", "--pattern", "TS_01.mdoc",
        "--frameseries", "frameseries/TS_01", "--tilt_exposure", "3",
        "--override_axis", "84.23", "--min_intensity", "0", "--output", "tomostar",
        "--dont_invert",
    ]  # fmt: skip
    assert argv(mod["create_settings"](ctx, "t.tmp")) == [
        "warptools", "create_settings", "--folder_data", "tomostar", "--extension", "*.tomostar",
        "--folder_processing", "warp_tiltseries", "--output", "t.tmp", "--angpix", "2.95",
        "--exposure", "3", "--tomo_dimensions", "4096x4096x1200",
    ]  # fmt: skip


COMMON_TS = ["--settings", "warp_tiltseries.settings", "--input_data", "tomostar/TS_01.tomostar"]


@pytest.mark.parametrize(
    "params,expected",
    [
        ({}, ["ts_aretomo", *COMMON_TS, "--output_processing", "warp_tiltseries", "--angpix", "10",
              "--perdevice", "1", "--alignz", "3000", "--axis_iter", "1", "--exe", "AreTomo2"]),
        ({"program": "aretomo3", "patches": "4x4", "angpix": 12},
         ["ts_aretomo3", *COMMON_TS, "--output_processing", "warp_tiltseries", "--angpix", "12",
          "--perdevice", "1", "--alignz", "3000", "--axis_iter", "1", "--exe", "AreTomo3",
          "--patches", "4,4"]),
        # D7: no patches with AreTomo3 is --patches 0,0 (WarpTools' own default is 4,4)
        ({"program": "aretomo3"},
         ["ts_aretomo3", *COMMON_TS, "--output_processing", "warp_tiltseries", "--angpix", "10",
          "--perdevice", "1", "--alignz", "3000", "--axis_iter", "1", "--exe", "AreTomo3",
          "--patches", "0,0"]),
        ({"program": "imod", "imod_patch_size_nm": 150},
         ["ts_etomo_patches", *COMMON_TS, "--output_processing", "warp_tiltseries", "--angpix",
          "10", "--perdevice", "1", "--patch_size", "1500", "--do_axis_search"]),
    ],
    ids=["aretomo2", "aretomo3", "aretomo3-no-patches", "imod"],
)  # fmt: skip
def test_ts_alignment(tmp_path, params, expected):
    mod = driver_module("tsAlignment")
    [call] = mod["commands"](context(tmp_path, "tsAlignment", params), "TS_01")
    assert argv(call) == ["warptools", *expected]


@pytest.mark.parametrize("hand,flag", [("flip", "--set_flip"), ("noflip", "--set_noflip")])
def test_ts_ctf(tmp_path, hand, flag):
    """D8: each tilt series gets the dataset's decision (--set_flip/--set_noflip), never its own
    --set_auto; the decision comes from one --check over every tilt series (prepare)."""
    mod = driver_module("tsCtf")
    ctx = context(tmp_path, "tsCtf", {"defocus_hand": "auto"})
    set_hand, ctf = mod["commands"](ctx, "TS_01", hand)
    io = [
        *COMMON_TS,
        "--input_processing",
        "warp_tiltseries",
        "--output_processing",
        "warp_tiltseries",
    ]
    assert argv(set_hand) == ["warptools", "ts_defocus_hand", *io, flag]
    assert argv(ctf) == [
        "warptools", "ts_ctf", *io, "--window", "512", "--range_low", "30", "--range_high", "6.2",
        "--defocus_min", "1.1", "--defocus_max", "8", "--voltage", "300", "--cs", "2.7",
        "--amplitude", "0.1", "--perdevice", "1",
    ]  # fmt: skip
    check = mod["check_command"](ctx, "hand_check/tilt_series.txt")
    assert argv(check) == [
        "warptools", "ts_defocus_hand", "--settings", "warp_tiltseries.settings", "--input_data",
        "hand_check/tilt_series.txt", "--input_processing", "../job004/warp_tiltseries",
        "--output_processing", "hand_check", "--check",
    ]  # fmt: skip


def test_ts_reconstruct(tmp_path):
    mod = driver_module("tsReconstruct")
    [call] = mod["commands"](
        context(tmp_path, "tsReconstruct", {"angpix": 11.8, "deconv": False}), "TS_01"
    )
    assert argv(call) == [
        "warptools", "ts_reconstruct", *COMMON_TS, "--input_processing", "../job004/warp_tiltseries",
        "--output_processing", "warp_tiltseries", "--angpix", "11.8", "--perdevice", "1",
        "--halfmap_frames",
    ]  # fmt: skip
    assert mod["tomogram"](context(tmp_path, "tsReconstruct", {"angpix": 11.8}), "TS_01") == (
        "External/job005/warp_tiltseries/reconstruction/TS_01_11.80Apx.mrc"
    )


# --- the forms a call takes ---------------------------------------------------------------------


def _runner(tmp_path, tools):
    config = dict(BASE_CONFIG, tools=tools)
    return ToolRunner(ProjectConfig.model_validate(config), tmp_path, "tsCtf")


def test_container_form(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CONDA_PREFIX", "/opt/conda")
    runner = _runner(tmp_path, {"warptools": {"container": "/sif/warp.sif"}, "binds": ["/scratch"]})
    call = ToolCall("warptools", ("ts_ctf", "--settings", "s"), cwd="External/job005", item="TS_01")
    assert runner.argv(call) == [
        "apptainer", "exec", "--nv", "--cleanenv",
        "-B", str(tmp_path.resolve()), "-B", "/data/s1", "-B", "/scratch",
        "--env", "CUDA_VISIBLE_DEVICES=1",
        "/sif/warp.sif", "WarpTools", "ts_ctf", "--settings", "s",
    ]  # fmt: skip
    env = runner.environment(call)
    assert "SLURM_JOB_ID" not in env and "CONDA_PREFIX" not in env
    assert env["CUDA_VISIBLE_DEVICES"] == "1"


def test_executable_and_simulator_forms(tmp_path):
    call = ToolCall("warptools", ("ts_ctf",), item="TS_01")
    assert _runner(tmp_path, {"warptools": {"executable": "/opt/warp/WarpTools"}}).argv(call) == [
        "/opt/warp/WarpTools", "ts_ctf"]  # fmt: skip
    runner = _runner(tmp_path, {"simulate": True})
    sim = runner.argv(call)
    assert sim == [str(tmp_path / ".crboost/simulator/bin/WarpTools"), "ts_ctf"]
    # showing a call writes nothing; running one makes the simulated WarpTools environment: a
    # folder of programs (AreTomo, IMOD next to it)
    assert not (tmp_path / ".crboost/simulator").exists()
    runner.environment(call)
    assert "crboost.simulator" in Path(sim[0]).read_text()
    assert (tmp_path / ".crboost/simulator/IMOD/bin/batchruntomo").exists()


def test_print_only_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CRBOOST_PRINT_COMMANDS", "1")
    runner = _runner(tmp_path, {"warptools": {"executable": "definitely-not-installed"}})
    runner.run(ToolCall("warptools", ("ts_ctf", "--window", "512"), cwd="."))
    assert "definitely-not-installed ts_ctf --window 512" in capsys.readouterr().out


def test_missing_tool_is_a_clear_error(tmp_path):
    from crboost.tools.runner import ToolFailed

    runner = _runner(tmp_path, {"warptools": {"executable": "definitely-not-installed"}})
    runner.print_only = False
    with pytest.raises(ToolFailed, match="definitely-not-installed: not found .*tools.warptools"):
        runner.run(ToolCall("warptools", ("ts_ctf",), cwd=str(tmp_path)))


def test_bind_paths_that_apptainer_cannot_take(tmp_path):
    from crboost.tools.runner import ToolFailed

    runner = _runner(tmp_path, {"warptools": {"container": "/w.sif"}, "binds": ["/a:b"]})
    with pytest.raises(ToolFailed, match="cannot contain"):
        runner.argv(ToolCall("warptools", ("ts_ctf",)))


def test_calls_are_argument_lists_only():
    with pytest.raises(TypeError):
        ToolCall("warptools", ("ts_ctf", 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ToolCall("bash", ("-c", "echo"))
