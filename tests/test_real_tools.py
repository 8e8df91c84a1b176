"""What the real WarpTools/AreTomo/IMOD would do with crboost's commands (defects D1-D17 of
../shared/notes/tools-real-behaviour.md): each one fixed or refused up front. Each test fails
against crboost before issue 12."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import starfile
from conftest import copy_project, run_cli
from pydantic import ValidationError
from test_commands import BASE_CONFIG

from crboost.errors import ConfigError
from crboost.jobs import JOB_TYPES
from crboost.project.config import ProjectConfig
from crboost.tools.runner import ToolCall, ToolFailed, ToolRunner


def params(job_type: str, values: dict, config: dict | None = None):
    cfg = ProjectConfig.model_validate(config or BASE_CONFIG)
    return JOB_TYPES[job_type].from_config(values, cfg, "test")


def _config(**changes) -> dict:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_CONFIG.items()}
    for key, value in changes.items():
        section, name = key.split(".")
        data[section][name] = value
    return data


# --- D2: fit limits that follow the pixel size; beyond Nyquist refused -----------------------


def test_d2_fit_limits_follow_the_pixel_size():
    coarse = _config(**{"microscope.pixel_size": 3.5})
    assert params("fsMotionAndCtf", {}, coarse).c_range_max == 7.35  # 2.1 x 3.5
    assert params("tsCtf", {}, coarse).range_high == 7.35
    assert params("fsMotionAndCtf", {}).c_range_max == 6.2  # 2.95 A: max(6, 6.195)
    fine = _config(**{"microscope.pixel_size": 1.0})
    assert params("tsCtf", {}, fine).range_high == 6.0


@pytest.mark.parametrize("job_type,key", [("fsMotionAndCtf", "c_range_max"),
                                          ("tsCtf", "range_high")])  # fmt: skip
def test_d2_a_limit_beyond_nyquist_is_refused(job_type, key):
    coarse = _config(**{"microscope.pixel_size": 3.5})
    with pytest.raises((ValidationError, ConfigError), match=f"{key} = 6 A is beyond Nyquist"):
        params(job_type, {key: 6}, coarse)
    # ts_ctf refuses Nyquist itself (CTFTiltseries.cs), fs_motion_and_ctf only beyond it
    if job_type == "tsCtf":
        with pytest.raises((ValidationError, ConfigError), match="beyond Nyquist"):
            params(job_type, {key: 7.0}, coarse)
    else:
        assert params(job_type, {key: 7.0}, coarse).c_range_max == 7.0


def test_d2_simulator_refuses_beyond_nyquist_like_warp(tmp_path):
    """The simulated fs_motion_and_ctf throws as Movie.ProcessCTF.cs does."""
    settings = tmp_path / "s.settings"
    (tmp_path / "frames").mkdir()
    sim = [sys.executable, "-m", "crboost.simulator", "WarpTools"]
    subprocess.run([*sim, "create_settings", "--folder_data", "frames", "--folder_processing",
                    "warp", "--output", str(settings), "--angpix", "3.5"], cwd=tmp_path,
                   check=True, capture_output=True)  # fmt: skip
    import mrcfile
    import numpy as np

    with mrcfile.new(tmp_path / "frames/a.mrc") as mrc:
        mrc.set_data(np.ones((2, 32, 32), dtype=np.int8))
    proc = subprocess.run([*sim, "fs_motion_and_ctf", "--settings", "s.settings", "--input_data",
                           "frames/a.mrc", "--c_range_max", "6", "--out_averages"],
                          cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0
    assert "higher than the Nyquist frequency" in proc.stdout + proc.stderr


# --- D4: binds of resolved link targets, apptainer's own settings kept -----------------------


def test_d4_symlinked_data_is_bound_where_the_links_point(tmp_path, monkeypatch):
    real = tmp_path / "gpfs/session"
    (real / "frames").mkdir(parents=True)
    (tmp_path / "data").symlink_to(tmp_path / "gpfs")
    config = dict(BASE_CONFIG, data={"movies": str(tmp_path / "data/session/frames/*.eer"),
                                     "mdocs": str(tmp_path / "data/session/frames/*.mdoc")},
                  tools={"warptools": {"container": "/w.sif"}})  # fmt: skip
    runner = ToolRunner(ProjectConfig.model_validate(config), tmp_path / "p", "tsCtf")
    binds = runner.bind_paths()
    assert str(real / "frames") in binds, binds  # the frames/ links point there
    monkeypatch.setenv("APPTAINER_BINDPATH", "/site/scratch")
    monkeypatch.setenv("APPTAINERENV_FOO", "x")
    monkeypatch.setenv("SINGULARITY_CACHEDIR", "/c")
    monkeypatch.setenv("CONDA_PREFIX", "/opt/conda")
    env = runner.environment(ToolCall("warptools", ("ts_ctf",)))
    assert env["APPTAINER_BINDPATH"] == "/site/scratch" and env["APPTAINERENV_FOO"] == "x"
    assert env["SINGULARITY_CACHEDIR"] == "/c" and "CONDA_PREFIX" not in env


# --- D5: AreTomo/IMOD are programs of WarpTools' environment ---------------------------------


def test_d5_a_separate_aretomo_image_is_refused():
    config = dict(BASE_CONFIG, tools={"aretomo2": {"container": "/sif/aretomo.sif"}})
    with pytest.raises(ValidationError, match="WarpTools starts AreTomo itself"):
        ProjectConfig.model_validate(config)


def test_d5_imod_dir_goes_into_warptools_environment(tmp_path):
    config = dict(BASE_CONFIG, tools={"warptools": {"container": "/w.sif"},
                                      "imod": {"dir": "/opt/imod"}})  # fmt: skip
    runner = ToolRunner(ProjectConfig.model_validate(config), tmp_path, "tsAlignment")
    argv = runner.argv(ToolCall("warptools", ("ts_etomo_patches",)))
    assert "IMOD_DIR=/opt/imod" in argv and "PREPEND_PATH=/opt/imod/bin" in argv
    assert argv.index("IMOD_DIR=/opt/imod") < argv.index("/w.sif")


def test_d5_simulated_warptools_looks_for_aretomo_on_its_path(tmp_path):
    """ts_aretomo --exe with a program not in WarpTools' environment fails as Warp does
    (AreTomoTiltseries.cs: 'Executable ... not found on PATH')."""
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    (tmp_path / "s.settings").write_text("<Settings></Settings>")
    (tmp_path / "t.tomostar").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "crboost.simulator", "WarpTools", "ts_aretomo", "--settings",
         "s.settings", "--input_data", "t.tomostar", "--alignz", "100", "--exe",
         "/host/AreTomo2"],
        cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0
    assert "Executable '/host/AreTomo2' not found on PATH" in proc.stderr


# --- D9, D14: settings that do not fit -------------------------------------------------------


def test_d9_axis_search_is_one_refinement_and_axis_batch_is_gone():
    assert params("tsAlignment", {}).axis_iter == 1
    with pytest.raises((ValidationError, ConfigError), match="axis_batch: no longer a setting"):
        params("tsAlignment", {"axis_batch": 5})


def test_d14_halfmap_frames_needs_upstream_halves(demo_project):
    import yaml

    path = demo_project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    for job in data["pipeline"]:
        if job["type"] == "fsMotionAndCtf":
            job.setdefault("params", {})["out_average_halves"] = False
        if job["type"] == "tsReconstruct":
            job.setdefault("params", {})["halfmap_frames"] = True
    path.write_text(yaml.safe_dump(data))
    proc = run_cli("run", str(demo_project), "--", "-n")
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "halfmap_frames: true needs even/odd frame averages" in err
    assert "out_average_halves: false" in err


# --- D10: GPUs from the allocation; a GPU cap locally ------------------------------------------


def test_d10_device_list_names_the_allocation_logically(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    from crboost.tools.gpus import lease

    with lease(1, simulated=True) as (cuda, ids):
        assert cuda is None and ids == [0]  # logical id 0 = physical GPU 2
    runner = ToolRunner(ProjectConfig.model_validate(BASE_CONFIG), tmp_path, "tsCtf")
    call = runner.with_run_options(ToolCall("warptools", ("ts_ctf",), gpus=1), [0])
    assert call.args[-2:] == ("--device_list", "0")


def test_d10_local_calls_lease_distinct_gpus(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CRBOOST_GPU_LOCKS", str(tmp_path))
    from crboost.tools import gpus

    monkeypatch.setattr(gpus, "LOCK_DIR", tmp_path)
    with gpus.lease(1, simulated=True) as (first, ids1):
        with gpus.lease(1, simulated=True) as (second, ids2):
            assert {first, second} == {"0", "1"} and ids1 == ids2 == [0]


# --- D12: WarpTools' exit 0 on a refused command line ------------------------------------------


def test_d12_usage_text_with_exit_0_is_a_failure(tmp_path):
    config = dict(BASE_CONFIG, tools={"simulate": True})
    runner = ToolRunner(ProjectConfig.model_validate(config), tmp_path, "tsCtf")
    runner.print_only = False
    with pytest.raises(ToolFailed, match="refused its command line: Option 'c_window' is unknown"):
        runner.run(ToolCall("warptools", ("ts_ctf", "--settings", "s", "--c_window", "5"),
                            cwd=str(tmp_path)))  # fmt: skip


# --- D1: the work queue of WarpTools after dev39 -------------------------------------------------


def test_d1_task_dir_only_for_versions_with_the_work_queue(tmp_path, monkeypatch):
    config = ProjectConfig.model_validate(dict(BASE_CONFIG, tools={"simulate": True}))
    call = ToolCall("warptools", ("ts_ctf",), task_dir="warp_tiltseries/tasks/TS_01")
    monkeypatch.setenv("CRBOOST_SIM_WARP_VERSION", "v2.0.0dev39")
    assert "--task_dir" not in ToolRunner(config, tmp_path).with_run_options(call, []).args
    monkeypatch.setenv("CRBOOST_SIM_WARP_VERSION", "head")
    args = ToolRunner(config, tmp_path).with_run_options(call, []).args
    assert args[-2:] == ("--task_dir", "warp_tiltseries/tasks/TS_01")
    assert (tmp_path / ".crboost/warptools.json").exists()  # probed once, cached


def test_d1_simulated_head_collides_without_task_dir(tmp_path):
    """Two managers on one queue folder: the second dies (Scheduler.cs), as the real HEAD does;
    with a --task_dir each, both work."""
    from crboost.simulator.formats import Failure
    from crboost.simulator.warp_common import _WorkQueue

    class Ctx:
        def __init__(self, task_dir=None):
            self.o = {"task_dir": str(tmp_path / task_dir) if task_dir else None}
            self.output = tmp_path / "out"

    first = _WorkQueue(Ctx())
    first.start([Path("TS_01.tomostar")])
    with pytest.raises(Failure, match="Another manager is already using queue dir"):
        _WorkQueue(Ctx()).start([Path("TS_02.tomostar")])
    _WorkQueue(Ctx("tasks_TS_02")).start([Path("TS_02.tomostar")])


# --- D11: the shared .settings file of one output folder -----------------------------------------


def test_d11_settings_race_after_complete_work_is_kept(tmp_path):
    from crboost.running import driver
    from crboost.running.jobcontext import DriverError

    class Runner:
        print_only = False

    class Ctx:
        runner = Runner()

        def run(self, call):
            raise DriverError("WarpTools ts_ctf exited with 134", "",
                              "System.IO.IOException: The process cannot access the file "
                              "'/p/warp_tiltseries/ctf_tiltseries.settings'")  # fmt: skip

    assert driver.run_despite_settings_race(Ctx(), None, lambda: True) is None
    with pytest.raises(DriverError):
        driver.run_despite_settings_race(Ctx(), None, lambda: False)


# --- D15: project paths AreTomo3/IMOD cannot take ----------------------------------------------


def test_d15_paths_with_spaces_or_too_long_are_refused_at_init(tmp_path):
    proc = run_cli("demo", str(tmp_path / "my project"), "--tilt-series", "1", "--no-run")
    assert proc.returncode != 0
    assert "contains white space" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "my project/crboost.yaml").exists()
    deep = tmp_path / ("d" * 120) / ("e" * 60)
    proc = run_cli("demo", str(deep), "--tilt-series", "1", "--no-run")
    assert proc.returncode != 0 and "too long" in proc.stderr


# --- D16: Warp's XMLs after the project moved ----------------------------------------------------


def test_d16_moved_project_has_its_warp_metadata_rewritten(finished_demo, tmp_path):
    moved = copy_project(finished_demo, tmp_path / "moved")
    xml = next((moved / "External/job002/warp_frameseries").glob("*.xml"))
    # where the project was run (the fixture may itself be a copy of the project that ran)
    old = re.search(r'DataDirectory="([^"]+)/frames"', xml.read_text(encoding="utf-8-sig"))[1]
    assert not old.startswith(str(moved.resolve()))
    results = sorted(moved.rglob("tilt_series/*.star"))
    times = {p: p.stat().st_mtime_ns for p in results}
    proc = run_cli("run", str(moved))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "moved" in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in results} == times, "nothing re-runs after a move"
    for path in (moved / "External").rglob("warp_*/*.xml"):
        text = path.read_text(encoding="utf-8-sig")
        assert old not in text, path
    assert f'DataDirectory="{moved.resolve()}' in xml.read_text()


# --- D13: Warp's doses are the STAR's ----------------------------------------------------------


def test_d13_warp_doses_are_the_star_doses(finished_demo):
    from crboost.tools.warp import movie_stem, read_tomostar

    for ts in ("TS_01", "TS_02"):
        table = starfile.read(finished_demo / f"External/job003/tilt_series/{ts}.star")
        star = {movie_stem(m): d for m, d in zip(table["rlnMicrographMovieName"],
                                                 table["rlnMicrographPreExposure"], strict=True)}  # fmt: skip
        tomostar = read_tomostar(finished_demo / f"External/job003/tomostar/{ts}.tomostar")
        warp = dict(
            zip(map(movie_stem, tomostar["wrpMovieName"]), tomostar["wrpDose"], strict=True)
        )
        assert warp and all(float(warp[s]) == pytest.approx(star[s]) for s in warp)


def test_d13_varying_mdoc_doses_reach_warp(tmp_path):
    """Warp would write rank x tilt_exposure; the tomostar gets the mdoc's own doses."""
    from crboost.tools.warp import set_tomostar_doses

    path = tmp_path / "a.tomostar"
    path.write_text("\ndata_\n\nloop_\n_wrpMovieName #1\n_wrpAngleTilt #2\n_wrpDose #3\n"
                    "  ../f/a_1.mrc  0.00  0\n  ../f/a_2.mrc  3.00  3\n")  # fmt: skip
    set_tomostar_doses(path, {"a_1": 0.0, "a_2": 4.5})
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip().startswith("../")]
    assert [r[2] for r in rows] == ["0", "4.5"]


# --- D3, D6, D7, D8 through the whole chain: the demo at 3.5 A/px, no DateTime, IMOD, AreTomo3 --


def _demo(tmp_path, *args, program=None, env=None, count="2"):
    import yaml

    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", count, "--no-run", *args, check=True)
    if program:
        path = project / "crboost.yaml"
        data = yaml.safe_load(path.read_text())
        for job in data["pipeline"]:
            if job["type"] == "tsAlignment":
                job.setdefault("params", {})["program"] = program
        path.write_text(yaml.safe_dump(data))
    proc = run_cli("run", str(project), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return project


@pytest.mark.slow
def test_demo_at_3_5_a_without_datetime_with_imod(tmp_path):
    """D2 (3.5 A/px), D3 (no DateTime: Warp's ts_import needs it), IMOD through WarpTools
    (batchruntomo on its PATH, IMOD_DIR), the phantom found from the STAR files."""
    from test_geometry import _bead_contrast

    project = _demo(tmp_path, "--pixel-size", "3.5", "--no-datetime", program="imod")
    assert "DateTime" not in next((project / "raw/mdoc").glob("*.mdoc")).read_text()
    copied = next((project / "mdoc").glob("*.mdoc")).read_text()
    assert copied.count("DateTime = ") == copied.count("[ZValue")
    assert (project / "External/job004/warp_tiltseries/tiltstack/TS_01/TS_01.xf").exists()
    contrast, *_ = _bead_contrast(project, "TS_01")
    assert contrast > 0.25, contrast
    ctf = starfile.read(project / "External/job005/tilt_series/TS_01.star")
    assert (ctf["rlnCtfMaxResolution"] > 0).all()


@pytest.mark.slow
def test_demo_with_aretomo3_and_the_work_queue(tmp_path):
    """AreTomo3 (--patches 0,0, D7) and the unreleased WarpTools with the work queue (D1): the
    parallel per-tilt-series calls each get their own --task_dir and none collides."""
    from test_geometry import _bead_contrast

    project = _demo(tmp_path, program="aretomo3", count="3",
                    env={"CRBOOST_SIM_WARP_VERSION": "head"})  # fmt: skip
    log = (project / "External/job004/logs").rglob("*.log")
    text = "".join(p.read_text() for p in log)
    assert "--patches 0,0" in text and "--task_dir" in text
    contrast, *_ = _bead_contrast(project, "TS_02")
    assert contrast > 0.25, contrast


def test_d8_one_hand_for_the_dataset_shown_by_status(finished_demo):
    import json

    decision = json.loads((finished_demo / "External/job005/defocus_hand.json").read_text())
    assert decision["defocus_hand"] in ("flip", "noflip") and "average_correlation" in decision
    proc = run_cli("status", str(finished_demo))
    assert f"defocus hand: {decision['defocus_hand']}" in proc.stdout
    tomograms = starfile.read(finished_demo / "External/job007/tomograms.star")
    assert tomograms["rlnTomoHand"].nunique() == 1


# --- stack-only sessions: recognised, with their values, and refused with a reason -------------


def _stack_only(tmp_path):
    from datetime import datetime

    from crboost import demo

    raw = tmp_path / "raw"
    truths: list = []
    demo.write_tilt_series(raw, "TS_01", 1, datetime(2025, 1, 1), stack_only=True, truths=truths)
    demo.add_truths(raw, truths)
    return raw


def test_stack_only_session_is_recognised_by_inspect(tmp_path):
    raw = _stack_only(tmp_path)
    mdoc = next((raw / "mdoc").glob("*.mdoc"))
    assert "SubFramePath = \n" in mdoc.read_text() or "SubFramePath =\n" in mdoc.read_text()
    proc = run_cli("inspect", str(mdoc), "--json")
    entry = __import__("json").loads(proc.stdout)["tilt_series"][0]
    assert entry["stack_only"] and entry["tilts"] == 21 and entry["pixel_size"] == 2.7
    assert entry["tilt_range"] == [-30.0, 30.0] and entry["dose_per_tilt"] == 3.0
    assert "stack-only session" in entry["error"] and "not supported" in entry["error"]
    text = run_cli("inspect", str(mdoc)).stdout
    assert "stack-only session: pixel size 2.7 A, voltage 300.0 kV" in text


def test_stack_only_session_is_refused_at_init(tmp_path):
    raw = _stack_only(tmp_path)
    proc = run_cli("init", str(tmp_path / "p"), "--movies", str(raw / "mdoc/*.mrc"),
                   "--mdocs", str(raw / "mdoc/*.mdoc"))  # fmt: skip
    assert proc.returncode != 0 and not (tmp_path / "p/crboost.yaml").exists()
    assert "stack-only session (no movie saved: every SubFramePath is empty" in proc.stderr


def test_one_missing_subframepath_is_still_a_broken_mdoc(tmp_path):
    from crboost.acquisition.mdoc import MdocError, read_tilt_series_mdoc

    raw = tmp_path / "raw"
    from crboost.demo import write_demo_data

    raw = write_demo_data(tmp_path, 1)
    mdoc = next((raw / "mdoc").glob("*.mdoc"))
    lines = mdoc.read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("SubFramePath"))
    lines[first] = "SubFramePath = "
    mdoc.write_text("\n".join(lines) + "\n")
    with pytest.raises(MdocError, match="has no SubFramePath"):
        read_tilt_series_mdoc(mdoc)


def test_d10_local_runs_cap_gpu_tasks_at_the_gpu_count(demo_project, monkeypatch):
    from crboost.running.launcher import run_options
    from crboost.running.runplan import RunPlan

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CRBOOST_SIM_GPUS", "2")
    options = run_options(RunPlan.prepare(demo_project, "local", []))
    assert options[options.index("--resources") + 1 :][:1] == ["gpu=2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    options = run_options(RunPlan.prepare(demo_project, "local", []))
    assert "gpu=1" in options
    assert "--resources" not in run_options(RunPlan.prepare(demo_project, "slurm", []))


@pytest.mark.slow
def test_d13_mdoc_doses_that_vary_reach_warp(tmp_path):
    """Tilts of different doses: Warp's ts_import would give rank x tilt_exposure; the
    .tomostar Warp weights with gets the STAR's (the mdoc's) doses."""
    import re

    from crboost.tools.warp import movie_stem, read_tomostar

    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--no-run", check=True)
    mdoc = next((project / "raw/mdoc").glob("*.mdoc"))
    count = iter(range(1000))

    def dose(match):
        value = 2.0 + 0.25 * (next(count) % 5)
        return f"ExposureDose = {value}\n" if match.group(1) == "ExposureDose" else (
            f"FrameDosesAndNumber = {value / 4:g} 4\n")  # fmt: skip

    text = re.sub(r"(ExposureDose|FrameDosesAndNumber) = [^\n]*\n", dose, mdoc.read_text())
    mdoc.write_text(re.sub(r"PriorRecordDose = [^\n]*\n", "", text))
    proc = run_cli("run", str(project), "--", "--until", "tsImport")
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = starfile.read(project / "External/job003/tilt_series/TS_01.star")
    star = dict(zip(map(movie_stem, table["rlnMicrographMovieName"]),
                    table["rlnMicrographPreExposure"], strict=True))  # fmt: skip
    ranked = sorted(star.values())
    assert ranked != [3.0 * i for i in range(len(ranked))], "the doses do not vary"
    tomostar = read_tomostar(project / "External/job003/tomostar/TS_01.tomostar")
    warp = dict(zip(map(movie_stem, tomostar["wrpMovieName"]), tomostar["wrpDose"], strict=True))
    assert {s: pytest.approx(star[s]) for s in warp} == {s: float(d) for s, d in warp.items()}
